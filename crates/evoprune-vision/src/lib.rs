//! # evoprune-vision
//!
//! Frozen image backbones that turn images into feature vectors once, for the masked heads
//! that the searches train thousands of times. Built on burn 0.22 with its runtime-selected
//! devices (the pure-Rust `flex` CPU backend by default).
//!
//! | item | what |
//! | --- | --- |
//! | [`EfficientNetLite0`] | EfficientNet-Lite0 (ReLU6, no squeeze-excite, TF "same" padding, BN eps 1e-3) loading the EfficientNet-PyTorch-named safetensors weights; batch norm folded into the convolutions at load time |
//! | [`Compute`] | the device: flex CPU (default), or a GPU backend behind the `wgpu` / `cuda` cargo features |
//! | [`preprocess`] | ImageNet preprocessing: resize the shorter side, center crop, normalise, NCHW |
//! | [`lenet`] | LeNet's forward on burn (the cross-check of `evoprune_nn::lenet`'s gemm path, and the route to a GPU) |
//! | [`extract`] | run a frozen backbone over a dataset once, cached under a key of weights + data + preprocessing |

mod compute;
mod efficientnet;
mod error;
pub mod extract;
pub mod lenet;
pub mod preprocess;

pub use compute::Compute;
pub use efficientnet::{BlockSpec, EfficientNetLite0};
pub use error::{Result, VisionError};

/// The default compute device: burn's flex CPU backend.
pub fn default_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

/// Run `f` on images given as row-major NCHW `f32` values (`n x 3 x h x w`) and return its
/// output's values (shared by the backbones' `features_of`).
pub(crate) fn on_nchw<const D: usize>(
    x: &[f32],
    n: usize,
    h: usize,
    w: usize,
    device: &burn::tensor::Device,
    f: impl FnOnce(burn::tensor::Tensor<4>) -> burn::tensor::Tensor<D>,
) -> Result<Vec<f32>> {
    if x.len() != n * 3 * h * w {
        return Err(VisionError::Shape(format!(
            "{} values for {n} images of 3x{h}x{w}",
            x.len()
        )));
    }
    let t = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(x.to_vec(), [n, 3, h, w]),
        device,
    );
    Ok(f(t).into_data().try_to_vec::<f32>().expect("f32 tensor"))
}
