//! The files a finished run writes, declared once: `result.json`, the searches per seed, their
//! fronts and the surrogates' cross-validation as CSV, the fronts' chart, and the report.

use crate::Result;
use crate::config::Config;
use crate::pipeline::{KindSummary, Member, ResultFile, SearchResult, Spread};
use crate::search::TargetCv;
use evoprune_run::plot::{Chart, Marker};
use evoprune_run::{Block, Outputs, Report, Table};
use evoprune_surrogate::Kind;

/// Every output of a finished run, and the per-seed table (the run's summary table).
pub(crate) fn declare(cfg: &Config, r: &ResultFile) -> Result<(Outputs, Table)> {
    let seeds = seeds_table(r);
    let outputs = Outputs::new()
        .json("result.json", r)?
        .csv("seeds.csv", seeds.clone())
        .csv("fronts.csv", fronts_table(r))
        .csv("cv.csv", cv_table(r))
        .chart("fronts.svg", fronts_chart(r))
        .report("report", report(cfg, r, seeds.clone()));
    Ok((outputs, seeds))
}

fn pct(v: f64) -> String {
    format!("{:.2}", 100.0 * v)
}

/// One search of one seed.
type Search<'a> = (u64, &'a SearchResult);

/// Every search: by seed, the surrogate-assisted one first.
fn searches(r: &ResultFile) -> Vec<Search<'_>> {
    r.seeds
        .iter()
        .flat_map(|s| {
            std::iter::once(&s.surrogate)
                .chain(s.real.iter())
                .map(move |m| (s.seed, m))
        })
        .collect()
}

/// `seeds.csv`, the report's first table and the run's summary: one row per search.
fn seeds_table(r: &ResultFile) -> Table {
    Table::from_columns(
        &searches(r),
        &[
            ("seed", &|(s, _): &Search| s.to_string()),
            ("method", &|(_, m): &Search| m.method.clone()),
            ("evaluations", &|(_, m): &Search| m.evaluations.to_string()),
            ("hypervolume", &|(_, m): &Search| {
                format!("{:.4}", m.hypervolume)
            }),
            ("front", &|(_, m): &Search| m.front.len().to_string()),
            ("flagged", &|(_, m): &Search| {
                let flagged = m.front.iter().filter(|x| !x.test_meets_floor);
                flagged.count().to_string()
            }),
            ("best nonzero %", &|(_, m): &Search| {
                m.front
                    .first()
                    .map(|x| pct(x.nonzero))
                    .unwrap_or_else(|| "-".into())
            }),
            ("seconds", &|(_, m): &Search| format!("{:.1}", m.seconds)),
        ],
    )
}

/// One front member: seed, method, index in the front.
type FrontRow<'a> = (u64, &'a str, usize, &'a Member);

/// A column of `fronts.csv`: its name and its cell of a row.
type FrontColumn<'a> = (&'a str, &'a dyn Fn(&FrontRow) -> String);

/// `fronts.csv`: every member of every search's feasible front, with its plan.
fn fronts_table(r: &ResultFile) -> Table {
    let rows: Vec<FrontRow> = searches(r)
        .into_iter()
        .flat_map(|(seed, m)| {
            let method = m.method.as_str();
            m.front
                .iter()
                .enumerate()
                .map(move |(i, x)| (seed, method, i, x))
        })
        .collect();
    let network = r.network.is_some();
    let opt = |v: Option<usize>| v.map_or_else(String::new, |v| v.to_string());
    let params = |r: &FrontRow| opt(r.3.params);
    let macs = |r: &FrontRow| opt(r.3.macs);
    let onnx = |r: &FrontRow| r.3.onnx.clone().unwrap_or_default();
    let mut columns: Vec<FrontColumn> = vec![
        ("seed", &|r: &FrontRow| r.0.to_string()),
        ("method", &|r: &FrontRow| r.1.to_string()),
        ("member", &|r: &FrontRow| r.2.to_string()),
        ("val_accuracy", &|r: &FrontRow| {
            format!("{:.4}", r.3.val_accuracy)
        }),
        ("test_accuracy", &|r: &FrontRow| {
            format!("{:.4}", r.3.test_accuracy)
        }),
        ("nonzero", &|r: &FrontRow| format!("{:.6}", r.3.nonzero)),
        ("bytes", &|r: &FrontRow| format!("{}", r.3.bytes)),
        ("test_meets_floor", &|r: &FrontRow| {
            r.3.test_meets_floor.to_string()
        }),
        ("plan", &|r: &FrontRow| {
            serde_json::to_string(&r.3.plan).expect("serialisable")
        }),
    ];
    if network {
        // [model] runs: the realized network's counts and, for the members `export`
        // addresses, its file
        columns.extend([
            ("params", &params as &dyn Fn(&FrontRow) -> String),
            ("macs", &macs),
            ("onnx", &onnx),
        ]);
    }
    Table::from_columns(&rows, &columns)
}

/// One cross-validated error: seed, iteration, samples, target, kind, error.
type CvRow<'a> = (u64, usize, usize, &'a TargetCv, &'a Kind, f64);

/// `cv.csv`: the cross-validated error of every kind for every target at every iteration.
fn cv_table(r: &ResultFile) -> Table {
    let mut rows: Vec<CvRow> = Vec::new();
    for s in &r.seeds {
        for (it, c) in s.cv.iter().enumerate() {
            for t in &c.targets {
                rows.extend(
                    t.errors
                        .iter()
                        .map(|(k, e)| (s.seed, it, c.samples, t, k, *e)),
                );
            }
        }
    }
    Table::from_columns(
        &rows,
        &[
            ("seed", &|r: &CvRow| r.0.to_string()),
            ("iteration", &|r: &CvRow| r.1.to_string()),
            ("samples", &|r: &CvRow| r.2.to_string()),
            ("target", &|r: &CvRow| r.3.target.clone()),
            ("kind", &|r: &CvRow| format!("{:?}", r.4)),
            ("cv_mae", &|r: &CvRow| format!("{:.6}", r.5)),
            ("chosen", &|r: &CvRow| (*r.4 == r.3.chosen).to_string()),
        ],
    )
}

/// One kind's summary for one target.
type KindRow<'a> = (&'a str, &'a KindSummary);

/// The report's second table: each kind's mean cross-validated error per target.
fn cv_summary_table(r: &ResultFile) -> Table {
    let rows: Vec<KindRow> = r
        .cv_summary
        .iter()
        .flat_map(|t| t.kinds.iter().map(move |k| (t.target.as_str(), k)))
        .collect();
    Table::from_columns(
        &rows,
        &[
            ("target", &|r: &KindRow| r.0.to_string()),
            ("kind", &|r: &KindRow| format!("{:?}", r.1.kind)),
            ("mean CV MAE", &|r: &KindRow| format!("{:.5}", r.1.mean_mae)),
            ("chosen (iterations)", &|r: &KindRow| r.1.chosen.to_string()),
        ],
    )
}

/// `fronts.svg`: every seed's feasible fronts of both searches, and the dense baseline.
fn fronts_chart(r: &ResultFile) -> Chart {
    let front = |method: &str| -> Vec<(f64, f64)> {
        searches(r)
            .into_iter()
            .filter(|(_, m)| m.method == method)
            .flat_map(|(_, m)| {
                m.front
                    .iter()
                    .map(|x| (100.0 * x.nonzero, 100.0 * x.val_accuracy))
            })
            .collect()
    };
    Chart::new(
        "Feasible fronts: validation accuracy vs non-zero parameters",
        "non-zero parameters %",
        "validation accuracy %",
    )
    .with("surrogate (all seeds)", front("surrogate"), Marker::Dot)
    .with("real (all seeds)", front("real"), Marker::Cross)
    .with(
        "dense baseline",
        vec![(100.0, 100.0 * r.baseline_accuracy[0])],
        Marker::Ring,
    )
}

/// `report.md` / `report.html`.
fn report(cfg: &Config, r: &ResultFile, seeds: Table) -> Report {
    let mut rep = Report::new(format!(
        "Surrogate-assisted constrained compression: {}",
        cfg.name
    ));
    rep.push(Block::Text(summary(cfg, r)))
        .push(Block::Heading(2, "Per seed".into()))
        .push(Block::Table(seeds))
        .push(Block::Heading(
            2,
            "Surrogates: cross-validated error".into(),
        ))
        .push(Block::Table(cv_summary_table(r)))
        .push(Block::Image("fronts.svg".into(), "Feasible fronts".into()));
    rep
}

/// The report's paragraph: data, baseline, budget, the hypervolumes and the flagged members.
fn summary(cfg: &Config, r: &ResultFile) -> String {
    let sp = |s: &Spread| {
        format!(
            "median {:.4} (IQR {:.4}-{:.4}, range {:.4}-{:.4})",
            s.median, s.q1, s.q3, s.min, s.max
        )
    };
    format!(
        "{}. Baseline {} accuracy: validation {:.2}%, test {:.2}%. Constraint: validation accuracy >= {:.2}%. Budget {} real evaluations per search ({} initial, {} per iteration); {} on the surrogates ({} generations). Hypervolume of the feasible front (1 - accuracy, non-zero fraction), reference 1: surrogate {}; real {}. The surrogate search has the larger hypervolume on {} of {} seeds. Front members below the floor on the test set (flagged): {}.",
        r.data,
        r.network.as_deref().unwrap_or("LeNet"),
        100.0 * r.baseline_accuracy[0],
        100.0 * r.baseline_accuracy[1],
        100.0 * r.floor,
        cfg.surrogate.budget,
        cfg.surrogate.initial,
        cfg.surrogate.per_iteration,
        match cfg.surrogate.optimiser {
            crate::config::Optimiser::Ctaea => "C-TAEA",
            crate::config::Optimiser::Nsga2 => "constrained NSGA-II",
        },
        cfg.surrogate.generations,
        sp(&r.hv_surrogate),
        r.hv_real
            .as_ref()
            .map(sp)
            .unwrap_or_else(|| "not run".into()),
        r.surrogate_wins,
        r.seeds.len(),
        r.flagged
    )
}
