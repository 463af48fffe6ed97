//! Training LeNet (any widths, optionally masked) with Caffe's LeNet solver: SGD with momentum
//! 0.9, weight decay 5e-4, the "inv" learning-rate policy `lr * (1 + gamma * iter)^-power`, bias
//! learning rate x2, batch 64.
//!
//! Each batch is split into a fixed number of shards (default 2) whose gradients are computed in
//! parallel on the rayon pool and summed in shard order, so the result is bit-identical on 1 or
//! N threads. Pruned weights (mask 0) get no gradient and no decay: they stay exactly zero.

use super::core::{Workspace, backward, forward};
use super::net::Net;
use crate::{NnError, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The solver settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolverConfig {
    /// Passes over the training set (fractions allowed: 0.5 = half an epoch of batches).
    pub epochs: f64,
    /// Images per batch.
    pub batch: usize,
    /// Base learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// "inv" policy gamma.
    pub gamma: f32,
    /// "inv" policy power.
    pub power: f32,
    /// Learning-rate multiplier of biases.
    pub bias_lr_mult: f32,
    /// Gradient shards per batch (fixed, so results do not depend on the thread count).
    pub shards: usize,
    /// Shuffling seed.
    pub seed: u64,
}

impl Default for SolverConfig {
    /// Caffe's `lenet_solver.prototxt` (10,000 iterations of 64 = 10.7 epochs of 60k).
    fn default() -> Self {
        SolverConfig {
            epochs: 10.0,
            batch: 64,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            gamma: 1e-4,
            power: 0.75,
            bias_lr_mult: 2.0,
            shards: 2,
            seed: 0,
        }
    }
}

impl SolverConfig {
    /// Check every field; the error names it.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, reason: String| Err(NnError::Config { field, reason });
        if !(self.epochs.is_finite() && self.epochs > 0.0) {
            return bad("epochs", format!("must be > 0, got {}", self.epochs));
        }
        if self.batch == 0 {
            return bad("batch", "must be at least 1".into());
        }
        if self.shards == 0 || self.shards > self.batch {
            return bad(
                "shards",
                format!(
                    "must be in [1, batch = {}], got {}",
                    self.batch, self.shards
                ),
            );
        }
        for (f, v) in [
            ("lr", self.lr),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("gamma", self.gamma),
            ("power", self.power),
            ("bias_lr_mult", self.bias_lr_mult),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(f, format!("must be finite and >= 0, got {v}"));
            }
        }
        if self.momentum >= 1.0 {
            return bad("momentum", format!("must be < 1, got {}", self.momentum));
        }
        Ok(())
    }
}

/// What a training did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverReport {
    /// Iterations (batches) run.
    pub iterations: usize,
    /// Mean training loss of each epoch (the last may be partial).
    pub epoch_loss: Vec<f64>,
}

/// Train `net` in place on `x` (`n x 784`) / `y`. With `mask` (multipliers in `net`'s layout,
/// from [`Net::mask_vector`]), masked weights must be zero on entry and stay zero.
/// `progress(iteration, total)` is called after every batch. A NaN or infinite loss stops with
/// [`NnError::NonFinite`], leaving `net` as it was before that batch.
pub fn train(
    net: &mut Net,
    mask: Option<&[f32]>,
    x: &[f32],
    y: &[u32],
    cfg: &SolverConfig,
    progress: impl FnMut(usize, usize),
) -> Result<SolverReport> {
    let dims = net.dims;
    solve(&dims, &mut net.params, mask, x, y, cfg, progress)
}

/// A network the solver can train: its flat parameter layout and one forward + backward pass.
pub(crate) trait Backprop: Sync {
    /// Per-batch activations and gradients, reused across batches.
    type Ws: Send;
    /// Values per input sample.
    fn input_len(&self) -> usize;
    /// Classes (labels must be below).
    fn classes(&self) -> usize;
    /// Parameters in the flat layout.
    fn n_params(&self) -> usize;
    /// Whether parameter `i` is a bias (gets `bias_lr_mult`).
    fn is_bias(&self, i: usize) -> bool;
    /// A workspace for batches of at most `cap` samples.
    fn workspace(&self, cap: usize) -> Self::Ws;
    /// Forward `x` (`y.len()` samples) and write the gradient of `sum(loss) / denom` into `g`
    /// (overwritten); return the summed loss.
    fn step(
        &self,
        p: &[f32],
        ws: &mut Self::Ws,
        x: &[f32],
        y: &[u32],
        denom: f32,
        g: &mut [f32],
    ) -> f64;
}

impl Backprop for super::Dims {
    type Ws = Workspace;
    fn input_len(&self) -> usize {
        784
    }
    fn classes(&self) -> usize {
        10
    }
    fn n_params(&self) -> usize {
        self.layout().len()
    }
    fn is_bias(&self, i: usize) -> bool {
        self.layout().is_bias(i)
    }
    fn workspace(&self, cap: usize) -> Workspace {
        Workspace::new(*self, cap)
    }
    fn step(
        &self,
        p: &[f32],
        ws: &mut Workspace,
        x: &[f32],
        y: &[u32],
        denom: f32,
        g: &mut [f32],
    ) -> f64 {
        forward(p, *self, ws, x, y.len());
        backward(p, *self, ws, y, denom, g)
    }
}

/// Mean loss and its gradient over all of `x`/`y` (no update), in chunks of 256 on one thread.
pub(crate) fn loss_gradient<M: Backprop>(
    model: &M,
    params: &[f32],
    x: &[f32],
    y: &[u32],
) -> Result<(f64, Vec<f32>)> {
    let n = y.len();
    let d = model.input_len();
    if x.len() != n * d || n == 0 || params.len() != model.n_params() {
        return Err(NnError::Shape(format!(
            "{} values for {n} labels ({d} per sample), {} parameters for {}",
            x.len(),
            params.len(),
            model.n_params()
        )));
    }
    if let Some(&bad) = y.iter().find(|&&l| l as usize >= model.classes()) {
        return Err(NnError::Shape(format!("label {bad} is out of range")));
    }
    const C: usize = 256;
    let mut ws = model.workspace(C.min(n));
    let mut g = vec![0.0f32; params.len()];
    let mut part = vec![0.0f32; params.len()];
    let mut loss = 0.0;
    for (xs, ys) in x.chunks(C * d).zip(y.chunks(C)) {
        loss += model.step(params, &mut ws, xs, ys, n as f32, &mut part);
        g.iter_mut().zip(&part).for_each(|(a, b)| *a += b);
    }
    Ok((loss / n as f64, g))
}

/// The solver loop shared by every [`Backprop`] network (see [`train`]).
pub(crate) fn solve<M: Backprop>(
    model: &M,
    params: &mut [f32],
    mask: Option<&[f32]>,
    x: &[f32],
    y: &[u32],
    cfg: &SolverConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<SolverReport> {
    cfg.validate()?;
    let n = y.len();
    let d = model.input_len();
    if x.len() != n * d || n == 0 {
        return Err(NnError::Shape(format!(
            "{} values for {} labels ({d} per sample)",
            x.len(),
            n
        )));
    }
    if let Some(&bad) = y.iter().find(|&&l| l as usize >= model.classes()) {
        return Err(NnError::Shape(format!(
            "label {bad} is not below the {} classes",
            model.classes()
        )));
    }
    let np = model.n_params();
    if params.len() != np {
        return Err(NnError::Shape(format!(
            "{} parameters, the network has {np}",
            params.len()
        )));
    }
    if let Some(m) = mask
        && m.len() != np
    {
        return Err(NnError::Shape(format!(
            "mask has {} values, the network {np}",
            m.len()
        )));
    }
    let batch = cfg.batch.min(n);
    let shards = cfg.shards.min(batch);
    let per_epoch = n.div_ceil(batch);
    let total = ((cfg.epochs * per_epoch as f64).round() as usize).max(1);
    let shard_cap = batch.div_ceil(shards);
    let mut ws: Vec<M::Ws> = (0..shards).map(|_| model.workspace(shard_cap)).collect();
    let mut grads: Vec<Vec<f32>> = (0..shards).map(|_| vec![0.0; np]).collect();
    let mut vel = vec![0.0f32; np];
    let lr_mult: Vec<f32> = (0..np)
        .map(|i| {
            if model.is_bias(i) {
                cfg.bias_lr_mult
            } else {
                1.0
            }
        })
        .collect();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut xb = vec![0.0f32; batch * d];
    let mut yb = vec![0u32; batch];
    let mut report = SolverReport {
        iterations: 0,
        epoch_loss: Vec::new(),
    };
    let (mut epoch_sum, mut epoch_count) = (0.0f64, 0usize);
    for it in 0..total {
        let pos = it % per_epoch;
        if pos == 0 {
            order.shuffle(&mut rng);
        }
        let idx = &order[pos * batch..((pos + 1) * batch).min(n)];
        let b = idx.len();
        for (k, &i) in idx.iter().enumerate() {
            xb[k * d..(k + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
            yb[k] = y[i];
        }
        let per = b.div_ceil(shards);
        let p: &[f32] = params;
        let (xb_ref, yb_ref) = (&xb, &yb);
        let losses: Vec<f64> = ws
            .par_iter_mut()
            .zip(grads.par_iter_mut())
            .enumerate()
            .map(|(s, (w, g))| {
                let lo = (s * per).min(b);
                let hi = ((s + 1) * per).min(b);
                if lo == hi {
                    g.fill(0.0);
                    return 0.0;
                }
                model.step(p, w, &xb_ref[lo * d..hi * d], &yb_ref[lo..hi], b as f32, g)
            })
            .collect();
        let loss: f64 = losses.iter().sum();
        if !loss.is_finite() {
            return Err(NnError::NonFinite {
                epoch: it / per_epoch,
                batch: pos,
                loss: loss as f32,
            });
        }
        let (first, rest) = grads.split_first_mut().expect("at least one shard");
        for g in rest.iter() {
            first.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
        let rate = cfg.lr * (1.0 + cfg.gamma * it as f32).powf(-cfg.power);
        sgd_step(
            params,
            first,
            &mut vel,
            &lr_mult,
            mask,
            rate,
            cfg.momentum,
            cfg.weight_decay,
        );
        epoch_sum += loss;
        epoch_count += b;
        if pos + 1 == per_epoch || it + 1 == total {
            report.epoch_loss.push(epoch_sum / epoch_count as f64);
            (epoch_sum, epoch_count) = (0.0, 0);
        }
        report.iterations = it + 1;
        progress(it + 1, total);
    }
    Ok(report)
}

/// Caffe's momentum update, `v = m v + lr_i (g + wd w); w -= v`, with the mask applied to the
/// whole step (pruned weights get neither gradient nor decay). Momentum below 1e-30 is flushed
/// to zero (see `head::train` on subnormal slowdowns).
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn sgd_step(
    w: &mut [f32],
    g: &[f32],
    v: &mut [f32],
    lr_mult: &[f32],
    mask: Option<&[f32]>,
    lr: f32,
    momentum: f32,
    wd: f32,
) {
    match mask {
        Some(m) => {
            for i in 0..w.len() {
                let step = m[i] * (g[i] + wd * w[i]);
                let nv = momentum * v[i] + lr * lr_mult[i] * step;
                let nv = if nv.abs() < 1e-30 { 0.0 } else { nv };
                v[i] = nv;
                w[i] -= nv;
            }
        }
        None => {
            for i in 0..w.len() {
                let nv = momentum * v[i] + lr * lr_mult[i] * (g[i] + wd * w[i]);
                let nv = if nv.abs() < 1e-30 { 0.0 } else { nv };
                v[i] = nv;
                w[i] -= nv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LeNet, LeNetMask};
    use super::*;

    /// Ten synthetic "digits": class k is a bright 6x6 square at a class-specific place, plus
    /// noise.
    fn toy(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut s = seed;
        let mut r = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut x = vec![0.0f32; n * 784];
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let k = i % 10;
            let (oy, ox) = (2 + (k / 5) * 12, 2 + (k % 5) * 4);
            for v in &mut x[i * 784..(i + 1) * 784] {
                *v = 0.2 * r();
            }
            for dy in 0..6 {
                for dx in 0..6 {
                    x[i * 784 + (oy + dy) * 28 + ox + dx] += 0.8;
                }
            }
            y.push(k as u32);
        }
        (x, y)
    }

    #[test]
    fn learns_a_toy_task_keeps_pruned_weights_zero_and_is_thread_independent() {
        let (x, y) = toy(400, 1);
        let (xt, yt) = toy(200, 2);
        let base = Net::from_lenet(&LeNet::random(3)).unwrap();
        let mut m = LeNetMask::full();
        (0..10).for_each(|f| m.conv1[f] = false);
        m.fc1.iter_mut().step_by(3).for_each(|b| *b = false);
        let mv = Net::mask_vector(&m).unwrap();
        let cfg = SolverConfig {
            epochs: 3.0,
            batch: 32,
            ..SolverConfig::default()
        };
        let run = |threads: usize| {
            let mut net = base.masked(&m).unwrap();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut calls = 0;
            let rep = pool
                .install(|| train(&mut net, Some(&mv), &x, &y, &cfg, |_, _| calls += 1))
                .unwrap();
            assert_eq!(calls, rep.iterations);
            (net, rep)
        };
        let (net, rep) = run(1);
        assert_eq!(rep.iterations, 3 * 400usize.div_ceil(32));
        assert_eq!(rep.epoch_loss.len(), 3);
        assert!(rep.epoch_loss[2] < rep.epoch_loss[0]);
        assert!(net.errors(&xt, &yt).unwrap() <= 4, "test errors");
        // pruned weights stayed exactly zero
        assert!(
            net.params
                .iter()
                .zip(&mv)
                .all(|(w, m)| *m != 0.0 || *w == 0.0)
        );
        // bit-identical on two threads
        assert_eq!(run(2).0, net);
    }

    #[test]
    fn a_diverging_run_is_an_error_and_bad_settings_name_the_field() {
        let (x, y) = toy(64, 1);
        let mut net = Net::from_lenet(&LeNet::random(3)).unwrap();
        let cfg = SolverConfig {
            lr: 1e6,
            epochs: 5.0,
            ..SolverConfig::default()
        };
        let e = train(&mut net, None, &x, &y, &cfg, |_, _| {}).unwrap_err();
        assert!(matches!(e, NnError::NonFinite { .. }), "{e}");
        let bad = SolverConfig {
            shards: 0,
            ..SolverConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("shards"));
        let e = train(
            &mut net,
            None,
            &x,
            &y[..10],
            &SolverConfig::default(),
            |_, _| {},
        );
        assert!(e.is_err());
    }
}
