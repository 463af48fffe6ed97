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

/// Progress as plain lines on standard error, for runs whose output is not a terminal (a log
/// file, CI, a Ray job): a line when a stage starts, then one at least every `every` (30 s by
/// default, `EVOPRUNE_PROGRESS_SECS` to change) with the stage, done/total, elapsed time and
/// an estimate of the time left. A ticker thread writes the periodic line even while a single
/// unit of work runs for minutes, so a silent log always means a stuck process.
///
/// Hand-written: indicatif draws bars on terminals and hides them elsewhere; it has no
/// line-per-interval mode.
pub struct LogLines {
    inner: std::sync::Arc<std::sync::Mutex<LogState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

struct LogState {
    stage: String,
    done: u64,
    /// `done` when the stage (or a resume) began: the estimate uses this session's rate only.
    base: u64,
    total: Option<u64>,
    started: std::time::Instant,
    last_line: std::time::Instant,
    every: std::time::Duration,
    message: String,
}

impl LogState {
    fn line(&mut self) {
        use std::fmt::Write;
        let elapsed = self.started.elapsed();
        let mut l = format!("[{}] {}", hms(elapsed.as_secs_f64()), self.stage);
        match self.total {
            Some(t) => {
                let _ = write!(l, ": {}/{t}", self.done);
                if t > 0 {
                    let _ = write!(l, " ({:.0}%)", 100.0 * self.done as f64 / t as f64);
                }
                let fresh = self.done.saturating_sub(self.base);
                if fresh > 0 && self.done < t {
                    let left = elapsed.as_secs_f64() / fresh as f64 * (t - self.done) as f64;
                    let _ = write!(l, ", about {} left", hms(left));
                }
            }
            None if self.done > 0 => {
                let _ = write!(l, ": {}", self.done);
            }
            None => {}
        }
        if !self.message.is_empty() {
            let _ = write!(l, "; {}", self.message);
        }
        eprintln!("{l}");
        self.last_line = std::time::Instant::now();
    }
}

fn hms(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

impl LogLines {
    /// Lines every `EVOPRUNE_PROGRESS_SECS` seconds (default 30).
    pub fn new() -> Self {
        let secs = std::env::var("EVOPRUNE_PROGRESS_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(30.0);
        let now = std::time::Instant::now();
        let inner = std::sync::Arc::new(std::sync::Mutex::new(LogState {
            stage: String::new(),
            done: 0,
            base: 0,
            total: None,
            started: now,
            last_line: now,
            every: std::time::Duration::from_secs_f64(secs),
            message: String::new(),
        }));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ticker = {
            let (inner, stop) = (inner.clone(), stop.clone());
            std::thread::spawn(move || {
                let tick = std::time::Duration::from_millis(250);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    let mut s = inner.lock().unwrap_or_else(|p| p.into_inner());
                    if !s.stage.is_empty() && s.last_line.elapsed() >= s.every.max(tick) {
                        s.line();
                    }
                }
            })
        };
        LogLines {
            inner,
            stop,
            ticker: Some(ticker),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new stage: printed at once.
    pub fn stage(&self, name: &str, total: Option<u64>) {
        let mut s = self.state();
        s.stage = name.to_string();
        s.total = total;
        s.done = 0;
        s.base = 0;
        s.message.clear();
        s.started = std::time::Instant::now();
        s.line();
    }

    /// `done` units finished; a line when one is due. A count reported as the stage opens
    /// (work done before a resume) is not counted in the rate of the estimate.
    pub fn progress(&self, done: u64) {
        let mut s = self.state();
        if s.done == 0 && s.started.elapsed() < std::time::Duration::from_millis(500) {
            s.base = done;
        }
        s.done = done;
        if s.last_line.elapsed() >= s.every {
            s.line();
        }
    }

    /// A detail appended to the lines (best objective values, hypervolume).
    pub fn message(&self, m: String) {
        self.state().message = m;
    }
}

impl Drop for LogLines {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}
