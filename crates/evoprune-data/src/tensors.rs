//! Named-tensor files: safetensors (read any float/int tensor as `f32`, write `f32` tensors for
//! feature caches) and PyTorch checkpoints (`.pth` / `.pt`, read with the `pytorch-reader`
//! crate: zip, legacy and tar containers, strided views gathered).

use crate::numpy::Array;
use crate::{DataError, Dataset, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// Names of the tensors in a safetensors file.
pub fn names(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| DataError::format(path, format!("not a valid safetensors file: {e}")))?;
    let mut n: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    n.sort();
    Ok(n)
}

/// Every tensor of a safetensors file, or of a PyTorch checkpoint (`.pth`, `.pt`: its state
/// dict, found under a top-level `state_dict` or `model` key when the checkpoint has one),
/// converted to `f32`.
pub fn read_all(path: &Path) -> Result<HashMap<String, Array>> {
    if matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pth" | "pt")
    ) {
        return read_pytorch(path);
    }
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| DataError::format(path, format!("not a valid safetensors file: {e}")))?;
    st.names()
        .into_iter()
        .map(|name| Ok((name.to_string(), view_to_array(path, name, &st)?)))
        .collect()
}

/// The tensor `name`, converted to `f32`.
pub fn read(path: &Path, name: &str) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| DataError::format(path, format!("not a valid safetensors file: {e}")))?;
    view_to_array(path, name, &st)
}

fn read_pytorch(path: &Path) -> Result<HashMap<String, Array>> {
    use pytorch_reader::{DType, PytorchReader};
    let bad =
        |e: String| DataError::format(path, format!("not a readable PyTorch checkpoint: {e}"));
    let mut reader = PytorchReader::new(path).map_err(|e| bad(e.to_string()))?;
    for key in ["state_dict", "model"] {
        if reader
            .keys()
            .iter()
            .any(|k| k.starts_with(&format!("{key}.")))
        {
            reader =
                PytorchReader::with_top_level_key(path, key).map_err(|e| bad(e.to_string()))?;
            break;
        }
    }
    reader
        .tensors()
        .iter()
        .map(|(name, t)| {
            let b = t.read().map_err(|e| bad(e.to_string()))?;
            let dtype = match t.dtype() {
                DType::F32 => Dtype::F32,
                DType::F64 => Dtype::F64,
                DType::I64 => Dtype::I64,
                DType::I32 => Dtype::I32,
                DType::U8 => Dtype::U8,
                DType::F16 => Dtype::F16,
                DType::BF16 => Dtype::BF16,
                d => {
                    return Err(DataError::format(
                        path,
                        format!("tensor '{name}': dtype {d:?} is not supported"),
                    ));
                }
            };
            let data = to_f32(path, name, dtype, &b)?;
            Ok((
                name.clone(),
                Array {
                    shape: t.shape().to_vec(),
                    data,
                },
            ))
        })
        .collect()
}

fn view_to_array(path: &Path, name: &str, st: &SafeTensors<'_>) -> Result<Array> {
    let v = st
        .tensor(name)
        .map_err(|_| DataError::format(path, format!("no tensor '{name}'")))?;
    Ok(Array {
        shape: v.shape().to_vec(),
        data: to_f32(path, name, v.dtype(), v.data())?,
    })
}

/// Little-endian values of `dtype` as `f32`.
fn to_f32(path: &Path, name: &str, dtype: Dtype, b: &[u8]) -> Result<Vec<f32>> {
    let data: Vec<f32> = match dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::I32 => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f32)
            .collect(),
        Dtype::U8 => b.iter().map(|&x| f32::from(x)).collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
            .collect(),
        d => {
            return Err(DataError::format(
                path,
                format!("tensor '{name}': dtype {d:?} is not supported"),
            ));
        }
    };
    Ok(data)
}

/// IEEE half to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = (h >> 10) & 0x1f;
    let mant = u32::from(h & 0x3ff);
    let bits = match exp {
        0 if mant == 0 => sign,
        0 => {
            // subnormal: normalise
            let mut e = -14i32;
            let mut m = mant;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (((e + 127) as u32) << 23) | ((m & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (mant << 13),
        e => sign | ((u32::from(e) + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Write named `f32` tensors atomically (temp file + rename) with string metadata.
pub fn write(
    path: &Path,
    tensors: &[(&str, &[usize], &[f32])],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, d)| d.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, shape, data), b) in tensors.iter().zip(&bytes) {
        if shape.iter().product::<usize>() != data.len() {
            return Err(DataError::invalid(
                "tensor",
                format!("'{name}': {} values for shape {shape:?}", data.len()),
            ));
        }
        let v = safetensors::tensor::TensorView::new(Dtype::F32, shape.to_vec(), b)
            .map_err(|e| DataError::invalid("tensor", format!("'{name}': {e}")))?;
        views.push((name.to_string(), v));
    }
    let out = safetensors::serialize(views, Some(metadata))
        .map_err(|e| DataError::format(path, e.to_string()))?;
    crate::fsio::write_atomic(path, &out).map_err(|e| DataError::io(path, e))
}

/// A dataset from a features tensor `[n, ...]` and a labels tensor `[n]`.
pub fn read_dataset(path: &Path, features: &str, labels: &str) -> Result<Dataset> {
    crate::numpy::dataset(path, read(path, features)?, read(path, labels)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.safetensors");
        write(
            &p,
            &[
                ("x", &[2, 2], &[1.0, 2.0, 3.0, 4.0]),
                ("y", &[2], &[0.0, 1.0]),
            ],
            HashMap::new(),
        )
        .unwrap();
        let d = read_dataset(&p, "x", "y").unwrap();
        assert_eq!((d.len(), d.dim()), (2, 2));
        assert_eq!(names(&p).unwrap(), vec!["x", "y"]);
        assert!(
            read(&p, "z")
                .unwrap_err()
                .to_string()
                .contains("no tensor 'z'")
        );
        let mut b = std::fs::read(&p).unwrap();
        b.truncate(b.len() - 3);
        std::fs::write(&p, b).unwrap();
        assert!(
            read(&p, "x")
                .unwrap_err()
                .to_string()
                .contains("not a valid safetensors")
        );
        assert!(write(&p, &[("x", &[3], &[1.0])], HashMap::new()).is_err());
    }

    #[test]
    fn half_precision_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    #[ignore = "needs ../shared/data"]
    fn reads_the_real_efficientnet_weights() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/efficientnet-lite0/efficientnet-lite0.safetensors");
        let n = names(&p).unwrap();
        assert!(n.iter().any(|s| s == "_conv_stem.weight"), "{:?}", &n[..5]);
        assert_eq!(
            read(&p, "_conv_stem.weight").unwrap().shape,
            vec![32, 3, 3, 3]
        );
    }
}

#[cfg(test)]
mod pytorch_tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny.pth")
    }

    #[test]
    fn reads_a_zip_checkpoint_state_dict_with_strided_and_half_tensors() {
        let m = read_all(&fixture()).unwrap();
        assert_eq!(m.len(), 4, "{:?}", m.keys().collect::<Vec<_>>());
        let w = &m["conv.weight"];
        assert_eq!(w.shape, vec![2, 1, 3, 3]);
        let want: Vec<f32> = (0..18).map(|i| i as f32 / 8.0 - 1.0).collect();
        assert_eq!(w.data, want);
        // the transposed view is gathered into row-major order
        let p = &m["proj.weight"];
        assert_eq!(p.shape, vec![3, 2]);
        assert_eq!(p.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(m["bn.bias"].data, vec![0.5, -1.25, 3.0]);
        assert_eq!(m["bn.num_batches_tracked"].data, vec![7.0]);
    }

    #[test]
    fn a_truncated_checkpoint_is_an_error_naming_the_file() {
        let bytes = std::fs::read(fixture()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.pth");
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_all(&p).unwrap_err().to_string();
        assert!(e.contains("cut.pth"), "{e}");
    }
}
