//! `C = A Bᵀ` for short, wide operands: the weight gradient of a convolution, `dW[o][t] =
//! Σ_p dY[o][p] · cols[t][p]` over the pixels `p` of a chunk of images.
//!
//! Why not the `gemm` crate: here both operands are a few dozen to a few hundred rows of
//! thousands of pixels and the product is small, so `gemm` spends most of its time packing
//! the operands (measured: packing 16% and the microkernel 7% of a ResNet-56 training step).
//! This kernel reads both in place, row by row, keeping a 4 x 6 tile of sixteen-lane partial
//! sums in registers (24 accumulators, 10 loads per 24 fused multiply-adds).
//!
//! Each output is summed in one fixed order (lane-wise over the row, then the sixteen lanes
//! in order, then the tail), whatever the tile or thread it falls in, on AVX-512 and on the
//! portable lanes alike: the same bits everywhere.
#![allow(unsafe_code)]

use super::simd::{L, Lanes, has_avx512, has_fma};
use rayon::prelude::*;

const TA: usize = 4;
const TB: usize = 6;

/// `c[i * rb + j] = (accumulate ? c[i * rb + j] : 0) + Σ_p a[i * len + p] · b[j * len + p]`
/// for `i < ra`, `j < rb`; rows of `TA` outputs in parallel when `parallel`.
///
/// # Panics
/// When a slice is shorter than its shape (checked before any unsafe access).
#[allow(clippy::too_many_arguments)]
pub(crate) fn abt(
    a: &[f32],
    ra: usize,
    b: &[f32],
    rb: usize,
    len: usize,
    c: &mut [f32],
    accumulate: bool,
    parallel: bool,
) {
    assert!(
        a.len() >= ra * len && b.len() >= rb * len && c.len() >= ra * rb,
        "abt: operands shorter than their shapes"
    );
    if ra == 0 || rb == 0 {
        return;
    }
    let avx = has_avx512();
    let block = |(ib, cb): (usize, &mut [f32])| {
        // SAFETY: rows `ib * TA..` of `a` (at most `ra`) and every row of `b` are inside the
        // slices (asserted above); `cb` holds this block's rows of `c`
        unsafe { rows(avx, a, ib * TA, b, rb, len, cb, accumulate) }
    };
    let c = &mut c[..ra * rb];
    if parallel {
        c.par_chunks_mut(TA * rb).enumerate().for_each(block);
    } else {
        c.chunks_mut(TA * rb).enumerate().for_each(block);
    }
}

/// Rows `i0..i0 + cb.len() / rb` of `c`.
///
/// # Safety
/// `a` holds those rows of `len` values; `b` holds `rb` rows; `avx` only where the CPU has
/// AVX-512.
#[allow(clippy::too_many_arguments)]
unsafe fn rows(
    avx: bool,
    a: &[f32],
    i0: usize,
    b: &[f32],
    rb: usize,
    len: usize,
    cb: &mut [f32],
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if avx {
        // SAFETY: forwarded; AVX-512 present (caller)
        unsafe { rows_avx512(a, i0, b, rb, len, cb, accumulate) };
        return;
    }
    let _ = avx;
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: forwarded; AVX2 and FMA present
        unsafe { rows_fma(a, i0, b, rb, len, cb, accumulate) };
        return;
    }
    // SAFETY: forwarded
    unsafe { rows_on::<[f32; L], TA, TB>(a, i0, b, rb, len, cb, accumulate) }
}

/// The portable kernel compiled with AVX2 and FMA (see [`has_fma`]), in 2 x 3 tiles (12 of
/// AVX2's 16 registers hold the accumulators; 4 x 6 would spill).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn rows_fma(
    a: &[f32],
    i0: usize,
    b: &[f32],
    rb: usize,
    len: usize,
    cb: &mut [f32],
    accumulate: bool,
) {
    for (k, part) in cb.chunks_mut(2 * rb).enumerate() {
        // SAFETY: forwarded, two rows at a time
        unsafe { rows_on::<[f32; L], 2, 3>(a, i0 + 2 * k, b, rb, len, part, accumulate) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn rows_avx512(
    a: &[f32],
    i0: usize,
    b: &[f32],
    rb: usize,
    len: usize,
    cb: &mut [f32],
    accumulate: bool,
) {
    // SAFETY: forwarded
    unsafe { rows_on::<std::arch::x86_64::__m512, TA, TB>(a, i0, b, rb, len, cb, accumulate) }
}

#[inline(always)]
unsafe fn rows_on<V: Lanes, const TA: usize, const TB: usize>(
    a: &[f32],
    i0: usize,
    b: &[f32],
    rb: usize,
    len: usize,
    cb: &mut [f32],
    accumulate: bool,
) {
    let na = cb.len() / rb;
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut j0 = 0;
    while j0 < rb {
        let nb = (rb - j0).min(TB);
        if na == TA && nb == TB {
            // SAFETY: rows i0..i0+TA of a and j0..j0+TB of b exist (caller)
            let t = unsafe { tile::<V, TA, TB>(ap, bp, i0, j0, len) };
            store(cb, rb, j0, &t, accumulate);
        } else {
            for i in 0..na {
                for j in j0..j0 + nb {
                    // SAFETY: as above, one row each
                    let t = unsafe { tile::<V, 1, 1>(ap, bp, i0 + i, j, len) };
                    let v = &mut cb[i * rb + j];
                    *v = if accumulate { *v + t[0][0] } else { t[0][0] };
                }
            }
        }
        j0 += nb;
    }
}

fn store<const A: usize, const B: usize>(
    cb: &mut [f32],
    rb: usize,
    j0: usize,
    t: &[[f32; B]; A],
    accumulate: bool,
) {
    for (i, row) in t.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = &mut cb[i * rb + j0 + j];
            *c = if accumulate { *c + v } else { *v };
        }
    }
}

/// The `A x B` dot products of rows `i0..` of `a` with rows `j0..` of `b`.
///
/// # Safety
/// Those rows, `len` values each, must be readable.
#[inline(always)]
unsafe fn tile<V: Lanes, const A: usize, const B: usize>(
    a: *const f32,
    b: *const f32,
    i0: usize,
    j0: usize,
    len: usize,
) -> [[f32; B]; A] {
    let mut acc = [[V::splat(0.0); B]; A];
    let full = len / L * L;
    let mut p = 0;
    while p < full {
        // SAFETY: p + L <= len within each row (caller)
        let bv: [V; B] = std::array::from_fn(|j| unsafe { V::load(b.add((j0 + j) * len + p)) });
        for (i, acc) in acc.iter_mut().enumerate() {
            // SAFETY: as above
            let av = unsafe { V::load(a.add((i0 + i) * len + p)) };
            for j in 0..B {
                acc[j] = av.fma(bv[j], acc[j]);
            }
        }
        p += L;
    }
    let mut out = [[0.0f32; B]; A];
    for i in 0..A {
        for j in 0..B {
            let mut lanes = [0.0f32; L];
            // SAFETY: `lanes` holds L values
            unsafe { acc[i][j].store(lanes.as_mut_ptr()) };
            let mut s = 0.0f32;
            for v in lanes {
                s += v;
            }
            for q in full..len {
                // SAFETY: q < len within each row (caller)
                s = unsafe { (*a.add((i0 + i) * len + q)).mul_add(*b.add((j0 + j) * len + q), s) };
            }
            out[i][j] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_product_and_is_the_same_on_every_path() {
        for (ra, rb, len) in [
            (16, 144, 2048),
            (5, 7, 37),
            (4, 6, 16),
            (1, 1, 3),
            (9, 13, 100),
        ] {
            let a: Vec<f32> = (0..ra * len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let b: Vec<f32> = (0..rb * len)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
                .collect();
            let mut c = vec![0.5f32; ra * rb];
            abt(&a, ra, &b, rb, len, &mut c, false, false);
            for i in 0..ra {
                for j in 0..rb {
                    let want: f64 = (0..len)
                        .map(|p| a[i * len + p] as f64 * b[j * len + p] as f64)
                        .sum();
                    let got = c[i * rb + j] as f64;
                    assert!(
                        (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                        "{i} {j}: {got} vs {want}"
                    );
                }
            }
            let mut par = vec![0.0f32; ra * rb];
            abt(&a, ra, &b, rb, len, &mut par, false, true);
            assert_eq!(par, c);
            let mut acc = c.clone();
            abt(&a, ra, &b, rb, len, &mut acc, true, false);
            for (x, y) in acc.iter().zip(&c) {
                assert_eq!(*x, y + y);
            }
            // the portable lanes give the AVX-512 bits
            let mut portable = vec![0.0f32; ra * rb];
            for (ib, cb) in portable.chunks_mut(TA * rb).enumerate() {
                unsafe { rows(false, &a, ib * TA, &b, rb, len, cb, false) };
            }
            assert_eq!(portable, c);
        }
    }
}
