//! `evoprune run`, `resume` and `export`: MO-EvoPruneDeepTL from a TOML config.

use anyhow::{Context, Result};
use evoprune::{BitString, Event, Observer, State};
use evoprune_deeptl::{Config, DeeptlError, Driver, Summary};
use evoprune_run::{MethodConfig, Reporter, RunDir};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `evoprune run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The run's TOML config (see configs/); without it, the built-in default: UCI digits 0-4
    /// as in-distribution, 5-9 plus noise as OoD, raw pixels as features.
    pub(crate) config: Option<PathBuf>,
    /// Run folder (default: runs/<name>, or runs/<name>-2, ... when taken).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Threads evaluating candidates (default: search.threads; the front does not depend on it).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// Override the config's seed.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Override the evaluation budget.
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
    /// Front member (the `member` column of front.csv).
    #[arg(long)]
    pub(crate) member: usize,
    /// Output safetensors file (a .json description is written beside it).
    #[arg(long, default_value = "head.safetensors")]
    pub(crate) out: PathBuf,
}

/// A progress bar over evaluations with the best value of each objective.
struct SearchBar {
    bar: ProgressBar,
    /// Plain progress lines when standard error is not a terminal.
    log: Option<crate::progress::LogLines>,
    names: Vec<String>,
    budget: u64,
}

impl Observer<BitString> for SearchBar {
    fn notify(&mut self, event: &Event, s: &State<BitString>, _: f64) -> evoprune::Result<()> {
        match event {
            Event::Started { resumed } => {
                self.bar.set_length(self.budget);
                if *resumed {
                    self.bar
                        .println(format!("resuming at {} evaluations", s.stats.evaluations));
                }
                self.bar.reset_eta();
                if let Some(l) = &self.log {
                    l.stage("search", Some(self.budget), " evaluations");
                    l.resumed_at(s.stats.evaluations.min(self.budget));
                }
            }
            Event::Generation => {
                self.bar.set_position(s.stats.evaluations.min(self.budget));
                let best: Vec<String> = self
                    .names
                    .iter()
                    .enumerate()
                    .map(|(k, n)| {
                        let b = s
                            .population
                            .iter()
                            .filter(|i| i.is_feasible())
                            .map(|i| i.f[k])
                            .fold(f64::INFINITY, f64::min);
                        format!("{n} {b:.4}")
                    })
                    .collect();
                let best = format!("best: {}", best.join(", "));
                if let Some(l) = &self.log {
                    l.message(best.clone());
                    l.progress(s.stats.evaluations.min(self.budget));
                }
                self.bar.set_message(best);
            }
            Event::Finished(_) => self.bar.finish_and_clear(),
            _ => {}
        }
        Ok(())
    }
}

/// Stage progress (feature extraction, final scoring) and notes, on standard error.
pub(crate) struct StageBar {
    pub(crate) bar: Option<ProgressBar>,
    /// Plain progress lines when standard error is not a terminal.
    pub(crate) log: Option<crate::progress::LogLines>,
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
            l.stage(name, total, "");
            return;
        }
        let b = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} {bar:30} {pos}/{len} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        b.set_message(name.to_string());
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
}

impl Drop for StageBar {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn driver(cfg: &Config, threads: usize) -> Driver<SearchBar> {
    let visible = std::io::stderr().is_terminal();
    let bar = if visible {
        ProgressBar::new(cfg.search.evaluations)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} evaluations, ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C stops after the current step, with a checkpoint; `evoprune resume` continues.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    Driver {
        observer: SearchBar {
            bar,
            log: (!visible).then(crate::progress::LogLines::new),
            names: cfg
                .search
                .objectives
                .iter()
                .map(|o| o.name().to_string())
                .collect(),
            budget: cfg.search.evaluations,
        },
        reporter: Box::new(StageBar::new()),
        stop,
        threads,
    }
}

fn print_summary(s: &Summary) {
    for n in &s.notes {
        println!("{n}");
    }
    println!(
        "\n{} evaluations in {:.1} s; final front of {} members (validation drove the search; test shown):\n",
        s.front.evaluations,
        s.front.search_seconds,
        s.front.members.len()
    );
    print!("{}", s.table.to_text());
    println!("\nensembles (test):\n{}", s.ensemble_table.to_text());
    let key: Vec<String> = s
        .key_features
        .iter()
        .map(|(j, c)| format!("{j} ({c})"))
        .collect();
    println!(
        "most frequently active features (members): {}",
        key.join(", ")
    );
    println!(
        "\nrun folder: {}\nreport: {}",
        s.dir.display(),
        s.dir.join("report.html").display()
    );
}

/// Exit status 130 for an interrupted run (the checkpoint is intact), 2 for errors.
pub fn finish(r: evoprune_deeptl::Result<Summary>) -> Result<Option<u8>> {
    match r {
        Ok(s) => {
            print_summary(&s);
            Ok(None)
        }
        Err(e @ DeeptlError::Interrupted { .. }) => {
            eprintln!("{e}");
            Ok(Some(130))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn run(a: RunArgs) -> Result<Option<u8>> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::builtin(),
    };
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(e) = a.evaluations {
        cfg.search.evaluations = e;
    }
    cfg.validate()?;
    let dir = match a.out {
        Some(d) => d,
        None => RunDir::fresh_path(&PathBuf::from("runs").join(&cfg.name)),
    };
    eprintln!("run folder: {}", dir.display());
    let d = driver(&cfg, a.threads);
    finish(evoprune_deeptl::run(&cfg, &dir, d))
}

pub fn resume(a: ResumeArgs) -> Result<Option<u8>> {
    let rd = RunDir::open(&a.run_dir)?;
    let cfg = Config::stored(&rd)
        .with_context(|| format!("{}: cannot read the run's config", a.run_dir.display()))?;
    let d = driver(&cfg, a.threads);
    finish(evoprune_deeptl::resume(&a.run_dir, d))
}

pub fn export(a: ExportArgs) -> Result<Option<u8>> {
    let mut rep = StageBar::new();
    let (w, j) = evoprune_deeptl::export::export(&a.run_dir, a.member, &a.out, &mut rep)?;
    drop(rep);
    println!("wrote {} and {}", w.display(), j.display());
    Ok(None)
}
