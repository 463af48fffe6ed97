//! `evoprune._native`: the Python package's Rust half. A thin adapter: the engine's ask/tell
//! session on NumPy arrays ([`Engine`]), the methods' run/resume/export through the shared
//! registry, a cluster's worker ([`Worker`]) and the bridge that lets a Python object (the Ray
//! pool in `evoprune.ray`) evaluate a method's candidates ([`PyCluster`]). The Python-facing
//! API (docs, defaults, `minimize`) lives in `python/evoprune/__init__.py`.

use evoprune::{
    Algorithm, AskTell, BitFlip, BitString, Crossover, Ctaea, CtaeaConfig, Evaluation, Genome,
    IntBounds, IntPolynomialMutation, IntSbx, IntVector, MixedBounds, MixedCrossover, MixedGenome,
    MixedMutation, MixedSampling, Mode, Mutation, Nsga2, Nsga2Config, ObjectiveSpec, Outcome,
    PolynomialMutation, RealBounds, RealVector, Sampling, Sbx, Session, UniformBits,
    UniformCrossover, UniformInt, UniformReal,
};
use evoprune_run::remote::{Cluster, Serve};
use evoprune_run::{Driver, Finished, Overrides, Reporter, Stopped};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pyo3::create_exception!(
    _native,
    EvopruneError,
    PyValueError,
    "Bad input or a failed run; the message names the file, field or node at fault."
);
pyo3::create_exception!(
    _native,
    Interrupted,
    PyException,
    "A run stopped with everything finished checkpointed: resume it."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    EvopruneError::new_err(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The engine's ask/tell on NumPy arrays

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum GenomeSpec {
    Bits(usize),
    Real {
        lower: Vec<f64>,
        upper: Vec<f64>,
    },
    Int {
        lower: Vec<i64>,
        upper: Vec<i64>,
    },
    Mixed {
        real: Box<GenomeSpec>,
        int: Box<GenomeSpec>,
        bits: usize,
    },
}

fn default_true() -> bool {
    true
}
fn default_every() -> u64 {
    1
}

/// What `evoprune.Engine(...)` passes down (as JSON; pickling stores it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineSpec {
    genome: GenomeSpec,
    objectives: Vec<ObjectiveSpec>,
    #[serde(default)]
    n_constraints: usize,
    pop_size: usize,
    #[serde(default)]
    n_offspring: Option<usize>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default = "default_true")]
    cache: bool,
    #[serde(default)]
    archive: bool,
    /// `None`: the algorithm's default (NSGA-II 0.9, C-TAEA 1.0).
    #[serde(default)]
    crossover_prob: Option<f64>,
    /// `nsga2` (the default) or `ctaea`.
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default = "default_true")]
    eliminate_duplicates: bool,
    #[serde(default)]
    checkpoint: Option<PathBuf>,
    #[serde(default = "default_every")]
    checkpoint_every: u64,
    #[serde(default)]
    hv_reference: Option<Vec<f64>>,
}

// the algorithm is chosen at run time (`algorithm=` in Python): boxed
type BitsAlgo = Box<dyn Algorithm<BitString> + Sync>;
type RealAlgo = Box<dyn Algorithm<RealVector> + Sync>;
type IntAlgo = Box<dyn Algorithm<IntVector> + Sync>;
type MixedAlgo = Box<dyn Algorithm<MixedGenome> + Sync>;

/// The spec's algorithm over genome `G` with these operators: NSGA-II, or C-TAEA with the
/// fewest Das-Dennis directions that reach `pop_size` (as `evoprune moo`).
fn algorithm<G, S, X, M>(
    spec: &EngineSpec,
    sampling: S,
    x: X,
    m: M,
) -> PyResult<Box<dyn Algorithm<G> + Sync>>
where
    G: Genome,
    S: Sampling<G> + 'static,
    X: Crossover<G> + 'static,
    M: Mutation<G> + 'static,
{
    match spec.algorithm.as_deref().unwrap_or("nsga2") {
        "nsga2" => {
            let cfg = Nsga2Config {
                pop_size: spec.pop_size,
                n_offspring: spec.n_offspring,
                crossover_prob: spec.crossover_prob.unwrap_or(0.9),
                eliminate_duplicates: spec.eliminate_duplicates,
                ..Default::default()
            };
            Ok(Box::new(Nsga2::new(cfg, sampling, x, m).map_err(err)?))
        }
        "ctaea" => {
            if spec.n_offspring.is_some() {
                return Err(err(
                    "n_offspring: C-TAEA breeds a whole generation (one child per direction); leave it unset",
                ));
            }
            let cfg = CtaeaConfig {
                crossover_prob: spec.crossover_prob.unwrap_or(1.0),
                eliminate_duplicates: spec.eliminate_duplicates,
                ..Default::default()
            };
            let dirs = evoprune::pareto::das_dennis_at_least(spec.objectives.len(), spec.pop_size);
            Ok(Box::new(
                Ctaea::new(cfg, dirs, sampling, x, m).map_err(err)?,
            ))
        }
        other => Err(err(format!(
            "algorithm: \"{other}\" is not one of \"nsga2\", \"ctaea\""
        ))),
    }
}

// one per Engine: boxing the sessions would save a few hundred bytes once
#[allow(clippy::large_enum_variant)]
enum Inner {
    Bits(AskTell<BitString, BitsAlgo>),
    Real(AskTell<RealVector, RealAlgo>),
    Int(AskTell<IntVector, IntAlgo>),
    Mixed(AskTell<MixedGenome, MixedAlgo>),
}

/// Run `$body` with `$s` bound to the session, whatever the genome.
macro_rules! each {
    ($inner:expr, $s:ident => $body:expr) => {
        match $inner {
            Inner::Bits($s) => $body,
            Inner::Real($s) => $body,
            Inner::Int($s) => $body,
            Inner::Mixed($s) => $body,
        }
    };
}

/// Genomes as NumPy arrays (one row per genome) and back.
trait Rows: Genome {
    fn to_py<'py>(py: Python<'py>, gs: &[Self]) -> PyResult<Bound<'py, PyAny>>;
}

fn matrix<T: numpy::Element + Clone>(n: usize, d: usize, v: Vec<T>) -> PyResult<Array2<T>> {
    Array2::from_shape_vec((n, d), v).map_err(err)
}

impl Rows for BitString {
    fn to_py<'py>(py: Python<'py>, gs: &[Self]) -> PyResult<Bound<'py, PyAny>> {
        let d = gs.first().map_or(0, |g| g.len());
        let v: Vec<bool> = gs
            .iter()
            .flat_map(|g| (0..g.len()).map(|i| g.get(i)))
            .collect();
        Ok(matrix(gs.len(), d, v)?.into_pyarray(py).into_any())
    }
}

impl Rows for RealVector {
    fn to_py<'py>(py: Python<'py>, gs: &[Self]) -> PyResult<Bound<'py, PyAny>> {
        let d = gs.first().map_or(0, |g| g.0.len());
        let v: Vec<f64> = gs.iter().flat_map(|g| g.0.iter().copied()).collect();
        Ok(matrix(gs.len(), d, v)?.into_pyarray(py).into_any())
    }
}

impl Rows for IntVector {
    fn to_py<'py>(py: Python<'py>, gs: &[Self]) -> PyResult<Bound<'py, PyAny>> {
        let d = gs.first().map_or(0, |g| g.0.len());
        let v: Vec<i64> = gs.iter().flat_map(|g| g.0.iter().copied()).collect();
        Ok(matrix(gs.len(), d, v)?.into_pyarray(py).into_any())
    }
}

impl Rows for MixedGenome {
    fn to_py<'py>(py: Python<'py>, gs: &[Self]) -> PyResult<Bound<'py, PyAny>> {
        let reals: Vec<RealVector> = gs.iter().map(|g| g.reals.clone()).collect();
        let ints: Vec<IntVector> = gs.iter().map(|g| g.ints.clone()).collect();
        let bits: Vec<BitString> = gs.iter().map(|g| g.bits.clone()).collect();
        let d = PyDict::new(py);
        d.set_item("real", RealVector::to_py(py, &reals)?)?;
        d.set_item("int", IntVector::to_py(py, &ints)?)?;
        d.set_item("bits", BitString::to_py(py, &bits)?)?;
        Ok(d.into_any())
    }
}

fn real_bounds(spec: &GenomeSpec) -> PyResult<RealBounds> {
    match spec {
        GenomeSpec::Real { lower, upper } => {
            RealBounds::new(lower.clone(), upper.clone()).map_err(err)
        }
        _ => Err(err("genome.mixed.real: expected real bounds")),
    }
}

fn int_bounds(spec: &GenomeSpec) -> PyResult<IntBounds> {
    match spec {
        GenomeSpec::Int { lower, upper } => {
            IntBounds::new(lower.clone(), upper.clone()).map_err(err)
        }
        _ => Err(err("genome.mixed.int: expected integer bounds")),
    }
}

/// The engine's ask/tell session (see `evoprune.Engine`).
#[pyclass(module = "evoprune._native")]
struct Engine {
    inner: Inner,
    n_obj: usize,
    n_constr: usize,
}

fn outcome_of(f: &[f64], g: Option<&[f64]>, error: Option<String>) -> Outcome {
    match error {
        Some(e) => Err(e),
        None => Ok(Evaluation::with_constraints(
            f.to_vec(),
            g.map_or_else(Vec::new, <[f64]>::to_vec),
        )),
    }
}

fn setup<G: Rows, A: evoprune::Algorithm<G>>(
    algo: A,
    spec: &EngineSpec,
    mode: Mode,
) -> PyResult<AskTell<G, A>> {
    let mut s = AskTell::new(
        algo,
        spec.objectives.clone(),
        spec.n_constraints,
        mode,
        spec.seed,
    )
    .map_err(err)?
    .cache(spec.cache)
    .archive(spec.archive);
    if let Some(r) = &spec.hv_reference {
        s = s.hv_reference(r.clone()).map_err(err)?;
    }
    if let Some(dir) = &spec.checkpoint {
        s = s.checkpoint(dir, spec.checkpoint_every).map_err(err)?;
    }
    Ok(s)
}

fn ids_array(py: Python<'_>, ids: Vec<u64>) -> Bound<'_, PyAny> {
    ids.into_pyarray(py).into_any()
}

fn asked<'py, G: Rows>(py: Python<'py>, v: Vec<(u64, G)>) -> PyResult<Bound<'py, PyAny>> {
    let (ids, gs): (Vec<u64>, Vec<G>) = v.into_iter().unzip();
    let t = (ids_array(py, ids), G::to_py(py, &gs)?);
    Ok(t.into_pyobject(py)?.into_any())
}

/// (X, F, G, rank, feasible) of individuals, F and G as evaluated (the objectives' own
/// directions; NaN for failed candidates).
fn table<'py, G: Rows>(
    py: Python<'py>,
    inds: &[&evoprune::Individual<G>],
    m: usize,
    nc: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let gs: Vec<G> = inds.iter().map(|i| i.genome.clone()).collect();
    let mut f = Vec::with_capacity(inds.len() * m);
    let mut g = Vec::with_capacity(inds.len() * nc);
    for i in inds {
        match &i.outcome {
            Ok(e) => {
                f.extend_from_slice(&e.objectives);
                g.extend_from_slice(&e.constraints);
            }
            Err(_) => {
                f.extend(std::iter::repeat_n(f64::NAN, m));
                g.extend(std::iter::repeat_n(f64::NAN, nc));
            }
        }
    }
    let rank: Vec<u64> = inds.iter().map(|i| i.rank as u64).collect();
    let feas: Vec<bool> = inds.iter().map(|i| i.is_feasible()).collect();
    let t = (
        G::to_py(py, &gs)?,
        matrix(inds.len(), m, f)?.into_pyarray(py),
        matrix(inds.len(), nc, g)?.into_pyarray(py),
        rank.into_pyarray(py),
        feas.into_pyarray(py),
    );
    Ok(t.into_pyobject(py)?.into_any())
}

#[pymethods]
impl Engine {
    /// A session from the JSON spec `evoprune.Engine` writes.
    #[new]
    fn new(spec: &str) -> PyResult<Self> {
        let spec: EngineSpec =
            serde_json::from_str(spec).map_err(|e| err(format!("engine spec: {e}")))?;
        let mode: Mode = spec
            .mode
            .as_deref()
            .unwrap_or("generational")
            .parse()
            .map_err(err)?;
        let ctaea = spec.algorithm.as_deref() == Some("ctaea");
        let inner = match &spec.genome {
            GenomeSpec::Bits(n) => {
                if *n == 0 {
                    return Err(err("genome.bits: need at least one bit"));
                }
                let algo = algorithm(
                    &spec,
                    UniformBits::new(*n),
                    UniformCrossover::default(),
                    BitFlip::default(),
                )?;
                Inner::Bits(setup(algo, &spec, mode)?)
            }
            GenomeSpec::Real { .. } => {
                let b = real_bounds(&spec.genome)?;
                // C-TAEA's SBX spreads less (eta 30), as pymoo's
                let mut sbx = Sbx::new(b.clone());
                if ctaea {
                    sbx.eta = 30.0;
                }
                let algo = algorithm(
                    &spec,
                    UniformReal { bounds: b.clone() },
                    sbx,
                    PolynomialMutation::new(b),
                )?;
                Inner::Real(setup(algo, &spec, mode)?)
            }
            GenomeSpec::Int { .. } => {
                let b = int_bounds(&spec.genome)?;
                let algo = algorithm(
                    &spec,
                    UniformInt { bounds: b.clone() },
                    IntSbx::new(b.clone()),
                    IntPolynomialMutation::new(b),
                )?;
                Inner::Int(setup(algo, &spec, mode)?)
            }
            GenomeSpec::Mixed { real, int, bits } => {
                let bounds = MixedBounds {
                    reals: real_bounds(real)?,
                    ints: int_bounds(int)?,
                    n_bits: *bits,
                };
                let algo = algorithm(
                    &spec,
                    MixedSampling {
                        bounds: bounds.clone(),
                    },
                    MixedCrossover {
                        reals: Sbx::new(bounds.reals.clone()),
                        ints: IntSbx::new(bounds.ints.clone()),
                        bits: UniformCrossover::default(),
                    },
                    MixedMutation {
                        reals: PolynomialMutation::new(bounds.reals.clone()),
                        ints: IntPolynomialMutation::new(bounds.ints.clone()),
                        bits: BitFlip::default(),
                    },
                )?;
                Inner::Mixed(setup(algo, &spec, mode)?)
            }
        };
        Ok(Engine {
            inner,
            n_obj: spec.objectives.len(),
            n_constr: spec.n_constraints,
        })
    }

    /// `(ids, X)`: up to `n` new candidates.
    fn ask<'py>(&mut self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
        each!(&mut self.inner, s => {
            let v = py.detach(|| s.ask(n)).map_err(err)?;
            asked(py, v)
        })
    }

    /// Tell the results of `ids`: objectives `f` (k x m), constraints `g` (k x c, `<= 0`
    /// satisfied), and per candidate an error message (or None) for failed evaluations.
    #[pyo3(signature = (ids, f, g=None, errors=None))]
    fn tell(
        &mut self,
        py: Python<'_>,
        ids: Vec<u64>,
        f: PyReadonlyArray2<'_, f64>,
        g: Option<PyReadonlyArray2<'_, f64>>,
        errors: Option<Vec<Option<String>>>,
    ) -> PyResult<()> {
        let f = f.as_array();
        let k = ids.len();
        if f.nrows() != k || f.ncols() != self.n_obj {
            return Err(err(format!(
                "F: shape ({}, {}), expected ({k}, {}) for {k} ids and {} objectives",
                f.nrows(),
                f.ncols(),
                self.n_obj,
                self.n_obj
            )));
        }
        let g = g.as_ref().map(|g| g.as_array());
        if let Some(g) = &g
            && (g.nrows() != k || g.ncols() != self.n_constr)
        {
            return Err(err(format!(
                "G: shape ({}, {}), expected ({k}, {})",
                g.nrows(),
                g.ncols(),
                self.n_constr
            )));
        }
        if g.is_none() && self.n_constr > 0 {
            return Err(err(format!(
                "G: the problem has {} constraints",
                self.n_constr
            )));
        }
        let errors = errors.unwrap_or_else(|| vec![None; k]);
        if errors.len() != k {
            return Err(err(format!("errors: {} entries for {k} ids", errors.len())));
        }
        let outcomes: Vec<(u64, Outcome)> = ids
            .iter()
            .zip(errors)
            .enumerate()
            .map(|(r, (&id, e))| {
                let fr: Vec<f64> = f.row(r).to_vec();
                let gr: Option<Vec<f64>> = g.as_ref().map(|g| g.row(r).to_vec());
                let e = e.or_else(|| {
                    fr.iter()
                        .any(|x| !x.is_finite())
                        .then(|| "an objective is not finite".to_string())
                });
                (id, outcome_of(&fr, gr.as_deref(), e))
            })
            .collect();
        each!(&mut self.inner, s => py.detach(|| {
            for (id, o) in outcomes {
                s.tell(id, o)?;
            }
            Ok::<(), evoprune::Error>(())
        }).map_err(err))
    }

    /// `(ids, X)` of the candidates handed out and not told (after a load: evaluate them again).
    fn pending<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        each!(&self.inner, s => asked(py, s.pending()))
    }

    /// `(X, F, G, rank, feasible)` of the population.
    fn population<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        each!(&self.inner, s => {
            let p: Vec<_> = s.state().population.iter().collect();
            table(py, &p, self.n_obj, self.n_constr)
        })
    }

    /// `(X, F, G, rank, feasible)` of the feasible first front.
    fn front<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        each!(&self.inner, s => table(py, &s.state().front(), self.n_obj, self.n_constr))
    }

    /// Counters: generation, evaluations, cache_hits, failures, and the hypervolume history.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = each!(&self.inner, s => s.state().stats.clone());
        let d = PyDict::new(py);
        d.set_item("generation", st.generation)?;
        d.set_item("evaluations", st.evaluations)?;
        d.set_item("cache_hits", st.cache_hits)?;
        d.set_item("failures", st.failures)?;
        let hv: Vec<(u64, u64, f64)> = st
            .hv_history
            .iter()
            .map(|h| (h.generation, h.evaluations, h.hypervolume))
            .collect();
        d.set_item("hv_history", hv)?;
        Ok(d)
    }

    /// True when no new candidate can be bred.
    fn exhausted(&self) -> bool {
        each!(&self.inner, s => s.exhausted())
    }

    /// The whole session (state, RNG, cache, candidates in flight) as bytes.
    fn save_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = each!(&self.inner, s => postcard::to_stdvec(s.session())).map_err(err)?;
        Ok(PyBytes::new(py, &b))
    }

    /// Continue from `save_state`'s bytes (an engine built from the same spec).
    fn load_state(&mut self, state: &[u8]) -> PyResult<()> {
        fn load<G: Genome, A: evoprune::Algorithm<G>>(
            s: &mut AskTell<G, A>,
            b: &[u8],
        ) -> PyResult<()> {
            let sess: Session<G> = postcard::from_bytes(b)
                .map_err(|e| err(format!("state: not a saved session of this engine: {e}")))?;
            s.restore(sess).map_err(err)
        }
        each!(&mut self.inner, s => load(s, state))
    }

    /// Write a checkpoint now (engines made with a checkpoint folder).
    fn checkpoint(&mut self, py: Python<'_>) -> PyResult<()> {
        each!(&mut self.inner, s => py.detach(|| s.save()).map_err(err))
    }
}

// ---------------------------------------------------------------------------------------------
// The methods: run, resume, export, and a cluster's side of them

/// The progress of a run as calls of a Python callable `progress(kind, value)`; at each report
/// it also looks for Ctrl-C (Python's pending signals) and then sets the run's stop flag, so the
/// run stops after the current generation with a checkpoint and `run` raises `Interrupted`.
struct PyReporter {
    cb: Option<Py<PyAny>>,
    stop: Arc<AtomicBool>,
}

impl PyReporter {
    fn send(&self, kind: &str, value: impl for<'py> IntoPyObject<'py> + Send) {
        Python::attach(|py| {
            if py.check_signals().is_err() {
                self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            if let Some(cb) = &self.cb {
                // a failing callback must not stop the run: show its error and go on
                if let Err(e) = cb.call1(py, (kind, value)) {
                    e.print(py);
                }
            }
        });
    }
}

impl Reporter for PyReporter {
    fn stage(&mut self, name: &str, total: Option<u64>) {
        self.send("stage", (name.to_string(), total));
    }
    fn progress(&mut self, done: u64) {
        self.send("progress", done);
    }
    fn note(&mut self, message: &str) {
        self.send("note", message.to_string());
    }
    fn detail(&mut self, message: &str) {
        self.send("detail", message.to_string());
    }
}

/// A Python object with `workers()` and `evaluate(stage: str, genomes: list[bytes]) ->
/// list[bytes]` (the Ray pool) as the engine's cluster.
struct PyCluster {
    obj: Py<PyAny>,
    workers: usize,
}

impl std::fmt::Debug for PyCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PyCluster({} workers)", self.workers)
    }
}

impl Cluster for PyCluster {
    fn workers(&self) -> usize {
        self.workers
    }
    fn evaluate(&self, stage: &Path, genomes: Vec<Vec<u8>>) -> Result<Vec<Outcome>, String> {
        Python::attach(|py| {
            let list = PyList::new(py, genomes.iter().map(|g| PyBytes::new(py, g)))
                .map_err(|e| e.to_string())?;
            let out = self
                .obj
                .call_method1(py, "evaluate", (stage.to_string_lossy().to_string(), list))
                .map_err(|e| e.to_string())?;
            let items: Vec<Vec<u8>> = out.extract(py).map_err(|e: PyErr| e.to_string())?;
            items
                .iter()
                .map(|b| postcard::from_bytes::<Outcome>(b).map_err(|e| e.to_string()))
                .collect()
        })
    }
}

fn driver(
    threads: usize,
    progress: Option<Py<PyAny>>,
    cluster: Option<Py<PyAny>>,
    py: Python<'_>,
) -> PyResult<Driver> {
    let remote: Option<Arc<dyn Cluster>> = match cluster {
        Some(c) => {
            let workers: usize = c.call_method0(py, "workers")?.extract(py)?;
            Some(Arc::new(PyCluster { obj: c, workers }))
        }
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    Ok(Driver {
        reporter: Box::new(PyReporter {
            cb: progress,
            stop: stop.clone(),
        }),
        stop,
        threads,
        remote,
    })
}

fn finished(py: Python<'_>, r: Result<Finished, Stopped>) -> PyResult<Bound<'_, PyDict>> {
    let f = match r {
        Ok(f) => f,
        Err(Stopped::Interrupted(m)) => return Err(Interrupted::new_err(m)),
        Err(Stopped::Failed(e)) => {
            let mut s = e.to_string();
            let mut src = e.source();
            while let Some(c) = src {
                let c_s = c.to_string();
                if !s.contains(&c_s) {
                    s.push_str(": ");
                    s.push_str(&c_s);
                }
                src = c.source();
            }
            return Err(err(s));
        }
    };
    let d = PyDict::new(py);
    d.set_item("dir", f.dir.to_string_lossy().to_string())?;
    d.set_item("lines", f.lines)?;
    let tables = PyList::empty(py);
    for (title, t) in f.tables {
        tables.append((title, t.headers, t.rows))?;
    }
    d.set_item("tables", tables)?;
    d.set_item("footer", f.footer)?;
    Ok(d)
}

/// Run a config (None: the built-in one) in `out` (None: a fresh `runs/<name>` folder).
#[pyfunction]
#[pyo3(signature = (config=None, out=None, seed=None, evaluations=None, threads=0, progress=None, cluster=None))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    config: Option<PathBuf>,
    out: Option<PathBuf>,
    seed: Option<u64>,
    evaluations: Option<u64>,
    threads: usize,
    progress: Option<Py<PyAny>>,
    cluster: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let method = evoprune_methods::of_config(config.as_deref()).map_err(err)?;
    let d = driver(threads, progress, cluster, py)?;
    let o = Overrides { seed, evaluations };
    let r = py.detach(move || method.run(config.as_deref(), &o, out.as_deref(), d));
    finished(py, r)
}

/// Continue (or re-finalise) the run in `dir`.
#[pyfunction]
#[pyo3(signature = (dir, threads=0, progress=None, cluster=None))]
fn resume<'py>(
    py: Python<'py>,
    dir: PathBuf,
    threads: usize,
    progress: Option<Py<PyAny>>,
    cluster: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let method = evoprune_methods::of_run(&dir).map_err(err)?;
    let d = driver(threads, progress, cluster, py)?;
    let r = py.detach(move || method.resume(&dir, d));
    finished(py, r)
}

/// Export member `member` of the finished run in `dir` to `out`; lines saying what was written.
#[pyfunction]
#[pyo3(signature = (dir, member, out=None))]
fn export(
    py: Python<'_>,
    dir: PathBuf,
    member: usize,
    out: Option<PathBuf>,
) -> PyResult<Vec<String>> {
    let method = evoprune_methods::of_run(&dir).map_err(err)?;
    let r =
        py.detach(move || method.export(&dir, member, out.as_deref(), &mut evoprune_run::Silent));
    match r {
        Ok(lines) => Ok(lines),
        Err(Stopped::Interrupted(m)) => Err(Interrupted::new_err(m)),
        Err(Stopped::Failed(e)) => Err(err(e)),
    }
}

/// True when a cluster's workers can evaluate the method of `config` (None: the built-in).
#[pyfunction]
#[pyo3(signature = (config=None))]
fn distributed(config: Option<PathBuf>) -> PyResult<bool> {
    Ok(evoprune_methods::of_config(config.as_deref())
        .map_err(err)?
        .distributed())
}

/// A cluster worker's evaluator of one engine stage of a run (its checkpoint folder): the
/// method's data, features and weights loaded once, then any number of batches.
#[pyclass(module = "evoprune._native")]
struct Worker {
    serve: Box<dyn Serve>,
}

#[pymethods]
impl Worker {
    #[new]
    fn new(py: Python<'_>, stage: PathBuf) -> PyResult<Self> {
        let serve = py
            .detach(|| {
                let root = evoprune_run::remote::run_root(&stage)
                    .map_err(|e| Stopped::Failed(Box::new(e)))?;
                let method =
                    evoprune_methods::of_run(&root).map_err(|e| Stopped::Failed(Box::new(e)))?;
                method.serve(&stage)
            })
            .map_err(err)?;
        Ok(Worker { serve })
    }

    /// Outcomes (postcard bytes) of postcard-encoded genomes, in order.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        genomes: Vec<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out: Vec<Vec<u8>> = py
            .detach(|| {
                self.serve
                    .evaluate(&genomes)
                    .iter()
                    .map(postcard::to_stdvec)
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(err)?;
        PyList::new(py, out.iter().map(|b| PyBytes::new(py, b)))
    }
}

/// An outcome's bytes as `(objectives, constraints, extras)` or the failure's message.
#[pyfunction]
fn decode_outcome<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let o: Outcome = postcard::from_bytes(b).map_err(err)?;
    Ok(match o {
        Ok(e) => (e.objectives, e.constraints, e.extras)
            .into_pyobject(py)?
            .into_any(),
        Err(m) => m.into_pyobject(py)?.into_any(),
    })
}

/// An outcome as bytes (a worker's failure that never reached Rust, e.g. a lost task).
#[pyfunction]
fn failed_outcome<'py>(py: Python<'py>, message: String) -> PyResult<Bound<'py, PyBytes>> {
    let o: Outcome = Err(message);
    Ok(PyBytes::new(py, &postcard::to_stdvec(&o).map_err(err)?))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<Worker>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(resume, m)?)?;
    m.add_function(wrap_pyfunction!(export, m)?)?;
    m.add_function(wrap_pyfunction!(distributed, m)?)?;
    m.add_function(wrap_pyfunction!(decode_outcome, m)?)?;
    m.add_function(wrap_pyfunction!(failed_outcome, m)?)?;
    m.add("EvopruneError", m.py().get_type::<EvopruneError>())?;
    m.add("Interrupted", m.py().get_type::<Interrupted>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
