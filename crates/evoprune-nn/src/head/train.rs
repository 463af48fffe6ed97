//! The fused, allocation-free training loop for dense heads.
//!
//! Hand-written rather than on a framework's autodiff: a head is 2-3 dense layers, and this loop
//! (gather a batch, three GEMMs per layer on the `gemm` crate, in-place updates) avoids every
//! per-batch allocation and graph construction, which dominate at batch 32 on small layers.

use super::mlp::{HeadConfig, Mlp};
use crate::gemm::{Mat, matmul};
use crate::{NnError, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// The optimiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Optimizer {
    /// SGD with Keras 2 semantics (MO-EvoPruneDeepTL's code): `lr_t = lr / (1 + decay * t)` with
    /// `t` the number of updates so far; `v = momentum v - lr_t g`; `p += v`, or with Nesterov
    /// `p += momentum v - lr_t g`. With `decay = 0` this equals PyTorch's SGD with dampening 0.
    /// `weight_decay` adds `wd * w` to the gradient of weights (not biases).
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum.
        momentum: f32,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 weight decay.
        weight_decay: f32,
        /// Learning-rate decay per update.
        decay: f32,
    },
    /// Adam (Kingma & Ba 2015) with PyTorch's bias correction.
    Adam {
        /// Learning rate.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator epsilon.
        eps: f32,
        /// L2 weight decay (added to the gradient of weights).
        weight_decay: f32,
    },
}

/// Stop when the epoch's training loss has not improved by more than `min_delta` for
/// `patience` epochs (Keras `EarlyStopping(monitor="loss")`).
///
/// Restoring follows Keras (2.2.4, the MO-EvoPruneDeepTL authors' version, which they ran with
/// `restore_best_weights=True`): the best epoch's weights come back only when training stops
/// early; a run that uses its whole epoch budget keeps its last epoch. `restore_always` also
/// restores after a full run (evoprune's behaviour before issue 14).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct EarlyStopping {
    /// Epochs without improvement tolerated.
    pub patience: usize,
    /// Smallest decrease that counts as an improvement.
    pub min_delta: f32,
    /// Return the weights of the best epoch when training stops early (Keras
    /// `restore_best_weights`).
    pub restore_best: bool,
    /// With `restore_best`, also return them when training ran all its epochs.
    pub restore_always: bool,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 10,
            min_delta: 1e-5,
            restore_best: true,
            restore_always: false,
        }
    }
}

/// How to train a head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainConfig {
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epoch budget.
    pub max_epochs: usize,
    /// Early stopping on the training loss, if any.
    pub early_stopping: Option<EarlyStopping>,
    /// Seed of the initial weights and the shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl TrainConfig {
    /// MO-EvoPruneDeepTL's settings: SGD lr 1e-3, decay 1e-6, momentum 0.9, Nesterov, batch 32,
    /// up to 600 epochs, early stopping on the training loss (patience 10, min_delta 1e-5,
    /// restore best).
    pub fn paper() -> Self {
        TrainConfig {
            optimizer: Optimizer::Sgd {
                lr: 1e-3,
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.0,
                decay: 1e-6,
            },
            batch_size: 32,
            max_epochs: 600,
            early_stopping: Some(EarlyStopping::default()),
            seed: 0,
        }
    }

    /// Adam at `lr` (betas 0.9/0.999, eps 1e-8), batch 32, 100 epochs, default early stopping.
    pub fn adam(lr: f32) -> Self {
        TrainConfig {
            optimizer: Optimizer::Adam {
                lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            },
            batch_size: 32,
            max_epochs: 100,
            early_stopping: Some(EarlyStopping::default()),
            seed: 0,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(NnError::Config { field, reason });
        if self.batch_size == 0 {
            return bad("batch-size", "must be at least 1".into());
        }
        if self.max_epochs == 0 {
            return bad("max-epochs", "must be at least 1".into());
        }
        let lr = match self.optimizer {
            Optimizer::Sgd { lr, momentum, .. } => {
                if !(0.0..1.0).contains(&momentum) {
                    return bad("momentum", format!("must be in [0, 1), got {momentum}"));
                }
                lr
            }
            Optimizer::Adam {
                lr, beta1, beta2, ..
            } => {
                if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) {
                    return bad("betas", format!("must be in [0, 1), got {beta1}, {beta2}"));
                }
                lr
            }
        };
        if !(lr > 0.0 && lr.is_finite()) {
            return bad("lr", format!("must be a positive number, got {lr}"));
        }
        Ok(())
    }
}

/// What happened during training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs: usize,
    /// Epoch (0-based) with the lowest training loss.
    pub best_epoch: usize,
    /// Mean training loss of each epoch.
    pub losses: Vec<f32>,
    /// True when early stopping ended training before `max_epochs`.
    pub stopped_early: bool,
}

/// Create a head for `x` (`n x d`, row-major) and train it on labels `y`.
pub fn train_head(
    x: &[f32],
    d: usize,
    y: &[u32],
    n_classes: usize,
    head: &HeadConfig,
    cfg: &TrainConfig,
) -> Result<(Mlp, TrainReport)> {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let mut mlp = Mlp::new(d, n_classes, head, None, &mut rng)?;
    let report = train(&mut mlp, x, y, cfg, &mut rng)?;
    Ok((mlp, report))
}

/// Train the head of a masked network: `x` is `n x d` over all features, `active` lists the kept
/// features. Only the active columns are gathered and trained (cost proportional to
/// `active.len()`), and the first layer starts from the same random draw as the full-width head,
/// so the result equals training the full head on masked (zeroed) inputs. The returned head
/// expects `gather_columns(x, d, active)` as input.
pub fn train_masked_head(
    x: &[f32],
    d: usize,
    active: &[usize],
    y: &[u32],
    n_classes: usize,
    head: &HeadConfig,
    cfg: &TrainConfig,
) -> Result<(Mlp, TrainReport)> {
    if active.is_empty() {
        return Err(NnError::Config {
            field: "mask",
            reason: "no active input".into(),
        });
    }
    if x.len() != y.len() * d {
        return Err(NnError::Shape(format!(
            "{} inputs for {} samples of {d} features",
            x.len(),
            y.len()
        )));
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let mut mlp = Mlp::new(d, n_classes, head, Some(active), &mut rng)?;
    let xa = super::gather_columns(x, d, active)?;
    let report = train(&mut mlp, &xa, y, cfg, &mut rng)?;
    Ok((mlp, report))
}

/// Train `mlp` in place on `x` (`n x mlp.n_in()`) and labels `y`, drawing shuffles from `rng`.
pub(crate) fn train(
    mlp: &mut Mlp,
    x: &[f32],
    y: &[u32],
    cfg: &TrainConfig,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
) -> Result<TrainReport> {
    cfg.validate()?;
    let d = mlp.n_in();
    let c = mlp.n_classes();
    let n = y.len();
    if x.len() != n * d {
        return Err(NnError::Shape(format!(
            "{} inputs for {n} samples of {d} features",
            x.len()
        )));
    }
    if n == 0 {
        return Err(NnError::Shape("no training samples".into()));
    }
    if let Some(l) = y.iter().find(|&&l| l as usize >= c) {
        return Err(NnError::Shape(format!(
            "label {l} for a head with {c} classes"
        )));
    }
    let bs = cfg.batch_size.min(n);
    let nl = mlp.layers.len();
    let widths: Vec<usize> = mlp.layers.iter().map(|l| l.n_out).collect();
    let widest = *widths.iter().max().expect("layers").max(&d);
    // every buffer of the loop, allocated once
    let mut xb = vec![0.0f32; bs * d];
    let mut acts: Vec<Vec<f32>> = widths.iter().map(|&w| vec![0.0; bs * w]).collect();
    let mut delta = vec![0.0f32; bs * widest];
    let mut delta_prev = vec![0.0f32; bs * widest];
    let mut yb = vec![0u32; bs];
    let mut gw: Vec<Vec<f32>> = mlp.layers.iter().map(|l| vec![0.0; l.w.len()]).collect();
    let mut gb: Vec<Vec<f32>> = mlp.layers.iter().map(|l| vec![0.0; l.n_out]).collect();
    let mut m1: Vec<(Vec<f32>, Vec<f32>)> = mlp
        .layers
        .iter()
        .map(|l| (vec![0.0; l.w.len()], vec![0.0; l.n_out]))
        .collect();
    let mut m2: Vec<(Vec<f32>, Vec<f32>)> = match cfg.optimizer {
        Optimizer::Adam { .. } => mlp
            .layers
            .iter()
            .map(|l| (vec![0.0; l.w.len()], vec![0.0; l.n_out]))
            .collect(),
        Optimizer::Sgd { .. } => Vec::new(),
    };
    let mut best = mlp.clone();
    let mut order: Vec<usize> = (0..n).collect();
    let mut t: u64 = 0;
    let mut report = TrainReport {
        epochs: 0,
        best_epoch: 0,
        losses: Vec::new(),
        stopped_early: false,
    };
    let mut best_loss = f32::INFINITY;
    let mut wait = 0usize;

    for epoch in 0..cfg.max_epochs {
        order.shuffle(rng);
        let mut loss_sum = 0.0f64;
        for (bi, batch) in order.chunks(bs).enumerate() {
            let b = batch.len();
            for (r, &i) in batch.iter().enumerate() {
                xb[r * d..(r + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
                yb[r] = y[i];
            }
            // forward
            for l in 0..nl {
                let (done, rest) = acts.split_at_mut(l);
                let input: &[f32] = if l == 0 {
                    &xb[..b * d]
                } else {
                    &done[l - 1][..b * widths[l - 1]]
                };
                let out = &mut rest[0][..b * widths[l]];
                mlp.layers[l].forward(input, b, out);
                if l + 1 < nl {
                    relu(out);
                }
            }
            // softmax cross-entropy; delta = (softmax - onehot) / b
            let logits = &acts[nl - 1][..b * c];
            let mut batch_loss = 0.0f64;
            for r in 0..b {
                let z = &logits[r * c..(r + 1) * c];
                let zmax = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = z.iter().map(|v| (v - zmax).exp()).sum();
                let lse = zmax + sum.ln();
                batch_loss += f64::from(lse - z[yb[r] as usize]);
                let dr = &mut delta[r * c..(r + 1) * c];
                for k in 0..c {
                    dr[k] = ((z[k] - lse).exp() - if k == yb[r] as usize { 1.0 } else { 0.0 })
                        / b as f32;
                }
            }
            if !batch_loss.is_finite() {
                return Err(NnError::NonFinite {
                    epoch,
                    batch: bi,
                    loss: (batch_loss / b as f64) as f32,
                });
            }
            loss_sum += batch_loss;
            // backward
            for l in (0..nl).rev() {
                let (n_in, n_out) = (mlp.layers[l].n_in, mlp.layers[l].n_out);
                let input: &[f32] = if l == 0 {
                    &xb[..b * d]
                } else {
                    &acts[l - 1][..b * n_in]
                };
                matmul(
                    &mut gw[l],
                    n_in,
                    n_out,
                    Mat::new(input, b, n_in).t(),
                    Mat::new(&delta[..b * n_out], b, n_out),
                    false,
                );
                if mlp.layers[l].b.is_some() {
                    let g = &mut gb[l];
                    g.fill(0.0);
                    for r in delta[..b * n_out].chunks_exact(n_out) {
                        g.iter_mut().zip(r).for_each(|(a, v)| *a += v);
                    }
                }
                if l > 0 {
                    matmul(
                        &mut delta_prev,
                        b,
                        n_in,
                        Mat::new(&delta[..b * n_out], b, n_out),
                        Mat::new(&mlp.layers[l].w, n_in, n_out).t(),
                        false,
                    );
                    relu_backward(&mut delta_prev[..b * n_in], &acts[l - 1][..b * n_in]);
                    std::mem::swap(&mut delta, &mut delta_prev);
                }
            }
            // update
            t += 1;
            for l in 0..nl {
                let layer = &mut mlp.layers[l];
                match cfg.optimizer {
                    Optimizer::Sgd {
                        lr,
                        momentum,
                        nesterov,
                        weight_decay,
                        decay,
                    } => {
                        let lr_t = lr / (1.0 + decay * (t - 1) as f32);
                        sgd(
                            &mut layer.w,
                            &gw[l],
                            &mut m1[l].0,
                            lr_t,
                            momentum,
                            nesterov,
                            weight_decay,
                        );
                        if let Some(bias) = layer.b.as_mut() {
                            sgd(bias, &gb[l], &mut m1[l].1, lr_t, momentum, nesterov, 0.0);
                        }
                    }
                    Optimizer::Adam {
                        lr,
                        beta1,
                        beta2,
                        eps,
                        weight_decay,
                    } => {
                        let bc1 = 1.0 - beta1.powi(t.min(i32::MAX as u64) as i32);
                        let bc2 = 1.0 - beta2.powi(t.min(i32::MAX as u64) as i32);
                        let hp = (lr, beta1, beta2, eps, bc1, bc2);
                        adam(
                            &mut layer.w,
                            &gw[l],
                            &mut m1[l].0,
                            &mut m2[l].0,
                            hp,
                            weight_decay,
                        );
                        if let Some(bias) = layer.b.as_mut() {
                            adam(bias, &gb[l], &mut m1[l].1, &mut m2[l].1, hp, 0.0);
                        }
                    }
                }
            }
        }
        let epoch_loss = (loss_sum / n as f64) as f32;
        report.losses.push(epoch_loss);
        report.epochs = epoch + 1;
        // Keras semantics: an improvement must beat the best by more than min_delta; only then
        // do the best loss, the best epoch and the saved weights move.
        let min_delta = cfg.early_stopping.as_ref().map_or(0.0, |e| e.min_delta);
        if epoch_loss + min_delta < best_loss {
            best_loss = epoch_loss;
            report.best_epoch = epoch;
            wait = 0;
            if cfg.early_stopping.as_ref().is_some_and(|e| e.restore_best) {
                for (dst, src) in best.layers.iter_mut().zip(&mlp.layers) {
                    dst.w.copy_from_slice(&src.w);
                    if let (Some(db), Some(sb)) = (dst.b.as_mut(), src.b.as_ref()) {
                        db.copy_from_slice(sb);
                    }
                }
            }
        } else {
            wait += 1;
            if cfg
                .early_stopping
                .as_ref()
                .is_some_and(|e| wait >= e.patience)
            {
                report.stopped_early = true;
                break;
            }
        }
    }
    if cfg
        .early_stopping
        .as_ref()
        .is_some_and(|e| e.restore_best && (report.stopped_early || e.restore_always))
    {
        *mlp = best;
    }
    Ok(report)
}

/// ReLU that keeps NaN (so a diverged weight shows up in the loss instead of becoming a dead
/// unit, which `f32::max(NaN, 0.0) = 0.0` would make it).
// The element-wise loops below are compiled for AVX-512, AVX2 and the baseline, chosen at run
// time (`multiversion`): at batch 32 the optimiser update streams every weight once per step and
// was a third of the training time when compiled for SSE2 only. Each is written as a select
// (no conditional store) so it vectorises.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(crate) fn relu(v: &mut [f32]) {
    for x in v {
        *x = if *x < 0.0 { 0.0 } else { *x };
    }
}

/// Zero the back-propagated gradient where the ReLU was inactive (`a <= 0`).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
pub(crate) fn relu_backward(g: &mut [f32], a: &[f32]) {
    for (g, &a) in g.iter_mut().zip(a) {
        *g = if a <= 0.0 { 0.0 } else { *g };
    }
}

/// Optimiser state below this magnitude is set to zero. Without it, the momentum of a weight
/// whose gradient stays zero (a dead ReLU unit) decays geometrically into the subnormal range
/// after ~800 steps, where every arithmetic operation on it takes a slow microcode path: on
/// MNIST features a 20-epoch training ran 5-11x slower than 4 x a 5-epoch one. The threshold is
/// 1e8 above the smallest normal `f32` and 1e20 below anything that can move a weight, so
/// results do not change.
const FLUSH: f32 = 1e-30;

#[inline]
fn flush(x: f32) -> f32 {
    if x.abs() < FLUSH { 0.0 } else { x }
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn sgd(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, mom: f32, nesterov: bool, wd: f32) {
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
        let g = g + wd * *p;
        *v = flush(mom * *v - lr * g);
        *p += if nesterov { mom * *v - lr * g } else { *v };
    }
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn adam(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    hp: (f32, f32, f32, f32, f32, f32),
    wd: f32,
) {
    let (lr, b1, b2, eps, bc1, bc2) = hp;
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = g + wd * *p;
        *m = flush(b1 * *m + (1.0 - b1) * g);
        *v = flush(b2 * *v + (1.0 - b2) * g * g);
        *p -= lr * (*m / bc1) / ((*v / bc2).sqrt() + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRADS: [f32; 3] = [0.5, -0.25, 1.0];

    /// Keras 2.2.4 `SGD(lr=0.1, momentum=0.9, decay=0.01, nesterov=...)` on one weight of value
    /// 1 with the gradients 0.5, -0.25, 1: `lr_t = lr / (1 + decay * t)`, `v = mom v - lr_t g`,
    /// `p += v` (or `mom v - lr_t g` with Nesterov). The expected values were computed in
    /// Python (f64) from Keras' update rule; PyTorch's SGD without decay agrees with it.
    #[test]
    fn sgd_momentum_nesterov_and_decay_match_keras() {
        for (nesterov, want) in [
            (
                false,
                [0.95, 0.929_752_475_247_524_7, 0.813_490_487_284_022_5],
            ),
            (
                true,
                [0.905, 0.911_529_702_970_297, 0.708_854_698_116_870_5],
            ),
        ] {
            let (mut p, mut v) = ([1.0f32], [0.0f32]);
            for (t, (&g, w)) in GRADS.iter().zip(want).enumerate() {
                let lr_t = 0.1 / (1.0 + 0.01 * t as f32);
                sgd(&mut p, &[g], &mut v, lr_t, 0.9, nesterov, 0.0);
                assert!(
                    (f64::from(p[0]) - w).abs() < 1e-6,
                    "step {t}: {} vs {w}",
                    p[0]
                );
            }
        }
    }

    /// PyTorch `Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-7)` with bias correction: the same
    /// weight and gradients (values from Python, f64).
    #[test]
    fn adam_bias_correction_matches_pytorch() {
        let want = [
            0.990_000_002,
            0.987_336_632_277_281_9,
            0.980_755_517_269_424_2,
        ];
        let (mut p, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
        for (t, (&g, w)) in GRADS.iter().zip(want).enumerate() {
            let t = t as i32 + 1;
            let hp = (
                0.01,
                0.9,
                0.999,
                1e-7,
                1.0 - 0.9f32.powi(t),
                1.0 - 0.999f32.powi(t),
            );
            adam(&mut p, &[g], &mut m, &mut v, hp, 0.0);
            assert!(
                (f64::from(p[0]) - w).abs() < 1e-6,
                "step {t}: {} vs {w}",
                p[0]
            );
        }
    }

    /// One full-batch step of plain SGD moves each weight by `-lr * dL/dw`: the trainer's
    /// back-propagated gradient, read off that step, equals central finite differences of the
    /// mean cross-entropy computed from the head's logits.
    #[test]
    fn the_trained_gradient_matches_finite_differences() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        let (n, d, c) = (12, 5, 3);
        let x: Vec<f32> = (0..n * d)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        let y: Vec<u32> = (0..n as u32).map(|i| i % c as u32).collect();
        let head = HeadConfig {
            hidden: vec![7],
            hidden_bias: true,
            output_bias: true,
        };
        let lr = 1e-3f32;
        let cfg = TrainConfig {
            optimizer: Optimizer::Sgd {
                lr,
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
                decay: 0.0,
            },
            batch_size: n,
            max_epochs: 1,
            early_stopping: None,
            seed: 4,
        };
        let start = {
            let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
            Mlp::new(d, c, &head, None, &mut r).unwrap()
        };
        let (after, _) = train_head(&x, d, &y, c, &head, &cfg).unwrap();
        let loss = |m: &Mlp| -> f64 {
            let z = m.logits(&x).unwrap();
            let mut s = 0.0f64;
            for (r, &yr) in y.iter().enumerate() {
                let zr: Vec<f64> = z[r * c..(r + 1) * c]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let mx = zr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = mx + zr.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
                s += lse - zr[yr as usize];
            }
            s / n as f64
        };
        let h = 1e-3f32;
        let mut checked = 0;
        for l in 0..start.layers.len() {
            for j in 0..start.layers[l].w.len() {
                let trained =
                    f64::from(start.layers[l].w[j] - after.layers[l].w[j]) / f64::from(lr);
                let (mut up, mut dn) = (start.clone(), start.clone());
                up.layers[l].w[j] += h;
                dn.layers[l].w[j] -= h;
                let fd = (loss(&up) - loss(&dn)) / (2.0 * f64::from(h));
                assert!(
                    (trained - fd).abs() <= 2e-3 + 2e-2 * fd.abs(),
                    "layer {l} weight {j}: back-propagated {trained}, finite differences {fd}"
                );
                checked += usize::from(fd.abs() > 1e-3);
            }
        }
        assert!(
            checked > 10,
            "only {checked} weights with a visible gradient"
        );
    }
}
