//! `evoprune run|resume|export`: any registered method, written once. The command line finds
//! the method by the config's `method` key (none: MO-EvoPruneDeepTL, also for `evoprune run`
//! without a config), drives it through `evoprune_run::Method`, renders its progress and
//! prints what it returns.

use anyhow::Result;
use evoprune_run::{Driver, Finished, Method, Overrides, Reporter, Stopped};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `evoprune run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The run's TOML config (see configs/); its `method` key picks the method. Without it, the
    /// built-in default: MO-EvoPruneDeepTL on UCI digits 0-4 as in-distribution, 5-9 plus noise
    /// as OoD, raw pixels as features.
    pub(crate) config: Option<PathBuf>,
    /// Run folder (default: runs/<name>, or runs/<name>-2, ... when taken).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Threads evaluating candidates (default: the config's; results do not depend on it).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// Override the config's seed.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Override the evaluation budget (methods budgeted by evaluations).
    #[arg(long)]
    pub(crate) evaluations: Option<u64>,
}

/// Arguments of `evoprune resume`.
#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The run folder of an interrupted (or finished) run.
    pub(crate) run_dir: PathBuf,
    /// Threads evaluating candidates.
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
}

/// Arguments of `evoprune export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The run folder of a finished run.
    pub(crate) run_dir: PathBuf,
    /// Front member (the `member` column of the run's tables).
    #[arg(long)]
    pub(crate) member: usize,
    /// Output file (default: the method's, e.g. head.safetensors).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The method of a config file (its `method` key; none: the default method).
fn method_of_config(path: Option<&std::path::Path>) -> Result<&'static dyn Method> {
    Ok(evoprune_methods::of_config(path)?)
}

/// The method of a run folder (the `method` key of its stored config).
fn method_of_run(dir: &std::path::Path) -> Result<&'static dyn Method> {
    Ok(evoprune_methods::of_run(dir)?)
}

/// The driver of a run: progress on standard error (a bar on a terminal, lines elsewhere),
/// Ctrl-C stops after the current generation or stage item with a checkpoint.
fn driver(threads: usize) -> Driver {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    Driver {
        reporter: Box::new(StageBar::new()),
        stop,
        threads,
        remote: None,
    }
}

/// Print a finished run; exit status 130 for a Ctrl-C stop (resumable), errors for the rest.
fn finish(r: Result<Finished, Stopped>) -> Result<Option<u8>> {
    match r {
        Ok(f) => {
            for l in &f.lines {
                println!("{l}");
            }
            for (title, t) in &f.tables {
                if title.is_empty() {
                    println!();
                } else {
                    println!("\n{title}");
                }
                print!("{}", t.to_text());
            }
            for l in &f.footer {
                println!("{l}");
            }
            println!(
                "\nrun folder: {}\nreport: {}",
                f.dir.display(),
                f.dir.join("report.html").display()
            );
            Ok(None)
        }
        Err(Stopped::Interrupted(m)) => {
            eprintln!("{m}");
            Ok(Some(130))
        }
        Err(e @ Stopped::Failed(_)) => Err(e.into()),
    }
}

/// `evoprune run [CONFIG]`.
pub fn run(a: RunArgs) -> Result<Option<u8>> {
    let m = method_of_config(a.config.as_deref())?;
    let o = Overrides {
        seed: a.seed,
        evaluations: a.evaluations,
    };
    finish(m.run(a.config.as_deref(), &o, a.out.as_deref(), driver(a.threads)))
}

/// `evoprune resume RUN_DIR`.
pub fn resume(a: ResumeArgs) -> Result<Option<u8>> {
    let m = method_of_run(&a.run_dir)?;
    finish(m.resume(&a.run_dir, driver(a.threads)))
}

/// `evoprune export RUN_DIR --member K`.
pub fn export(a: ExportArgs) -> Result<Option<u8>> {
    let m = method_of_run(&a.run_dir)?;
    let mut rep = StageBar::new();
    let written = m.export(&a.run_dir, a.member, a.out.as_deref(), &mut rep);
    drop(rep);
    for l in written? {
        println!("{l}");
    }
    Ok(None)
}

/// Stage progress (feature extraction, search, training, final scoring) and notes, on
/// standard error.
pub(crate) struct StageBar {
    bar: Option<ProgressBar>,
    /// Plain progress lines when standard error is not a terminal.
    log: Option<crate::progress::LogLines>,
}

impl StageBar {
    /// A bar on a terminal, progress lines elsewhere.
    pub(crate) fn new() -> Self {
        StageBar {
            bar: None,
            log: (!std::io::stderr().is_terminal()).then(crate::progress::LogLines::new),
        }
    }
}

impl Reporter for StageBar {
    fn stage(&mut self, name: &str, total: Option<u64>) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if let Some(l) = &self.log {
            l.stage(name, total);
            return;
        }
        let b = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {prefix} {bar:30} {pos}/{len} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b.set_prefix(name.to_string());
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        self.bar = Some(b);
    }
    fn progress(&mut self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
        if let Some(l) = &self.log {
            l.progress(done);
        }
    }
    fn note(&mut self, message: &str) {
        match &self.bar {
            Some(b) => b.println(message),
            None => eprintln!("{message}"),
        }
    }
    fn detail(&mut self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_string());
        }
        if let Some(l) = &self.log {
            l.message(message.to_string());
        }
    }
}

impl Drop for StageBar {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
