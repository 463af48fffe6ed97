//! NumPy `.npy` matrices and `.npz` archives (via the `npyz` crate).

use crate::{DataError, Dataset, Result};
use npyz::{NpyFile, TypeChar};
use std::io::Read;
use std::path::Path;

/// A numeric array read as `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major (C order).
    pub data: Vec<f32>,
}

/// Arrays above this many elements are refused before reading (a header can declare any
/// shape; 2^32 f32 values are 16 GiB).
const MAX_ELEMENTS: u64 = 1 << 32;

fn to_f32<R: Read>(path: &Path, what: &str, npy: NpyFile<R>) -> Result<Array> {
    // npyz multiplies the declared shape unchecked: check it before anything reads it
    let n = npy
        .shape()
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            DataError::format(
                path,
                format!("{what}: declared shape {:?} is too large", npy.shape()),
            )
        })?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() == npyz::Order::Fortran && shape.len() > 1 {
        return Err(DataError::format(
            path,
            format!(
                "{what}: Fortran-order arrays are not supported; save with np.ascontiguousarray"
            ),
        ));
    }
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(DataError::format(
            path,
            format!("{what}: structured or nested dtypes are not supported"),
        ));
    };
    let bad = |e: std::io::Error| DataError::format(path, format!("{what}: {e}"));
    let data: Vec<f32> = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => npy.into_vec::<f32>().map_err(bad)?,
        (TypeChar::Float, 8) => npy
            .into_vec::<f64>()
            .map_err(bad)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        (TypeChar::Int, 8) => npy
            .into_vec::<i64>()
            .map_err(bad)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        (TypeChar::Int, 4) => npy
            .into_vec::<i32>()
            .map_err(bad)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        (TypeChar::Uint, 1) => npy
            .into_vec::<u8>()
            .map_err(bad)?
            .into_iter()
            .map(f32::from)
            .collect(),
        (TypeChar::Bool, 1) => npy
            .into_vec::<bool>()
            .map_err(bad)?
            .into_iter()
            .map(|b| f32::from(u8::from(b)))
            .collect(),
        (c, s) => {
            return Err(DataError::format(
                path,
                format!("{what}: dtype {c:?} of {s} bytes is not supported"),
            ));
        }
    };
    if data.len() as u64 != n {
        return Err(DataError::format(
            path,
            format!(
                "{what}: {} values for shape {shape:?} (truncated?)",
                data.len()
            ),
        ));
    }
    Ok(Array { shape, data })
}

/// Refuse a `.npy` header whose shape does not fit [`MAX_ELEMENTS`] before npyz parses it: npyz
/// multiplies the shape unchecked when it opens the array (a panic in debug builds). Headers
/// this cannot read are left to npyz, which reports them.
fn check_header(path: &Path, what: &str, b: &[u8]) -> Result<()> {
    if b.len() < 12 || &b[..6] != b"\x93NUMPY" {
        return Ok(());
    }
    let (len, start): (usize, usize) = if b[6] == 1 {
        (usize::from(u16::from_le_bytes([b[8], b[9]])), 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    // npyz allocates the declared header length before reading it: check it against the bytes
    let Some(header) = b.get(start..start.saturating_add(len)) else {
        return Err(DataError::format(
            path,
            format!(
                "{what}: header of {len} bytes declared, the data holds {}",
                b.len().saturating_sub(start)
            ),
        ));
    };
    let text = String::from_utf8_lossy(header);
    // npyz's Python-literal parser backtracks exponentially on nested brackets (found by `cargo
    // fuzz run npy`: 182 bytes took 45 s). A plain array's header nests two deep ({...(...)});
    // deeper ones are structured dtypes, which are refused anyway.
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 3 {
            return Err(DataError::format(
                path,
                format!("{what}: structured or nested dtypes are not supported"),
            ));
        }
    }
    let Some(shape) = text
        .find("'shape'")
        .and_then(|i| text[i..].find('(').map(|j| i + j + 1))
        .and_then(|i| text[i..].find(')').map(|j| &text[i..i + j]))
    else {
        return Ok(());
    };
    let mut n = 1u64;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let Ok(d) = d.trim_end_matches('L').parse::<u64>() else {
            return Ok(());
        };
        n = match n.checked_mul(d) {
            Some(n) if n <= MAX_ELEMENTS => n,
            _ => {
                return Err(DataError::format(
                    path,
                    format!("{what}: declared shape ({shape}) is too large"),
                ));
            }
        };
    }
    Ok(())
}

/// Read a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    check_header(path, "array", &bytes)?;
    let npy = NpyFile::new(&bytes[..])
        .map_err(|e| DataError::format(path, format!("not a valid .npy file: {e}")))?;
    to_f32(path, "array", npy)
}

/// Read the array `name` from a `.npz` archive (a zip of `.npy` files).
pub fn read_npz(path: &Path, name: &str) -> Result<Array> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut z = zip::ZipArchive::new(f)
        .map_err(|e| DataError::format(path, format!("not a valid .npz archive: {e}")))?;
    let names: Vec<String> = z
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    let mut entry = match z.by_name(&format!("{name}.npy")) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(DataError::format(
                path,
                format!("no array '{name}' (has: {})", names.join(", ")),
            ));
        }
        Err(e) => return Err(DataError::format(path, format!("array '{name}': {e}"))),
    };
    let mut bytes = Vec::new();
    entry
        .by_ref()
        .take(MAX_ELEMENTS * 8 + (1 << 20))
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::format(path, format!("array '{name}': {e}")))?;
    check_header(path, name, &bytes)?;
    let npy = NpyFile::new(&bytes[..])
        .map_err(|e| DataError::format(path, format!("array '{name}': {e}")))?;
    to_f32(path, name, npy)
}

/// A dataset from a features matrix `[n, ...]` and a label vector `[n]` of integers.
pub fn dataset(path: &Path, x: Array, y: Array) -> Result<Dataset> {
    if x.shape.len() < 2 {
        return Err(DataError::format(
            path,
            format!(
                "features must be at least 2-D [n, d], got shape {:?}",
                x.shape
            ),
        ));
    }
    if y.shape.len() != 1 || y.shape[0] != x.shape[0] {
        return Err(DataError::format(
            path,
            format!(
                "labels of shape {:?} do not match {} samples",
                y.shape, x.shape[0]
            ),
        ));
    }
    let mut labels = Vec::with_capacity(y.data.len());
    for (i, &l) in y.data.iter().enumerate() {
        if !(0.0..=f32::from(u16::MAX)).contains(&l) || l.fract() != 0.0 {
            return Err(DataError::format(
                path,
                format!("label {l} of sample {i} is not an integer in [0, 65535]"),
            ));
        }
        labels.push(l as u32);
    }
    let n_classes = labels.iter().max().map_or(0, |m| *m as usize + 1);
    Dataset::new(x.data, x.shape[1..].to_vec(), labels, n_classes)
        .map_err(|e| DataError::format(path, e.to_string()))
}

/// A dataset from an `.npz` archive holding a features array and a labels array.
pub fn read_npz_dataset(path: &Path, features: &str, labels: &str) -> Result<Dataset> {
    dataset(path, read_npz(path, features)?, read_npz(path, labels)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::WriterBuilder;

    fn write_npy<T: npyz::Serialize + npyz::AutoSerialize>(path: &Path, shape: &[u64], data: &[T]) {
        let mut buf = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            w.extend(data.iter()).unwrap();
            w.finish().unwrap();
        }
        std::fs::write(path, buf).unwrap();
    }

    /// Found by `cargo fuzz run npy`: nested brackets made npyz's header parser take 45 s.
    #[test]
    fn deeply_nested_headers_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n.npy");
        let h = format!("{{{}'descr': '<f4'}}\n", "[".repeat(40));
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        std::fs::write(&p, &b).unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(e.contains("n.npy") && e.contains("not supported"), "{e}");
    }

    /// Found by `cargo fuzz run npy`: a version-3 header declaring 3.6 GB made npyz allocate
    /// it before reading.
    #[test]
    fn a_declared_header_length_beyond_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.npy");
        let mut b = b"\x93NUMPY\x03\x00".to_vec();
        b.extend_from_slice(&0xd8c3_f975u32.to_le_bytes());
        b.extend_from_slice(b"{'descr': '<f4'}");
        std::fs::write(&p, &b).unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(
            e.contains("h.npy") && e.contains("header of 3636722037 bytes"),
            "{e}"
        );
    }

    #[test]
    fn a_declared_shape_beyond_memory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.npy");
        let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (8589934592, 8589934592), }"
            .to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&[0; 16]);
        std::fs::write(&p, &b).unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(e.contains("huge.npy") && e.contains("too large"), "{e}");
    }

    #[test]
    fn reads_float_and_integer_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        write_npy::<f64>(&p, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let a = read_npy(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data[5], 6.0);
        let q = dir.path().join("y.npy");
        write_npy::<i64>(&q, &[2], &[0, 1]);
        let d = dataset(&p, a, read_npy(&q).unwrap()).unwrap();
        assert_eq!((d.len(), d.dim(), d.n_classes()), (2, 3, 2));
    }

    #[test]
    fn corrupt_truncated_and_mismatched_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        write_npy::<f32>(&p, &[4, 4], &[0.5; 16]);
        let mut b = std::fs::read(&p).unwrap();
        b.truncate(b.len() - 10);
        std::fs::write(&p, &b).unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(e.contains("x.npy"), "{e}");
        std::fs::write(&p, b"garbage").unwrap();
        assert!(
            read_npy(&p)
                .unwrap_err()
                .to_string()
                .contains("not a valid .npy")
        );
        let e = dataset(
            &p,
            Array {
                shape: vec![2, 2],
                data: vec![0.0; 4],
            },
            Array {
                shape: vec![3],
                data: vec![0.0; 3],
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("do not match 2 samples"), "{e}");
        let e = read_npz(&dir.path().join("none.npz"), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.npz"), "{e}");
    }
}
