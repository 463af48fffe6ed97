//! # evoprune-gaprune
//!
//! GA pruning of CNNs after Yang et al., "Multi-Objective Pruning for CNNs Using Genetic
//! Algorithm" (ICANN 2019, arXiv 1906.00399), on the Caffe LeNet and MNIST:
//!
//! | item | what |
//! | --- | --- |
//! | [`problem`] | the genome (one bit per conv filter, one per FC connection: 405,070 bits), the prune-only mutation, data, evaluation on the compacted network |
//! | [`search`] | the two-step loop: `T` generations of GA (top-K + microbial crossover, elitism) or NSGA-II, then the elite retrained with its mask fixed |
//! | [`pipeline`] | baseline training (cached), the run folder, final retraining, compaction to narrowed convs + CSR FC with measured speed, plots, report, export |
//! | [`subject`] | what is pruned: the built-in LeNet, or any network of `[model]` (ONNX or zoo), whose genome is one bit per coupled-channel group plus one per linear-layer connection |
//! | [`Config`] | the TOML config, the paper's settings as defaults |

pub mod config;
mod error;
pub mod method;
pub mod pipeline;
pub mod problem;
pub mod search;
pub mod subject;

pub use config::Config;
pub use error::{GapruneError, Result};
/// `Config::load`, `Config::parse`, `to_toml`: the config methods every method shares.
pub use evoprune_run::MethodConfig;
pub use method::GaPrune;
pub use pipeline::{Driver, Summary, export, resume, run};
