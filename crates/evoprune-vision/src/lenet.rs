//! LeNet's forward pass on burn: the independent cross-check of the hand-written gemm path in
//! `evoprune_nn::lenet` (which is about 2x faster on the flex CPU backend), and the route to a
//! GPU backend.

use crate::{Result, VisionError};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use evoprune_nn::lenet::{C1, C2, FC1_IN, H, LeNet, OUT};

/// Logits (`n x 10`) of `n` grey 28x28 images with `net`'s weights, computed by burn on `device`.
pub fn logits(net: &LeNet, x: &[f32], device: &Device) -> Result<Vec<f32>> {
    if !x.len().is_multiple_of(784) {
        return Err(VisionError::Shape(format!(
            "{} values are not a whole number of 28x28 images",
            x.len()
        )));
    }
    let n = x.len() / 784;
    let w = |k: &str| {
        net.tensors
            .get(k)
            .ok_or_else(|| VisionError::Shape(format!("LeNet tensor '{k}' missing")))
    };
    let t1 = |k: &str| -> Result<Tensor<1>> {
        let v = w(k)?;
        Ok(Tensor::from_data(
            TensorData::new(v.clone(), [v.len()]),
            device,
        ))
    };
    let t2 = |k: &str, s: [usize; 2]| -> Result<Tensor<2>> {
        Ok(Tensor::from_data(TensorData::new(w(k)?.clone(), s), device))
    };
    let t4 = |k: &str, s: [usize; 4]| -> Result<Tensor<4>> {
        Ok(Tensor::from_data(TensorData::new(w(k)?.clone(), s), device))
    };
    let opts = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    let x = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [n, 1, 28, 28]), device);
    let x = conv2d(
        x,
        t4("conv1.weight", [C1, 1, 5, 5])?,
        Some(t1("conv1.bias")?),
        opts.clone(),
    );
    let x = max_pool2d(x, MaxPoolOptions::new([2, 2]));
    let x = conv2d(
        x,
        t4("conv2.weight", [C2, C1, 5, 5])?,
        Some(t1("conv2.bias")?),
        opts,
    );
    let x = max_pool2d(x, MaxPoolOptions::new([2, 2])).reshape([n, FC1_IN]);
    let h = (x.matmul(t2("fc1.weight", [H, FC1_IN])?.transpose())
        + t1("fc1.bias")?.unsqueeze::<2>())
    .clamp_min(0.0);
    let y = h.matmul(t2("fc2.weight", [OUT, H])?.transpose()) + t1("fc2.bias")?.unsqueeze::<2>();
    Ok(y.into_data().try_to_vec::<f32>().expect("f32 tensor"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune_nn::lenet::LeNetMask;

    #[test]
    fn gemm_forward_equals_burn_forward_dense_and_masked() {
        let dev = crate::default_device();
        let net = LeNet::random(5);
        let x: Vec<f32> = (0..300 * 784)
            .map(|i| ((i * 37 % 251) as f32) / 251.0)
            .collect();
        let mut m = LeNetMask::full();
        (0..20).step_by(3).for_each(|f| m.conv1[f] = false);
        (0..50).step_by(4).for_each(|f| m.conv2[f] = false);
        m.fc1.iter_mut().step_by(7).for_each(|b| *b = false);
        for net in [net.clone(), net.masked(&m).unwrap()] {
            let a = net.logits(&x).unwrap();
            let b = logits(&net, &x, &dev).unwrap();
            let worst = a
                .iter()
                .zip(&b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "gemm vs burn: max difference {worst}");
        }
    }
}
