//! What a finished MO-EvoPruneDeepTL run writes, declared once: `front.csv`, `front.json`,
//! `hypervolume.csv`, `ensembles.csv`, `key_features.csv`, `feature_frequency.csv`, the plots
//! and the report.

use crate::Result;
use crate::config::{Config, ObjectiveKind};
use crate::ensemble::EnsembleRow;
use crate::pipeline::FrontFile;
use evoprune::{BitString, State};
use evoprune_run::MethodConfig;
use evoprune_run::plot::{Chart, Marker};
use evoprune_run::{Block, Outputs, Report, Table};
use std::path::PathBuf;

/// Everything the outputs are made of.
pub(crate) struct Finished<'a> {
    pub cfg: &'a Config,
    pub state: &'a State<BitString>,
    pub front: &'a FrontFile,
    /// Objective values of the unpruned head on validation, in config order.
    pub baseline_objectives: Vec<f64>,
    /// Objective values of each member on test, in config order.
    pub test_objectives: Vec<Vec<f64>>,
    pub ensembles: &'a [EnsembleRow],
    pub key: &'a [(usize, usize)],
    pub counts: &'a [usize],
    pub notes: &'a [String],
    /// Grad-CAM images already written (feature, files relative to the run folder).
    pub heat_maps: &'a [(usize, Vec<PathBuf>)],
    /// The pixel-frequency overlay already written, relative to the run folder.
    pub pixel_map: Option<&'a str>,
}

fn f4(v: f64) -> String {
    format!("{v:.4}")
}

fn obj_label(o: ObjectiveKind) -> &'static str {
    match o {
        ObjectiveKind::Error => "1 - accuracy (validation)",
        ObjectiveKind::Active => "active feature fraction",
        ObjectiveKind::Auroc => "1 - AUROC (validation)",
    }
}

/// Column names of the per-source test AUROCs (`auroc_digits`, `auroc_classes_5-9`...).
fn source_columns(front: &FrontFile, prefix: &str) -> Vec<String> {
    front
        .baseline
        .test_auroc_by_source
        .iter()
        .map(|(name, _)| format!("{prefix}{}", name.replace(' ', "_")))
        .collect()
}

fn source_values(v: &[(String, f64)], fmt: fn(f64) -> String) -> impl Iterator<Item = String> {
    v.iter().map(move |(_, a)| fmt(*a))
}

/// The front for a terminal and the report: the baseline row, then one row per member; with
/// more than one OoD source, the test AUROC against each source alone follows the overall one.
pub(crate) fn front_table(front: &FrontFile) -> Table {
    let b = &front.baseline;
    let head = [
        "member",
        "active",
        "active_%",
        "val_acc",
        "val_auroc",
        "test_acc",
        "test_auroc",
    ];
    let mut t = Table::new(
        head.iter()
            .map(|s| s.to_string())
            .chain(source_columns(front, "auroc_"))
            .chain(["params".to_string(), "flops".to_string()]),
    );
    t.push(
        [
            "baseline".to_string(),
            b.active.to_string(),
            "100.00".into(),
            f4(b.val_accuracy),
            f4(b.val_auroc),
            f4(b.test_accuracy),
            f4(b.test_auroc),
        ]
        .into_iter()
        .chain(source_values(&b.test_auroc_by_source, f4))
        .chain([b.params.to_string(), (2 * b.macs).to_string()]),
    );
    for m in &front.members {
        t.push(
            [
                m.index.to_string(),
                m.active.to_string(),
                format!("{:.2}", 100.0 * m.active_fraction),
                f4(m.val_accuracy),
                f4(m.val_auroc),
                f4(m.test_accuracy),
                f4(m.test_auroc),
            ]
            .into_iter()
            .chain(source_values(&m.test_auroc_by_source, f4))
            .chain([m.params.to_string(), (2 * m.macs).to_string()]),
        );
    }
    t
}

/// `front.csv`: full precision, the objectives under their names, and the masks.
fn front_csv(front: &FrontFile) -> Table {
    let head = ["member", "active", "active_fraction"];
    let mid = ["val_accuracy", "val_auroc", "test_accuracy", "test_auroc"];
    let tail = ["params", "macs", "mask"];
    let mut t = Table::new(
        head.iter()
            .map(|s| s.to_string())
            .chain(front.objectives.iter().cloned())
            .chain(mid.iter().map(|s| s.to_string()))
            .chain(source_columns(front, "test_auroc_"))
            .chain(tail.iter().map(|s| s.to_string())),
    );
    for m in &front.members {
        let row = [
            m.index.to_string(),
            m.active.to_string(),
            m.active_fraction.to_string(),
        ];
        t.push(
            row.into_iter()
                .chain(m.objectives.iter().map(|v| v.to_string()))
                .chain([
                    m.val_accuracy.to_string(),
                    m.val_auroc.to_string(),
                    m.test_accuracy.to_string(),
                    m.test_auroc.to_string(),
                ])
                .chain(source_values(&m.test_auroc_by_source, |v| v.to_string()))
                .chain([m.params.to_string(), m.macs.to_string(), m.mask.clone()]),
        );
    }
    t
}

/// The ensembles for a terminal, the report and `ensembles.csv`.
pub(crate) fn ensemble_table(rows: &[EnsembleRow]) -> Table {
    Table::from_columns(
        rows,
        &[
            ("criterion", &|e: &EnsembleRow| e.criterion.clone()),
            ("window", &|e| {
                format!("({:.0},{:.0})", e.window[0], e.window[1])
            }),
            ("members", &|e| e.members.len().to_string()),
            ("ens_acc", &|e| f4(e.accuracy)),
            ("best_acc", &|e| f4(e.best_member_accuracy)),
            ("ens_auroc", &|e| f4(e.auroc)),
            ("best_auroc", &|e| f4(e.best_member_auroc)),
        ],
    )
}

fn key_table(key: &[(usize, usize)], members: usize) -> Table {
    let rows: Vec<(usize, &(usize, usize))> = key.iter().enumerate().collect();
    Table::from_columns(
        &rows,
        &[
            ("rank", &|r: &(usize, &(usize, usize))| {
                (r.0 + 1).to_string()
            }),
            ("feature", &|r| r.1.0.to_string()),
            ("members", &|r| r.1.1.to_string()),
            ("share_of_front", &|r| {
                format!("{:.2}", r.1.1 as f64 / members as f64)
            }),
        ],
    )
}

fn frequency_table(counts: &[usize]) -> Table {
    let mut t = Table::new(["feature", "members"]);
    for (j, c) in counts.iter().enumerate() {
        t.push([j.to_string(), c.to_string()]);
    }
    t
}

fn hypervolume_table(state: &State<BitString>) -> Table {
    let mut t = Table::new(["generation", "evaluations", "hypervolume"]);
    for r in &state.stats.hv_history {
        t.push([
            r.generation.to_string(),
            r.evaluations.to_string(),
            r.hypervolume.to_string(),
        ]);
    }
    t
}

/// One scatter per pair of objectives: the front on validation and test, the unpruned head.
fn front_charts(f: &Finished) -> Vec<(String, Chart)> {
    let objs = &f.cfg.search.objectives;
    let mut out = Vec::new();
    for a in 0..objs.len() {
        for b in a + 1..objs.len() {
            let file = format!("plots/front-{}-vs-{}.svg", objs[a].name(), objs[b].name());
            let val = f.front.members.iter();
            let chart = Chart::new("Final front", obj_label(objs[a]), obj_label(objs[b]))
                .with(
                    "front (validation)",
                    val.map(|m| (m.objectives[a], m.objectives[b])).collect(),
                    Marker::Dot,
                )
                .with(
                    "front (test)",
                    f.test_objectives.iter().map(|v| (v[a], v[b])).collect(),
                    Marker::Ring,
                )
                .with(
                    "unpruned head (validation)",
                    vec![(f.baseline_objectives[a], f.baseline_objectives[b])],
                    Marker::Cross,
                );
            out.push((file, chart));
        }
    }
    out
}

fn hypervolume_chart(state: &State<BitString>) -> Chart {
    let hv = &state.stats.hv_history;
    Chart::new(
        "Hypervolume of the first front (reference 1 per objective)",
        "evaluations",
        "hypervolume",
    )
    .with(
        "hypervolume",
        hv.iter()
            .map(|r| (r.evaluations as f64, r.hypervolume))
            .collect(),
        Marker::Line,
    )
}

fn report(f: &Finished, plots: &[String], ft: &Table, et: &Table) -> Result<Report> {
    let cfg = f.cfg;
    let mut r = Report::new(format!("MO-EvoPruneDeepTL run: {}", cfg.name));
    r.push(Block::Text(format!(
        "{} evaluations in {:.1} s (seed {}); {} front members; objectives: {}.",
        f.state.stats.evaluations,
        f.state.stats.elapsed_secs,
        cfg.seed,
        f.front.members.len(),
        f.front.objectives.join(", ")
    )));
    for n in f.notes {
        r.push(Block::Text(n.clone()));
    }
    r.push(Block::Heading(1, "Front (scored on validation during the search, on test here)".into()))
        .push(Block::Table(ft.clone()))
        .push(Block::Text("FLOPs = 2 x multiply-accumulates per sample of the physically compacted head (only the active input rows). Masks are in front.csv / front.json; `evoprune export` writes a member's head.".into()));
    for p in plots {
        r.push(Block::Image(
            p.clone(),
            "Front: validation (dots), test (rings), unpruned head (cross)".into(),
        ));
    }
    r.push(Block::Image(
        "plots/hypervolume.svg".into(),
        "Hypervolume over evaluations".into(),
    ));
    r.push(Block::Heading(1, "Ensembles".into()))
        .push(Block::Text("Majority vote (accuracy) and mean ODIN score (AUROC) over the front members whose validation accuracy, or validation AUROC, lies in each percentile window; compared with the window's best single member on test.".into()))
        .push(Block::Table(et.clone()));
    r.push(Block::Heading(
        1,
        format!("The {} most frequently active features", f.key.len()),
    ))
    .push(Block::Table(key_table(f.key, f.front.members.len())));
    explanations(f, &mut r);
    r.push(Block::Heading(1, "Config".into()))
        .push(Block::Code(cfg.to_toml()?));
    Ok(r)
}

/// The pixel-frequency overlay and the Grad-CAM galleries, where the run drew them.
fn explanations(f: &Finished, r: &mut Report) {
    if let Some(p) = f.pixel_map {
        r.push(Block::Image(
            p.to_string(),
            "Share of front members keeping each pixel (red: all, blue: none), over the mean test image".into(),
        ));
    }
    if f.heat_maps.is_empty() {
        return;
    }
    r.push(Block::Heading(
        1,
        "Grad-CAM heat maps of the key feature channels".into(),
    ));
    for (j, files) in f.heat_maps {
        r.push(Block::Gallery(
            files.iter().map(|p| p.display().to_string()).collect(),
            format!(
                "feature {j} on the first test images (last MBConv block, {0}x{0} input)",
                f.cfg.explain.heatmap_size
            ),
        ));
    }
}

/// The run's outputs; returns the front and ensemble tables for the terminal.
pub(crate) fn declare(f: &Finished) -> Result<(Outputs, Table, Table)> {
    let ft = front_table(f.front);
    let et = ensemble_table(f.ensembles);
    let charts = front_charts(f);
    let names: Vec<String> = charts.iter().map(|c| c.0.clone()).collect();
    let mut o = Outputs::new()
        .csv("front.csv", front_csv(f.front))
        .json("front.json", f.front)?
        .csv("hypervolume.csv", hypervolume_table(f.state));
    for (file, chart) in charts {
        o = o.chart(&file, chart);
    }
    let o = o
        .chart("plots/hypervolume.svg", hypervolume_chart(f.state))
        .csv("ensembles.csv", et.clone())
        .csv("key_features.csv", key_table(f.key, f.front.members.len()))
        .csv("feature_frequency.csv", frequency_table(f.counts))
        .report("report", report(f, &names, &ft, &et)?);
    Ok((o, ft, et))
}
