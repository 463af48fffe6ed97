//! # evoprune-nn
//!
//! The neural side of evoprune that the searches call thousands of times:
//!
//! | item | what |
//! | --- | --- |
//! | [`Mlp`], [`HeadConfig`] | the dense head of MO-EvoPruneDeepTL: inputs -> Dense 512 (ReLU, no bias) -> Dense C |
//! | [`train_head`], [`TrainConfig`] | mini-batch training: SGD (momentum, Nesterov, weight decay, lr decay) or Adam, cross-entropy, early stopping with patience/min_delta/restore-best; a NaN loss is an error |
//! | [`gather_columns`] | physically compact the active input columns of a mask |
//! | [`lenet`] | LeNet (Caffe variant, 431,080 parameters) for any layer widths: per-filter and per-connection masks, exact mask-aware parameter/MAC counts, im2col + gemm forward and backward, Caffe-solver training with fixed masks (bit-identical on 1 or N threads), physical compaction and a CSR sparse form with safetensors I/O |
//! | [`dense`] | fully connected ReLU classifiers with biases (LeNet-300-100: 784-300-100-10, 266,610 parameters), weight-level masks, the same Caffe solver, and a tail forward from the first layer's pre-activations for incremental evaluation |
//! | [`quant`] | symmetric per-channel 8/4-bit weight quantization (PyTorch rounding), PyTorch-style dynamic int8 quantization of linear layers, storage size in bytes (dense or CSR, whichever is smaller) |
//! | [`store`] | weights files by PyTorch name (safetensors or .pth, each tensor checked), and the baseline trained once and cached under a key of data + solver + seed |
//! | [`metrics`] | accuracy, per-class accuracy, confusion matrix, ODIN scores, exact AUROC with ties |
//!
//! Training runs on its own fused, allocation-free loop over the `gemm` crate: per candidate the
//! cost is proportional to the number of active inputs, and nothing is allocated per batch.
//!
//! ```
//! use evoprune_nn::{HeadConfig, TrainConfig, train_head, metrics::accuracy};
//! // two separable blobs in 2-D
//! let x: Vec<f32> = (0..200).flat_map(|i| { let c = (i % 2) as f32; [c * 2.0 - 1.0 + 0.1 * ((i * 7 % 13) as f32 / 13.0), 0.5] }).collect();
//! let y: Vec<u32> = (0..200).map(|i| (i % 2) as u32).collect();
//! let cfg = TrainConfig { max_epochs: 50, ..TrainConfig::adam(0.01) };
//! let (mlp, _) = train_head(&x, 2, &y, 2, &HeadConfig { hidden: vec![16], ..Default::default() }, &cfg).unwrap();
//! assert!(accuracy(&mlp.logits(&x).unwrap(), &y, 2).unwrap() > 0.99);
//! ```

pub mod dense;
mod error;
pub mod gemm;
mod head;
pub mod lenet;
pub mod metrics;
pub mod quant;
pub mod store;

pub use error::{NnError, Result};
pub use head::{
    EarlyStopping, HeadConfig, Mlp, Optimizer, TrainConfig, TrainReport, gather_columns,
    train_head, train_masked_head,
};
