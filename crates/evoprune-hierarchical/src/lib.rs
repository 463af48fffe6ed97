//! # evoprune-hierarchical
//!
//! Hierarchical importance-guided pruning after Khan & Asilian Bidgoli (arXiv 2604.01076):
//! weight-level pruning as a very large multi-objective problem, made tractable in two phases.
//!
//! | item | what |
//! | --- | --- |
//! | [`model`] | the prunable networks (LeNet-300-100, the Caffe LeNet, or any `[model]` network: every convolution and linear weight): layers, masks, counts, training, gradients, weights I/O |
//! | [`phase1`] | NSGA-II over one magnitude threshold per layer (real genome) |
//! | [`phase2`] | binary NSGA-II over the weights that survive a phase-1 solution: importance-aware sampling between a heavy and a light anchor, importance-aware adaptive mutation, incremental evaluation |
//! | [`pipeline`] | the run folder, baseline (cached; a `[model]` network's optional fine-tuning stored in the run), both phases with resume, fine-tuning of the front, members (a `[model]` network's as ONNX + safetensors), plots, report, export |
//! | [`Config`] | the TOML config |

pub mod config;
mod error;
pub mod method;
pub mod model;
mod outputs;
pub mod phase1;
pub mod phase2;
pub mod pipeline;

pub use config::Config;
pub use error::{HierError, Result};
/// `Config::load`, `Config::parse`, `to_toml`: the config methods every method shares.
pub use evoprune_run::MethodConfig;
pub use method::Hierarchical;
pub use pipeline::{Driver, Summary, export, resume, run};
