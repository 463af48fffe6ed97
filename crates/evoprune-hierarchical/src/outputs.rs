//! The files a finished run writes, declared once: `result.json`, the fronts of both phases and
//! the chosen members as CSV and charts, and the report that ties them together.

use crate::Result;
use crate::config::{Config, Cost};
use crate::pipeline::{Member, PhaseResult, Point, ResultFile};
use evoprune_run::plot::{Chart, Marker};
use evoprune_run::{Block, Outputs, Report, Table};

/// Every output of a finished run, and the members table (the run's summary table).
pub(crate) fn declare(
    cfg: &Config,
    p1: &PhaseResult,
    p2: &PhaseResult,
    fin: &[(u8, &Point)],
    r: &ResultFile,
) -> Result<(Outputs, Table)> {
    let costs: Vec<&str> = cfg.search.costs.iter().map(|&c| cost_name(c)).collect();
    let members = members_table(&r.members);
    let outputs = Outputs::new()
        .json("result.json", r)?
        .csv("fronts.csv", fronts_table(&costs, p1, p2, fin))
        .csv("members.csv", members.clone())
        .chart("fronts.svg", fronts_chart(costs[0], p1, p2))
        .chart("members.svg", members_chart(r))
        .report("report", report(cfg, &costs, r, members.clone()));
    Ok((outputs, members))
}

fn pct(v: f64) -> String {
    format!("{:.2}", 100.0 * v)
}

fn cost_name(c: Cost) -> &'static str {
    match c {
        Cost::Params => "params",
        Cost::Flops => "flops",
    }
}

/// Kept weights per layer, `a/b/c`.
fn per_layer(kept: &[usize]) -> String {
    kept.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// `fronts.csv`: every point of both phases' fronts (validation objectives as searched) and
/// whether it is on the final front.
fn fronts_table(costs: &[&str], p1: &PhaseResult, p2: &PhaseResult, fin: &[(u8, &Point)]) -> Table {
    let mut t = Table::new(
        ["phase", "final", "val_error"]
            .into_iter()
            .chain(costs.iter().copied())
            .chain(["kept_per_layer"]),
    );
    let on_final = |p: &Point| fin.iter().any(|(_, q)| q.keep == p.keep);
    for (phase, front) in [(1, &p1.front), (2, &p2.front)] {
        for p in front {
            let mut row = vec![phase.to_string(), on_final(p).to_string()];
            row.extend(p.f.iter().map(|v| format!("{v:.6}")));
            row.push(per_layer(&p.kept));
            t.push(row);
        }
    }
    t
}

/// `members.csv`, the report's table and the run's summary: the chosen members on test.
fn members_table(members: &[Member]) -> Table {
    Table::from_columns(
        members,
        &[
            ("member", &|m: &Member| m.index.to_string()),
            ("phase", &|m: &Member| m.phase.to_string()),
            ("params %", &|m: &Member| pct(m.params)),
            ("FLOPs %", &|m: &Member| pct(m.flops)),
            ("val error % (pruned)", &|m: &Member| pct(m.search[0])),
            ("test error % (pruned)", &|m: &Member| {
                pct(m.test_error_pruned)
            }),
            ("test error % (fine-tuned)", &|m: &Member| pct(m.test_error)),
            ("kept per layer", &|m: &Member| per_layer(&m.kept)),
        ],
    )
}

/// `fronts.svg`: both phases' fronts and the anchors, validation error against the first cost.
fn fronts_chart(cost0: &str, p1: &PhaseResult, p2: &PhaseResult) -> Chart {
    let xy = |p: &Point| (100.0 * p.f[1], 100.0 * p.f[0]);
    let anchors: Vec<(f64, f64)> = p2
        .anchors
        .iter()
        .filter_map(|&i| p1.front.get(i))
        .map(xy)
        .collect();
    Chart::new(
        "Validation error vs remaining parameters, both phases (no fine-tuning)",
        format!("remaining {cost0} %"),
        "validation error %",
    )
    .with(
        "phase 1 (thresholds)",
        p1.front.iter().map(xy).collect(),
        Marker::Dot,
    )
    .with(
        "phase 2 (surviving weights)",
        p2.front.iter().map(xy).collect(),
        Marker::Cross,
    )
    .with("anchors (heavy, light)", anchors, Marker::Ring)
}

/// `members.svg`: the members' test error, pruned and fine-tuned, against their parameters.
fn members_chart(r: &ResultFile) -> Chart {
    let test_error = |e: fn(&Member) -> f64| -> Vec<(f64, f64)> {
        r.members
            .iter()
            .map(|m| (100.0 * m.params, 100.0 * e(m)))
            .collect()
    };
    Chart::new(
        "Test error of the chosen members, pruned and fine-tuned",
        "remaining parameters %",
        "test error %",
    )
    .with("pruned", test_error(|m| m.test_error_pruned), Marker::Cross)
    .with("fine-tuned", test_error(|m| m.test_error), Marker::Dot)
    .with(
        "dense baseline",
        vec![(100.0, 100.0 * r.baseline_test_error)],
        Marker::Ring,
    )
}

/// `report.md` / `report.html`.
fn report(cfg: &Config, costs: &[&str], r: &ResultFile, members: Table) -> Report {
    let mut rep = Report::new(format!(
        "Hierarchical importance-guided pruning: {}",
        cfg.name
    ));
    rep.push(Block::Text(run_summary(r)))
        .push(Block::Text(hypervolume_summary(costs, r)))
        .push(Block::Heading(2, "Members (test set)".into()))
        .push(Block::Table(members))
        .push(Block::Image(
            "fronts.svg".into(),
            "Fronts of both phases".into(),
        ))
        .push(Block::Image(
            "members.svg".into(),
            "Members, pruned and fine-tuned".into(),
        ));
    rep
}

/// The report's first paragraph: data, baseline, and what each phase spent.
fn run_summary(r: &ResultFile) -> String {
    format!(
        "{}; {}. Baseline test error {:.2}% (validation {:.2}% on the fitness images). Phase 1: {} evaluations in {:.0} s; phase 2: {} bits, {} evaluations ({} incremental, {} full) in {:.0} s; fine-tuning and scoring {:.0} s.",
        r.model.describe(),
        r.data,
        100.0 * r.baseline_test_error,
        100.0 * r.baseline_val_error,
        r.evaluations[0],
        r.phase_seconds[0],
        r.phase2_bits,
        r.evaluations[1],
        r.incremental[0],
        r.incremental[1],
        r.phase_seconds[1],
        r.finetune_seconds
    )
}

/// The report's second paragraph: the three hypervolumes of each front.
fn hypervolume_summary(costs: &[&str], r: &ResultFile) -> String {
    let [a, b, c] = r.hypervolume;
    let [na, nb, nc] = r.hypervolume_normalized;
    let [ba, bb, bc] = r.hypervolume_box;
    format!(
        "Hypervolume of (validation error, {}) with reference 1: phase 1 {a:.4}, phase 2 {b:.4}, both {c:.4}. Normalised by the union's ideal and nadir points, reference 1.1: phase 1 {na:.4}, phase 2 {nb:.4}, both {nc:.4}. Fraction of the anchors' box (baseline error to light-anchor error, 0 to heavy-anchor {}) dominated: phase 1 {ba:.4}, phase 2 {bb:.4}, both {bc:.4}.",
        costs.join(", "),
        costs[0],
    )
}
