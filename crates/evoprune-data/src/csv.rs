//! Numeric CSV: feature columns, then the label in the last column (the UCI digits layout).

use crate::{DataError, Dataset, Result};
use std::path::Path;

/// Read a numeric CSV (optionally gzip) whose last column is an integer class label.
/// A first line that is not numeric is taken as a header. Classes: `max label + 1`.
pub fn read_labelled(path: &Path) -> Result<Dataset> {
    let bytes = crate::read_maybe_gz(path)?;
    parse_labelled(path, &bytes)
}

pub(crate) fn parse_labelled(path: &Path, bytes: &[u8]) -> Result<Dataset> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| DataError::format(path, format!("not UTF-8 text: {e}")))?;
    let mut x = Vec::new();
    let mut labels = Vec::new();
    let mut width: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if i == 0 && fields.iter().any(|f| f.parse::<f64>().is_err()) {
            continue; // header
        }
        if fields.len() < 2 {
            return Err(DataError::format(
                path,
                format!(
                    "line {line_no}: need feature columns and a label, got {} column(s)",
                    fields.len()
                ),
            ));
        }
        match width {
            None => width = Some(fields.len()),
            Some(w) if w != fields.len() => {
                return Err(DataError::format(
                    path,
                    format!(
                        "line {line_no}: {} columns, earlier lines have {w}",
                        fields.len()
                    ),
                ));
            }
            _ => {}
        }
        let (feat, label) = fields.split_at(fields.len() - 1);
        for (k, f) in feat.iter().enumerate() {
            let v: f32 = f.parse().map_err(|_| {
                DataError::format(
                    path,
                    format!("line {line_no}, column {}: '{f}' is not a number", k + 1),
                )
            })?;
            if !v.is_finite() {
                return Err(DataError::format(
                    path,
                    format!("line {line_no}, column {}: '{f}' is not finite", k + 1),
                ));
            }
            x.push(v);
        }
        let l: f64 = label[0].parse().map_err(|_| {
            DataError::format(
                path,
                format!(
                    "line {line_no}, last column: label '{}' is not a number",
                    label[0]
                ),
            )
        })?;
        // class counts are allocated per label value: a label of 4e9 would mean 4e9 classes
        if !(0.0..=f64::from(u16::MAX)).contains(&l) || l.fract() != 0.0 {
            return Err(DataError::format(
                path,
                format!(
                    "line {line_no}, last column: label '{}' is not an integer in [0, 65535]",
                    label[0]
                ),
            ));
        }
        labels.push(l as u32);
    }
    let w = width.ok_or_else(|| DataError::format(path, "no data rows"))?;
    let n_classes = labels.iter().max().map_or(0, |m| *m as usize + 1);
    Dataset::new(x, vec![w - 1], labels, n_classes)
        .map_err(|e| DataError::format(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Dataset> {
        parse_labelled(Path::new("t.csv"), s.as_bytes())
    }

    #[test]
    fn reads_header_rows_and_labels() {
        let d = parse("a,b,label\n1,2,0\n3,4,2\n").unwrap();
        assert_eq!((d.len(), d.dim(), d.n_classes()), (2, 2, 3));
        assert_eq!(d.row(1), &[3.0, 4.0]);
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_column() {
        let cases = [
            ("1,2,0\n3,x,1\n", "line 2, column 2: 'x' is not a number"),
            ("1,2,0\n3,4\n", "line 2: 2 columns, earlier lines have 3"),
            ("1,2,0\n3,4,1.5\n", "is not an integer in [0, 65535]"),
            ("1,2,0\n3,4,70000\n", "is not an integer in [0, 65535]"),
            ("1,2,0\n3,4,-1\n", "is not an integer in [0, 65535]"),
            ("", "no data rows"),
            ("1,inf,0\n", "not finite"),
        ];
        for (text, needle) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.starts_with("t.csv"),
                "{text:?}: {e}"
            );
        }
    }
}
