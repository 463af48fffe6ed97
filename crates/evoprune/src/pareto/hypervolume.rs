//! Exact hypervolume.
//!
//! Hand-written: no maintained Rust crate computes exact hypervolume in any dimension.
//! Algorithms: a sweep for 2 objectives (O(N log N)), a z-sweep over an incrementally
//! maintained 2-D staircase for 3 objectives (O(N²) worst case, O(N log N) typical), and WFG
//! (While, Bradstreet & Barone 2012, doi:10.1109/TEVC.2010.2077298) for 4 or more, slicing off
//! the last objective at each level so that the recursion bottoms out in the 3-objective sweep.

/// Exact hypervolume (minimisation) of the region dominated by `points` and bounded by
/// `reference`. Points that do not strictly dominate the reference point in every objective
/// contribute nothing; points of the wrong dimension are ignored.
pub fn hypervolume<P: AsRef<[f64]>>(points: &[P], reference: &[f64]) -> f64 {
    let m = reference.len();
    let pts: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| p.len() == m && p.iter().zip(reference).all(|(x, r)| x.is_finite() && x < r))
        .map(|p| p.to_vec())
        .collect();
    if pts.is_empty() || m == 0 {
        return 0.0;
    }
    hv(pts, reference)
}

fn hv(mut pts: Vec<Vec<f64>>, r: &[f64]) -> f64 {
    match r.len() {
        1 => r[0] - pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min),
        2 => hv2(&mut pts, r),
        3 => hv3(&mut pts, r),
        _ => wfg(pts, r),
    }
}

fn hv2(pts: &mut [Vec<f64>], r: &[f64]) -> f64 {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let mut area = 0.0;
    let mut bound = r[1];
    for p in pts.iter() {
        if p[1] < bound {
            area += (r[0] - p[0]) * (bound - p[1]);
            bound = p[1];
        }
    }
    area
}

/// 2-D staircase of mutually non-dominated points, sorted by x ascending (so y descending),
/// with its dominated area up to the reference point maintained on insertion.
struct Staircase {
    pts: Vec<(f64, f64)>,
    area: f64,
    rx: f64,
    ry: f64,
}

impl Staircase {
    fn insert(&mut self, x: f64, y: f64) {
        let start = self.pts.partition_point(|s| s.0 < x);
        // predecessor: the last point with s.x < x has the lowest y of all points left of x
        let mut bound = if start > 0 {
            self.pts[start - 1].1
        } else {
            self.ry
        };
        if bound <= y {
            return; // dominated
        }
        let (mut cur_x, mut delta, mut end) = (x, 0.0, start);
        loop {
            match self.pts.get(end) {
                Some(&(sx, sy)) if sy >= y => {
                    // dominated by the new point: its strip gains (bound - y)
                    delta += (sx - cur_x) * (bound - y);
                    cur_x = sx;
                    bound = sy;
                    end += 1;
                }
                Some(&(sx, _)) => {
                    delta += (sx - cur_x) * (bound - y);
                    break;
                }
                None => {
                    delta += (self.rx - cur_x) * (bound - y);
                    break;
                }
            }
        }
        self.area += delta;
        self.pts.splice(start..end, [(x, y)]);
    }
}

fn hv3(pts: &mut [Vec<f64>], r: &[f64]) -> f64 {
    pts.sort_by(|a, b| a[2].total_cmp(&b[2]));
    let mut st = Staircase {
        pts: Vec::new(),
        area: 0.0,
        rx: r[0],
        ry: r[1],
    };
    let mut vol = 0.0;
    for i in 0..pts.len() {
        st.insert(pts[i][0], pts[i][1]);
        let next_z = if i + 1 < pts.len() {
            pts[i + 1][2]
        } else {
            r[2]
        };
        vol += st.area * (next_z - pts[i][2]);
    }
    vol
}

/// WFG: HV(S) = sum_k [ inclhv(p_k) - HV(nds(limitset(S, k))) ], with the last objective
/// sliced off. Points are sorted worst first in the last objective, so every point after `p_k`
/// is at least as good there and its limit point `max(q, p_k)` takes `p_k`'s last value: the
/// whole limit set lies in one slice, and both terms are `(r_m - p_k,m)` times an (m-1)-D
/// volume. The recursion therefore drops one objective per level and bottoms out in the 3-D
/// sweep (before issue 14 it recursed in m dimensions and never did; see the engine bench).
fn wfg(mut pts: Vec<Vec<f64>>, r: &[f64]) -> f64 {
    let m = r.len();
    pts.sort_by(|a, b| b[m - 1].total_cmp(&a[m - 1]));
    let (r_low, r_last) = (&r[..m - 1], r[m - 1]);
    let mut total = 0.0;
    for k in 0..pts.len() {
        let p = &pts[k][..m - 1];
        let depth = r_last - pts[k][m - 1];
        let incl: f64 = p.iter().zip(r_low).map(|(x, rr)| rr - x).product();
        let limit: Vec<Vec<f64>> = pts[k + 1..]
            .iter()
            .map(|q| q[..m - 1].iter().zip(p).map(|(a, b)| a.max(*b)).collect())
            .collect();
        let limit = non_dominated_unique(limit);
        let sub = match limit.len() {
            0 => 0.0,
            1 => limit[0].iter().zip(r_low).map(|(x, rr)| rr - x).product(),
            _ => hv(limit, r_low),
        };
        total += depth * (incl - sub);
    }
    total
}

/// Remove weakly dominated points and duplicates.
fn non_dominated_unique(pts: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let mut keep: Vec<Vec<f64>> = Vec::with_capacity(pts.len());
    'outer: for p in pts {
        let mut i = 0;
        while i < keep.len() {
            let q = &keep[i];
            if q.iter().zip(&p).all(|(a, b)| a <= b) {
                continue 'outer; // p weakly dominated (or equal)
            }
            if p.iter().zip(q).all(|(a, b)| a <= b) {
                keep.swap_remove(i);
            } else {
                i += 1;
            }
        }
        keep.push(p);
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Exact reference by coordinate compression: sum the cells of the grid spanned by all
    /// coordinates whose lower corner is weakly dominated by some point.
    fn grid_hv(pts: &[Vec<f64>], r: &[f64]) -> f64 {
        let m = r.len();
        let pts: Vec<&Vec<f64>> = pts
            .iter()
            .filter(|p| p.iter().zip(r).all(|(x, rr)| x < rr))
            .collect();
        let axes: Vec<Vec<f64>> = (0..m)
            .map(|k| {
                let mut a: Vec<f64> = pts.iter().map(|p| p[k]).chain([r[k]]).collect();
                a.sort_by(f64::total_cmp);
                a.dedup();
                a
            })
            .collect();
        let mut idx = vec![0usize; m];
        let mut vol = 0.0;
        loop {
            if idx.iter().zip(&axes).all(|(i, a)| i + 1 < a.len()) {
                let lo: Vec<f64> = (0..m).map(|k| axes[k][idx[k]]).collect();
                if pts.iter().any(|p| p.iter().zip(&lo).all(|(a, b)| a <= b)) {
                    vol += (0..m)
                        .map(|k| axes[k][idx[k] + 1] - axes[k][idx[k]])
                        .product::<f64>();
                }
            }
            let mut k = 0;
            loop {
                if k == m {
                    return vol;
                }
                idx[k] += 1;
                if idx[k] < axes[k].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    #[test]
    fn hand_computed_2d() {
        let p = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        // staircase under (4,4): 3*1 + 2*1 + 1*1 = 6
        assert_eq!(hypervolume(&p, &[4.0, 4.0]), 6.0);
        // a point on the reference boundary contributes nothing
        assert_eq!(hypervolume(&[vec![4.0, 0.0]], &[4.0, 4.0]), 0.0);
        assert_eq!(
            hypervolume(&[vec![5.0, 0.0], vec![0.0, 3.0]], &[4.0, 4.0]),
            4.0
        );
        assert_eq!(hypervolume::<Vec<f64>>(&[], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn hand_computed_3d() {
        // two unit-offset boxes: [0,2]^3 and [1,3]x[1,3]x[1,3] overlap in [1,2]^3
        let p = vec![vec![0.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]];
        // box A: 3*3*2 = 18, box B: 2*2*3 = 12, overlap: [1,3]x[1,3]x[1,3] = 8 => 22
        assert_eq!(hypervolume(&p, &[3.0, 3.0, 3.0]), 22.0);
        let cube = vec![vec![0.0, 0.0, 0.0]];
        assert_eq!(hypervolume(&cube, &[1.0, 2.0, 3.0]), 6.0);
    }

    #[test]
    fn hand_computed_4d_and_5d() {
        // unit vectors e_i under reference 2: each box has volume 2^(m-1) * 1 ... by inclusion-exclusion
        // for m = 4: boxes B_i = prod_{j != i} [0,2] x [1,2]; |B_i| = 8; pairwise overlaps = 4;
        // triples = 2; all four = 1  => 4*8 - 6*4 + 4*2 - 1 = 15
        let e: Vec<Vec<f64>> = (0..4)
            .map(|i| (0..4).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
            .collect();
        assert_eq!(hypervolume(&e, &[2.0; 4]), 15.0);
        // m = 5: 5*16 - 10*8 + 10*4 - 5*2 + 1 = 31 (= 2^5 - 1)
        let e: Vec<Vec<f64>> = (0..5)
            .map(|i| (0..5).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
            .collect();
        assert_eq!(hypervolume(&e, &[2.0; 5]), 31.0);
        // a dominated point and a duplicate change nothing
        let mut e2 = e.clone();
        e2.push(vec![1.5; 5]);
        e2.push(e[0].clone());
        assert_eq!(hypervolume(&e2, &[2.0; 5]), 31.0);
    }

    proptest! {
        #[test]
        fn matches_grid_reference(m in 2usize..6, raw in proptest::collection::vec(proptest::collection::vec(0u8..8, 6), 0..7)) {
            let pts: Vec<Vec<f64>> = raw.iter().map(|v| v[..m].iter().map(|&x| f64::from(x) * 0.5).collect()).collect();
            let r = vec![3.7; m];
            let got = hypervolume(&pts, &r);
            let want = grid_hv(&pts, &r);
            prop_assert!((got - want).abs() <= 1e-9 * want.max(1.0), "m={m} got {got} want {want}");
        }

        #[test]
        fn three_d_sweep_matches_wfg(raw in proptest::collection::vec(proptest::collection::vec(0.0f64..1.0, 3), 0..30)) {
            let r = [1.1, 1.1, 1.1];
            let a = hypervolume(&raw, &r);
            let b = if raw.is_empty() { 0.0 } else { wfg(raw.clone(), &r) };
            prop_assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }
}
