//! LeNet weights as safetensors (PyTorch names and layouts).

use crate::{GapruneError, Result};
use evoprune_nn::lenet::{LeNet, Net};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::Path;

/// Write the full-width `net` (`conv1.weight` ... `fc2.bias`, F32) atomically.
pub fn save_net(path: &Path, net: &Net) -> Result<()> {
    let t = net.tensors();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = t
        .into_iter()
        .map(|(k, s, v)| {
            (
                k.to_string(),
                s,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(k, s, b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| GapruneError::invalid(k.clone(), e.to_string()))
        })
        .collect::<Result<_>>()?;
    let data = safetensors::serialize(views, None)
        .map_err(|e| GapruneError::invalid(path.display().to_string(), e.to_string()))?;
    evoprune_run::write_atomic(path, &data)?;
    Ok(())
}

/// Read a full-width LeNet; every tensor's presence, dtype and size is checked.
pub fn load_net(path: &Path) -> Result<Net> {
    let bytes = std::fs::read(path).map_err(|e| evoprune_run::RunError::io(path, e))?;
    let bad = |r: String| GapruneError::invalid(path.display().to_string(), r);
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut l = LeNet {
        tensors: Default::default(),
    };
    for (name, shape) in evoprune_nn::lenet::lenet_shapes() {
        let t = st
            .tensor(name)
            .map_err(|e| bad(format!("tensor '{name}': {e}")))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
            return Err(bad(format!(
                "tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            )));
        }
        let v: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(bad(format!("tensor '{name}' holds NaN or infinite values")));
        }
        l.tensors.insert(name.to_string(), v);
    }
    Ok(Net::from_lenet(&l)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_and_corrupt_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.safetensors");
        let net = Net::from_lenet(&LeNet::random(2)).unwrap();
        save_net(&p, &net).unwrap();
        assert_eq!(load_net(&p).unwrap(), net);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_net(&p).unwrap_err().to_string();
        assert!(e.contains("w.safetensors"), "{e}");
    }
}
