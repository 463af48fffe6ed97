//! The channel-blocked layout `[N][C/16][H][W][16]` (lanes past `C` hold zeros or values no
//! one reads): conversions from and to plain NCHW, and the pooling ops on it.

use super::simd::L;
use rayon::prelude::*;

/// Elements of a blocked `[n, c, h, w]` tensor.
pub(crate) fn len(shape: &[usize]) -> usize {
    let [n, c, h, w] = dims(shape);
    n * c.div_ceil(L) * h * w * L
}

fn dims(shape: &[usize]) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

/// Plain `[n, c, h, w]` to blocked, into `out` (of [`len`]).
pub(crate) fn to_blocked(x: &[f32], shape: &[usize], out: &mut [f32]) {
    let [n, c, h, w] = dims(shape);
    let cb = c.div_ceil(L);
    let hw = h * w;
    if hw == 0 {
        return;
    }
    out.par_chunks_mut(hw * L).enumerate().for_each(|(k, o)| {
        let (i, b) = (k / cb, k % cb);
        for lane in 0..L {
            let ch = b * L + lane;
            if ch >= c {
                for p in 0..hw {
                    o[p * L + lane] = 0.0;
                }
                continue;
            }
            let src = &x[(i * c + ch) * hw..(i * c + ch + 1) * hw];
            for (p, v) in src.iter().enumerate() {
                o[p * L + lane] = *v;
            }
        }
    });
    debug_assert_eq!(out.len(), n * cb * hw * L);
}

/// Blocked `[n, c, h, w]` to plain, into `out` (of `n * c * h * w`).
pub(crate) fn to_plain(x: &[f32], shape: &[usize], out: &mut [f32]) {
    let [_, c, h, w] = dims(shape);
    let cb = c.div_ceil(L);
    let hw = h * w;
    if hw == 0 || c == 0 {
        return;
    }
    out.par_chunks_mut(hw).enumerate().for_each(|(k, o)| {
        let (i, ch) = (k / c, k % c);
        let src = &x[(i * cb + ch / L) * hw * L..(i * cb + ch / L + 1) * hw * L];
        for (p, v) in o.iter_mut().enumerate() {
            *v = src[p * L + ch % L];
        }
    });
}

/// A pooling window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub k: [usize; 2],
    pub s: [usize; 2],
    /// Top and left padding.
    pub pad: [usize; 2],
    /// Average: count padded cells in the divisor.
    pub count_pad: bool,
    /// `[H + bottom, W + right]`: where the padded input ends (for `count_pad`).
    pub end: [usize; 2],
}

/// Max (`avg == false`) or average pooling of blocked `x` (`[n, c, h, w]`) into blocked `out`
/// (`[n, c, oh, ow]`). Windows with no cell inside the input give 0 (average) or -inf (max),
/// as the reference executor does.
pub(crate) fn pool(
    x: &[f32],
    shape: &[usize],
    out: &mut [f32],
    o: [usize; 2],
    wdw: Window,
    avg: bool,
) {
    let [_, _, h, w] = dims(shape);
    let [oh, ow] = o;
    if oh * ow == 0 {
        return;
    }
    out.par_chunks_mut(oh * ow * L)
        .enumerate()
        .for_each(|(k, dst)| {
            let src = &x[k * h * w * L..(k + 1) * h * w * L];
            for y in 0..oh {
                for xo in 0..ow {
                    let mut acc = [if avg { 0.0 } else { f32::NEG_INFINITY }; L];
                    let mut cells = 0usize;
                    let y0 = (y * wdw.s[0]) as isize - wdw.pad[0] as isize;
                    let x0 = (xo * wdw.s[1]) as isize - wdw.pad[1] as isize;
                    for ki in 0..wdw.k[0] {
                        let iy = y0 + ki as isize;
                        if iy < 0 || iy as usize >= h {
                            continue;
                        }
                        for kj in 0..wdw.k[1] {
                            let ix = x0 + kj as isize;
                            if ix < 0 || ix as usize >= w {
                                continue;
                            }
                            cells += 1;
                            let v = &src[(iy as usize * w + ix as usize) * L..][..L];
                            for l in 0..L {
                                acc[l] = if avg { acc[l] + v[l] } else { acc[l].max(v[l]) };
                            }
                        }
                    }
                    if avg {
                        // the reference executor's divisor: the window clipped to the padded
                        // input (ceil mode may overhang it), or the cells inside the input
                        let div = if wdw.count_pad {
                            let ye = (y0 + wdw.k[0] as isize).min(wdw.end[0] as isize);
                            let xe = (x0 + wdw.k[1] as isize).min(wdw.end[1] as isize);
                            ((ye - y0) * (xe - x0)).max(1) as f32
                        } else {
                            cells.max(1) as f32
                        };
                        acc.iter_mut().for_each(|a| *a /= div);
                    }
                    dst[(y * ow + xo) * L..][..L].copy_from_slice(&acc);
                }
            }
        });
}

/// Mean over each channel's pixels of blocked `x` (`[n, c, h, w]`), into plain `out`
/// (`[n, c]`).
pub(crate) fn global_mean(x: &[f32], shape: &[usize], out: &mut [f32]) {
    let [_, c, h, w] = dims(shape);
    let cb = c.div_ceil(L);
    let hw = h * w;
    if c == 0 {
        return;
    }
    out.par_chunks_mut(c).enumerate().for_each(|(i, o)| {
        for b in 0..cb {
            let mut acc = [0.0f32; L];
            let src = &x[(i * cb + b) * hw * L..(i * cb + b + 1) * hw * L];
            for px in src.chunks_exact(L) {
                for l in 0..L {
                    acc[l] += px[l];
                }
            }
            for l in 0..L.min(c - b * L) {
                o[b * L + l] = acc[l] / hw as f32;
            }
        }
    });
}

/// Zero padding of `planes` planes of `h x w` elements of `e` floats each (`e = 1`: plain
/// NCHW, `e = 16`: blocked), `[top, left, bottom, right]`, into `out` (of
/// `planes * (h + top + bottom) * (w + left + right) * e`; every element is written, borders
/// with zeros). The convolutions read padded copies so that every tap of every tile lies
/// inside the input: no bounds checks and no single-pixel border tiles in the kernels, for
/// one pass over the input.
pub(crate) fn pad(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    e: usize,
    p: [usize; 4],
    out: &mut [f32],
) {
    let (ph, pw) = (h + p[0] + p[2], w + p[1] + p[3]);
    if ph * pw * e == 0 {
        return;
    }
    out.par_chunks_mut(ph * pw * e)
        .enumerate()
        .take(planes)
        .for_each(|(k, o)| {
            o[..p[0] * pw * e].fill(0.0);
            o[(p[0] + h) * pw * e..].fill(0.0);
            for y in 0..h {
                let row = &mut o[(y + p[0]) * pw * e..(y + p[0] + 1) * pw * e];
                row[..p[1] * e].fill(0.0);
                row[(p[1] + w) * e..].fill(0.0);
                row[p[1] * e..(p[1] + w) * e].copy_from_slice(&x[(k * h + y) * w * e..][..w * e]);
            }
        });
}
