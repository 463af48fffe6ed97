//! Observers: how a run reports progress without printing.

use crate::genome::Genome;
use crate::termination::TerminationReason;
use crate::{Result, State};

/// What happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The run started (`resumed`: from a checkpoint, without re-initialising).
    Started {
        /// True when continuing from a checkpoint.
        resumed: bool,
    },
    /// A generation (or the initialisation, generation 0) is done.
    Generation,
    /// The feasible first front changed in this generation.
    NewFront,
    /// A checkpoint was written.
    Checkpointed,
    /// The run stopped.
    Finished(TerminationReason),
}

/// Receives run events. `progress` is the termination's progress in `[0, 1]`.
pub trait Observer<G: Genome>: Send {
    /// Called on each event; an error stops the run.
    fn notify(&mut self, event: &Event, state: &State<G>, progress: f64) -> Result<()>;
}

impl<G: Genome, F> Observer<G> for F
where
    F: FnMut(&Event, &State<G>, f64) + Send,
{
    fn notify(&mut self, event: &Event, state: &State<G>, progress: f64) -> Result<()> {
        self(event, state, progress);
        Ok(())
    }
}
