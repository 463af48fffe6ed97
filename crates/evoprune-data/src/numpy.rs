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

fn to_f32<R: Read>(path: &Path, what: &str, npy: NpyFile<R>) -> Result<Array> {
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
    if data.len() != shape.iter().product::<usize>() {
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

/// Read a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let npy = NpyFile::new(std::io::BufReader::new(f))
        .map_err(|e| DataError::format(path, format!("not a valid .npy file: {e}")))?;
    to_f32(path, "array", npy)
}

/// Read the array `name` from a `.npz` archive.
pub fn read_npz(path: &Path, name: &str) -> Result<Array> {
    let mut z = npyz::npz::NpzArchive::open(path)
        .map_err(|e| DataError::format(path, format!("not a valid .npz archive: {e}")))?;
    let names: Vec<String> = z.array_names().map(str::to_string).collect();
    let npy = z
        .by_name(name)
        .map_err(|e| DataError::format(path, format!("array '{name}': {e}")))?
        .ok_or_else(|| {
            DataError::format(
                path,
                format!("no array '{name}' (has: {})", names.join(", ")),
            )
        })?;
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
        if l < 0.0 || l.fract() != 0.0 {
            return Err(DataError::format(
                path,
                format!("label {l} of sample {i} is not a non-negative integer"),
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
