//! # evoprune-vision
//!
//! Frozen image backbones that turn images into feature vectors once, for the masked heads
//! that the searches train thousands of times. Built on burn 0.22 with its runtime-selected
//! devices (the pure-Rust `flex` CPU backend by default).
//!
//! | item | what |
//! | --- | --- |
//! | [`EfficientNetLite0`] | EfficientNet-Lite0 (ReLU6, no squeeze-excite, TF "same" padding, BN eps 1e-3) loading the EfficientNet-PyTorch-named safetensors weights; batch norm folded into the convolutions at load time |
//! | [`preprocess`] | ImageNet preprocessing: resize the shorter side, center crop, normalise, NCHW |
//! | [`lenet`] | LeNet's forward on burn (the cross-check of `evoprune_nn::lenet`'s gemm path, and the route to a GPU) |
//! | [`extract`] | run a frozen backbone over a dataset once, cached under a key of weights + data + preprocessing |

mod efficientnet;
mod error;
pub mod extract;
pub mod lenet;
pub mod preprocess;

pub use efficientnet::{BlockSpec, EfficientNetLite0};
pub use error::{Result, VisionError};

/// The default compute device: burn's flex CPU backend.
pub fn default_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}
