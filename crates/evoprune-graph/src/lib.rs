//! One network representation for every evoprune method.
//!
//! - [`Graph`]: a DAG of [`Op`]s over named values with parameters by name (PyTorch's names
//!   when the model came from PyTorch) and static shapes (the batch is free);
//! - [`onnx`]: ONNX in ([`onnx::load`]: either `torch.onnx.export` exporter, external data,
//!   shape arithmetic folded) and out ([`onnx::save`]);
//! - [`exec`]: the reference CPU executor;
//! - [`backprop`]: gradients and training steps on our own kernels (im2col + `gemm`);
//! - [`fast`]: the fast CPU executor (a compiled [`fast::Plan`], direct AVX-512 convolution
//!   kernels on a channel-blocked layout, fused epilogues);
//! - [`fold`]: batch normalisation folded into convolutions for inference;
//! - [`groups`]: coupled-channel groups, structured masks, compaction;
//! - [`stats`]: parameter and multiply-accumulate counts;
//! - [`shape`]: every value's shape;
//! - [`weights`]: parameters out as safetensors (PyTorch names, compacted shapes, sparsity and
//!   bits recorded);
//! - [`model`]: the `[model]` section of every method's config, images fitted to a network;
//! - [`net`]: a classifier as the methods prune it (masks, realization, counts, fine-tuning,
//!   export);
//! - [`zoo`]: the networks of the pruning literature (LeNet, CIFAR and ImageNet ResNets, VGG,
//!   MobileNetV2, EfficientNet-Lite0) with PyTorch's parameter names, fresh or loaded weights.

pub mod backprop;
mod error;
pub mod exec;
pub mod fast;
pub mod fold;
pub mod groups;
pub mod ir;
pub mod model;
pub mod net;
pub mod onnx;
pub mod shape;
pub mod stats;
#[cfg(feature = "train")]
pub mod train;
pub mod weights;
pub mod zoo;

pub use error::{GraphError, Result};
pub use ir::{Dim, Graph, Node, Op, Tensor};
