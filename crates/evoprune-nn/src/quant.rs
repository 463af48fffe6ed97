//! Weight quantization and storage-size accounting.
//!
//! - **Symmetric per-channel weight quantization** to 8 or 4 bits: each output channel (row of
//!   a `rows x cols` weight matrix, or filter of a conv) gets the scale `max|w| / qmax`
//!   (`qmax` = 127 or 7), values are rounded half to even (as PyTorch's `torch.round`) and
//!   clamped to `[-qmax, qmax]`; zero stays exactly zero, so pruning survives quantization.
//! - **Dynamic int8 quantization of linear layers** (PyTorch's `quantize_dynamic`, the paper's
//!   choice): weights int8 symmetric per tensor (`max|w| / 127.5`, PyTorch's `MinMaxObserver`
//!   on `qint8`), activations quantized per batch to `u8` with an asymmetric range including 0
//!   (`reduce_range`: 7 bits, as PyTorch on x86), then multiplied. Here the product is computed
//!   on the dequantized values in `f32`, which matches the integer product up to `f32`
//!   rounding of the accumulation.
//! - **Storage size in bytes** of a (pruned, quantized) weight tensor: the smaller of dense
//!   storage (`bits` per weight, 4-bit values packed two per byte) and CSR storage (values plus
//!   `u16`/`u32` column indices and `u32` row pointers), plus the scales (`f32`).
//!
//! Hand-written: no maintained Rust crate quantizes `f32` tensors per channel with PyTorch's
//! rounding and ranges, and the arithmetic is a few lines.

use serde::{Deserialize, Serialize};

/// How a weight tensor is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// 8-bit integers, symmetric per-channel scales.
    Int8,
    /// 4-bit integers, symmetric per-channel scales.
    Int4,
}

impl Precision {
    /// Bits per stored weight.
    pub fn bits(self) -> usize {
        match self {
            Precision::F32 => 32,
            Precision::Int8 => 8,
            Precision::Int4 => 4,
        }
    }
    /// Largest quantized magnitude (`2^(bits-1) - 1`); `None` for floats.
    pub fn qmax(self) -> Option<f32> {
        match self {
            Precision::F32 => None,
            Precision::Int8 => Some(127.0),
            Precision::Int4 => Some(7.0),
        }
    }
}

/// A weight matrix quantized per output channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    /// Output channels.
    pub rows: usize,
    /// Values per channel.
    pub cols: usize,
    /// Integer values, row-major, in `[-qmax, qmax]`.
    pub q: Vec<i8>,
    /// One scale per row.
    pub scale: Vec<f32>,
    /// The precision.
    pub precision: Precision,
}

/// Quantize `w` (`rows x cols`, row-major) symmetrically per row. `precision` must be an
/// integer one. A row of zeros gets scale 1 and stays zero.
pub fn quantize_per_channel(
    w: &[f32],
    rows: usize,
    cols: usize,
    precision: Precision,
) -> crate::Result<Quantized> {
    let qmax = precision
        .qmax()
        .ok_or_else(|| crate::NnError::Shape("f32 is not a quantized precision".to_string()))?;
    if w.len() != rows * cols {
        return Err(crate::NnError::Shape(format!(
            "{} weights for a {rows} x {cols} matrix",
            w.len()
        )));
    }
    if let Some(bad) = w.iter().find(|v| !v.is_finite()) {
        return Err(crate::NnError::Shape(format!(
            "cannot quantize a non-finite weight ({bad})"
        )));
    }
    let mut q = Vec::with_capacity(w.len());
    let mut scale = Vec::with_capacity(rows);
    for r in w.chunks_exact(cols.max(1)).take(rows) {
        let m = r.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let s = if m > 0.0 { m / qmax } else { 1.0 };
        scale.push(s);
        q.extend(
            r.iter()
                .map(|v| (v / s).round_ties_even().clamp(-qmax, qmax) as i8),
        );
    }
    Ok(Quantized {
        rows,
        cols,
        q,
        scale,
        precision,
    })
}

impl Quantized {
    /// The dequantized weights (`q * scale`).
    pub fn dequantize(&self) -> Vec<f32> {
        self.q
            .chunks_exact(self.cols.max(1))
            .zip(&self.scale)
            .flat_map(|(r, s)| r.iter().map(move |&v| f32::from(v) * s))
            .collect()
    }
}

/// `w` as the network computes with it at `precision`: quantized then dequantized per channel
/// (unchanged for `F32`).
pub fn fake_quantize(
    w: &[f32],
    rows: usize,
    cols: usize,
    precision: Precision,
) -> crate::Result<Vec<f32>> {
    match precision {
        Precision::F32 => Ok(w.to_vec()),
        p => Ok(quantize_per_channel(w, rows, cols, p)?.dequantize()),
    }
}

/// PyTorch's dynamic int8 weight quantization: per tensor, symmetric, scale `max|w| / 127.5`,
/// values clamped to `[-128, 127]`; returns the dequantized weights.
pub fn dynamic_int8_weights(w: &[f32]) -> Vec<f32> {
    let m = w.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    if m == 0.0 {
        return w.to_vec();
    }
    let s = m / 127.5;
    w.iter()
        .map(|v| (v / s).round_ties_even().clamp(-128.0, 127.0) * s)
        .collect()
}

/// PyTorch's dynamic activation quantization (`quint8`, `reduce_range`: values 0..=127): the
/// range `[min(x, 0), max(x, 0)]` mapped affinely, rounded half to even; returns the
/// dequantized values.
pub fn dynamic_uint8_activations(x: &[f32]) -> Vec<f32> {
    let lo = x.iter().fold(0.0f32, |a, &v| a.min(v));
    let hi = x.iter().fold(0.0f32, |a, &v| a.max(v));
    if hi == lo {
        return x.to_vec();
    }
    let qmax = 127.0f32;
    let s = (hi - lo) / qmax;
    let zp = (-lo / s).round_ties_even().clamp(0.0, qmax);
    x.iter()
        .map(|v| ((v / s).round_ties_even() + zp).clamp(0.0, qmax) - zp)
        .map(|q| q * s)
        .collect()
}

/// Storage of one weight tensor of `rows x cols` with `nonzero` non-zero weights at
/// `precision`: the smaller of dense and CSR layouts, plus one `f32` scale per row when
/// quantized.
pub fn weight_bytes(rows: usize, cols: usize, nonzero: usize, precision: Precision) -> usize {
    let bits = precision.bits();
    let dense = (rows * cols * bits).div_ceil(8);
    let index = if cols <= usize::from(u16::MAX) + 1 {
        2
    } else {
        4
    };
    let csr = (nonzero * bits).div_ceil(8) + nonzero * index + 4 * (rows + 1);
    let scales = if precision == Precision::F32 {
        0
    } else {
        4 * rows
    };
    dense.min(csr) + scales
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Expected values: `python3 scripts/check_quant_torch.py` (PyTorch 2.15).
    fn rounding_ranges_and_zeros() {
        // scales chosen exact in binary: row 0 -> 1, row 1 (zeros) -> 1, row 2 -> 2
        let w = [
            127.0, -0.5, 1.5, 0.0, //
            0.0, 0.0, 0.0, 0.0, //
            -254.0, 127.0, 0.0, 63.0,
        ];
        let q = quantize_per_channel(&w, 3, 4, Precision::Int8).unwrap();
        assert_eq!(q.scale, vec![1.0, 1.0, 2.0]);
        // halves round to even: -0.5 -> 0, 1.5 -> 2, 63.5 -> 64, 31.5 -> 32
        assert_eq!(&q.q[..4], &[127, 0, 2, 0]);
        assert_eq!(&q.q[4..8], &[0, 0, 0, 0]);
        assert_eq!(&q.q[8..], &[-127, 64, 0, 32]);
        let d = q.dequantize();
        for (i, (a, b)) in d.iter().zip(&w).enumerate() {
            // error at most half a step of the row's scale
            assert!((a - b).abs() <= q.scale[i / 4] / 2.0, "{a} {b}");
        }
        // pruned (zero) weights stay exactly zero
        assert_eq!(d[3], 0.0);
        assert_eq!(d[10], 0.0);
        let w4 = [-7.0, 3.5, 0.0, 2.5, 70.0, -100.0, 1.0, 0.0];
        let q4 = quantize_per_channel(&w4, 2, 4, Precision::Int4).unwrap();
        assert_eq!(&q4.q[..4], &[-7, 4, 0, 2]);
        assert!(q4.q.iter().all(|v| (-7..=7).contains(v)));
        assert_eq!(q4.q[5], -7);
        assert!(quantize_per_channel(&w, 3, 3, Precision::Int8).is_err());
        assert!(quantize_per_channel(&w, 3, 4, Precision::F32).is_err());
        assert!(quantize_per_channel(&[f32::NAN], 1, 1, Precision::Int8).is_err());
        assert_eq!(fake_quantize(&w, 3, 4, Precision::F32).unwrap(), w.to_vec());
        assert_eq!(fake_quantize(&w, 3, 4, Precision::Int8).unwrap(), d);
    }

    #[test]
    /// Expected values: `python3 scripts/check_quant_torch.py` (PyTorch 2.15).
    fn dynamic_int8_matches_pytorch_conventions() {
        // per-tensor weights: max 127.5 -> scale 1; 127.5 -> 128 (even) clamped to 127,
        // -127.5 -> -128, 0.5 -> 0, 1.5 -> 2
        let w = [127.5, -127.5, 0.5, 1.5, 0.0];
        assert_eq!(dynamic_int8_weights(&w), vec![127.0, -128.0, 0.0, 2.0, 0.0]);
        // activations in [0, 127]: step 1, zero point 0, 7 bits
        let x = [0.0, 0.5, 1.5, 127.0, 33.3];
        assert_eq!(
            dynamic_uint8_activations(&x),
            vec![0.0, 0.0, 2.0, 127.0, 33.0]
        );
        // a negative range gets a zero point; 0 is represented exactly
        let y = [-1.0, 0.0, 0.27];
        let b = dynamic_uint8_activations(&y);
        assert_eq!(b[1], 0.0);
        assert!(
            (b[0] + 1.0).abs() < 0.01 && (b[2] - 0.27).abs() < 0.01,
            "{b:?}"
        );
    }

    #[test]
    fn storage_accounting() {
        // LeNet fc1, 500 x 800, dense f32: 1.6 MB
        assert_eq!(weight_bytes(500, 800, 400_000, Precision::F32), 1_600_000);
        // int8 dense: 400,000 bytes + 500 scales
        assert_eq!(weight_bytes(500, 800, 400_000, Precision::Int8), 402_000);
        // int4 packs two per byte
        assert_eq!(weight_bytes(500, 800, 400_000, Precision::Int4), 202_000);
        assert_eq!(weight_bytes(1, 3, 3, Precision::Int4), 2 + 4);
        // 5% kept: CSR wins (values + u16 indices + row pointers)
        assert_eq!(
            weight_bytes(500, 800, 20_000, Precision::F32),
            20_000 * 4 + 20_000 * 2 + 4 * 501
        );
        assert_eq!(
            weight_bytes(500, 800, 20_000, Precision::Int8),
            20_000 + 20_000 * 2 + 4 * 501 + 4 * 500
        );
        // wide rows need u32 indices
        assert_eq!(
            weight_bytes(1, 70_000, 10, Precision::F32),
            10 * 4 + 10 * 4 + 8
        );
        // nothing kept: row pointers only
        assert_eq!(weight_bytes(10, 10, 0, Precision::F32), 44);
    }
}
