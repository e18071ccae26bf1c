//! Window kernels: running (moving-window) reductions along one axis, and block reductions
//! over fixed factors per axis (coarsen). Pure functions of blocks; the array layer builds the
//! graph around them.
//!
//! Rolling kernels run in O(n) per lane whatever the window: running sums (Welford's update
//! with removal for the variance) and the van Herk / Gil-Werman prefix–suffix maxima for
//! min/max. They sweep the axis over tiles of up to [`TILE`] neighbouring lanes, so their
//! scratch is a few tiles of `f64` whatever the block size and the memory traffic is that of
//! reading the block once (twice for min/max).

use crate::element::{Float, Numeric, NumericSealed};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// Lanes swept together by the rolling kernels (the innermost, contiguous axis is cut into
/// tiles of this many elements).
pub(crate) const TILE: usize = 256;

/// A running reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RollOp {
    /// Sum of the non-NaN values.
    Sum,
    /// Mean of the non-NaN values.
    Mean,
    /// Population variance (ddof 0) of the non-NaN values.
    Var,
    /// Population standard deviation of the non-NaN values.
    Std,
    /// Minimum of the non-NaN values.
    Min,
    /// Maximum of the non-NaN values.
    Max,
}

impl RollOp {
    /// The name in plans and messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RollOp::Sum => "sum",
            RollOp::Mean => "mean",
            RollOp::Var => "var",
            RollOp::Std => "std",
            RollOp::Min => "min",
            RollOp::Max => "max",
        }
    }
}

/// Where the windows lie along the axis: position `i`'s window is
/// `[i - before, i + window - 1 - before]`, clipped to `[0, len)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RollGeom {
    /// Window length (1..=len).
    pub window: usize,
    /// Positions of the window before its label (`window - 1` trailing, `window / 2` centred).
    pub before: usize,
    /// Valid (non-NaN) values a window needs for a result; fewer give NaN.
    pub min_periods: usize,
    /// The axis length.
    pub len: usize,
}

impl RollGeom {
    /// Positions of the window after its label.
    pub(crate) fn after(&self) -> usize {
        self.window - 1 - self.before
    }
}

/// Consecutive pieces of the axis (each a standard-layout block seen as `(outer, n, inner)`),
/// covering global positions `start..start + sum of n`.
pub(crate) struct Pieces<'a, T> {
    /// Per piece: its global first position, its length along the axis, its elements.
    parts: Vec<(usize, usize, &'a [T])>,
    outer: usize,
    inner: usize,
}

impl<'a, T: Copy> Pieces<'a, T> {
    /// Pieces from `(global start, length along the axis, contiguous elements)`, each of
    /// `outer * length * inner` elements.
    pub(crate) fn new(parts: Vec<(usize, usize, &'a [T])>, outer: usize, inner: usize) -> Self {
        debug_assert!(parts.iter().all(|(_, n, d)| d.len() == outer * n * inner));
        Pieces {
            parts,
            outer,
            inner,
        }
    }

    /// The run `j0..j0 + w` of lanes of outer index `o` at global position `p`.
    #[inline]
    fn row(&self, hint: &mut usize, o: usize, p: usize, j0: usize, w: usize) -> &'a [T] {
        let mut k = (*hint).min(self.parts.len() - 1);
        while p < self.parts[k].0 {
            k -= 1;
        }
        while p >= self.parts[k].0 + self.parts[k].1 {
            k += 1;
        }
        *hint = k;
        let (s, n, d) = self.parts[k];
        let off = (o * n + (p - s)) * self.inner + j0;
        &d[off..off + w]
    }
}

/// The running reduction `op` of `src` for output positions `out_start..out_start + out_len`
/// (global along the axis), written to `out` (`outer * out_len * inner`, standard layout).
/// `src` must cover every position of those windows that lies in `[0, len)`.
pub(crate) fn rolling<T: Numeric, O: Float>(
    src: &Pieces<'_, T>,
    geom: RollGeom,
    op: RollOp,
    out_start: usize,
    out_len: usize,
    out: &mut [O],
) {
    let (outer, inner) = (src.outer, src.inner);
    debug_assert_eq!(out.len(), outer * out_len * inner);
    for o in 0..outer {
        let mut j0 = 0;
        while j0 < inner {
            let w = TILE.min(inner - j0);
            let tile = Tile {
                src,
                geom,
                o,
                j0,
                w,
                out_start,
                out_len,
            };
            let mut write = |i: usize, vals: &[f64]| {
                let off = (o * out_len + (i - out_start)) * inner + j0;
                for (d, &v) in out[off..off + w].iter_mut().zip(vals) {
                    *d = O::from_f64_(v);
                }
            };
            match op {
                RollOp::Min | RollOp::Max => tile.extreme(op == RollOp::Max, &mut write),
                _ => tile.moments(op, &mut write),
            }
            j0 += w;
        }
    }
}

/// One tile of lanes of one outer index.
struct Tile<'s, 'a, T> {
    src: &'s Pieces<'a, T>,
    geom: RollGeom,
    o: usize,
    j0: usize,
    w: usize,
    out_start: usize,
    out_len: usize,
}

impl<T: Numeric> Tile<'_, '_, T> {
    /// The clipped window `[a, b]` (inclusive) of output position `i`.
    fn window(&self, i: usize) -> (usize, usize) {
        let g = self.geom;
        (i.saturating_sub(g.before), (i + g.after()).min(g.len - 1))
    }

    /// Sum, mean, var, std: running counts and sums (Welford's update and its inverse for the
    /// moments), with infinities counted apart so that one leaving the window leaves no NaN.
    fn moments(&self, op: RollOp, write: &mut impl FnMut(usize, &[f64])) {
        let w = self.w;
        let welford = matches!(op, RollOp::Var | RollOp::Std);
        let mut n = vec![0u32; w]; // finite values
        let mut pinf = vec![0u32; w];
        let mut ninf = vec![0u32; w];
        let mut s1 = vec![0.0f64; w]; // sum, or Welford's mean
        let mut m2 = vec![0.0f64; w];
        let mut prev = vec![0.0f64; if welford { w } else { 0 }];
        let mut run = vec![0u32; if welford { w } else { 0 }];
        let mut res = vec![0.0f64; w];
        let (mut hint_add, mut hint_rm) = (0, 0);
        let (mut added, mut removed) =
            (self.window(self.out_start).0, self.window(self.out_start).0);
        for i in self.out_start..self.out_start + self.out_len {
            let (a, b) = self.window(i);
            while removed < a {
                let row = self.src.row(&mut hint_rm, self.o, removed, self.j0, w);
                for (j, &v) in row.iter().enumerate() {
                    if v.is_nan_() {
                        continue;
                    }
                    let x = v.to_f64_();
                    if x.is_finite() {
                        n[j] -= 1;
                        if n[j] == 0 {
                            // Exact restart: no drift carried past an empty window.
                            s1[j] = 0.0;
                            m2[j] = 0.0;
                        } else if welford {
                            let d = x - s1[j];
                            s1[j] -= d / n[j] as f64;
                            // One value left: its variance is exactly 0 (no residue to
                            // surface through the square root of `std`).
                            m2[j] = if n[j] == 1 {
                                0.0
                            } else {
                                m2[j] - d * (x - s1[j])
                            };
                        } else {
                            s1[j] -= x;
                        }
                    } else if x > 0.0 {
                        pinf[j] -= 1;
                    } else {
                        ninf[j] -= 1;
                    }
                }
                removed += 1;
            }
            while added <= b {
                let row = self.src.row(&mut hint_add, self.o, added, self.j0, w);
                for (j, &v) in row.iter().enumerate() {
                    if v.is_nan_() {
                        continue;
                    }
                    let x = v.to_f64_();
                    if welford {
                        // The run of equal values ending at the newest (pandas' rule): a
                        // window of equal values has variance exactly 0, whatever residue
                        // the running update leaves.
                        if run[j] > 0 && x == prev[j] {
                            run[j] += 1;
                        } else {
                            prev[j] = x;
                            run[j] = 1;
                        }
                    }
                    if x.is_finite() {
                        n[j] += 1;
                        if welford {
                            let d = x - s1[j];
                            s1[j] += d / n[j] as f64;
                            m2[j] += d * (x - s1[j]);
                        } else {
                            s1[j] += x;
                        }
                    } else if x > 0.0 {
                        pinf[j] += 1;
                    } else {
                        ninf[j] += 1;
                    }
                }
                added += 1;
            }
            for j in 0..w {
                let valid = (n[j] + pinf[j] + ninf[j]) as usize;
                res[j] = if valid < self.geom.min_periods {
                    f64::NAN
                } else {
                    let inf = match (pinf[j] > 0, ninf[j] > 0) {
                        (true, true) => Some(f64::NAN),
                        (true, false) => Some(f64::INFINITY),
                        (false, true) => Some(f64::NEG_INFINITY),
                        (false, false) => None,
                    };
                    match op {
                        RollOp::Sum => inf.unwrap_or(s1[j]),
                        RollOp::Mean => inf.unwrap_or(s1[j] / n[j] as f64),
                        _ => {
                            if inf.is_some() {
                                f64::NAN
                            } else if run[j] >= n[j] {
                                0.0
                            } else {
                                let v = (m2[j] / n[j] as f64).max(0.0);
                                if op == RollOp::Std { v.sqrt() } else { v }
                            }
                        }
                    }
                };
            }
            write(i, &res);
        }
    }

    /// Min or max by van Herk / Gil-Werman: the haloed range is cut into segments of `window`
    /// positions; a window covers the end of one segment and the start of the next, so its
    /// extreme is that of a suffix extreme and a prefix extreme. NaN are skipped (they become
    /// the identity), and a prefix count of valid values gives `min_periods`.
    fn extreme(&self, max: bool, write: &mut impl FnMut(usize, &[f64])) {
        let (w, win) = (self.w, self.geom.window);
        let lo = self.window(self.out_start).0;
        let hi = self.window(self.out_start + self.out_len - 1).1 + 1;
        let len = hi - lo;
        let ident = T::from_f64_(if max {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
        let better = |a: T, b: T| {
            if (max && b > a) || (!max && b < a) {
                b
            } else {
                a
            }
        };
        // g: prefix extremes within segments; h: suffix extremes; c: prefix valid counts.
        let mut g = vec![ident; len * w];
        let mut h = vec![ident; len * w];
        let mut c = vec![0u32; (len + 1) * w];
        let mut hint = 0;
        for p in 0..len {
            let row = self.src.row(&mut hint, self.o, lo + p, self.j0, w);
            let start = p % win == 0;
            for (j, &v) in row.iter().enumerate() {
                let nan = v.is_nan_();
                let v = if nan { ident } else { v };
                g[p * w + j] = if start {
                    v
                } else {
                    better(g[(p - 1) * w + j], v)
                };
                h[p * w + j] = v;
                c[(p + 1) * w + j] = c[p * w + j] + u32::from(!nan);
            }
        }
        for p in (0..len).rev() {
            let end = p + 1 == len || (p + 1) % win == 0;
            if !end {
                for j in 0..w {
                    h[p * w + j] = better(h[p * w + j], h[(p + 1) * w + j]);
                }
            }
        }
        let mut res = vec![0.0f64; w];
        for i in self.out_start..self.out_start + self.out_len {
            let (a, b) = self.window(i);
            let (pa, pb) = (a - lo, b - lo);
            for j in 0..w {
                let count = (c[(pb + 1) * w + j] - c[pa * w + j]) as usize;
                res[j] = if count < self.geom.min_periods {
                    f64::NAN
                } else if pa / win != pb / win {
                    better(h[pa * w + j], g[pb * w + j]).to_f64_()
                } else if pa % win == 0 {
                    g[pb * w + j].to_f64_()
                } else {
                    // Same segment, not at its start: the window is clipped at the array's
                    // end, where the last segment ends too.
                    h[pa * w + j].to_f64_()
                };
            }
            write(i, &res);
        }
    }
}

/// A block reduction over fixed factors per axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CoarsenOp {
    /// Sum (NaN propagates).
    Sum,
    /// Mean (NaN propagates).
    Mean,
    /// Minimum (NaN propagates).
    Min,
    /// Maximum (NaN propagates).
    Max,
}

impl CoarsenOp {
    /// The name in plans and messages (`nan` prefixed when NaN are skipped).
    pub(crate) fn name(self, skip_nan: bool) -> &'static str {
        match (self, skip_nan) {
            (CoarsenOp::Sum, false) => "sum",
            (CoarsenOp::Sum, true) => "nansum",
            (CoarsenOp::Mean, false) => "mean",
            (CoarsenOp::Mean, true) => "nanmean",
            (CoarsenOp::Min, false) => "min",
            (CoarsenOp::Min, true) => "nanmin",
            (CoarsenOp::Max, false) => "max",
            (CoarsenOp::Max, true) => "nanmax",
        }
    }
}

/// The shape of `shape` coarsened by `factors` (a partial window at an edge counts).
pub(crate) fn coarsened_shape(shape: &[usize], factors: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .zip(factors)
        .map(|(&n, &f)| n.div_ceil(f))
        .collect()
}

/// Calls `f(output linear index, value)` for every element of `x`, where the output index is
/// that of the element's window in the coarsened shape.
fn for_each_cell<T: Copy>(x: &ArrayViewD<'_, T>, factors: &[usize], mut f: impl FnMut(usize, T)) {
    let x = x.as_standard_layout();
    let shape = x.shape();
    let data = x.as_slice().expect("standard layout is contiguous");
    if data.is_empty() {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(0, data[0]);
        return;
    }
    let oshape = coarsened_shape(shape, factors);
    let inner = shape[nd - 1];
    let fl = factors[nd - 1];
    let mut idx = vec![0usize; nd - 1];
    for row in data.chunks_exact(inner) {
        let mut base = 0;
        for a in 0..nd - 1 {
            base = base * oshape[a] + idx[a] / factors[a];
        }
        base *= oshape[nd - 1];
        for (j, &v) in row.iter().enumerate() {
            f(base + j / fl, v);
        }
        for a in (0..nd - 1).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}

/// Sum over each window (`T::Sum`, accumulated as `sum_axis` does); `skip_nan` skips NaN.
pub(crate) fn coarsen_sum<T: Numeric>(
    x: &ArrayViewD<'_, T>,
    factors: &[usize],
    skip_nan: bool,
) -> ArrayD<T::Sum> {
    let oshape = coarsened_shape(x.shape(), factors);
    let mut acc = vec![<T::Acc as num_traits::Zero>::zero(); oshape.iter().product()];
    for_each_cell(x, factors, |k, v| {
        if !(skip_nan && v.is_nan_()) {
            acc[k] = acc[k].add_(v.to_acc());
        }
    });
    let out: Vec<T::Sum> = acc.into_iter().map(T::acc_to_sum).collect();
    ArrayD::from_shape_vec(IxDyn(&oshape), out).expect("length matches the shape")
}

/// Mean over each window's elements (`skip_nan`: of its non-NaN elements, NaN where none).
pub(crate) fn coarsen_mean<T: Numeric>(
    x: &ArrayViewD<'_, T>,
    factors: &[usize],
    skip_nan: bool,
) -> ArrayD<T::Mean> {
    let oshape = coarsened_shape(x.shape(), factors);
    let n: usize = oshape.iter().product();
    let (mut sum, mut count) = (vec![0.0f64; n], vec![0u32; n]);
    for_each_cell(x, factors, |k, v| {
        if !(skip_nan && v.is_nan_()) {
            sum[k] += v.to_f64_();
            count[k] += 1;
        }
    });
    let out: Vec<T::Mean> = sum
        .iter()
        .zip(&count)
        .map(|(&s, &c)| {
            <T::Mean as NumericSealed>::from_f64_(if c == 0 { f64::NAN } else { s / c as f64 })
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&oshape), out).expect("length matches the shape")
}

/// Min or max over each window; NaN propagates unless `skip_nan` (then NaN only where the
/// window holds nothing else).
pub(crate) fn coarsen_extreme<T: Numeric>(
    x: &ArrayViewD<'_, T>,
    factors: &[usize],
    max: bool,
    skip_nan: bool,
) -> ArrayD<T> {
    let oshape = coarsened_shape(x.shape(), factors);
    let n: usize = oshape.iter().product();
    // `None` until a value arrives; a NaN stays (propagating) unless skipped.
    let mut acc: Vec<Option<T>> = vec![None; n];
    for_each_cell(x, factors, |k, v| {
        if v.is_nan_() {
            if !skip_nan {
                acc[k] = Some(v);
            }
            return;
        }
        acc[k] = Some(match acc[k] {
            None => v,
            Some(a) if a.is_nan_() => a,
            Some(a) => {
                if (max && v > a) || (!max && v < a) {
                    v
                } else {
                    a
                }
            }
        });
    });
    let nan = T::from_f64_(f64::NAN);
    let out: Vec<T> = acc.into_iter().map(|a| a.unwrap_or(nan)).collect();
    ArrayD::from_shape_vec(IxDyn(&oshape), out).expect("length matches the shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows by brute force.
    fn naive(x: &[f64], g: RollGeom, op: RollOp) -> Vec<f64> {
        (0..x.len())
            .map(|i| {
                let a = i.saturating_sub(g.before);
                let b = (i + g.after()).min(x.len() - 1);
                let v: Vec<f64> = x[a..=b].iter().copied().filter(|v| !v.is_nan()).collect();
                if v.len() < g.min_periods {
                    return f64::NAN;
                }
                let n = v.len() as f64;
                let mean = v.iter().sum::<f64>() / n;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                match op {
                    RollOp::Sum => v.iter().sum(),
                    RollOp::Mean => mean,
                    RollOp::Var => var,
                    RollOp::Std => var.sqrt(),
                    RollOp::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
                    RollOp::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect()
    }

    #[test]
    fn rolling_matches_brute_force_in_pieces() {
        let x: Vec<f64> = (0..23)
            .map(|i| {
                if i % 7 == 3 {
                    f64::NAN
                } else {
                    ((i * 37) % 11) as f64 - 4.0
                }
            })
            .collect();
        for window in [1usize, 2, 3, 5, 8, 23] {
            for before in [window - 1, window / 2] {
                for mp in [1, window.div_ceil(2), window] {
                    let g = RollGeom {
                        window,
                        before,
                        min_periods: mp,
                        len: x.len(),
                    };
                    for op in [
                        RollOp::Sum,
                        RollOp::Mean,
                        RollOp::Var,
                        RollOp::Std,
                        RollOp::Min,
                        RollOp::Max,
                    ] {
                        let want = naive(&x, g, op);
                        // Split the input unevenly, compute the middle outputs only.
                        let parts = vec![(0, 4, &x[0..4]), (4, 9, &x[4..13]), (13, 10, &x[13..])];
                        let src = Pieces::new(parts, 1, 1);
                        for (s, l) in [(0, 23), (5, 7), (22, 1)] {
                            let mut out = vec![0.0f64; l];
                            rolling(&src, g, op, s, l, &mut out);
                            for (k, (&got, &w)) in out.iter().zip(&want[s..s + l]).enumerate() {
                                assert!(
                                    (got.is_nan() && w.is_nan()) || (got - w).abs() < 1e-9,
                                    "{op:?} window {window} before {before} mp {mp} at {}: {got} vs {w}",
                                    s + k
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_infinity_leaving_the_window_leaves_no_nan() {
        let x = [1.0, f64::INFINITY, 2.0, 3.0, 4.0];
        let g = RollGeom {
            window: 2,
            before: 1,
            min_periods: 1,
            len: 5,
        };
        let src = Pieces::new(vec![(0, 5, &x[..])], 1, 1);
        let mut out = vec![0.0f64; 5];
        rolling(&src, g, RollOp::Sum, 0, 5, &mut out);
        assert_eq!(out, vec![1.0, f64::INFINITY, f64::INFINITY, 5.0, 7.0]);
    }

    #[test]
    fn coarsen_kernels() {
        let x = ndarray::arr2(&[[1.0, 2.0, 3.0], [4.0, f64::NAN, 6.0]]).into_dyn();
        let f = [2, 2];
        assert_eq!(
            coarsen_sum(&x.view(), &f, true),
            ndarray::arr2(&[[7.0, 9.0]]).into_dyn()
        );
        assert!(coarsen_sum(&x.view(), &f, false)[[0, 0]].is_nan());
        assert_eq!(
            coarsen_mean(&x.view(), &f, true),
            ndarray::arr2(&[[7.0 / 3.0, 4.5]]).into_dyn()
        );
        assert_eq!(
            coarsen_extreme(&x.view(), &f, true, true),
            ndarray::arr2(&[[4.0, 6.0]]).into_dyn()
        );
        assert!(coarsen_extreme(&x.view(), &f, false, false)[[0, 0]].is_nan());
        let i = ndarray::arr1(&[1i32, 2, 3, 4, 5]).into_dyn();
        assert_eq!(
            coarsen_sum(&i.view(), &[2], false),
            ndarray::arr1(&[3i64, 7, 5]).into_dyn()
        );
    }
}
