//! Kernels of the order statistics and counting reductions: quantiles and medians of lanes
//! (NumPy's `method="linear"`, the arithmetic replayed step by step so results match NumPy's
//! bit for bit), histogram bin search and bincount.
//!
//! A block of lanes is a standard-layout `(n, m)` slice: `m` lanes of `n` values, lane `j` is
//! column `j`. Lanes are gathered a tile at a time into a contiguous buffer (a transpose of
//! `TILE_BYTES`, so the strided reads stay in cache) and each lane is partially sorted there.

use crate::element::{AnyArray, AnyView, Numeric};
use crate::error::{Error, Result};
use crate::exec::task::Value;
use crate::ops::reduce::{Reducer, leading_rows};
use ndarray::IxDyn;
use std::cmp::Ordering;

/// Bytes of the lane buffer a tile of lanes is gathered into.
pub(crate) const TILE_BYTES: usize = 256 << 10;

/// What a lane is summarised by.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LaneStat {
    /// NumPy's `quantile(..., method="linear")` at each `q` (all in `[0, 1]`).
    Quantiles(Vec<f64>),
    /// NumPy's `median`: the middle value, or the mean of the two middle values.
    Median,
}

impl LaneStat {
    /// How many values each lane gives.
    pub(crate) fn count(&self) -> usize {
        match self {
            LaneStat::Quantiles(q) => q.len(),
            LaneStat::Median => 1,
        }
    }
}

/// The lanes of a block and how they are summarised.
#[derive(Clone, Debug)]
pub(crate) struct LaneSpec {
    pub stat: LaneStat,
    /// `nanquantile`/`nanmedian`: NaN values are left out (an all-NaN lane gives NaN); else a
    /// lane with a NaN gives NaN.
    pub skip_nan: bool,
}

/// Lanes per tile of the lane buffer for lanes of `n` values of `size` bytes (at least one).
pub(crate) fn tile_lanes(n: usize, size: usize, m: usize) -> usize {
    (TILE_BYTES / (n * size).max(1)).clamp(1, m.max(1))
}

/// Scratch bytes of [`summarise_lanes`] on lanes of `n` values of `size` bytes, `m` lanes.
pub(crate) fn scratch_bytes(n: usize, size: usize, m: usize) -> usize {
    tile_lanes(n, size, m) * n * size
}

/// Summarises the `m` lanes (columns) of the row-major `(n, m)` slice `data` into `out`, a
/// row-major `(spec.stat.count(), m)` slice: `out[k * m + j]` is statistic `k` of lane `j`.
/// `n` must be at least 1.
pub(crate) fn summarise_lanes<T: Numeric>(
    data: &[T],
    n: usize,
    m: usize,
    spec: &LaneSpec,
    out: &mut [T::Mean],
) {
    debug_assert!(data.len() == n * m);
    summarise_with(n, m, spec, out, |j0, w, buf| {
        // Transpose the tile: lane `l` of the tile becomes `buf[l * n .. (l + 1) * n]`.
        for i in 0..n {
            let row = &data[i * m + j0..i * m + j0 + w];
            for (l, &v) in row.iter().enumerate() {
                buf[l * n + i] = v;
            }
        }
    });
}

/// [`summarise_lanes`] with lanes given by `gather(j0, w, buf)`, which writes lanes
/// `j0..j0 + w` (each `n` values) to `buf[l * n..(l + 1) * n]`.
pub(crate) fn summarise_with<T: Numeric>(
    n: usize,
    m: usize,
    spec: &LaneSpec,
    out: &mut [T::Mean],
    mut gather: impl FnMut(usize, usize, &mut [T]),
) {
    debug_assert!(n >= 1);
    debug_assert_eq!(out.len(), spec.stat.count() * m);
    let k = tile_lanes(n, std::mem::size_of::<T>(), m);
    let mut buf: Vec<T> = vec![T::zero(); k * n];
    let mut idx: Vec<usize> = Vec::new();
    let nstat = spec.stat.count();
    let mut res: Vec<T::Mean> = vec![<T::Mean as num_traits::Zero>::zero(); nstat];
    for j0 in (0..m).step_by(k) {
        let w = k.min(m - j0);
        gather(j0, w, &mut buf);
        for l in 0..w {
            let lane = &mut buf[l * n..(l + 1) * n];
            summarise_lane(lane, spec, &mut idx, &mut res);
            for (s, &r) in res.iter().enumerate() {
                out[s * m + j0 + l] = r;
            }
        }
    }
}

/// `a < b` as a total order on values without NaN.
#[inline(always)]
fn cmp<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

/// Summarises one lane (reordering it) into `res`.
fn summarise_lane<T: Numeric>(
    lane: &mut [T],
    spec: &LaneSpec,
    idx: &mut Vec<usize>,
    res: &mut [T::Mean],
) {
    let nan = <T::Mean as num_traits::Float>::nan();
    let mut len = lane.len();
    if T::IS_FLOAT {
        if spec.skip_nan {
            let mut w = 0;
            for r in 0..len {
                let v = lane[r];
                if !v.is_nan_() {
                    lane[w] = v;
                    w += 1;
                }
            }
            len = w;
        } else if lane.iter().any(|v| v.is_nan_()) {
            res.fill(nan);
            return;
        }
    }
    if len == 0 {
        res.fill(nan);
        return;
    }
    let v = &mut lane[..len];
    match &spec.stat {
        LaneStat::Median => {
            let h = len / 2;
            v.select_nth_unstable_by(h, cmp);
            res[0] = if len % 2 == 1 {
                single(v[h])
            } else {
                let lo = v[..h].iter().copied().max_by(cmp).unwrap_or_else(|| v[h]);
                midpoint(lo, v[h])
            };
        }
        LaneStat::Quantiles(qs) => {
            idx.clear();
            for &q in qs {
                let (p, nx, _) = linear_index(len, q);
                idx.push(p);
                idx.push(nx);
            }
            idx.sort_unstable();
            idx.dedup();
            let mut lo = 0;
            for &k in idx.iter() {
                v[lo..].select_nth_unstable_by(k - lo, cmp);
                lo = k + 1;
            }
            for (r, &q) in res.iter_mut().zip(qs) {
                let (p, nx, gamma) = linear_index(len, q);
                *r = lerp(v[p], v[nx], gamma);
            }
        }
    }
}

/// NumPy's indexes and weight of quantile `q` of `n` sorted values (method `"linear"`):
/// `(previous, next, gamma)`. As NumPy, the virtual index is `(n - 1) * q`; at or beyond the
/// last index both neighbours are the last value and `gamma` is measured from NumPy's `-1`
/// (it multiplies a zero difference then, unless the last value is infinite).
#[inline]
pub(crate) fn linear_index(n: usize, q: f64) -> (usize, usize, f64) {
    let vi = (n - 1) as f64 * q;
    if vi >= (n - 1) as f64 {
        (n - 1, n - 1, vi + 1.0)
    } else {
        let p = vi.floor();
        (p as usize, p as usize + 1, vi - p)
    }
}

/// NumPy's `_lerp(a, b, t)`: `a + (b - a) t`, or `b - (b - a)(1 - t)` where `t ≥ 0.5`. In
/// `f32` for `f32` (NumPy with a Python-float `q`), else in `f64` with the difference of
/// integers taken exactly (NumPy takes it in the integer type, which can wrap).
#[inline]
fn lerp<T: Numeric>(a: T, b: T, t: f64) -> T::Mean {
    let r = if T::DTYPE == crate::element::DType::F32 {
        let (a, b) = (a.to_f64_() as f32, b.to_f64_() as f32);
        let d = b - a;
        (if t >= 0.5 {
            b - d * ((1.0 - t) as f32)
        } else {
            a + d * (t as f32)
        }) as f64
    } else {
        let d = if T::IS_FLOAT {
            b.to_f64_() - a.to_f64_()
        } else {
            int_diff(a, b)
        };
        let (a, b) = (a.to_f64_(), b.to_f64_());
        if t >= 0.5 {
            b - d * (1.0 - t)
        } else {
            a + d * t
        }
    };
    <T::Mean as crate::element::NumericSealed>::from_f64_(r)
}

/// `b - a` of two integers, exactly, as `f64`.
#[inline]
fn int_diff<T: Numeric>(a: T, b: T) -> f64 {
    match (a.to_i128(), b.to_i128()) {
        (Some(a), Some(b)) => (b - a) as f64,
        _ => b.to_f64_() - a.to_f64_(),
    }
}

/// One value as the result type (NumPy's `mean` of one value).
#[inline]
fn single<T: Numeric>(a: T) -> T::Mean {
    <T::Mean as crate::element::NumericSealed>::from_f64_(a.to_f64_())
}

/// NumPy's median of two middle values: their `mean`, `(a + b) / 2`, in `f32` for `f32`, else
/// in `f64`.
#[inline]
fn midpoint<T: Numeric>(a: T, b: T) -> T::Mean {
    let r = if T::DTYPE == crate::element::DType::F32 {
        ((a.to_f64_() as f32 + b.to_f64_() as f32) / 2.0) as f64
    } else {
        (a.to_f64_() + b.to_f64_()) / 2.0
    };
    <T::Mean as crate::element::NumericSealed>::from_f64_(r)
}

// ---------------------------------------------------------------------------------------------
// Histograms

/// Bin edges of a histogram: non-decreasing, finite, at least two.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Edges(pub Vec<f64>);

impl Edges {
    /// Number of bins.
    pub(crate) fn nbins(&self) -> usize {
        self.0.len() - 1
    }

    /// The bin of `x` as NumPy's `histogram`: bin `i` holds `edges[i] <= x < edges[i + 1]`,
    /// the last bin also `x == edges[last]`; `None` outside the edges and for NaN.
    #[inline]
    pub(crate) fn bin(&self, x: f64) -> Option<usize> {
        let e = &self.0;
        let last = e[e.len() - 1];
        if !(x >= e[0] && x <= last) {
            return None;
        }
        if x == last {
            return Some(e.len() - 2);
        }
        // Edges <= x: at least one (e[0]), fewer than all (x < last).
        Some(e.partition_point(|&v| v <= x) - 1)
    }
}

/// NumPy's `np.linspace(lo, hi, n + 1)` edges of `n` equal bins over `[lo, hi]`, rounded to
/// `f32` when the data are `f32` (NumPy's edges then have the data's type).
pub(crate) fn uniform_edges(lo: f64, hi: f64, n: usize, f32_data: bool) -> Vec<f64> {
    let (mut lo, mut hi) = (lo, hi);
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let delta = hi - lo;
    let step = delta / n as f64;
    let mut e: Vec<f64> = (0..=n)
        .map(|i| {
            if step == 0.0 {
                (i as f64 / n as f64) * delta + lo
            } else {
                i as f64 * step + lo
            }
        })
        .collect();
    e[n] = hi;
    if f32_data {
        for v in &mut e {
            *v = *v as f32 as f64;
        }
    }
    e
}

/// The bin of `x` for NumPy's `digitize(x, bins, right)`: `bins` increasing (`decreasing` false)
/// or decreasing, NaN past the end of increasing bins (index `len`) and before decreasing ones
/// (index 0), as NumPy's `searchsorted` sorts NaN last.
#[inline]
pub(crate) fn digitize_one(x: f64, bins: &[f64], right: bool, decreasing: bool) -> i64 {
    let n = bins.len();
    if x.is_nan() {
        return if decreasing { 0 } else { n as i64 };
    }
    if !decreasing {
        // side = "left" if right else "right".
        (if right {
            bins.partition_point(|&b| b < x)
        } else {
            bins.partition_point(|&b| b <= x)
        }) as i64
    } else {
        // len - searchsorted(reversed, x, side): the reversed bins increase.
        // Binary search on the decreasing slice: elements of the reversed slice < x (or <= x)
        // are a suffix of `bins`.
        let suffix = if right {
            n - bins.partition_point(|&b| b >= x)
        } else {
            n - bins.partition_point(|&b| b > x)
        };
        (n - suffix) as i64
    }
}

/// Whether `bins` increase (`Some(false)`) or decrease (`Some(true)`) monotonically (ties
/// allowed, as NumPy); `None` otherwise. Fewer than two bins count as increasing.
pub(crate) fn monotonic(bins: &[f64]) -> Option<bool> {
    let inc = bins.windows(2).all(|w| w[0] <= w[1]);
    if inc {
        return Some(false);
    }
    let dec = bins.windows(2).all(|w| w[0] >= w[1]);
    dec.then_some(true)
}

/// The slot of `v` in a bincount of `len` slots.
///
/// # Errors
/// [`Error::InvalidArgument`] for a negative value or one not below `len`.
#[inline]
pub(crate) fn bincount_slot<T: Numeric>(v: T, len: usize) -> Result<usize> {
    match v.to_i128() {
        Some(i) if i >= 0 && (i as u128) < len as u128 => Ok(i as usize),
        Some(i) if i < 0 => Err(Error::InvalidArgument {
            op: "bincount",
            detail: format!("the values must be non-negative; found {i}"),
        }),
        _ => Err(Error::InvalidArgument {
            op: "bincount",
            detail: format!(
                "found the value {v:?}, but minlength is {len}: the length of the result is \
                 fixed when the graph is built, so minlength must exceed every value"
            ),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming quantiles: the few largest (or smallest) values of each lane, folded in one pass

/// Which side of each lane a [`TopReducer`] keeps, and how many values: the `m` largest (for
/// `q` near 1) or smallest (near 0) of `n`, enough for NumPy's order statistics `floor(h)`
/// and `floor(h) + 1` at `h = (n - 1) q`, of any lane of at most `n` values (the non-NaN
/// count of a `nanquantile` lane included: the count needed never grows as `n` shrinks).
pub(crate) fn stream_side(n: usize, q: f64) -> (bool, usize) {
    let (p, _, _) = linear_index(n, q);
    let high = n - p;
    let low = (p + 2).min(n);
    if high <= low {
        (true, high)
    } else {
        (false, low)
    }
}

/// Slots per lane of a [`TopReducer`] state keeping `m` values: the values accepted since the
/// last compaction go in the slack, so a lane is compacted (a `select_nth_unstable`) once per
/// `cap - m` accepted values.
pub(crate) fn stream_cap(m: usize) -> usize {
    m + m.max(16)
}

/// The partial of a [`TopReducer`]: per lane (the kept axes in row-major order) a buffer of
/// `cap` slots holding a superset of the lane's `m` best values so far (largest for `high`,
/// else smallest; NaN never kept), their count, the threshold a new value must beat once `m`
/// are held, the non-NaN count and whether a NaN was seen.
pub(crate) struct TopState<T> {
    vals: Vec<T>,
    len: Vec<u32>,
    thr: Vec<T>,
    cnt: Vec<u64>,
    nan: Vec<bool>,
}

/// `quantile(q)`/`nanquantile(q)` over axes as a streaming reduction: each lane's `m` best
/// values kept ([`stream_side`]), so the reduced axes need no rechunk; exact, with the same
/// interpolation as [`summarise_lanes`].
pub(crate) struct TopReducer<T> {
    pub name: String,
    pub q: f64,
    pub skip_nan: bool,
    /// Keeps the largest values (else the smallest).
    pub high: bool,
    pub m: usize,
    pub _t: std::marker::PhantomData<fn(T)>,
}

impl<T: Numeric> TopReducer<T> {
    fn cap(&self) -> usize {
        stream_cap(self.m)
    }

    /// `a` ranks before `b` on the kept side.
    #[inline(always)]
    fn better(&self, a: T, b: T) -> bool {
        if self.high { a > b } else { a < b }
    }

    fn new_state(&self, lanes: usize) -> TopState<T> {
        TopState {
            vals: vec![T::zero(); lanes * self.cap()],
            len: vec![0; lanes],
            thr: vec![T::zero(); lanes],
            cnt: vec![0; lanes],
            nan: vec![false; lanes],
        }
    }

    fn state_or_new(&self, acc: Option<Value>, lanes: usize) -> TopState<T> {
        match acc {
            Some(Value::Partial(p, _)) => *p
                .downcast::<TopState<T>>()
                .expect("internal: partial of another type"),
            _ => self.new_state(lanes),
        }
    }

    fn value(&self, st: TopState<T>) -> Value {
        let bytes = self.partial_bytes(st.len.len());
        Value::Partial(Box::new(st), bytes)
    }

    /// Keeps lane `j`'s `m` best values (its buffer holds `m` or more) and sets its
    /// threshold to the worst of them.
    fn compact(&self, st: &mut TopState<T>, j: usize) {
        let cap = self.cap();
        let (buf, len, thr) = (
            &mut st.vals[j * cap..(j + 1) * cap],
            &mut st.len[j],
            &mut st.thr[j],
        );
        self.compact_lane(buf, len, thr);
    }

    /// [`Self::compact`] on one lane's slots, length and threshold.
    fn compact_lane(&self, buf: &mut [T], len: &mut u32, thr: &mut T) {
        let m = self.m;
        let buf = &mut buf[..*len as usize];
        let worst = if buf.len() > m {
            let order = |a: &T, b: &T| {
                if self.high { cmp(b, a) } else { cmp(a, b) }
            };
            buf.select_nth_unstable_by(m - 1, order);
            *len = m as u32;
            buf[m - 1]
        } else {
            let mut w = buf[0];
            for &v in buf[1..].iter() {
                if self.better(w, v) {
                    w = v;
                }
            }
            w
        };
        *thr = worst;
    }

    /// Folds value `x` into lane `j`.
    #[inline(always)]
    fn push(&self, st: &mut TopState<T>, j: usize, x: T) {
        if T::IS_FLOAT && x.is_nan_() {
            st.nan[j] = true;
            return;
        }
        st.cnt[j] += 1;
        let len = st.len[j] as usize;
        if len >= self.m && !self.better(x, st.thr[j]) {
            return;
        }
        let cap = self.cap();
        st.vals[j * cap + len] = x;
        st.len[j] = (len + 1) as u32;
        if len + 1 == self.m || len + 1 == cap {
            self.compact(st, j);
        }
    }

    /// Statistic of lane `j` (its values copied to `buf`, reordered there).
    fn finish_lane(&self, st: &TopState<T>, j: usize, buf: &mut Vec<T>) -> T::Mean {
        let nanv = <T::Mean as num_traits::Float>::nan();
        let n = st.cnt[j] as usize;
        if (st.nan[j] && !self.skip_nan) || n == 0 {
            return nanv;
        }
        let cap = self.cap();
        let len = st.len[j] as usize;
        buf.clear();
        buf.extend_from_slice(&st.vals[j * cap..j * cap + len]);
        // The `t` best of the lane, exactly: a superset of them compacted.
        let t = self.m.min(n);
        let order = |a: &T, b: &T| {
            if self.high { cmp(b, a) } else { cmp(a, b) }
        };
        if len > t {
            buf.select_nth_unstable_by(t - 1, order);
        }
        let v = &mut buf[..t];
        let (p, nx, gamma) = linear_index(n, self.q);
        // Sorted index `i` of the lane is index `i - (n - t)` of `v` ascending (high side),
        // or `i` (low side).
        let at = |i: usize| if self.high { i - (n - t) } else { i };
        let (ip, inx) = (at(p), at(nx));
        v.select_nth_unstable_by(ip, cmp);
        let a = v[ip];
        let b = if inx == ip {
            a
        } else {
            v[ip + 1..].select_nth_unstable_by(inx - ip - 1, cmp);
            v[inx]
        };
        lerp(a, b, gamma)
    }

    /// Folds rows (each one value per lane) into `st`, a tile of lanes at a time so each
    /// lane's buffer stays in cache while the rows' values for it are folded.
    fn fold_rows(&self, st: &mut TopState<T>, rows: &[&[T]]) {
        if self.high {
            self.fold_rows_on::<true>(st, rows);
        } else {
            self.fold_rows_on::<false>(st, rows);
        }
    }

    /// [`Self::fold_rows`] with the side a constant: the lanes cut in halves folded by
    /// `rayon::join` on the runtime's pool (the threads it was built with) while they are
    /// many, so one chain of tasks uses every thread.
    fn fold_rows_on<const HIGH: bool>(&self, st: &mut TopState<T>, rows: &[&[T]]) {
        let threads = rayon::current_num_threads().max(1);
        let lanes = st.len.len();
        let piece = lanes.div_ceil(threads).max(1 << 14);
        let TopState {
            vals,
            len,
            thr,
            cnt,
            nan,
        } = st;
        self.fold_split::<HIGH>(vals, len, thr, cnt, nan, 0, piece, rows);
    }

    /// Folds lanes `j0..j0 + len.len()` (their state slices), in halves in parallel while
    /// longer than `piece`.
    #[allow(clippy::too_many_arguments)]
    fn fold_split<const HIGH: bool>(
        &self,
        vals: &mut [T],
        len: &mut [u32],
        thr: &mut [T],
        cnt: &mut [u64],
        nan: &mut [bool],
        j0: usize,
        piece: usize,
        rows: &[&[T]],
    ) {
        let lanes = len.len();
        if lanes > piece {
            let h = lanes / 2;
            let cap = self.cap();
            let (v0, v1) = vals.split_at_mut(h * cap);
            let (l0, l1) = len.split_at_mut(h);
            let (t0, t1) = thr.split_at_mut(h);
            let (c0, c1) = cnt.split_at_mut(h);
            let (n0, n1) = nan.split_at_mut(h);
            rayon::join(
                || self.fold_split::<HIGH>(v0, l0, t0, c0, n0, j0, piece, rows),
                || self.fold_split::<HIGH>(v1, l1, t1, c1, n1, j0 + h, piece, rows),
            );
            return;
        }
        let (m, cap) = (self.m, self.cap());
        for k in 0..lanes {
            let j = j0 + k;
            let buf = &mut vals[k * cap..(k + 1) * cap];
            let mut n = len[k] as usize;
            let mut t = thr[k];
            let mut c = cnt[k];
            let mut saw_nan = false;
            for row in rows {
                let x = row[j];
                if T::IS_FLOAT && x.is_nan_() {
                    saw_nan = true;
                    continue;
                }
                c += 1;
                if n >= m && !(if HIGH { x > t } else { x < t }) {
                    continue;
                }
                buf[n] = x;
                n += 1;
                if n == m || n == cap {
                    let mut l = n as u32;
                    self.compact_lane(buf, &mut l, &mut t);
                    n = l as usize;
                }
            }
            len[k] = n as u32;
            thr[k] = t;
            cnt[k] = c;
            nan[k] |= saw_nan;
        }
    }
}

impl<T: Numeric> Reducer for TopReducer<T> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn partial_bytes(&self, elems: usize) -> usize {
        elems * (self.cap() * std::mem::size_of::<T>() + 4 + std::mem::size_of::<T>() + 8 + 1)
    }
    fn streams(&self, _axes: &[usize], _ndim: usize) -> bool {
        false
    }
    fn partial(
        &self,
        block: &AnyView<'_>,
        axes: &[usize],
        _origin: &[usize],
        acc: Option<Value>,
    ) -> Result<Value> {
        let v = T::view_ref(block).expect("internal: reduction input of another type");
        let nd = v.ndim();
        let order: Vec<usize> = axes
            .iter()
            .copied()
            .chain((0..nd).filter(|a| !axes.contains(a)))
            .collect();
        let lanes_view = v.view().permuted_axes(IxDyn(&order));
        let lanes: usize = (0..nd)
            .filter(|a| !axes.contains(a))
            .map(|a| v.shape()[a])
            .product();
        let mut st = self.state_or_new(acc, lanes);
        if lanes > 0 {
            // Logical order of the permuted view: the kept axes innermost, lane `e % lanes`.
            for (e, &x) in lanes_view.iter().enumerate() {
                self.push(&mut st, e % lanes, x);
            }
        }
        Ok(self.value(st))
    }
    fn partial_group(
        &self,
        blocks: &[AnyView<'_>],
        axes: &[usize],
        acc: &mut Option<Value>,
    ) -> Option<Result<Value>> {
        let views: Vec<&ndarray::ArrayViewD<'_, T>> = blocks
            .iter()
            .map(|b| T::view_ref(b))
            .collect::<Option<_>>()?;
        let (m, rows) = leading_rows(&views, axes)?;
        if m == 0 {
            return None;
        }
        let mut st = self.state_or_new(acc.take(), m);
        self.fold_rows(&mut st, &rows);
        Some(Ok(self.value(st)))
    }
    fn combine(&self, parts: &[&Value]) -> Result<Value> {
        let first = parts[0].partial::<TopState<T>>();
        let lanes = first.len.len();
        let cap = self.cap();
        let mut st = self.new_state(lanes);
        for p in parts {
            let o = p.partial::<TopState<T>>();
            for j in 0..lanes {
                st.nan[j] |= o.nan[j];
                let before = st.cnt[j];
                for &x in &o.vals[j * cap..j * cap + o.len[j] as usize] {
                    self.push(&mut st, j, x);
                }
                // Values the other partial saw but rejected count too.
                st.cnt[j] = before + o.cnt[j];
            }
        }
        Ok(self.value(st))
    }
    fn finalize(&self, part: &Value, out_shape: &[usize]) -> Result<AnyArray> {
        let st = part.partial::<TopState<T>>();
        let mut buf: Vec<T> = Vec::with_capacity(self.cap());
        let out: Vec<T::Mean> = (0..st.len.len())
            .map(|j| self.finish_lane(st, j, &mut buf))
            .collect();
        let arr = ndarray::ArrayD::from_shape_vec(IxDyn(out_shape), out)
            .map_err(|e| Error::internal("quantile", e.to_string()))?;
        Ok(AnyArray::from(arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q1(x: &[f64], q: f64, skip_nan: bool) -> f64 {
        let spec = LaneSpec {
            stat: LaneStat::Quantiles(vec![q]),
            skip_nan,
        };
        let mut out = [0.0];
        summarise_lanes(x, x.len(), 1, &spec, &mut out);
        out[0]
    }

    #[test]
    fn linear_quantiles_match_numpy_by_hand() {
        // np.quantile([1, 2, 3, 4], [0, .25, .5, .9, 1]) = [1, 1.75, 2.5, 3.7, 4]
        let x = [4.0, 1.0, 3.0, 2.0];
        for (q, want) in [(0.0, 1.0), (0.25, 1.75), (0.5, 2.5), (0.9, 3.7), (1.0, 4.0)] {
            assert!((q1(&x, q, false) - want).abs() < 1e-12, "q {q}");
        }
        assert!(q1(&[1.0, f64::NAN], 0.5, false).is_nan());
        assert_eq!(q1(&[1.0, f64::NAN, 3.0], 0.5, true), 2.0);
        assert!(q1(&[f64::NAN, f64::NAN], 0.5, true).is_nan());
        // np.quantile([1, inf], 1.0) is nan (gamma measured from index -1 times inf - inf).
        assert!(q1(&[1.0, f64::INFINITY], 1.0, false).is_nan());
    }

    #[test]
    fn medians_average_the_middle_pair() {
        let spec = LaneSpec {
            stat: LaneStat::Median,
            skip_nan: false,
        };
        let mut out = [0.0f64; 2];
        // Two lanes (columns) of four: [3, 1, 4, 2] and [5, 5, 1, 9].
        let data = [3i32, 5, 1, 5, 4, 1, 2, 9];
        summarise_lanes(&data, 4, 2, &spec, &mut out);
        assert_eq!(out, [2.5, 5.0]);
    }

    #[test]
    fn histogram_bins_close_the_last() {
        let e = Edges(vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(e.bin(0.0), Some(0));
        assert_eq!(e.bin(0.999), Some(0));
        assert_eq!(e.bin(1.0), Some(1));
        assert_eq!(e.bin(3.0), Some(2));
        assert_eq!(e.bin(3.1), None);
        assert_eq!(e.bin(-0.1), None);
        assert_eq!(e.bin(f64::NAN), None);
        let dup = Edges(vec![0.0, 1.0, 1.0, 2.0]);
        assert_eq!(dup.bin(1.0), Some(2));
    }

    #[test]
    fn digitize_both_directions() {
        let inc = [0.0, 1.0, 2.5, 4.0, 10.0];
        let x = [-1.0, 0.0, 1.0, 2.0, 4.0, 10.0, 11.0];
        // np.digitize(x, inc) = [0, 1, 2, 2, 4, 5, 5]; right=True: [0, 0, 1, 2, 3, 4, 5]
        let got: Vec<i64> = x
            .iter()
            .map(|&v| digitize_one(v, &inc, false, false))
            .collect();
        assert_eq!(got, [0, 1, 2, 2, 4, 5, 5]);
        let got: Vec<i64> = x
            .iter()
            .map(|&v| digitize_one(v, &inc, true, false))
            .collect();
        assert_eq!(got, [0, 0, 1, 2, 3, 4, 5]);
        let dec: Vec<f64> = inc.iter().rev().copied().collect();
        // np.digitize(x, dec) = [5, 4, 3, 3, 1, 0, 0]; right=True: [5, 5, 4, 3, 2, 1, 0]
        let got: Vec<i64> = x
            .iter()
            .map(|&v| digitize_one(v, &dec, false, true))
            .collect();
        assert_eq!(got, [5, 4, 3, 3, 1, 0, 0]);
        let got: Vec<i64> = x
            .iter()
            .map(|&v| digitize_one(v, &dec, true, true))
            .collect();
        assert_eq!(got, [5, 5, 4, 3, 2, 1, 0]);
        assert_eq!(monotonic(&[1.0, 0.0, 2.0]), None);
    }
}
