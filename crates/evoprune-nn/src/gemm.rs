//! The one place that calls the `gemm` crate's raw-pointer API, behind a checked, safe wrapper.
#![allow(unsafe_code)]

/// A row-major matrix view: `rows x cols`, element `(i, j)` at `i * cols + j`, optionally read
/// transposed.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    /// The elements, row-major.
    pub data: &'a [f32],
    /// Stored rows.
    pub rows: usize,
    /// Stored columns.
    pub cols: usize,
    /// Use the transpose of the stored matrix.
    pub t: bool,
}

impl<'a> Mat<'a> {
    /// A view of `data` as `rows x cols`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            t: false,
        }
    }
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Mat { t: !self.t, ..self }
    }
    /// Logical shape.
    fn shape(&self) -> (usize, usize) {
        if self.t {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
    /// (row stride, column stride) of the logical matrix.
    fn strides(&self) -> (isize, isize) {
        if self.t {
            (1, self.cols as isize)
        } else {
            (self.cols as isize, 1)
        }
    }
}

/// `dst (m x n, row-major) = (accumulate ? dst : 0) + a (m x k) * b (k x n)`.
///
/// # Panics
/// On inconsistent shapes or slices too short for them (checked before any unsafe access).
pub fn matmul(dst: &mut [f32], m: usize, n: usize, a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    product(dst, m, n, a, b, accumulate, false, false)
}

/// [`matmul`] on rayon's threads. The `gemm` crate splits the output among threads and
/// never the inner dimension, so the result has the same bits as [`matmul`]'s.
pub fn matmul_par(dst: &mut [f32], m: usize, n: usize, a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    product(dst, m, n, a, b, accumulate, false, true)
}

/// [`matmul`] with `dst` column-major: element `(i, j)` at `j * m + i`. A convolution computes
/// `(pixels x k) * (k x out channels)` this way straight into its `[channels, pixels]` output:
/// the long pixel axis is the GEMM's `m`, which the AVX-512 kernels (64 rows) fill, where a
/// handful of output channels would leave them mostly idle.
pub fn matmul_cm(dst: &mut [f32], m: usize, n: usize, a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    product(dst, m, n, a, b, accumulate, true, false)
}

/// [`matmul_cm`], on rayon's threads when `parallel` (same bits either way, as
/// [`matmul_par`]).
pub fn matmul_cm_par(
    dst: &mut [f32],
    m: usize,
    n: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    parallel: bool,
) {
    product(dst, m, n, a, b, accumulate, true, parallel)
}

#[allow(clippy::too_many_arguments)]
fn product(
    dst: &mut [f32],
    m: usize,
    n: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    col_major: bool,
    parallel: bool,
) {
    let (am, ak) = a.shape();
    let (bk, bn) = b.shape();
    assert!(
        am == m && bn == n && ak == bk,
        "matmul shapes: dst {m}x{n}, a {am}x{ak}, b {bk}x{bn}"
    );
    assert!(
        a.data.len() >= a.rows * a.cols && b.data.len() >= b.rows * b.cols && dst.len() >= m * n,
        "matmul buffers too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if ak == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let (ars, acs) = a.strides();
    let (brs, bcs) = b.strides();
    // SAFETY: the asserts above guarantee every index the kernel touches, `i*rs + j*cs` for
    // `i < rows, j < cols` of each logical matrix, lies inside its slice; `dst` is exclusively
    // borrowed and does not alias `a` or `b` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            ak,
            dst.as_mut_ptr(),
            if col_major { m as isize } else { 1 },
            if col_major { 1 } else { n as isize },
            accumulate,
            a.data.as_ptr(),
            acs,
            ars,
            b.data.as_ptr(),
            bcs,
            brs,
            1.0,
            1.0,
            false,
            false,
            false,
            if parallel {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_in_every_transpose_combination() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, m, k, &b, n);
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect(); // k x m
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect(); // n x k
        for (av, bv) in [
            (Mat::new(&a, m, k), Mat::new(&b, k, n)),
            (Mat::new(&at, k, m).t(), Mat::new(&b, k, n)),
            (Mat::new(&a, m, k), Mat::new(&bt, n, k).t()),
            (Mat::new(&at, k, m).t(), Mat::new(&bt, n, k).t()),
        ] {
            let mut c = vec![1.0; m * n];
            matmul(&mut c, m, n, av, bv, false);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5);
            }
            matmul(&mut c, m, n, av, bv, true);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 1e-5);
            }
            // column-major destination: (i, j) at j * m + i
            let mut cm = vec![1.0; m * n];
            matmul_cm(&mut cm, m, n, av, bv, false);
            for i in 0..m {
                for j in 0..n {
                    assert!((cm[j * m + i] - want[i * n + j]).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "matmul shapes")]
    fn shape_mismatch_panics_before_touching_memory() {
        let a = [0.0; 6];
        let mut c = [0.0; 4];
        matmul(&mut c, 2, 2, Mat::new(&a, 2, 3), Mat::new(&a, 2, 3), false);
    }
}
