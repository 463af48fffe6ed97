//! Masked dense heads and their trainer.

mod mlp;
pub(crate) mod train;

pub use mlp::{HeadConfig, Mlp, gather_columns};
pub use train::{
    EarlyStopping, Optimizer, TrainConfig, TrainReport, train_head, train_masked_head,
};
