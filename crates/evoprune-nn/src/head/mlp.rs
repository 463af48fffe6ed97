//! The dense head.

use crate::gemm::{Mat, matmul};
use crate::{NnError, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Shape of a head: inputs -> hidden layers (ReLU) -> classes.
/// Default: MO-EvoPruneDeepTL's single hidden layer of 512 without bias, output with bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HeadConfig {
    /// Hidden layer widths (one or two in the papers).
    pub hidden: Vec<usize>,
    /// Bias on hidden layers.
    pub hidden_bias: bool,
    /// Bias on the output layer.
    pub output_bias: bool,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            hidden: vec![512],
            hidden_bias: false,
            output_bias: true,
        }
    }
}

/// One dense layer: `y = x W + b`, `W` stored row-major `n_in x n_out`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Weights, `n_in x n_out`.
    pub w: Vec<f32>,
    /// Bias, `n_out`, if any.
    pub b: Option<Vec<f32>>,
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
}

/// A multi-layer perceptron with ReLU between layers and linear logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Layers, input first.
    pub layers: Vec<Dense>,
}

/// Rows `rows` of a row-major `n x d` matrix restricted to columns `cols`: the physically
/// compacted input of a masked head (`n x cols.len()`).
/// A column index `>= d`, `d = 0` or a length that is not a multiple of `d` is a
/// [`NnError::Shape`](crate::NnError::Shape).
pub fn gather_columns(x: &[f32], d: usize, cols: &[usize]) -> crate::Result<Vec<f32>> {
    let n = crate::metrics::rows_of(x.len(), d, "input")?;
    if let Some(c) = cols.iter().find(|&&c| c >= d) {
        return Err(crate::NnError::Shape(format!(
            "column {c} of an input with {d} columns"
        )));
    }
    let mut out = Vec::with_capacity(n * cols.len());
    for r in x.chunks_exact(d) {
        out.extend(cols.iter().map(|&c| r[c]));
    }
    Ok(out)
}

impl Mlp {
    /// A head over `n_in` inputs, Glorot-uniform weights (Keras' default) and zero biases.
    ///
    /// `active`, if given, lists which of `n_in` original inputs are kept: the first layer is
    /// built over those rows only, but drawn from the same random stream as the full-width layer
    /// (with the full-width Glorot limit), so a compact head starts exactly as the masked
    /// full-width head does and trains to the same result at a cost proportional to the
    /// active inputs.
    pub fn new(
        n_in: usize,
        n_classes: usize,
        cfg: &HeadConfig,
        active: Option<&[usize]>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if n_in == 0 || n_classes < 2 || cfg.hidden.contains(&0) {
            return Err(NnError::Config {
                field: "head",
                reason: format!(
                    "need inputs > 0, classes >= 2, hidden > 0; got {n_in}, {n_classes}, {:?}",
                    cfg.hidden
                ),
            });
        }
        let mut widths = vec![n_in];
        widths.extend(&cfg.hidden);
        widths.push(n_classes);
        let mut layers = Vec::with_capacity(widths.len() - 1);
        for l in 0..widths.len() - 1 {
            let (fi, fo) = (widths[l], widths[l + 1]);
            let limit = (6.0 / (fi + fo) as f32).sqrt();
            let mut w: Vec<f32> = (0..fi * fo)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * limit)
                .collect();
            let mut n_in_l = fi;
            if l == 0
                && let Some(a) = active
            {
                if a.iter().any(|&c| c >= fi) {
                    return Err(NnError::Shape(format!(
                        "active input index out of range for {fi} inputs"
                    )));
                }
                w = gather_rows(&w, fo, a);
                n_in_l = a.len();
            }
            let last = l == widths.len() - 2;
            let bias = if last {
                cfg.output_bias
            } else {
                cfg.hidden_bias
            };
            layers.push(Dense {
                w,
                b: bias.then(|| vec![0.0; fo]),
                n_in: n_in_l,
                n_out: fo,
            });
        }
        Ok(Mlp { layers })
    }

    /// Inputs expected.
    pub fn n_in(&self) -> usize {
        self.layers.first().map_or(0, |l| l.n_in)
    }

    /// Classes.
    pub fn n_classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.n_out)
    }

    /// Rows of `x`, or why `x` cannot be this head's input.
    fn input_rows(&self, x: &[f32]) -> crate::Result<usize> {
        if self.layers.is_empty() {
            return Err(crate::NnError::Shape("a head without layers".into()));
        }
        crate::metrics::rows_of(x.len(), self.n_in(), "input")
    }

    /// Trainable parameters.
    pub fn param_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.w.len() + l.b.as_ref().map_or(0, Vec::len))
            .sum()
    }

    /// Multiply-accumulate operations per sample (dense layers; biases and ReLU not counted).
    pub fn macs(&self) -> usize {
        self.layers.iter().map(|l| l.n_in * l.n_out).sum()
    }

    /// Logits (`n x classes`, row-major) for `x` (`n x n_in`), in chunks of 256 rows.
    /// An input whose length is not a multiple of `n_in` is a
    /// [`NnError::Shape`](crate::NnError::Shape).
    pub fn logits(&self, x: &[f32]) -> crate::Result<Vec<f32>> {
        let d = self.n_in();
        let n = self.input_rows(x)?;
        let c = self.n_classes();
        let mut out = vec![0.0; n * c];
        let widest = self.layers.iter().map(|l| l.n_out).max().unwrap_or(0);
        let (mut a, mut b) = (vec![0.0; 256 * widest], vec![0.0; 256 * widest]);
        for (ci, chunk) in x.chunks(256 * d).enumerate() {
            let rows = chunk.len() / d;
            let mut input: &[f32] = chunk;
            for (li, l) in self.layers.iter().enumerate() {
                let dst = &mut b[..rows * l.n_out];
                l.forward(input, rows, dst);
                if li + 1 < self.layers.len() {
                    super::train::relu(dst);
                }
                std::mem::swap(&mut a, &mut b);
                input = &a[..rows * l.n_out];
            }
            out[ci * 256 * c..ci * 256 * c + rows * c].copy_from_slice(input);
        }
        Ok(out)
    }
}

impl Mlp {
    /// Gradient of ODIN's log-score `log max_k softmax(f(x) / T)_k` with respect to each input
    /// row (`n x n_in`), by back-propagation through the head (the predicted class is held
    /// fixed, as in ODIN).
    pub fn odin_input_gradient(&self, x: &[f32], temperature: f32) -> crate::Result<Vec<f32>> {
        let d = self.n_in();
        let n = self.input_rows(x)?;
        let c = self.n_classes();
        let nl = self.layers.len();
        let mut grad = vec![0.0f32; n * d];
        for (ci, chunk) in x.chunks(256 * d).enumerate() {
            let rows = chunk.len() / d;
            // forward, keeping every layer's output
            let mut acts: Vec<Vec<f32>> = Vec::with_capacity(nl);
            for (li, l) in self.layers.iter().enumerate() {
                let mut out = vec![0.0f32; rows * l.n_out];
                l.forward(if li == 0 { chunk } else { &acts[li - 1] }, rows, &mut out);
                if li + 1 < nl {
                    super::train::relu(&mut out);
                }
                acts.push(out);
            }
            // d log S / d z = (onehot(argmax) - softmax(z / T)) / T
            let mut delta = vec![0.0f32; rows * c];
            for (r, z) in acts[nl - 1].chunks_exact(c).enumerate() {
                let (top, zmax) =
                    z.iter()
                        .enumerate()
                        .fold(
                            (0, f32::NEG_INFINITY),
                            |b, (k, &v)| {
                                if v > b.1 { (k, v) } else { b }
                            },
                        );
                let e: Vec<f64> = z
                    .iter()
                    .map(|&v| (f64::from(v - zmax) / f64::from(temperature)).exp())
                    .collect();
                let sum: f64 = e.iter().sum();
                for k in 0..c {
                    let onehot = if k == top { 1.0 } else { 0.0 };
                    delta[r * c + k] = ((onehot - e[k] / sum) / f64::from(temperature)) as f32;
                }
            }
            // backward to the input
            for li in (0..nl).rev() {
                let l = &self.layers[li];
                let mut prev = vec![0.0f32; rows * l.n_in];
                matmul(
                    &mut prev,
                    rows,
                    l.n_in,
                    Mat::new(&delta, rows, l.n_out),
                    Mat::new(&l.w, l.n_in, l.n_out).t(),
                    false,
                );
                if li > 0 {
                    for (g, &a) in prev.iter_mut().zip(&acts[li - 1]) {
                        if a <= 0.0 {
                            *g = 0.0;
                        }
                    }
                }
                delta = prev;
            }
            grad[ci * 256 * d..ci * 256 * d + rows * d].copy_from_slice(&delta);
        }
        Ok(grad)
    }

    /// ODIN scores with input perturbation (Liang et al. 2018): each input moves by `epsilon`
    /// along the sign of the gradient that raises its own max-softmax score, then is scored at
    /// temperature `T`. `epsilon = 0` gives plain [`odin_scores`](crate::metrics::odin_scores).
    pub fn odin_scores_perturbed(
        &self,
        x: &[f32],
        temperature: f32,
        epsilon: f32,
    ) -> crate::Result<Vec<f32>> {
        let c = self.n_classes();
        if epsilon == 0.0 {
            return crate::metrics::odin_scores(&self.logits(x)?, c, temperature);
        }
        let g = self.odin_input_gradient(x, temperature)?;
        let moved: Vec<f32> = x
            .iter()
            .zip(&g)
            .map(|(&v, &gv)| {
                v + epsilon
                    * if gv > 0.0 {
                        1.0
                    } else if gv < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
            })
            .collect();
        crate::metrics::odin_scores(&self.logits(&moved)?, c, temperature)
    }
}

impl Dense {
    /// `dst (rows x n_out) = x (rows x n_in) W + b`.
    pub(crate) fn forward(&self, x: &[f32], rows: usize, dst: &mut [f32]) {
        matmul(
            dst,
            rows,
            self.n_out,
            Mat::new(x, rows, self.n_in),
            Mat::new(&self.w, self.n_in, self.n_out),
            false,
        );
        if let Some(b) = &self.b {
            for r in dst.chunks_exact_mut(self.n_out) {
                r.iter_mut().zip(b).for_each(|(v, bb)| *v += bb);
            }
        }
    }
}

fn gather_rows(w: &[f32], cols: usize, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * cols);
    for &r in rows {
        out.extend_from_slice(&w[r * cols..(r + 1) * cols]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn odin_gradient_matches_finite_differences_and_perturbation_raises_scores() {
        use rand::Rng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let cfg = HeadConfig {
            hidden: vec![16],
            hidden_bias: true,
            output_bias: true,
        };
        let mlp = Mlp::new(8, 3, &cfg, None, &mut rng).unwrap();
        let x: Vec<f32> = (0..4 * 8)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        let t = 2.0;
        let g = mlp.odin_input_gradient(&x, t).unwrap();
        let log_score = |x: &[f32]| -> f64 {
            f64::from(crate::metrics::odin_scores(&mlp.logits(x).unwrap(), 3, t).unwrap()[0]).ln()
        };
        let h = 1e-3f32;
        let mut agree = 0;
        for j in 0..8 {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[j] += h;
            dn[j] -= h;
            let fd = (log_score(&up) - log_score(&dn)) / (2.0 * f64::from(h));
            if (fd - f64::from(g[j])).abs() <= 1e-2 * fd.abs().max(1e-2) {
                agree += 1;
            }
        }
        assert!(agree >= 7, "{agree} of 8 coordinates agree");
        // a small step along the gradient's sign raises every sample's own score
        let before = crate::metrics::odin_scores(&mlp.logits(&x).unwrap(), 3, t).unwrap();
        let after = mlp.odin_scores_perturbed(&x, t, 1e-3).unwrap();
        assert!(
            before.iter().zip(&after).all(|(b, a)| a >= b),
            "{before:?} {after:?}"
        );
        assert_eq!(mlp.odin_scores_perturbed(&x, t, 0.0).unwrap(), before);
    }

    #[test]
    fn counts_are_exact_for_hand_computed_heads() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
        // 2048 -> 512 (no bias) -> 10 (bias): 2048*512 + 512*10 + 10
        let full = Mlp::new(2048, 10, &HeadConfig::default(), None, &mut rng).unwrap();
        assert_eq!(full.param_count(), 2048 * 512 + 5120 + 10);
        assert_eq!(full.macs(), 2048 * 512 + 5120);
        // 25% of the inputs active: the first layer shrinks to 512 rows
        let active: Vec<usize> = (0..2048).step_by(4).collect();
        let pruned = Mlp::new(2048, 10, &HeadConfig::default(), Some(&active), &mut rng).unwrap();
        assert_eq!(pruned.param_count(), 512 * 512 + 5120 + 10);
        let two = Mlp::new(
            64,
            5,
            &HeadConfig {
                hidden: vec![32, 16],
                hidden_bias: true,
                output_bias: true,
            },
            None,
            &mut rng,
        )
        .unwrap();
        assert_eq!(two.param_count(), 64 * 32 + 32 + 32 * 16 + 16 + 16 * 5 + 5);
    }

    #[test]
    fn compact_head_equals_masked_full_head() {
        let cfg = HeadConfig {
            hidden: vec![8],
            ..Default::default()
        };
        let full = Mlp::new(
            6,
            3,
            &cfg,
            None,
            &mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5),
        )
        .unwrap();
        let active = [1usize, 4];
        let compact = Mlp::new(
            6,
            3,
            &cfg,
            Some(&active),
            &mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5),
        )
        .unwrap();
        let x: Vec<f32> = (0..4 * 6).map(|i| (i as f32 * 0.3).sin()).collect();
        let masked: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| if active.contains(&(i % 6)) { *v } else { 0.0 })
            .collect();
        let a = full.logits(&masked).unwrap();
        let b = compact
            .logits(&gather_columns(&x, 6, &active).unwrap())
            .unwrap();
        // a bad input is a shape error, not a panic
        assert!(compact.logits(&x[..5]).is_err());
        assert!(gather_columns(&x, 6, &[6]).is_err());
        assert!(gather_columns(&x, 0, &[]).is_err());
        assert!(compact.odin_input_gradient(&x[..3], 1.0).is_err());
        assert!(Mlp { layers: vec![] }.logits(&x).is_err());
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }
}
