//! # evoprune-compress
//!
//! Surrogate-assisted constrained compression after Ferreira et al., "Surrogate-based
//! constrained multi-objective optimization for the compression of CNNs" (ENIAC 2023), on the
//! Caffe LeNet and MNIST, or on any network of `[model]` (an ONNX file or a zoo architecture):
//!
//! | item | what |
//! | --- | --- |
//! | [`plan`] | the mixed genome (pruning mode and amount for conv and linear layers, global or per layer; what to prune; per-layer precision none / int8 / int4; dynamic int8 linear layers), one amount and precision per layer of the network, and its real evaluation: accuracy, non-zero fraction, bytes |
//! | [`subject`] | the network compressed: the built-in LeNet or a `[model]` network (fine-tuned once, cached), images fitted to its input |
//! | [`search`] | the surrogate-assisted loop (initial design, per-target regressors chosen by k-fold CV, constrained NSGA-II on the surrogates, farthest-point picks, refit) and the same constrained NSGA-II on the real problem at the same budget |
//! | [`pipeline`] | the run folder, cached baseline, every seed with resume, test-set re-scoring with flags, hypervolume median and spread, CV errors, plots, report, export |
//! | [`Config`] | the TOML config, the paper's settings as defaults |

pub mod config;
mod error;
pub mod method;
mod outputs;
pub mod pipeline;
pub mod plan;
pub mod search;
pub mod subject;

pub use config::Config;
pub use error::{CompressError, Result};
/// `Config::load`, `Config::parse`, `to_toml`: the config methods every method shares.
pub use evoprune_run::MethodConfig;
pub use method::Compress;
pub use pipeline::{Driver, Summary, export, resume, run};
