//! Progress rendering: an observer that drives an indicatif bar.

use evoprune::{Event, Genome, Observer, State};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar over the termination's progress, with generation, evaluations and the latest
/// hypervolume. Hidden when standard output is not a terminal.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(visible: bool) -> Self {
        let bar = if visible {
            ProgressBar::new(1000)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}% ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Bar { bar }
    }
}

impl<G: Genome> Observer<G> for Bar {
    fn notify(&mut self, event: &Event, s: &State<G>, progress: f64) -> evoprune::Result<()> {
        match event {
            Event::Generation => {
                self.bar.set_position((progress * 1000.0).round() as u64);
                let hv = s
                    .stats
                    .hv_history
                    .last()
                    .map(|h| format!(" hv {:.4}", h.hypervolume))
                    .unwrap_or_default();
                self.bar.set_message(format!(
                    "gen {} evals {}{hv}",
                    s.stats.generation, s.stats.evaluations
                ));
            }
            Event::Finished(_) => self.bar.finish_and_clear(),
            _ => {}
        }
        Ok(())
    }
}
