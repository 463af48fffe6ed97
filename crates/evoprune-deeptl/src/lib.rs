//! # evoprune-deeptl: MO-EvoPruneDeepTL
//!
//! NSGA-II over binary masks of the features entering the dense head of a frozen pre-trained
//! backbone (arXiv 2302.10253). Each candidate's head is trained on the active feature columns
//! only and scored on a validation split: `1 - accuracy`, the fraction of active features, and
//! `1 - AUROC` of ODIN scores (T = 1000) separating in-distribution from OoD samples. The final
//! front is re-scored on test, combined into percentile-window ensembles and explained (feature
//! frequencies, Grad-CAM heat maps), and every output goes to a run folder with a report.
//!
//! | module | what |
//! | --- | --- |
//! | [`config`] | the TOML config and its validation |
//! | [`data`] | splits, OoD sets, cached backbone features |
//! | [`problem`] | the [`evoprune::Problem`]: train + score a masked head |
//! | [`pipeline`] | run / resume a search and write the run folder |
//! | [`ensemble`] | percentile windows, majority vote |
//! | [`explain`] | feature frequencies, Grad-CAM overlays |
//! | [`export`] | a front member's compacted head as safetensors + JSON (+ an end-to-end ONNX model for ONNX backbones) |

pub mod backbone;
pub mod config;
pub mod data;
pub mod ensemble;
mod error;
pub mod explain;
pub mod export;
pub mod method;
mod onnx_export;
mod outputs;
pub mod pipeline;
pub mod problem;
mod scoring;

pub use config::Config;
pub use error::{DeeptlError, Result};
/// `Config::load`, `Config::parse`, `to_toml`: the config methods every method shares.
pub use evoprune_run::MethodConfig;
pub use method::Deeptl;
pub use pipeline::{Driver, FrontFile, Member, Summary, resume, run};
