//! Train MO-EvoPruneDeepTL's head (64 -> 512 -> C) on the embedded UCI digits with the paper's
//! settings, unpruned and with a third of the inputs masked, and report test accuracy, epochs,
//! ODIN AUROC against uniform noise, and time.
//!
//! Run: `cargo run --release -p evoprune-nn --example digits_head`

use evoprune_data::{digits, noise, split};
use evoprune_nn::metrics::{accuracy, auroc, odin_scores};
use evoprune_nn::{HeadConfig, TrainConfig, gather_columns, train_masked_head};
use std::time::Instant;

fn main() -> Result<(), evoprune_nn::NnError> {
    for (name, classes) in [
        ("digits 0-9", (0..10).collect::<Vec<u32>>()),
        ("digits 0-4 (InD of the default run)", (0..5).collect()),
    ] {
        let d = digits::load()
            .with_classes(&classes)
            .map_values(|v| v / 16.0)
            .expect("valid digits");
        let s = split::stratified(d.labels(), [0.6, 0.2, 0.2], 1).expect("valid split");
        let (tr, te) = (d.subset(&s.train), d.subset(&s.test));
        let ood = noise::uniform(te.len(), &[64], (0.0, 1.0), 7).expect("valid noise");
        for (label, active) in [
            ("all 64 inputs", (0..64).collect::<Vec<usize>>()),
            ("43 of 64 inputs", (0..64).filter(|j| j % 3 != 0).collect()),
        ] {
            let t = Instant::now();
            let (mlp, rep) = train_masked_head(
                tr.features(),
                64,
                &active,
                tr.labels(),
                d.n_classes(),
                &HeadConfig::default(),
                &TrainConfig::paper(),
            )
            .expect("training");
            let secs = t.elapsed().as_secs_f64();
            let xt = gather_columns(te.features(), 64, &active)?;
            let acc = accuracy(&mlp.logits(&xt)?, te.labels(), d.n_classes())?;
            let ind = odin_scores(&mlp.logits(&xt)?, d.n_classes(), 1000.0)?;
            let out = odin_scores(
                &mlp.logits(&gather_columns(ood.features(), 64, &active)?)?,
                d.n_classes(),
                1000.0,
            )?;
            println!(
                "{name}, {label}: test accuracy {:.4}, ODIN AUROC vs uniform noise {:.4}, {} epochs (best {}), {} params, {:.2} s",
                acc,
                auroc(&ind, &out).unwrap_or(f64::NAN),
                rep.epochs,
                rep.best_epoch,
                mlp.param_count(),
                secs
            );
        }
    }
    Ok(())
}
