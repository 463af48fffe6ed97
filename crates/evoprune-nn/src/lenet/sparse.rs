//! [`SparseLeNet`]: the deployable form of a pruned LeNet. Convolutions physically narrowed
//! (only kept filters and channels), fully connected layers in CSR (only kept connections), and
//! a safetensors file format for it.

use super::OUT;
use super::core::{Dims, T, Workspace, forward_conv};
use super::net::{Compact, Net};
use crate::{NnError, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;

/// A CSR matrix `rows x cols`: row `r`'s entries are `values[row_ptr[r]..row_ptr[r + 1]]` at
/// columns `col_index[...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row starts (`rows + 1`).
    pub row_ptr: Vec<u32>,
    /// Column of each stored value.
    pub col_index: Vec<u32>,
    /// Stored values.
    pub values: Vec<f32>,
}

impl Csr {
    /// The non-zero entries of a dense row-major matrix.
    pub fn from_dense(d: &[f32], rows: usize, cols: usize) -> Csr {
        let mut c = Csr {
            rows,
            cols,
            row_ptr: vec![0],
            col_index: Vec::new(),
            values: Vec::new(),
        };
        for r in 0..rows {
            for (j, &v) in d[r * cols..(r + 1) * cols].iter().enumerate() {
                if v != 0.0 {
                    c.col_index.push(j as u32);
                    c.values.push(v);
                }
            }
            c.row_ptr.push(c.values.len() as u32);
        }
        c
    }

    /// `out (n x rows) = x (n x cols) * self^T + bias`, through the transposes so that each
    /// stored value does one contiguous multiply-add over the `n` images (vectorised), instead
    /// of a gather per image. `xt`, `ot` are scratch buffers.
    fn apply(
        &self,
        x: &[f32],
        n: usize,
        bias: &[f32],
        out: &mut [f32],
        xt: &mut Vec<f32>,
        ot: &mut Vec<f32>,
    ) {
        xt.resize(self.cols * n, 0.0);
        ot.resize(self.rows * n, 0.0);
        for i in 0..n {
            for j in 0..self.cols {
                xt[j * n + i] = x[i * self.cols + j];
            }
        }
        for r in 0..self.rows {
            let o = &mut ot[r * n..(r + 1) * n];
            o.fill(bias[r]);
            let (a, b) = (self.row_ptr[r] as usize, self.row_ptr[r + 1] as usize);
            for (v, &j) in self.values[a..b].iter().zip(&self.col_index[a..b]) {
                axpy(o, *v, &xt[j as usize * n..(j as usize + 1) * n]);
            }
        }
        for i in 0..n {
            for r in 0..self.rows {
                out[i * self.rows + r] = ot[r * n + i];
            }
        }
    }

    fn check(&self, name: &str) -> Result<()> {
        let ok = self.row_ptr.len() == self.rows + 1
            && self.row_ptr[0] == 0
            && self.row_ptr.windows(2).all(|w| w[0] <= w[1])
            && *self.row_ptr.last().unwrap_or(&0) as usize == self.values.len()
            && self.col_index.len() == self.values.len()
            && self.col_index.iter().all(|&j| (j as usize) < self.cols);
        if ok {
            Ok(())
        } else {
            Err(NnError::Shape(format!("{name}: inconsistent CSR arrays")))
        }
    }
}

/// `o += v * x`, compiled for AVX-512 / AVX2 and chosen at run time (no FMA contraction: the
/// same bits on every CPU).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn axpy(o: &mut [f32], v: f32, x: &[f32]) {
    for (a, b) in o.iter_mut().zip(x) {
        *a += v * b;
    }
}

/// A pruned LeNet ready to run: narrowed convolutions plus CSR fully connected layers.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseLeNet {
    /// The narrowed network's convolutions (its FC tensors are unused and empty-sized).
    conv: Net,
    /// FC1, `h x 16 c2`.
    pub fc1: Csr,
    /// FC1 bias.
    pub fc1_bias: Vec<f32>,
    /// FC2, `10 x h`.
    pub fc2: Csr,
    /// FC2 bias.
    pub fc2_bias: Vec<f32>,
    /// Original indices of the kept conv1 filters, conv2 filters and FC1 units.
    pub kept: [Vec<usize>; 3],
}

impl SparseLeNet {
    /// From a physically compacted network.
    pub fn from_compact(c: &Compact) -> SparseLeNet {
        let d = c.net.dims;
        let l = d.layout();
        let p = &c.net.params;
        let mut conv = c.net.clone();
        // only the convolutions are used from it; FC lives in the CSR matrices
        conv.params[l.range(T::F1).start..].fill(0.0);
        SparseLeNet {
            conv,
            fc1: Csr::from_dense(&p[l.range(T::F1)], d.h, d.fc1_in()),
            fc1_bias: p[l.range(T::Fb1)].to_vec(),
            fc2: Csr::from_dense(&p[l.range(T::F2)], OUT, d.h),
            fc2_bias: p[l.range(T::Fb2)].to_vec(),
            kept: [c.conv1.clone(), c.conv2.clone(), c.hidden.clone()],
        }
    }

    /// Widths.
    pub fn dims(&self) -> Dims {
        self.conv.dims
    }

    /// Stored parameters: conv weights and biases, FC non-zeros and biases.
    pub fn stored_params(&self) -> usize {
        let l = self.dims().layout();
        l.range(T::B2).end
            + self.fc1.values.len()
            + self.fc1_bias.len()
            + self.fc2.values.len()
            + OUT
    }

    /// Logits (`n x 10`) of `n` grey 28x28 images, one thread.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        if !x.len().is_multiple_of(784) {
            return Err(NnError::Shape(format!(
                "{} values are not a whole number of 28x28 images",
                x.len()
            )));
        }
        const CHUNK: usize = 256;
        let d = self.dims();
        let n_all = x.len() / 784;
        let mut out = vec![0.0f32; n_all * OUT];
        let mut ws = Workspace::new(d, CHUNK.min(n_all.max(1)));
        let mut hid = vec![0.0f32; CHUNK * d.h];
        let (mut xt, mut ot) = (Vec::new(), Vec::new());
        for (ci, imgs) in x.chunks(CHUNK * 784).enumerate() {
            let n = imgs.len() / 784;
            forward_conv(&self.conv.params, d, &mut ws, imgs, n);
            self.fc1
                .apply(&ws.flat, n, &self.fc1_bias, &mut hid, &mut xt, &mut ot);
            hid[..n * d.h].iter_mut().for_each(|v| *v = v.max(0.0));
            self.fc2.apply(
                &hid,
                n,
                &self.fc2_bias,
                &mut out[ci * CHUNK * OUT..][..n * OUT],
                &mut xt,
                &mut ot,
            );
        }
        Ok(out)
    }

    /// Serialise as safetensors: `conv1.weight [c1,1,5,5]`, `conv1.bias`, `conv2.weight
    /// [c2,c1,5,5]`, `conv2.bias`, `fc{1,2}.values` (F32), `fc{1,2}.col_index`,
    /// `fc{1,2}.row_ptr` (U32), `fc{1,2}.bias`; metadata: the widths, the FC shapes and the kept
    /// original indices (JSON).
    pub fn to_safetensors(&self, extra: &HashMap<String, String>) -> Result<Vec<u8>> {
        let mut bufs: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let u32s = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        for (name, shape, v) in self.conv.tensors().into_iter().take(4) {
            bufs.push((name.to_string(), Dtype::F32, shape, f32s(&v)));
        }
        for (k, csr, bias) in [
            ("fc1", &self.fc1, &self.fc1_bias),
            ("fc2", &self.fc2, &self.fc2_bias),
        ] {
            bufs.push((
                format!("{k}.values"),
                Dtype::F32,
                vec![csr.values.len()],
                f32s(&csr.values),
            ));
            bufs.push((
                format!("{k}.col_index"),
                Dtype::U32,
                vec![csr.col_index.len()],
                u32s(&csr.col_index),
            ));
            bufs.push((
                format!("{k}.row_ptr"),
                Dtype::U32,
                vec![csr.row_ptr.len()],
                u32s(&csr.row_ptr),
            ));
            bufs.push((
                format!("{k}.bias"),
                Dtype::F32,
                vec![bias.len()],
                f32s(bias),
            ));
        }
        let d = self.dims();
        let mut meta = extra.clone();
        meta.insert("format".into(), "evoprune-sparse-lenet-1".into());
        meta.insert("dims".into(), format!("[{}, {}, {}]", d.c1, d.c2, d.h));
        meta.insert("fc1.shape".into(), format!("[{}, {}]", d.h, d.fc1_in()));
        meta.insert("fc2.shape".into(), format!("[{OUT}, {}]", d.h));
        for (k, v) in ["kept_conv1", "kept_conv2", "kept_fc1_units"]
            .iter()
            .zip(&self.kept)
        {
            meta.insert((*k).into(), format!("{v:?}"));
        }
        let views: Vec<(String, TensorView<'_>)> = bufs
            .iter()
            .map(|(n, dt, s, b)| {
                TensorView::new(*dt, s.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| NnError::Shape(format!("{n}: {e}")))
            })
            .collect::<Result<_>>()?;
        safetensors::serialize(views, Some(meta)).map_err(|e| NnError::Shape(e.to_string()))
    }

    /// Read what [`SparseLeNet::to_safetensors`] wrote; every tensor and index is checked.
    pub fn from_safetensors(bytes: &[u8]) -> Result<SparseLeNet> {
        let bad = |m: String| NnError::Shape(m);
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let md = meta.metadata().clone().unwrap_or_default();
        if md.get("format").map(String::as_str) != Some("evoprune-sparse-lenet-1") {
            return Err(bad(
                "not an evoprune sparse LeNet (metadata 'format')".into()
            ));
        }
        let list = |k: &str| -> Result<Vec<usize>> {
            let s = md
                .get(k)
                .ok_or_else(|| bad(format!("metadata '{k}' missing")))?;
            let s = s.trim().trim_start_matches('[').trim_end_matches(']');
            if s.trim().is_empty() {
                return Ok(Vec::new());
            }
            s.split(',')
                .map(|t| {
                    t.trim()
                        .parse()
                        .map_err(|_| bad(format!("metadata '{k}': '{t}' is not an index")))
                })
                .collect()
        };
        let dv = list("dims")?;
        if dv.len() != 3 {
            return Err(bad("metadata 'dims' needs 3 widths".into()));
        }
        let dims = Dims {
            c1: dv[0],
            c2: dv[1],
            h: dv[2],
        };
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let get = |k: &str, dt: Dtype| -> Result<Vec<[u8; 4]>> {
            let t = st.tensor(k).map_err(|e| bad(format!("{k}: {e}")))?;
            if t.dtype() != dt {
                return Err(bad(format!("{k}: dtype {:?}, expected {dt:?}", t.dtype())));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect())
        };
        let f = |k: &str, len: Option<usize>| -> Result<Vec<f32>> {
            let v: Vec<f32> = get(k, Dtype::F32)?
                .into_iter()
                .map(f32::from_le_bytes)
                .collect();
            match len {
                Some(n) if n != v.len() => {
                    Err(bad(format!("{k}: {} values, expected {n}", v.len())))
                }
                _ => Ok(v),
            }
        };
        let u = |k: &str| -> Result<Vec<u32>> {
            Ok(get(k, Dtype::U32)?
                .into_iter()
                .map(u32::from_le_bytes)
                .collect())
        };
        let mut lenet = super::LeNet {
            tensors: HashMap::new(),
        };
        for (k, n) in [
            ("conv1.weight", 25 * dims.c1),
            ("conv1.bias", dims.c1),
            ("conv2.weight", 25 * dims.c1 * dims.c2),
            ("conv2.bias", dims.c2),
        ] {
            lenet.tensors.insert(k.into(), f(k, Some(n))?);
        }
        let conv = Net::from_parts(dims, &lenet)?;
        let csr = |k: &str, rows: usize, cols: usize| -> Result<Csr> {
            let c = Csr {
                rows,
                cols,
                row_ptr: u(&format!("{k}.row_ptr"))?,
                col_index: u(&format!("{k}.col_index"))?,
                values: f(&format!("{k}.values"), None)?,
            };
            c.check(k)?;
            Ok(c)
        };
        Ok(SparseLeNet {
            conv,
            fc1: csr("fc1", dims.h, dims.fc1_in())?,
            fc1_bias: f("fc1.bias", Some(dims.h))?,
            fc2: csr("fc2", OUT, dims.h)?,
            fc2_bias: f("fc2.bias", Some(OUT))?,
            kept: [
                list("kept_conv1")?,
                list("kept_conv2")?,
                list("kept_fc1_units")?,
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LeNet, LeNetMask};
    use super::*;

    #[test]
    fn sparse_form_matches_the_masked_network_and_round_trips() {
        let net = Net::from_lenet(&LeNet::random(2)).unwrap();
        let mut m = LeNetMask::full();
        (0..20)
            .filter(|f| f % 4 == 1)
            .for_each(|f| m.conv1[f] = false);
        (0..50)
            .filter(|f| f % 5 == 2)
            .for_each(|f| m.conv2[f] = false);
        for (i, b) in m.fc1.iter_mut().enumerate() {
            *b = i % 17 == 0;
        }
        for (i, b) in m.fc2.iter_mut().enumerate() {
            *b = i % 3 != 0;
        }
        let c = net.compact(&m).unwrap();
        let s = SparseLeNet::from_compact(&c);
        let x: Vec<f32> = (0..3 * 784)
            .map(|i| ((i * 13) % 97) as f32 / 97.0)
            .collect();
        let want = net.masked(&m).unwrap().logits(&x).unwrap();
        for (a, b) in want.iter().zip(&s.logits(&x).unwrap()) {
            assert!((a - b).abs() < 1e-4);
        }
        // stored parameters = the mask's count, less the biases of dropped FC1 units
        let dropped = 500 - s.kept[2].len();
        assert_eq!(s.stored_params(), m.param_count() - dropped);
        let bytes = s
            .to_safetensors(&HashMap::from([("run".into(), "test".into())]))
            .unwrap();
        let back = SparseLeNet::from_safetensors(&bytes).unwrap();
        assert!(back == s, "round trip changed the model");
        // a corrupted index is refused, naming the tensor
        let mut broken = s.clone();
        broken.fc1.col_index[0] = 100_000;
        let bytes = broken.to_safetensors(&HashMap::new()).unwrap();
        let e = SparseLeNet::from_safetensors(&bytes).unwrap_err();
        assert!(e.to_string().contains("fc1"), "{e}");
        assert!(SparseLeNet::from_safetensors(b"not a file").is_err());
    }
}
