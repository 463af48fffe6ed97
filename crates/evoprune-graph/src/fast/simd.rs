//! Sixteen `f32` lanes, as one AVX-512 register or as a plain array, and the run-time choice
//! between them.
//!
//! The kernels in [`super::conv`] are written once, generic over [`Lanes`], and instantiated
//! twice: inside a `#[target_feature(enable = "avx512f")]` function on `__m512` (chosen at run
//! time when the CPU has AVX-512), and on `[f32; 16]` everywhere else (which LLVM vectorises;
//! inside a `#[target_feature(enable = "avx2,fma")]` function when the CPU has those, see
//! [`has_fma`]). Both do the same fused multiply-adds in the same order, so they
//! give the same bits. Hand-written rather than taken from a crate: the kernels need explicit
//! register tiles (up to 28 accumulators), and this is the thirty lines they need; `pulp` (the
//! `gemm` crate's SIMD layer) would also do, at the price of its whole abstraction.
#![allow(unsafe_code)]

/// Lanes per vector: the channel block of the blocked layout.
pub(crate) const L: usize = 16;

/// Sixteen `f32` lanes.
pub(crate) trait Lanes: Copy {
    /// Load 16 values from `p`.
    ///
    /// # Safety
    /// `p..p + 16` must be readable.
    unsafe fn load(p: *const f32) -> Self;
    /// Store to `p`.
    ///
    /// # Safety
    /// `p..p + 16` must be writable and not aliased.
    unsafe fn store(self, p: *mut f32);
    /// Every lane `v`.
    fn splat(v: f32) -> Self;
    /// `self * b + c`, fused.
    fn fma(self, b: Self, c: Self) -> Self;
    /// `self + b`.
    fn add(self, b: Self) -> Self;
    /// Lane-wise maximum (`b` where `self` is NaN, like [`f32::max`]).
    fn max(self, b: Self) -> Self;
    /// Lane-wise minimum (`b` where `self` is NaN, like [`f32::min`]).
    fn min(self, b: Self) -> Self;
}

impl Lanes for [f32; L] {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 16 readable values
        unsafe { std::ptr::read_unaligned(p as *const [f32; L]) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable values
        unsafe { std::ptr::write_unaligned(p as *mut [f32; L], self) }
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        [v; L]
    }
    #[inline(always)]
    fn fma(self, b: Self, c: Self) -> Self {
        std::array::from_fn(|i| self[i].mul_add(b[i], c[i]))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        std::array::from_fn(|i| self[i] + b[i])
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        std::array::from_fn(|i| self[i].max(b[i]))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        std::array::from_fn(|i| self[i].min(b[i]))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{L, Lanes};
    use std::arch::x86_64::*;

    // These are only ever inlined into functions compiled with `avx512f` enabled (the
    // `#[target_feature]` entry points of `conv`), which are only called after
    // `is_x86_feature_detected!("avx512f")`.
    impl Lanes for __m512 {
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: 16 readable values (caller); AVX-512 present (module comment)
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: 16 writable values (caller); AVX-512 present (module comment)
            unsafe { _mm512_storeu_ps(p, self) }
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            // SAFETY: AVX-512 present (module comment)
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        fn fma(self, b: Self, c: Self) -> Self {
            // SAFETY: as above
            unsafe { _mm512_fmadd_ps(self, b, c) }
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            // SAFETY: as above
            unsafe { _mm512_add_ps(self, b) }
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            // vmaxps returns its second operand when either is NaN: a NaN in `self` gives `b`,
            // like f32::max (the bounds `b` are never NaN here)
            // SAFETY: as above
            unsafe { _mm512_max_ps(self, b) }
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            // SAFETY: as above
            unsafe { _mm512_min_ps(self, b) }
        }
    }

    const _: () = assert!(std::mem::size_of::<__m512>() == L * 4);
}

/// Whether the CPU has AVX2 and FMA (every x86-64 CPU since 2013-2015 without AVX-512 among
/// them). The `[f32; 16]` instantiations then run inside `#[target_feature(enable =
/// "avx2,fma")]` functions: compiled for the baseline x86-64 target, each `f32::mul_add` is a
/// call to the software `fmaf` (40% of a ResNet-56 training step's time went to those calls,
/// and 58% with the calls' own overhead). The same fused operations in the same order: the same
/// bits. `EVOPRUNE_NO_FMA` set: never (to compare).
pub(crate) fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FMA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FMA.get_or_init(|| {
            std::env::var_os("EVOPRUNE_NO_FMA").is_none()
                && std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the AVX-512 instantiation may run on this CPU.
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX512.get_or_init(|| {
            std::env::var_os("EVOPRUNE_NO_AVX512").is_none()
                && std::is_x86_feature_detected!("avx512f")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
