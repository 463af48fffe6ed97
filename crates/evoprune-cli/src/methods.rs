//! `evoprune run|resume|export`: any registered method, written once. The command line finds
//! the method by the config's `method` key (none: MO-EvoPruneDeepTL, also for `evoprune run`
//! without a config), drives it through `evoprune_run::Method`, renders its progress and
//! prints what it returns.

use anyhow::{Context, Result};
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
    #[command(flatten)]
    pub(crate) ray: RayArgs,
}

/// Evaluation on a Ray cluster, through the Python package (`python -m evoprune`).
#[derive(clap::Args, Debug)]
pub struct RayArgs {
    /// Evaluate the candidates on the Ray cluster at ADDRESS ("auto": the one `ray start`
    /// made on this machine; "local": a private one on localhost). Runs `python -m evoprune`
    /// with $EVOPRUNE_PYTHON (default python3), which needs `pip install "evoprune[ray]"`.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) ray: Option<String>,
    /// Ray workers (default: one per CPU of the cluster).
    #[arg(long, requires = "ray")]
    pub(crate) workers: Option<usize>,
}

impl RayArgs {
    /// Hand the command to `python -m evoprune` when a cluster is asked for; its exit status.
    fn delegate(&self, command: &str, args: Vec<std::ffi::OsString>) -> Result<Option<u8>> {
        let Some(address) = &self.ray else {
            return Ok(None);
        };
        let python = std::env::var_os("EVOPRUNE_PYTHON").unwrap_or_else(|| "python3".into());
        let mut cmd = std::process::Command::new(&python);
        cmd.args(["-m", "evoprune", command]).args(args);
        cmd.args(["--ray", address]);
        if let Some(w) = self.workers {
            cmd.args(["--workers", &w.to_string()]);
        }
        let status = cmd.status().with_context(|| {
            format!(
                "--ray: cannot start {} (set EVOPRUNE_PYTHON to a Python with evoprune[ray])",
                python.to_string_lossy()
            )
        })?;
        Ok(Some(status.code().map_or(1, |c| c.clamp(0, 255) as u8)))
    }
}

/// Arguments of `evoprune resume`.
#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The run folder of an interrupted (or finished) run.
    pub(crate) run_dir: PathBuf,
    /// Threads evaluating candidates.
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    #[command(flatten)]
    pub(crate) ray: RayArgs,
}

/// Arguments of `evoprune baseline`.
#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// A method's TOML config with a `[model]` section and `[model.train] epochs > 0`.
    pub(crate) config: PathBuf,
    /// Override the config's seed (weights, data split and sample order).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Threads (default: all cores; the weights do not depend on it).
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
    if a.ray.ray.is_some() {
        let mut args: Vec<std::ffi::OsString> = a.config.iter().map(|c| c.into()).collect();
        let mut opt = |k: &str, v: Option<std::ffi::OsString>| {
            if let Some(v) = v {
                args.push(k.into());
                args.push(v);
            }
        };
        opt("--out", a.out.map(Into::into));
        opt("--seed", a.seed.map(|s| s.to_string().into()));
        opt("--evaluations", a.evaluations.map(|e| e.to_string().into()));
        opt("--threads", Some(a.threads.to_string().into()));
        return Ok(a.ray.delegate("run", args)?.filter(|&c| c != 0));
    }
    let o = Overrides {
        seed: a.seed,
        evaluations: a.evaluations,
    };
    finish(m.run(a.config.as_deref(), &o, a.out.as_deref(), driver(a.threads)))
}

/// `evoprune resume RUN_DIR`.
pub fn resume(a: ResumeArgs) -> Result<Option<u8>> {
    let m = method_of_run(&a.run_dir)?;
    if a.ray.ray.is_some() {
        let args = vec![
            a.run_dir.clone().into(),
            "--threads".into(),
            a.threads.to_string().into(),
        ];
        return Ok(a.ray.delegate("resume", args)?.filter(|&c| c != 0));
    }
    finish(m.resume(&a.run_dir, driver(a.threads)))
}

/// `evoprune baseline CONFIG`.
pub fn baseline(a: BaselineArgs) -> Result<Option<u8>> {
    let m = method_of_config(Some(&a.config))?;
    let o = Overrides {
        seed: a.seed,
        evaluations: None,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()
        .context("thread pool")?;
    let mut rep = StageBar::new();
    let lines = pool.install(|| m.baseline(&a.config, &o, &mut rep));
    drop(rep);
    for l in lines? {
        println!("{l}");
    }
    Ok(None)
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
