//! Direct convolution kernels on the channel-blocked layout.
//!
//! Outputs are written blocked: `[N][C/16][H][W][16]`, sixteen channels innermost, so one
//! vector holds one pixel's sixteen channels whatever the image size (ResNet's 8x8 maps fill
//! the vectors as well as 224x224 ones do; oneDNN and onnxruntime's NCHWc kernels use the
//! same layout on AVX-512 for the same reason). A dense convolution keeps a tile of up to 14
//! output pixels of one row times one or two channel blocks in registers (28 accumulators) and
//! runs over input channels and taps: one broadcast input value feeds two fused multiply-adds.
//! No im2col buffer is written, and bias, residual add and ReLU/Clip are applied as the tile
//! is stored. The input may be plain NCHW (the network's input) or blocked: the kernel reads
//! it through [`Strides`]. Depthwise convolutions run on blocked inputs, a vector of sixteen
//! channels per pixel.
//!
//! Work is split into (image, channel blocks, output row) units run in parallel on the caller's
//! rayon pool; each output is computed by one unit in a fixed order, so results are the same
//! bits on 1 or N threads.
#![allow(unsafe_code)]

use super::simd::{L, Lanes, has_avx512, has_fma};
use rayon::prelude::*;

/// Output pixels per register tile.
const TILE: usize = 14;
/// Pixels per tile of the narrow kernels ([`Arch::WIDE`]).
const NARROW_TILE: usize = 6;

/// See [`Conv::flat`].
const FLAT_MIN_ROWS: usize = 16;

/// Where element (channel `c`, row `y`, column `x`) of one image lies:
/// `c / 16 * cb + c % 16 * lane + y * row + x * px`, images `img` apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strides {
    cb: usize,
    lane: usize,
    row: usize,
    px: usize,
    pub(crate) img: usize,
}

impl Strides {
    /// Plain NCHW.
    pub(crate) fn plain(c: usize, h: usize, w: usize) -> Self {
        Strides {
            cb: L * h * w,
            lane: h * w,
            row: w,
            px: 1,
            img: c * h * w,
        }
    }

    /// Blocked `[C/16][H][W][16]`.
    pub(crate) fn blocked(c: usize, h: usize, w: usize) -> Self {
        Strides {
            cb: h * w * L,
            lane: 1,
            row: w * L,
            px: L,
            img: c.div_ceil(L) * h * w * L,
        }
    }

    /// One past the largest offset of a `c x h x w` image.
    fn extent(&self, c: usize, h: usize, w: usize) -> usize {
        if c == 0 || h == 0 || w == 0 {
            return 0;
        }
        (c - 1) / L * self.cb + (c - 1) % L * self.lane + (h - 1) * self.row + (w - 1) * self.px + 1
    }
}

/// A convolution's geometry (one group).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Geom {
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub oh: usize,
    pub ow: usize,
    pub k: [usize; 2],
    pub s: [usize; 2],
    pub d: [usize; 2],
}

impl Geom {
    /// Whether every tap of every output lies inside the (already padded) input.
    fn valid(&self) -> bool {
        let reach = |o: usize, s: usize, k: usize, d: usize| (o.max(1) - 1) * s + (k - 1) * d;
        self.k[0] >= 1
            && self.k[1] >= 1
            && (self.oh == 0 || reach(self.oh, self.s[0], self.k[0], self.d[0]) < self.h)
            && (self.ow == 0 || reach(self.ow, self.s[1], self.k[1], self.d[1]) < self.w)
    }
}

/// The activation applied as a tile is stored: `max(v, lo)` then `min(v, hi)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Act {
    pub lo: Option<f32>,
    pub hi: Option<f32>,
}

#[inline(always)]
fn finish<V: Lanes>(mut v: V, bias: V, res: Option<*const f32>, act: Act) -> V {
    v = v.add(bias);
    if let Some(r) = res {
        // SAFETY: the caller passes a residual pointer with 16 readable values
        v = v.add(unsafe { V::load(r) });
    }
    if let Some(lo) = act.lo {
        v = v.max(V::splat(lo));
    }
    if let Some(hi) = act.hi {
        v = v.min(V::splat(hi));
    }
    v
}

/// A dense (one group) convolution with its weights packed `[Cout/16][Cin][kh][kw][16]`.
#[derive(Clone, Debug)]
pub(crate) struct Conv {
    g: Geom,
    w: Vec<f32>,
    bias: Vec<f32>,
    cob: usize,
}

/// Everything one output row of one image needs, as raw pointers (the kernels' inner loops
/// must not bounds-check).
#[derive(Clone, Copy)]
struct RowArgs {
    x: *const f32,
    xs: Strides,
    w: *const f32,
    wstride: usize,
    bias: *const f32,
    res: Option<*const f32>,
    out: *mut f32,
    ostride: usize,
    y: usize,
    act: Act,
    /// Top and left padding the kernel applies itself (depthwise; dense inputs come padded).
    pad: [usize; 2],
}

impl Conv {
    /// Packs `weight` (`[cout, cin, kh, kw]`) and `bias` (`cout`).
    pub(crate) fn new(g: Geom, weight: &[f32], bias: Option<&[f32]>) -> Conv {
        let [kh, kw] = g.k;
        let taps = g.cin * kh * kw;
        assert_eq!(weight.len(), g.cout * taps, "conv weight size");
        let cob = g.cout.div_ceil(L);
        let mut w = vec![0.0; cob * taps * L];
        w.par_chunks_mut(taps * L).enumerate().for_each(|(ob, wb)| {
            for lane in 0..L.min(g.cout - ob * L) {
                let src = &weight[(ob * L + lane) * taps..(ob * L + lane + 1) * taps];
                for (t, v) in src.iter().enumerate() {
                    wb[t * L + lane] = *v;
                }
            }
        });
        let mut b = vec![0.0; cob * L];
        if let Some(bias) = bias {
            b[..g.cout].copy_from_slice(&bias[..g.cout]);
        }
        Conv { g, w, bias: b, cob }
    }

    /// The convolution whose weights are `weight` (`[g.cin, g.cout, kh, kw]`, a forward
    /// convolution's from `g.cout` to `g.cin` channels) with input and output channels swapped
    /// and the taps flipped: the input gradient of that forward convolution, packed in one
    /// pass.
    pub(crate) fn new_flipped(g: Geom, weight: &[f32]) -> Conv {
        let [kh, kw] = g.k;
        let taps = g.cin * kh * kw;
        assert_eq!(weight.len(), g.cout * taps, "conv weight size");
        let cob = g.cout.div_ceil(L);
        let mut w = vec![0.0; cob * taps * L];
        w.par_chunks_mut(taps * L).enumerate().for_each(|(ob, wb)| {
            for lane in 0..L.min(g.cout - ob * L) {
                let o = ob * L + lane;
                for i in 0..g.cin {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            wb[((i * kh + ky) * kw + kx) * L + lane] =
                                weight[((i * g.cout + o) * kh + kh - 1 - ky) * kw + kw - 1 - kx];
                        }
                    }
                }
            }
        });
        Conv {
            g,
            w,
            bias: vec![0.0; cob * L],
            cob,
        }
    }

    /// Output elements per image (blocked).
    pub(crate) fn out_len(&self) -> usize {
        self.cob * self.g.oh * self.g.ow * L
    }

    /// Runs on `n` images of `x` laid out as `xs`, adding the blocked `res` (if any) and
    /// applying `act`, into the blocked `out`.
    ///
    /// # Panics
    /// When a buffer is too short for its layout (checked before any unsafe access).
    pub(crate) fn run(
        &self,
        x: &[f32],
        xs: Strides,
        n: usize,
        res: Option<&[f32]>,
        act: Act,
        out: &mut [f32],
    ) {
        self.run_on(has_avx512(), x, xs, n, res, act, out)
    }

    /// [`Conv::run`] on the AVX-512 kernels (`avx`, which the CPU must have) or the portable
    /// ones.
    #[allow(clippy::too_many_arguments)]
    fn run_on(
        &self,
        avx: bool,
        x: &[f32],
        xs: Strides,
        n: usize,
        res: Option<&[f32]>,
        act: Act,
        out: &mut [f32],
    ) {
        self.run_geom(&self.g, avx, x, xs, n, res, act, out)
    }

    /// Whether [`Conv::run_flat`] runs this convolution on `n` images laid out as `xs`: a 1x1,
    /// stride-1 convolution (any padding already in the input's copy) on a blocked input whose rows are too short for
    /// full tiles (at most 7 pixels: there a tile holds four channel blocks of one short row,
    /// and each weight vector it loads, from L2 on wide layers, feeds only a few pixels'
    /// multiply-adds), with pixels enough for [`FLAT_MIN_ROWS`] full rows of the flattened map
    /// (fewer, at batch 1, measured slower: a few rows, some of them padding).
    pub(crate) fn flat(&self, xs: Strides, n: usize) -> bool {
        let g = &self.g;
        g.k == [1, 1]
            && g.s == [1, 1]
            && (g.oh, g.ow) == (g.h, g.w)
            && g.ow <= 7
            && xs.px == L
            && xs.row == g.w * L
            && xs.cb == g.h * g.w * L
            && xs.img == g.cin.div_ceil(L) * xs.cb
            && n * g.h * g.w >= FLAT_MIN_ROWS * TILE
    }

    /// The scratch lengths [`Conv::run_flat`] needs for `n` images: the gathered input and
    /// the flat output.
    pub(crate) fn flat_scratch(&self, n: usize) -> (usize, usize) {
        let rows = (n * self.g.h * self.g.w).div_ceil(TILE);
        (
            self.g.cin.div_ceil(L) * rows * TILE * L,
            self.cob * rows * TILE * L,
        )
    }

    /// [`Conv::run`] for a [`Conv::flat`] convolution: the pixels of all `n` images gathered
    /// into one map of rows of [`TILE`] pixels (`[Cin/16][pixels][16]`, the last row
    /// zero-filled), the kernel run on it with full tiles of two channel blocks, and the
    /// result scattered back to the blocked `[N][Cout/16][H][W][16]` with the residual and
    /// activation. Each output is the same sum in the same order as [`Conv::run`]'s, so the
    /// bits are the same.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_flat(
        &self,
        x: &[f32],
        n: usize,
        res: Option<&[f32]>,
        act: Act,
        out: &mut [f32],
        xin: &mut [f32],
        yout: &mut [f32],
    ) {
        self.run_flat_on(has_avx512(), x, n, res, act, out, xin, yout)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_flat_on(
        &self,
        avx: bool,
        x: &[f32],
        n: usize,
        res: Option<&[f32]>,
        act: Act,
        out: &mut [f32],
        xin: &mut [f32],
        yout: &mut [f32],
    ) {
        let g = &self.g;
        let hw = g.h * g.w;
        let (cib, per) = (g.cin.div_ceil(L), self.out_len());
        let rows = (n * hw).div_ceil(TILE);
        let (xlen, ylen) = self.flat_scratch(n);
        assert!(
            self.flat(Strides::blocked(g.cin, g.h, g.w), n),
            "not a flattenable 1x1 convolution"
        );
        assert!(
            !avx || has_avx512(),
            "AVX-512 kernels on a CPU without AVX-512"
        );
        assert!(x.len() >= n * cib * hw * L, "conv input too short");
        assert!(out.len() >= n * per, "conv output too short");
        assert!(res.is_none_or(|r| r.len() >= n * per), "residual too short");
        assert!(xin.len() >= xlen && yout.len() >= ylen, "scratch too short");
        // gather: channel block b of image i -> pixels i*hw.. of block b
        let plane = rows * TILE * L;
        xin[..xlen]
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(b, dst)| {
                for i in 0..n {
                    let src = &x[(i * cib + b) * hw * L..][..hw * L];
                    dst[i * hw * L..][..hw * L].copy_from_slice(src);
                }
                dst[n * hw * L..].fill(0.0);
            });
        let fg = Geom {
            h: rows,
            w: TILE,
            oh: rows,
            ow: TILE,
            ..*g
        };
        let fs = Strides::blocked(g.cin, rows, TILE);
        self.run_geom(&fg, avx, xin, fs, 1, None, Act::default(), yout);
        // scatter, with the residual and activation the fused kernel would apply (on the
        // same instruction set: the bounds' ties between -0.0 and +0.0 resolve alike)
        let yout = &yout[..ylen];
        out[..n * per]
            .par_chunks_mut(hw * L)
            .with_min_len((4096 / (hw * L)).max(1))
            .enumerate()
            .for_each(|(u, dst)| {
                let (i, b) = (u / self.cob, u % self.cob);
                let src = &yout[b * plane + i * hw * L..][..hw * L];
                let r = res.map(|r| &r[u * hw * L..][..hw * L]);
                // SAFETY: `src`, `dst` and `r` all hold hw * L values; AVX-512 only when
                // `avx` (asserted on entry to be present)
                unsafe {
                    if avx {
                        #[cfg(target_arch = "x86_64")]
                        avx512_epilogue(src, r, dst, act);
                    } else {
                        epilogue::<[f32; L]>(src, r, dst, act);
                    }
                }
            });
    }

    /// [`Conv::run_on`] with the geometry `g` (this one's, or [`Conv::run_flat`]'s view of it).
    #[allow(clippy::too_many_arguments)]
    fn run_geom(
        &self,
        g: &Geom,
        avx: bool,
        x: &[f32],
        xs: Strides,
        n: usize,
        res: Option<&[f32]>,
        act: Act,
        out: &mut [f32],
    ) {
        let per = self.cob * g.oh * g.ow * L;
        assert!(g.valid(), "conv geometry reads outside its input");
        assert!(
            !avx || has_avx512(),
            "AVX-512 kernels on a CPU without AVX-512"
        );
        // the portable kernels, compiled for AVX2 and FMA where the CPU has them
        let fma = !avx && has_fma();
        assert!(
            n == 0 || x.len() >= (n - 1) * xs.img + xs.extent(g.cin, g.h, g.w),
            "conv input too short"
        );
        assert!(out.len() >= n * per, "conv output too short");
        assert!(res.is_none_or(|r| r.len() >= n * per), "residual too short");
        // channel blocks per unit: four on small maps (a row of at most 7 pixels gives too
        // few independent accumulators with two), else two
        let per_unit = if g.ow <= 7 && self.cob >= 4 { 4 } else { 2 };
        let groups = self.cob.div_ceil(per_unit);
        let units = n * groups * g.oh;
        let weight_major = per_unit * self.w.len() / self.cob > g.cin * g.h * g.w;
        let out_p = SendPtr(out.as_mut_ptr());
        let block = g.oh * g.ow * L;
        (0..units)
            .into_par_iter()
            .with_min_len(min_len(units, per_unit * g.ow * self.w.len() / self.cob))
            .for_each(|u| {
                // image-major (image, row, channel blocks): the input rows a row reads stay
                // in cache while every channel block reads them; weight-major (channel
                // blocks, image, row) when a group's weights outweigh an image (late layers
                // of VGG and ResNet-50): its weights then stay in cache across the batch
                let (i, y, grp) = if weight_major {
                    let (grp, rest) = (u / (n * g.oh), u % (n * g.oh));
                    (rest / g.oh, rest % g.oh, grp)
                } else {
                    let (i, rest) = (u / (groups * g.oh), u % (groups * g.oh));
                    (i, rest / groups, rest % groups)
                };
                let ocb = per_unit * grp;
                let nb = (self.cob - ocb).min(per_unit);
                let base = i * per + ocb * block;
                let a = RowArgs {
                    // SAFETY (all pointer offsets): image `i < n` starts inside `x` (asserted
                    // above), block `ocb < cob` inside the weights and bias, and the output
                    // offset is within `n * per`; the kernels stay within the extents checked
                    // above.
                    x: unsafe { x.as_ptr().add(i * xs.img) },
                    xs,
                    w: unsafe { self.w.as_ptr().add(ocb * self.w.len() / self.cob) },
                    wstride: self.w.len() / self.cob,
                    bias: unsafe { self.bias.as_ptr().add(ocb * L) },
                    res: res.map(|r| unsafe { r.as_ptr().add(base + y * g.ow * L) }),
                    out: unsafe { out_p.get().add(base + y * g.ow * L) },
                    ostride: block,
                    y,
                    act,
                    pad: [0, 0],
                };
                // SAFETY: units write disjoint rows of disjoint channel blocks of `out`
                unsafe {
                    if avx {
                        #[cfg(target_arch = "x86_64")]
                        dense_row::<Avx512>(g, a, nb);
                    } else if fma {
                        #[cfg(target_arch = "x86_64")]
                        dense_row::<Fma>(g, a, nb);
                    } else {
                        dense_row::<Portable>(g, a, nb);
                    }
                }
            });
    }
}

/// `dst = act(src + r)`, sixteen values at a time ([`Conv::run_flat`]'s scatter).
///
/// # Safety
/// `src`, `dst` and `r` have the same length, a multiple of 16.
#[inline(always)]
unsafe fn epilogue<V: Lanes>(src: &[f32], r: Option<&[f32]>, dst: &mut [f32], act: Act) {
    for o in (0..dst.len()).step_by(L) {
        // SAFETY: 16 values at `o` in each (caller)
        unsafe {
            let mut v = V::load(src.as_ptr().add(o));
            if let Some(r) = r {
                v = v.add(V::load(r.as_ptr().add(o)));
            }
            if let Some(lo) = act.lo {
                v = v.max(V::splat(lo));
            }
            if let Some(hi) = act.hi {
                v = v.min(V::splat(hi));
            }
            v.store(dst.as_mut_ptr().add(o));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_epilogue(src: &[f32], r: Option<&[f32]>, dst: &mut [f32], act: Act) {
    // SAFETY: forwarded
    unsafe { epilogue::<std::arch::x86_64::__m512>(src, r, dst, act) }
}

/// Units per rayon task: enough that a task does some 500k multiply-adds (tens of
/// microseconds: the scheduling cost is then negligible), but at least two tasks per thread
/// (small layers at batch 1, e.g. ResNet-50's 1x1 maps at 32 px, otherwise ran on one
/// thread). Which unit computes an output never changes, so neither do the results.
fn min_len(units: usize, macs_per_unit: usize) -> usize {
    let spread = units.div_ceil(2 * rayon::current_num_threads());
    (500_000 / macs_per_unit.max(1)).clamp(1, spread.max(1))
}

#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: the pointer is only used to write disjoint regions from different units
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// The tile kernels of one instruction set. Each tile shape is its own function (not inlined
/// into the row loop), so that LLVM allocates its registers alone: the accumulators stay in
/// vector registers and every input address is one base register plus a constant (`S`, the
/// distance in floats between neighbouring output pixels' inputs, is a constant for the
/// common layouts and strides; 0 means "read it at run time").
trait Arch {
    /// Register tiles of up to [`TILE`] pixels by two channel blocks (28 accumulators: AVX-512
    /// has 32 vector registers); `false`: one block by at most [`NARROW_TILE`] pixels (16 lanes
    /// are two of AVX2's 16 registers: 12 accumulators, 2 weights and a broadcast).
    const WIDE: bool = true;
    unsafe fn tile<const P: usize, const B: usize, const S: usize>(g: &Geom, a: RowArgs, ox: usize);
    unsafe fn dw_tile<const P: usize, const B: usize, const S: usize, const CHECK: bool>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    );
}

struct Portable;

impl Arch for Portable {
    #[inline(never)]
    unsafe fn tile<const P: usize, const B: usize, const S: usize>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    ) {
        // SAFETY: forwarded
        unsafe { dense_tile::<[f32; L], P, B, S>(g, a, ox) }
    }
    #[inline(never)]
    unsafe fn dw_tile<const P: usize, const B: usize, const S: usize, const CHECK: bool>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    ) {
        // SAFETY: forwarded
        unsafe { depthwise_tile::<[f32; L], P, B, S, CHECK>(g, a, ox) }
    }
}

/// [`Portable`]'s kernels compiled with AVX2 and FMA (see [`has_fma`]).
#[cfg(target_arch = "x86_64")]
struct Fma;

#[cfg(target_arch = "x86_64")]
impl Arch for Fma {
    const WIDE: bool = false;
    unsafe fn tile<const P: usize, const B: usize, const S: usize>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    ) {
        // SAFETY: only chosen when the CPU has AVX2 and FMA (`has_fma`)
        unsafe { fma_tile::<P, B, S>(g, a, ox) }
    }
    unsafe fn dw_tile<const P: usize, const B: usize, const S: usize, const CHECK: bool>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    ) {
        // SAFETY: as above
        unsafe { fma_dw_tile::<P, B, S, CHECK>(g, a, ox) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn fma_tile<const P: usize, const B: usize, const S: usize>(
    g: &Geom,
    a: RowArgs,
    ox: usize,
) {
    // SAFETY: forwarded
    unsafe { dense_tile::<[f32; L], P, B, S>(g, a, ox) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn fma_dw_tile<const P: usize, const B: usize, const S: usize, const CHECK: bool>(
    g: &Geom,
    a: RowArgs,
    ox: usize,
) {
    // SAFETY: forwarded
    unsafe { depthwise_tile::<[f32; L], P, B, S, CHECK>(g, a, ox) }
}

#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Arch for Avx512 {
    unsafe fn tile<const P: usize, const B: usize, const S: usize>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    ) {
        // SAFETY: only chosen when the CPU has AVX-512 (`has_avx512`)
        unsafe { avx512_tile::<P, B, S>(g, a, ox) }
    }
    unsafe fn dw_tile<const P: usize, const B: usize, const S: usize, const CHECK: bool>(
        g: &Geom,
        a: RowArgs,
        ox: usize,
    ) {
        // SAFETY: as above
        unsafe { avx512_dw_tile::<P, B, S, CHECK>(g, a, ox) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn avx512_tile<const P: usize, const B: usize, const S: usize>(
    g: &Geom,
    a: RowArgs,
    ox: usize,
) {
    // SAFETY: forwarded
    unsafe { dense_tile::<std::arch::x86_64::__m512, P, B, S>(g, a, ox) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn avx512_dw_tile<const P: usize, const B: usize, const S: usize, const CHECK: bool>(
    g: &Geom,
    a: RowArgs,
    ox: usize,
) {
    // SAFETY: forwarded
    unsafe { depthwise_tile::<std::arch::x86_64::__m512, P, B, S, CHECK>(g, a, ox) }
}

/// One output row, in register tiles.
unsafe fn dense_row<A: Arch>(g: &Geom, a: RowArgs, nb: usize) {
    macro_rules! by_p {
        ($a:ident, $b:literal, $s:literal, $ox:expr, $p:expr) => {
            match $p {
                1 => A::tile::<1, $b, $s>(g, $a, $ox),
                2 => A::tile::<2, $b, $s>(g, $a, $ox),
                3 => A::tile::<3, $b, $s>(g, $a, $ox),
                4 => A::tile::<4, $b, $s>(g, $a, $ox),
                5 => A::tile::<5, $b, $s>(g, $a, $ox),
                6 => A::tile::<6, $b, $s>(g, $a, $ox),
                7 => A::tile::<7, $b, $s>(g, $a, $ox),
                8 => A::tile::<8, $b, $s>(g, $a, $ox),
                9 => A::tile::<9, $b, $s>(g, $a, $ox),
                10 => A::tile::<10, $b, $s>(g, $a, $ox),
                11 => A::tile::<11, $b, $s>(g, $a, $ox),
                12 => A::tile::<12, $b, $s>(g, $a, $ox),
                13 => A::tile::<13, $b, $s>(g, $a, $ox),
                _ => A::tile::<14, $b, $s>(g, $a, $ox),
            }
        };
    }
    if !A::WIDE {
        // one channel block at a time, in tiles of at most NARROW_TILE pixels
        let step = const_step(g, a);
        for b in 0..nb {
            // SAFETY: block b < nb of this unit exists (caller)
            let ab = unsafe {
                RowArgs {
                    w: a.w.add(b * a.wstride),
                    bias: a.bias.add(b * L),
                    res: a.res.map(|r| r.add(b * a.ostride)),
                    out: a.out.add(b * a.ostride),
                    ..a
                }
            };
            let mut ox = 0;
            while ox < g.ow {
                let left = g.ow - ox;
                let p = left.div_ceil(left.div_ceil(NARROW_TILE));
                // SAFETY: columns ox..ox + p < ow, all taps inside the input (`Geom::valid`)
                unsafe {
                    match step {
                        16 => by_p!(ab, 1, 16, ox, p),
                        32 => by_p!(ab, 1, 32, ox, p),
                        1 => by_p!(ab, 1, 1, ox, p),
                        2 => by_p!(ab, 1, 2, ox, p),
                        _ => by_p!(ab, 1, 0, ox, p),
                    }
                }
                ox += p;
            }
        }
        return;
    }
    if nb > 2 {
        // four blocks at once (rows of at most 7 pixels), or two then one
        // SAFETY: blocks ocb..ocb + nb exist; the offsets below address blocks ocb + 2..
        unsafe {
            if nb == 4 {
                let p = g.ow;
                match const_step(g, a) {
                    16 => by_p4::<A, 16>(g, a, p),
                    32 => by_p4::<A, 32>(g, a, p),
                    1 => by_p4::<A, 1>(g, a, p),
                    2 => by_p4::<A, 2>(g, a, p),
                    _ => by_p4::<A, 0>(g, a, p),
                }
            } else {
                dense_row::<A>(g, a, 2);
                let b = RowArgs {
                    w: a.w.add(2 * a.wstride),
                    bias: a.bias.add(2 * L),
                    res: a.res.map(|r| r.add(2 * a.ostride)),
                    out: a.out.add(2 * a.ostride),
                    ..a
                };
                dense_row::<A>(g, b, 1);
            }
        }
        return;
    }
    let step = const_step(g, a);
    let mut ox = 0;
    while ox < g.ow {
        // even tiles: 30 columns as 10 + 10 + 10, not 14 + 14 + 2
        let left = g.ow - ox;
        let p = left.div_ceil(left.div_ceil(TILE));
        // SAFETY: columns ox..ox + p < ow, all taps inside the input (`Geom::valid`)
        unsafe {
            match (nb, step) {
                (2, 16) => by_p!(a, 2, 16, ox, p),
                (1, 16) => by_p!(a, 1, 16, ox, p),
                (2, 32) => by_p!(a, 2, 32, ox, p),
                (1, 32) => by_p!(a, 1, 32, ox, p),
                (2, 1) => by_p!(a, 2, 1, ox, p),
                (1, 1) => by_p!(a, 1, 1, ox, p),
                (2, 2) => by_p!(a, 2, 2, ox, p),
                (1, 2) => by_p!(a, 1, 2, ox, p),
                (2, _) => by_p!(a, 2, 0, ox, p),
                _ => by_p!(a, 1, 0, ox, p),
            }
        }
        ox += p;
    }
}

/// The `S` a tile is instantiated with: 16 or 32 for blocked inputs at width stride 1 or 2,
/// 1 or 2 for plain ones, else 0 (read at run time). The kernels take the input's pixel
/// distance from it (`S >= 16`: blocked), so a plain input at stride 16 must not map to 16.
fn const_step(g: &Geom, a: RowArgs) -> usize {
    match (a.xs.px, g.s[1]) {
        (L, 1) => L,
        (L, 2) => 2 * L,
        (1, 1) => 1,
        (1, 2) => 2,
        _ => 0,
    }
}

/// A whole row of `p <= 7` pixels for four channel blocks.
unsafe fn by_p4<A: Arch, const S: usize>(g: &Geom, a: RowArgs, p: usize) {
    // SAFETY: forwarded (see `dense_row`)
    unsafe {
        match p {
            1 => A::tile::<1, 4, S>(g, a, 0),
            2 => A::tile::<2, 4, S>(g, a, 0),
            3 => A::tile::<3, 4, S>(g, a, 0),
            4 => A::tile::<4, 4, S>(g, a, 0),
            5 => A::tile::<5, 4, S>(g, a, 0),
            6 => A::tile::<6, 4, S>(g, a, 0),
            _ => A::tile::<7, 4, S>(g, a, 0),
        }
    }
}

/// `P` output pixels from column `ox` for `B` channel blocks; neighbouring pixels' inputs are
/// `S` floats apart (0: read from the geometry).
#[inline(always)]
unsafe fn dense_tile<V: Lanes, const P: usize, const B: usize, const S: usize>(
    g: &Geom,
    a: RowArgs,
    ox: usize,
) {
    let [kh, kw] = g.k;
    let [sh, sw] = g.s;
    let [dh, dw] = g.d;
    let mut acc = [[V::splat(0.0); P]; B];
    let xs = a.xs;
    let step = if S == 0 { sw * xs.px } else { S };
    // SAFETY (all offsets): channel c < cin, row y * sh + ki * dh < h and columns
    // ox * sw + kj * dw + p * sw < w (`Geom::valid`), weights of block(s) ocb(+1)
    let x0 = unsafe { a.x.add(a.y * sh * xs.row + ox * sw * xs.px) };
    // one tap: B weight vectors, P broadcast inputs, P x B fused multiply-adds
    macro_rules! tap {
        ($xp:expr, $wt:expr) => {{
            let (xp, wt) = ($xp, $wt);
            let mut wv = [V::splat(0.0); B];
            for b in 0..B {
                wv[b] = unsafe { V::load(wt.add(b * a.wstride)) };
            }
            for p in 0..P {
                let v = V::splat(unsafe { *xp.add(p * step) });
                for b in 0..B {
                    acc[b][p] = v.fma(wv[b], acc[b][p]);
                }
            }
        }};
    }
    // 3-wide kernels with a constant pixel stride unroll their row of taps (constant offsets;
    // the loop's bookkeeping was a quarter of a 16-channel layer's time)
    let px = if S >= L { L } else { 1 };
    // (not with 28 accumulators: the unrolled taps then spill registers)
    let row3 = S != 0 && P * B <= 24 && kw == 3 && dw == 1;
    for c in 0..g.cin {
        let xc = unsafe { x0.add(c / L * xs.cb + c % L * xs.lane) };
        let wc = unsafe { a.w.add(c * kh * kw * L) };
        for ki in 0..kh {
            let xr = unsafe { xc.add(ki * dh * xs.row) };
            let wr = unsafe { wc.add(ki * kw * L) };
            if row3 {
                tap!(xr, wr);
                tap!(unsafe { xr.add(px) }, unsafe { wr.add(L) });
                tap!(unsafe { xr.add(2 * px) }, unsafe { wr.add(2 * L) });
            } else {
                for kj in 0..kw {
                    tap!(unsafe { xr.add(kj * dw * xs.px) }, unsafe {
                        wr.add(kj * L)
                    });
                }
            }
        }
    }
    for b in 0..B {
        let bias = unsafe { V::load(a.bias.add(b * L)) };
        for p in 0..P {
            let off = b * a.ostride + (ox + p) * L;
            let v = finish(acc[b][p], bias, a.res.map(|r| unsafe { r.add(off) }), a.act);
            // SAFETY: column ox + p < ow of block ocb + b of this row
            unsafe { v.store(a.out.add(off)) };
        }
    }
}

/// A depthwise convolution (one input channel per output channel) on blocked inputs, weights
/// packed `[C/16][kh][kw][16]`.
#[derive(Clone, Debug)]
pub(crate) struct Depthwise {
    g: Geom,
    /// Top and left padding, applied in the kernel (no padded copy of the input: depthwise
    /// convolutions are memory-bound, and the copy was a fifth of MobileNetV2's time).
    pad: [usize; 2],
    w: Vec<f32>,
    bias: Vec<f32>,
}

impl Depthwise {
    /// Packs `weight` (`[c, 1, kh, kw]`) and `bias` (`c`); `g` is the unpadded input's
    /// geometry, `pad` its top and left padding (the output size in `g` implies the rest).
    pub(crate) fn new(g: Geom, pad: [usize; 2], weight: &[f32], bias: Option<&[f32]>) -> Depthwise {
        let [kh, kw] = g.k;
        assert_eq!(weight.len(), g.cout * kh * kw, "depthwise weight size");
        let cb = g.cout.div_ceil(L);
        let mut w = vec![0.0; cb * kh * kw * L];
        for c in 0..g.cout {
            for t in 0..kh * kw {
                w[(c / L * kh * kw + t) * L + c % L] = weight[c * kh * kw + t];
            }
        }
        let mut b = vec![0.0; cb * L];
        if let Some(bias) = bias {
            b[..g.cout].copy_from_slice(&bias[..g.cout]);
        }
        Depthwise { g, pad, w, bias: b }
    }

    /// Output elements per image (blocked).
    pub(crate) fn out_len(&self) -> usize {
        self.g.cout.div_ceil(L) * self.g.oh * self.g.ow * L
    }

    /// Runs on `n` blocked images, adding `res` and applying `act`, into the blocked `out`.
    ///
    /// # Panics
    /// When a buffer is too short (checked before any unsafe access).
    pub(crate) fn run(&self, x: &[f32], n: usize, res: Option<&[f32]>, act: Act, out: &mut [f32]) {
        self.run_on(has_avx512(), x, n, res, act, out)
    }

    /// [`Depthwise::run`] on the AVX-512 kernels (`avx`) or the portable ones.
    fn run_on(
        &self,
        avx: bool,
        x: &[f32],
        n: usize,
        res: Option<&[f32]>,
        act: Act,
        out: &mut [f32],
    ) {
        let g = &self.g;
        assert!(
            !avx || has_avx512(),
            "AVX-512 kernels on a CPU without AVX-512"
        );
        let fma = !avx && has_fma();
        let xs = Strides::blocked(g.cin, g.h, g.w);
        let per = self.out_len();
        let cb = g.cout.div_ceil(L);
        assert!(x.len() >= n * xs.img, "depthwise input too short");
        assert!(out.len() >= n * per, "depthwise output too short");
        assert!(res.is_none_or(|r| r.len() >= n * per), "residual too short");
        // units: (image, DW_BLOCKS channel blocks, row)
        let groups = cb.div_ceil(DW_BLOCKS);
        let units = n * groups * g.oh;
        let out_p = SendPtr(out.as_mut_ptr());
        let [kh, kw] = g.k;
        (0..units)
            .into_par_iter()
            .with_min_len(min_len(units, DW_BLOCKS * g.ow * kh * kw * L))
            .for_each(|u| {
                let (i, rest) = (u / (groups * g.oh), u % (groups * g.oh));
                let (grp, y) = (rest / g.oh, rest % g.oh);
                let c = grp * DW_BLOCKS;
                let base = i * per + (c * g.oh + y) * g.ow * L;
                let a = RowArgs {
                    // SAFETY (all offsets): image i < n, block c < cb, row y < oh, as asserted
                    x: unsafe { x.as_ptr().add(i * xs.img + c * xs.cb) },
                    xs,
                    w: unsafe { self.w.as_ptr().add(c * kh * kw * L) },
                    wstride: kh * kw * L,
                    bias: unsafe { self.bias.as_ptr().add(c * L) },
                    res: res.map(|r| unsafe { r.as_ptr().add(base) }),
                    out: unsafe { out_p.get().add(base) },
                    ostride: g.oh * g.ow * L,
                    y,
                    act,
                    pad: self.pad,
                };
                let nb = (cb - c).min(DW_BLOCKS);
                // SAFETY: units write disjoint rows of disjoint channel blocks
                unsafe {
                    if avx {
                        #[cfg(target_arch = "x86_64")]
                        depthwise_row::<Avx512>(g, a, nb);
                    } else if fma {
                        #[cfg(target_arch = "x86_64")]
                        depthwise_row::<Fma>(g, a, nb);
                    } else {
                        depthwise_row::<Portable>(g, a, nb);
                    }
                }
            });
    }
}

/// Channel blocks per depthwise unit.
const DW_BLOCKS: usize = 4;

/// One output row of `nb <= DW_BLOCKS` channel blocks: interior columns (every tap inside
/// the input row) in tiles of 8 pixels of one block; the rest one pixel at a time for four
/// blocks at once (four independent accumulators: a lone one waits on its own multiply-adds,
/// and on small maps, 6x6 with 5x5 kernels, most columns are such), or one block at a time
/// when fewer remain.
unsafe fn depthwise_row<A: Arch>(g: &Geom, a: RowArgs, nb: usize) {
    // columns whose every tap lies inside the input row: lo..hi
    let [sw, dw, kw, pl] = [g.s[1], g.d[1], g.k[1], a.pad[1]];
    let lo = pl.div_ceil(sw).min(g.ow);
    let reach = (kw - 1) * dw;
    let hi = if g.w + pl > reach {
        ((g.w + pl - reach - 1) / sw + 1).min(g.ow)
    } else {
        0
    }
    .max(lo);
    // interior columns in 8-pixel tiles: lo..mid
    let mid = lo + (hi - lo) / 8 * 8;
    // SAFETY: blocks < nb of this unit exist; columns < ow; rows are checked in the tile,
    // columns outside lo..hi too
    unsafe {
        let block = |b: usize| RowArgs {
            x: a.x.add(b * a.xs.cb),
            w: a.w.add(b * a.wstride),
            bias: a.bias.add(b * L),
            res: a.res.map(|r| r.add(b * a.ostride)),
            out: a.out.add(b * a.ostride),
            ..a
        };
        for b in 0..nb {
            let a = block(b);
            let mut ox = lo;
            while ox < mid {
                match sw {
                    1 => A::dw_tile::<8, 1, 16, false>(g, a, ox),
                    2 => A::dw_tile::<8, 1, 32, false>(g, a, ox),
                    _ => A::dw_tile::<8, 1, 0, false>(g, a, ox),
                }
                ox += 8;
            }
        }
        for ox in (0..lo).chain(mid..g.ow) {
            let check = ox < lo || ox >= hi;
            if nb == DW_BLOCKS {
                if check {
                    A::dw_tile::<1, DW_BLOCKS, 0, true>(g, a, ox);
                } else {
                    A::dw_tile::<1, DW_BLOCKS, 0, false>(g, a, ox);
                }
            } else {
                for b in 0..nb {
                    if check {
                        A::dw_tile::<1, 1, 0, true>(g, block(b), ox);
                    } else {
                        A::dw_tile::<1, 1, 0, false>(g, block(b), ox);
                    }
                }
            }
        }
    }
}

/// `P` output pixels from column `ox` for `B` channel blocks (`a.xs.cb`, `a.wstride` and
/// `a.ostride` apart); `CHECK`: skip taps outside the input row (border columns). Taps outside
/// the input's rows are always skipped.
#[inline(always)]
unsafe fn depthwise_tile<
    V: Lanes,
    const P: usize,
    const B: usize,
    const S: usize,
    const CHECK: bool,
>(
    g: &Geom,
    a: RowArgs,
    ox: usize,
) {
    let [kh, kw] = g.k;
    let [sh, sw] = g.s;
    let [dh, dw] = g.d;
    let mut acc = [[V::splat(0.0); P]; B];
    let xs = a.xs;
    let iy0 = (a.y * sh) as isize - a.pad[0] as isize;
    let ix0 = (ox * sw) as isize - a.pad[1] as isize;
    let step = if S == 0 { sw * L } else { S };
    for ki in 0..kh {
        let iy = iy0 + (ki * dh) as isize;
        if iy < 0 || iy as usize >= g.h {
            continue;
        }
        // SAFETY: row iy of this channel block
        let xr = unsafe { a.x.add(iy as usize * xs.row) };
        for kj in 0..kw {
            let ix = ix0 + (kj * dw) as isize;
            if CHECK && (ix < 0 || ix as usize >= g.w) {
                continue;
            }
            for b in 0..B {
                // SAFETY: columns ix + p * sw (p < P) inside the row: checked, or interior;
                // blocks b < B of this unit
                let wv = unsafe { V::load(a.w.add(b * a.wstride + (ki * kw + kj) * L)) };
                let xp = unsafe { xr.add(b * xs.cb + ix as usize * L) };
                for p in 0..P {
                    let v = unsafe { V::load(xp.add(p * step)) };
                    acc[b][p] = v.fma(wv, acc[b][p]);
                }
            }
        }
    }
    for b in 0..B {
        let bias = unsafe { V::load(a.bias.add(b * L)) };
        for p in 0..P {
            let off = b * a.ostride + (ox + p) * L;
            let v = finish(acc[b][p], bias, a.res.map(|r| unsafe { r.add(off) }), a.act);
            // SAFETY: column ox + p < ow of block b
            unsafe { v.store(a.out.add(off)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, salt: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + salt * 104_729) % 2003) as f32 / 1001.0) - 1.0)
            .collect()
    }

    fn geom(cin: usize, cout: usize, hw: usize, k: usize, s: usize, d: usize) -> Geom {
        let o = (hw - (k - 1) * d - 1) / s + 1;
        Geom {
            cin,
            h: hw,
            w: hw,
            cout,
            oh: o,
            ow: o,
            k: [k, k],
            s: [s, s],
            d: [d, d],
        }
    }

    /// `x`'s element (image i, channel c, row y, column x) laid out as `xs`.
    fn at(x: &[f32], xs: Strides, i: usize, c: usize, y: usize, col: usize) -> f32 {
        x[i * xs.img + c / L * xs.cb + c % L * xs.lane + y * xs.row + col * xs.px]
    }

    /// A 1x1 convolution on short rows run flattened (all images' pixels as one map of full
    /// tiles) gives the bits of the row-by-row kernels, residual and activation included, on
    /// both instruction sets.
    #[test]
    fn flattened_pointwise_gives_the_row_kernels_bits() {
        for (cin, cout, hw, n) in [
            (40, 100, 6, 9),
            (192, 70, 3, 32),
            (17, 33, 7, 5),
            (16, 16, 1, 250),
        ] {
            let g = geom(cin, cout, hw, 1, 1, 1);
            let conv = Conv::new(g, &data(cout * cin, 1), Some(&data(cout, 2)));
            let xs = Strides::blocked(cin, hw, hw);
            assert!(conv.flat(xs, n), "{cin} {cout} {hw} {n}");
            assert!(!conv.flat(Strides::plain(cin, hw, hw), n));
            let x = data(n * xs.img, 3);
            let res = data(n * conv.out_len(), 4);
            let act = Act {
                lo: Some(-0.5),
                hi: Some(0.75),
            };
            let (xl, yl) = conv.flat_scratch(n);
            for avx in [false, true] {
                if avx && !has_avx512() {
                    continue;
                }
                for r in [None, Some(res.as_slice())] {
                    let mut want = vec![0.0; n * conv.out_len()];
                    conv.run_on(avx, &x, xs, n, r, act, &mut want);
                    // scratch full of NaN: the padding pixels must not leak into the result
                    let (mut xin, mut yout) = (vec![f32::NAN; xl], vec![f32::NAN; yl]);
                    let mut got = vec![f32::NAN; n * conv.out_len()];
                    conv.run_flat_on(avx, &x, n, r, act, &mut got, &mut xin, &mut yout);
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert!(
                        bits(&got) == bits(&want),
                        "{cin} {cout} {hw} {n} avx {avx} residual {}",
                        r.is_some()
                    );
                }
            }
        }
    }

    /// Depthwise convolutions with padding on small and odd maps (most columns are border
    /// columns there, computed four channel blocks at a time, or one when fewer remain) match
    /// a naive convolution, and the AVX-512 kernels give the portable ones' bits.
    #[test]
    fn padded_depthwise_matches_a_naive_convolution() {
        // (channels, map, kernel, stride, padding)
        for (c, hw, k, s, p) in [
            (100, 6, 5, 1, 2),
            (40, 3, 5, 1, 2),
            (64, 13, 3, 2, 1),
            (33, 24, 3, 1, 1),
            (80, 12, 5, 2, 2),
            (16, 1, 3, 1, 1),
        ] {
            let o = (hw + 2 * p - k) / s + 1;
            let g = Geom {
                cin: c,
                h: hw,
                w: hw,
                cout: c,
                oh: o,
                ow: o,
                k: [k, k],
                s: [s, s],
                d: [1, 1],
            };
            let (w, bias) = (data(c * k * k, 5), data(c, 6));
            let dw = Depthwise::new(g, [p, p], &w, Some(&bias));
            let xs = Strides::blocked(c, hw, hw);
            let x = data(2 * xs.img, 7);
            let res = data(2 * dw.out_len(), 8);
            let act = Act {
                lo: Some(-0.25),
                hi: None,
            };
            let mut b = vec![f32::NAN; 2 * dw.out_len()];
            dw.run_on(false, &x, 2, Some(&res), act, &mut b);
            let os = Strides::blocked(c, o, o);
            for i in 0..2 {
                for ch in 0..c {
                    for y in 0..o {
                        for col in 0..o {
                            let mut v = bias[ch];
                            for ki in 0..k {
                                for kj in 0..k {
                                    let (iy, ix) = (y * s + ki, col * s + kj);
                                    if iy < p || ix < p || iy - p >= hw || ix - p >= hw {
                                        continue;
                                    }
                                    v += w[(ch * k + ki) * k + kj]
                                        * at(&x, xs, i, ch, iy - p, ix - p);
                                }
                            }
                            let want = (v + at(&res, os, i, ch, y, col)).max(-0.25);
                            let got = at(&b, os, i, ch, y, col);
                            assert!(
                                (got - want).abs() < 1e-4,
                                "{c} {hw} {k} {s} {p}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
            if has_avx512() {
                let mut a = vec![0.0; 2 * dw.out_len()];
                dw.run_on(true, &x, 2, Some(&res), act, &mut a);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert!(bits(&a) == bits(&b), "depthwise {c} {hw} {k} {s} {p}");
            }
        }
    }

    /// The portable kernels match a naive convolution; where the CPU has AVX-512, those
    /// kernels give the portable ones' bits (same operations in the same order), for every
    /// tile shape, layout and stride the dispatch distinguishes.
    #[test]
    fn kernels_match_a_naive_convolution_and_each_other() {
        for (cin, cout, hw, k, s, d) in [
            (3, 16, 19, 3, 1, 1),
            (20, 40, 17, 3, 2, 1),
            (16, 33, 30, 1, 1, 1),
            (5, 7, 12, 5, 3, 2),
            // four blocks per unit on small rows (weight-major order), and four then three
            (8, 56, 9, 3, 2, 1),
            (6, 100, 7, 3, 1, 1),
            // width strides of 16 and 32 (a plain input's stride must not read as blocked)
            (1, 20, 35, 3, 16, 1),
            (2, 70, 67, 3, 32, 1),
        ] {
            let g = geom(cin, cout, hw, k, s, d);
            let (w, bias) = (data(cout * cin * k * k, 1), data(cout, 2));
            let conv = Conv::new(g, &w, Some(&bias));
            let act = Act {
                lo: Some(0.0),
                hi: Some(0.5),
            };
            for blocked in [false, true] {
                let xs = if blocked {
                    Strides::blocked(cin, hw, hw)
                } else {
                    Strides::plain(cin, hw, hw)
                };
                let x = data(2 * xs.img, 3);
                let res = data(2 * conv.out_len(), 4);
                let mut b = vec![1.0; 2 * conv.out_len()];
                conv.run_on(false, &x, xs, 2, Some(&res), act, &mut b);
                let os = Strides::blocked(cout, g.oh, g.ow);
                for i in 0..2 {
                    for o in 0..cout {
                        for y in 0..g.oh {
                            for col in 0..g.ow {
                                let mut v = 0.0f64;
                                for c in 0..cin {
                                    for ki in 0..k {
                                        for kj in 0..k {
                                            v += (w[((o * cin + c) * k + ki) * k + kj]
                                                * at(
                                                    &x,
                                                    xs,
                                                    i,
                                                    c,
                                                    y * s + ki * d,
                                                    col * s + kj * d,
                                                ))
                                                as f64;
                                        }
                                    }
                                }
                                let want = (v as f32 + bias[o] + at(&res, os, i, o, y, col))
                                    .clamp(0.0, 0.5);
                                let got = at(&b, os, i, o, y, col);
                                assert!(
                                    (got - want).abs() < 1e-4,
                                    "{cin} {cout} {hw} {k} {s} {d}: {got} vs {want}"
                                );
                            }
                        }
                    }
                }
                if has_avx512() {
                    let mut a = vec![0.0; 2 * conv.out_len()];
                    conv.run_on(true, &x, xs, 2, Some(&res), act, &mut a);
                    assert_eq!(a, b, "{cin} {cout} {hw} {k} {s} {d} blocked {blocked}");
                }
            }
            let dg = geom(cout, cout, hw, k, s, d);
            let dw = Depthwise::new(dg, [0, 0], &data(cout * k * k, 5), Some(&data(cout, 6)));
            let xs = Strides::blocked(cout, hw, hw);
            let x = data(2 * xs.img, 7);
            let mut b = vec![1.0; 2 * dw.out_len()];
            dw.run_on(false, &x, 2, None, Act::default(), &mut b);
            let (dwt, dbias) = (data(cout * k * k, 5), data(cout, 6));
            let os = Strides::blocked(cout, dg.oh, dg.ow);
            for i in 0..2 {
                for c in 0..cout {
                    for y in 0..dg.oh {
                        for col in 0..dg.ow {
                            let mut v = dbias[c];
                            for ki in 0..k {
                                for kj in 0..k {
                                    v += dwt[(c * k + ki) * k + kj]
                                        * at(&x, xs, i, c, y * s + ki * d, col * s + kj * d);
                                }
                            }
                            assert!((at(&b, os, i, c, y, col) - v).abs() < 1e-4);
                        }
                    }
                }
            }
            if has_avx512() {
                let mut a = vec![0.0; 2 * dw.out_len()];
                dw.run_on(true, &x, 2, None, Act::default(), &mut a);
                assert_eq!(a, b, "depthwise {cout} {hw} {k} {s} {d}");
            }
        }
    }
}
