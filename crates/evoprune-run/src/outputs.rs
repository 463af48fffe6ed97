//! A run's outputs declared once, as data, and written by one function.
//!
//! A method builds an [`Outputs`]: its JSON results, CSV tables, charts and report, each with
//! the file name it gets in the run folder. [`Outputs::write`] checks the declaration (no name
//! twice, every image the report shows is a declared chart) before it writes anything, then
//! writes every file atomically. A method therefore never writes a half set of outputs because
//! a declaration was wrong, and the list of what a run produces is in one place.

use crate::plot::Chart;
use crate::{Block, Report, Result, RunDir, RunError, Table};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One output file of a run.
#[derive(Clone, Debug)]
pub enum Output {
    /// JSON, pretty-printed when declared (fields keep their declaration order).
    Json(String),
    /// A table as CSV.
    Csv(Table),
    /// A chart as SVG.
    Svg(Chart),
    /// A report: written as `NAME.md` and `NAME.html`.
    Report(Report),
    /// Any bytes (text reports of other tools, images already encoded).
    Bytes(Vec<u8>),
}

/// The declared outputs of a run, in the order they are written.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    items: Vec<(String, Output)>,
}

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Declare `value` as JSON at `name`.
    pub fn json<T: Serialize>(mut self, name: &str, value: &T) -> Result<Self> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| RunError::invalid(name, e.to_string()))?;
        self.items.push((name.into(), Output::Json(text)));
        Ok(self)
    }

    /// Declare `table` as CSV at `name`.
    pub fn csv(mut self, name: &str, table: Table) -> Self {
        self.items.push((name.into(), Output::Csv(table)));
        self
    }

    /// Declare `chart` as SVG at `name`.
    pub fn chart(mut self, name: &str, chart: Chart) -> Self {
        self.items.push((name.into(), Output::Svg(chart)));
        self
    }

    /// Declare `report` as `stem.md` and `stem.html`.
    pub fn report(mut self, stem: &str, report: Report) -> Self {
        self.items.push((stem.into(), Output::Report(report)));
        self
    }

    /// Declare raw bytes at `name`.
    pub fn bytes(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.items.push((name.into(), Output::Bytes(bytes)));
        self
    }

    /// The file names these outputs occupy, in declaration order.
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, o) in &self.items {
            match o {
                Output::Report(_) => {
                    out.push(format!("{name}.md"));
                    out.push(format!("{name}.html"));
                }
                _ => out.push(name.clone()),
            }
        }
        out
    }

    /// Check the declaration: no file twice, and every image or gallery entry a report shows
    /// is either declared here or in `existing` (files written earlier, such as heat maps).
    pub fn check(&self, existing: &[&str]) -> Result<()> {
        let mut seen = BTreeSet::new();
        for f in self.files() {
            if !seen.insert(f.clone()) {
                return Err(RunError::invalid(f, "declared twice as a run output"));
            }
        }
        for (name, o) in &self.items {
            let Output::Report(r) = o else { continue };
            for b in &r.blocks {
                let shown: Vec<&String> = match b {
                    Block::Image(p, _) => vec![p],
                    Block::Gallery(ps, _) => ps.iter().collect(),
                    _ => continue,
                };
                if let Some(p) = shown
                    .into_iter()
                    .find(|p| !seen.contains(p.as_str()) && !existing.contains(&p.as_str()))
                {
                    return Err(RunError::invalid(
                        format!("{name}.md"),
                        format!("the report shows {p}, which is not a declared output"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Check the declaration (see [`Outputs::check`]), render every chart, then write every
    /// file atomically into `rd`. Returns the paths written.
    pub fn write(&self, rd: &RunDir, existing: &[&str]) -> Result<Vec<PathBuf>> {
        self.check(existing)?;
        let mut rendered = Vec::with_capacity(self.items.len() + 1);
        for (name, o) in &self.items {
            match o {
                Output::Json(text) => rendered.push((name.clone(), text.clone().into_bytes())),
                Output::Csv(t) => rendered.push((name.clone(), t.to_csv(name)?)),
                Output::Svg(c) => {
                    rendered.push((name.clone(), c.to_svg(&rd.path(name))?.into_bytes()))
                }
                Output::Report(r) => {
                    rendered.push((format!("{name}.md"), r.to_markdown().into_bytes()));
                    rendered.push((format!("{name}.html"), r.to_html().into_bytes()));
                }
                Output::Bytes(b) => rendered.push((name.clone(), b.clone())),
            }
        }
        rendered
            .into_iter()
            .map(|(name, bytes)| rd.write(&name, &bytes))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Marker;

    fn rd() -> (tempfile::TempDir, RunDir) {
        let d = tempfile::tempdir().unwrap();
        let rd = RunDir::create(&d.path().join("run"), "seed = 1\n").unwrap();
        (d, rd)
    }

    #[derive(serde::Serialize)]
    struct Order {
        b: u32,
        a: u32,
    }

    #[test]
    fn writes_every_declared_file() {
        let (_d, rd) = rd();
        let mut t = Table::new(["a", "b"]);
        t.push(["1", "x"]);
        let mut rep = Report::new("r");
        rep.push(Block::Image("front.svg".into(), "front".into()));
        let o = Outputs::new()
            .json("result.json", &Order { b: 1, a: 2 })
            .unwrap()
            .csv("front.csv", t)
            .chart(
                "front.svg",
                Chart::new("t", "x", "y").with("s", vec![(0.0, 1.0)], Marker::Dot),
            )
            .report("report", rep);
        let written = o.write(&rd, &[]).unwrap();
        assert_eq!(written.len(), 5);
        assert_eq!(
            std::fs::read_to_string(rd.path("result.json")).unwrap(),
            "{\n  \"b\": 1,\n  \"a\": 2\n}",
            "fields in declaration order"
        );
        assert_eq!(
            std::fs::read_to_string(rd.path("front.csv")).unwrap(),
            "a,b\n1,x\n"
        );
        assert!(
            std::fs::read_to_string(rd.path("front.svg"))
                .unwrap()
                .starts_with("<svg")
        );
        assert!(
            std::fs::read_to_string(rd.path("report.md"))
                .unwrap()
                .contains("![front](front.svg)")
        );
    }

    #[test]
    fn refuses_undeclared_images_and_duplicates_before_writing() {
        let (_d, rd) = rd();
        let mut rep = Report::new("r");
        rep.push(Block::Image("missing.svg".into(), "m".into()));
        let o = Outputs::new()
            .csv("front.csv", Table::new(["a"]))
            .report("report", rep);
        let e = o.write(&rd, &[]).unwrap_err().to_string();
        assert!(e.contains("missing.svg"), "{e}");
        assert!(!rd.path("front.csv").exists(), "nothing written");
        // an image written by an earlier stage is allowed when named
        o.write(&rd, &["missing.svg"]).unwrap();
        let dup = Outputs::new()
            .csv("a.csv", Table::new(["a"]))
            .csv("a.csv", Table::new(["b"]));
        assert!(
            dup.write(&rd, &[])
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}
