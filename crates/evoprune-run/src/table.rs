//! One table, four renderings.

use crate::{Result, RunError};
use std::path::Path;

/// A column of [`Table::from_columns`]: its header and how a row's cell is written.
pub type Column<'a, T> = (&'a str, &'a dyn Fn(&T) -> String);

/// A table of strings with a header row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row (padded or cut to the header's width).
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        let mut r: Vec<String> = row.into_iter().map(Into::into).collect();
        r.resize(self.headers.len(), String::new());
        self.rows.push(r);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        w
    }

    /// Aligned plain text for a terminal: text columns left, numeric columns right.
    pub fn to_text(&self) -> String {
        let w = self.widths();
        let numeric: Vec<bool> = (0..self.headers.len())
            .map(|i| {
                !self.rows.is_empty()
                    && self
                        .rows
                        .iter()
                        .all(|r| r[i].is_empty() || r[i].parse::<f64>().is_ok())
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if numeric[i] {
                        format!("{c:>w$}", w = w[i])
                    } else {
                        format!("{c:<w$}", w = w[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = line(&self.headers) + "\n";
        out += &w
            .iter()
            .map(|&n| "-".repeat(n))
            .collect::<Vec<_>>()
            .join("  ");
        out.push('\n');
        for r in &self.rows {
            out += &line(r);
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &String| s.replace('|', "\\|");
        let mut out = format!(
            "| {} |\n|{}|\n",
            self.headers.iter().map(esc).collect::<Vec<_>>().join(" | "),
            self.headers
                .iter()
                .map(|_| "---")
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            out += &format!(
                "| {} |\n",
                r.iter().map(esc).collect::<Vec<_>>().join(" | ")
            );
        }
        out
    }

    /// An HTML `<table>`.
    pub fn to_html(&self) -> String {
        let mut out = String::from("<table>\n<thead><tr>");
        for h in &self.headers {
            out += &format!("<th>{}</th>", escape_html(h));
        }
        out += "</tr></thead>\n<tbody>\n";
        for r in &self.rows {
            out += "<tr>";
            for c in r {
                out += &format!("<td>{}</td>", escape_html(c));
            }
            out += "</tr>\n";
        }
        out + "</tbody>\n</table>\n"
    }

    /// A table with one row per item of `rows` and one column per `(header, cell)` pair:
    /// the columns of a result table declared once, next to their formatting.
    pub fn from_columns<T>(rows: &[T], columns: &[Column<'_, T>]) -> Self {
        let mut t = Table::new(columns.iter().map(|c| c.0));
        for r in rows {
            t.push(columns.iter().map(|c| (c.1)(r)));
        }
        t
    }

    /// The table as CSV bytes; `name` only labels errors.
    pub fn to_csv(&self, name: &str) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let err = |e: csv::Error| RunError::invalid(name, e.to_string());
        w.write_record(&self.headers).map_err(err)?;
        for r in &self.rows {
            w.write_record(r).map_err(err)?;
        }
        w.into_inner()
            .map_err(|e| RunError::invalid(name, e.to_string()))
    }

    /// The table as CSV, written atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let bytes = self.to_csv(&path.display().to_string())?;
        crate::rundir::write_atomic(path, &bytes)
    }
}

/// Escape `&`, `<`, `>` and `"` for HTML text and attributes.
pub(crate) fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Table {
        let mut t = Table::new(["name", "acc"]);
        t.push(["a|b", "0.5"]);
        t.push(["<c>", "0.25"]);
        t
    }

    #[test]
    fn renderings() {
        let t = t();
        assert_eq!(
            t.to_text(),
            "name   acc\n----  ----\na|b    0.5\n<c>   0.25\n"
        );
        assert!(t.to_markdown().contains("| a\\|b | 0.5 |"));
        assert!(t.to_html().contains("<td>&lt;c&gt;</td>"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        t.write_csv(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(p).unwrap(),
            "name,acc\na|b,0.5\n<c>,0.25\n"
        );
    }

    #[test]
    fn from_columns() {
        let rows = [(1, 0.5), (2, 0.25)];
        let t = Table::from_columns(
            &rows,
            &[
                ("k", &|r: &(i32, f64)| r.0.to_string()),
                ("v", &|r: &(i32, f64)| format!("{:.2}", r.1)),
            ],
        );
        assert_eq!(t.headers, ["k", "v"]);
        assert_eq!(t.rows, [["1", "0.50"], ["2", "0.25"]]);
    }
}
