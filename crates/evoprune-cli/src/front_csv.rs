//! Fronts as CSV: header `f1,f2,...`, one row per solution, objective values as minimised.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// Write `rows` atomically: to a temporary file beside `path`, then renamed, so an interrupted
/// write never leaves a partial file that looks complete.
pub fn write(path: &Path, rows: &[Vec<f64>], n_obj: usize) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record((1..=n_obj).map(|i| format!("f{i}")))?;
    for r in rows {
        w.write_record(r.iter().map(|v| v.to_string()))?;
    }
    let bytes = w.into_inner().context("cannot encode the front")?;
    evoprune_run::write_atomic(path, &bytes)?;
    Ok(())
}

/// Read a front. A first row that is not numeric is a header; every other row must hold
/// exactly `n_obj` finite numbers. Errors name the file, the line and the field.
pub fn read(path: &Path, n_obj: usize) -> Result<Vec<Vec<f64>>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 1;
        let rec = rec.with_context(|| format!("{}: line {line}: not valid CSV", path.display()))?;
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        if i == 0 && rec.iter().any(|f| f.parse::<f64>().is_err()) {
            continue; // header
        }
        if rec.len() != n_obj {
            bail!(
                "{}: line {line}: {} values, expected {n_obj} (one per objective of the reference point)",
                path.display(),
                rec.len()
            );
        }
        let mut row = Vec::with_capacity(n_obj);
        for (k, f) in rec.iter().enumerate() {
            let v: f64 = f.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{}: line {line}, column {}: '{f}' is not a number",
                    path.display(),
                    k + 1
                )
            })?;
            if !v.is_finite() {
                bail!(
                    "{}: line {line}, column {}: '{f}' is not finite",
                    path.display(),
                    k + 1
                );
            }
            row.push(v);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Parse `1.1,1.1` into a reference point.
pub fn parse_point(s: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| anyhow::anyhow!("--ref: '{}' is not a number", t.trim()))
        })
        .collect::<Result<_>>()?;
    if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
        bail!("--ref: need one finite number per objective, e.g. 1.1,1.1");
    }
    Ok(v)
}
