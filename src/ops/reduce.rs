//! Tree reductions: per-block partial states, combined `split_every` at a time in a fixed tree
//! shape (so results are bit-identical for any thread count), then finalised.
//!
//! A reduction is a [`State`] per output element: `sum` carries an accumulator (f64 for
//! floats), `mean` an f64 sum (its count kept once per partial, [`crate::ops::mean`]), `nanmean`
//! `(n, Σ)`, `var`/`std` carry `(n, shift, Σd, Σd²)` with `d = x - shift` and combine
//! with Chan et al.'s parallel formula, `min`/`max` carry a value and a NaN flag, and the arg
//! reductions carry `(value, global index)` (first occurrence wins).

use crate::element::{
    AnyArray, AnySlice, AnyView, DType, Element, ElementSealed, Numeric, NumericSealed,
};
use crate::error::{Error, Result};
use crate::exec::heap::HeapBytes;
use crate::exec::task::{Kernel, TaskCtx, Value};
use crate::ops::fused::Program;
use crate::ops::group::Slots;
use crate::ops::kernels::Leaf;
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};
use std::marker::PhantomData;
use std::sync::Arc;

/// Feeds tiles of a fused expression to a visitor, in row-major order, each with the
/// row-major offset of its first element in the block (see [`Reducer::partial_stream`]).
pub(crate) type TileFeed<'a> = dyn FnMut(&mut dyn FnMut(usize, AnySlice<'_>)) + 'a;

/// A reduction as the lowering and kernels see it (type-erased).
pub(crate) trait Reducer: Send + Sync {
    fn name(&self) -> String;
    /// Bytes of a partial covering `elems` output elements.
    fn partial_bytes(&self, elems: usize) -> usize;
    /// Extra working bytes of a partial over a block.
    fn scratch_bytes(&self, _block_shape: &[usize], _axes: &[usize]) -> usize {
        0
    }
    /// Whether a partial over `axes` can consume a stream of fused tiles
    /// ([`Reducer::partial_stream`]) instead of a materialized block.
    fn streams(&self, axes: &[usize], ndim: usize) -> bool;
    /// The partial of one block over `axes` (kept as length-1 axes), folded into `acc` (the
    /// partial of earlier blocks of the same group) when given.
    fn partial(
        &self,
        block: &AnyView<'_>,
        axes: &[usize],
        origin: &[usize],
        acc: Option<Value>,
    ) -> Result<Value>;
    /// The partial of one block of `block_shape` over `axes`, from tiles of a fused
    /// expression (each folded into the states its elements belong to as it comes, so the
    /// block is never materialized), folded into `acc` when given.
    ///
    /// Only called when [`Reducer::streams`] said yes; the default, for reductions that read
    /// whole blocks, is an internal error.
    fn partial_stream(
        &self,
        _feed: &mut TileFeed<'_>,
        _block_shape: &[usize],
        _axes: &[usize],
        _acc: Option<Value>,
    ) -> Result<Value> {
        Err(Error::internal(
            self.name(),
            "this reduction reads whole blocks",
        ))
    }
    /// The partial of a group of blocks read as they are (no fused work), folded tile by tile
    /// so the states stay in cache while every block streams through them, into `acc` (taken
    /// only when this path is used). `None` when this reduction or layout has no such path
    /// (the caller folds block by block).
    fn partial_group(
        &self,
        _blocks: &[AnyView<'_>],
        _axes: &[usize],
        _acc: &mut Option<Value>,
    ) -> Option<Result<Value>> {
        None
    }
    /// The grouped partial of one block (see [`crate::ops::group`]): the block's positions
    /// along `slots.axis` folded into the states of their group's slot (positions of other
    /// groups skipped), the partial's shape the block's with that axis `slots.n` long; folded
    /// into `acc` when given. `origin` is the block's position in the input.
    fn partial_grouped(
        &self,
        _block: &AnyView<'_>,
        _origin: &[usize],
        _slots: &Slots,
        _acc: Option<Value>,
    ) -> Result<Value> {
        Err(Error::internal(
            "groupby",
            format!("{} has no grouped form", self.name()),
        ))
    }
    /// Combines partials of the same shape.
    fn combine(&self, parts: &[&Value]) -> Result<Value>;
    /// The output block of a partial.
    fn finalize(&self, part: &Value, out_shape: &[usize]) -> Result<AnyArray>;
    /// Bytes per state of a partial's byte form ([`Reducer::encode_partial`]); `None` when
    /// partials have none (their trees are then never cut between engine stages).
    fn state_bytes(&self) -> Option<usize> {
        None
    }
    /// A partial's byte form: its states in row-major order, [`Reducer::state_bytes`] each.
    fn encode_partial(&self, _part: &Value) -> Result<Vec<u8>> {
        Err(Error::internal(
            "reduction partial",
            format!("{} partials have no byte form", self.name()),
        ))
    }
    /// The partial of shape `shape` whose byte form is `bytes`.
    ///
    /// # Errors
    /// [`Error::Internal`] when `bytes` is not as long as such a partial's byte form.
    fn decode_partial(&self, _bytes: &[u8], _shape: &[usize]) -> Result<Value> {
        Err(Error::internal(
            "reduction partial",
            format!("{} partials have no byte form", self.name()),
        ))
    }
}

/// The per-output-element state of a reduction over elements of type `T`.
pub(crate) trait State<T: Element>: Clone + Send + Sync + 'static {
    type Out: Element;
    /// Settings the final value depends on (ddof, ...), held once by the reducer.
    type Ctx: Send + Sync + 'static;
    fn push(&mut self, x: T);
    #[inline]
    fn push_slice(&mut self, xs: &[T]) {
        for &x in xs {
            self.push(x);
        }
    }
    /// Folds `rows` (each as long as `states`) into `states`, column by column: the fold of a
    /// leading-axis reduction. States with several fields override it with a struct-of-arrays
    /// loop that vectorizes.
    #[inline]
    fn push_rows(states: &mut [Self], rows: &[&[T]]) {
        for cols in column_tiles(states.len()) {
            let st = &mut states[cols.clone()];
            for row in rows {
                for (s, &x) in st.iter_mut().zip(&row[cols.clone()]) {
                    s.push(x);
                }
            }
        }
    }
    fn merge(&mut self, other: &Self);
    fn finish(&self, ctx: &Self::Ctx) -> Result<Self::Out>;
    /// Bytes of the state's byte form ([`State::encode`]).
    fn encoded_len() -> usize;
    /// Appends the state's byte form to `out` (every field, bit for bit: a decoded state
    /// merges and finishes exactly as the original).
    fn encode(&self, out: &mut Vec<u8>);
    /// The state of a byte form of [`State::encoded_len`] bytes.
    fn decode(b: &[u8]) -> Self;
}

/// Appends the bytes of `x` (native byte order: the workers of one run share a platform).
pub(crate) fn put_num<T: Numeric>(x: T, out: &mut Vec<u8>) {
    let n = std::mem::size_of::<T>();
    // SAFETY: every `Numeric` type is a primitive integer or float: `n` initialized bytes,
    // no padding, read only for the lifetime of `x`.
    let b = unsafe { std::slice::from_raw_parts((&x as *const T).cast::<u8>(), n) };
    out.extend_from_slice(b);
}

/// The value whose bytes [`put_num`] wrote at the start of `b`.
///
/// # Panics
/// If `b` is shorter than a `T` (callers check the lengths of byte forms first).
pub(crate) fn get_num<T: Numeric>(b: &[u8]) -> T {
    assert!(
        b.len() >= std::mem::size_of::<T>(),
        "internal: short state bytes"
    );
    // SAFETY: `b` holds at least `size_of::<T>()` bytes, and every bit pattern is a value of a
    // primitive integer or float.
    unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) }
}

/// Appends the bytes of each of `xs` ([`put_num`]).
fn put_nums<T: Numeric>(xs: &[T], out: &mut Vec<u8>) {
    for &x in xs {
        put_num(x, out);
    }
}

/// The `k`-th value of a byte form of `T`s written by [`put_nums`].
fn get_nth<T: Numeric>(b: &[u8], k: usize) -> T {
    get_num(&b[k * std::mem::size_of::<T>()..])
}

/// Columns per pass of the default `push_rows`: its states stay in cache while every row
/// streams through them, and rows are read in runs this long (short runs far apart cost TLB
/// misses and prefetch restarts).
const ROW_TILE: usize = 8192;

/// The column ranges, [`ROW_TILE`] wide, of a `push_rows` over `m` states: each tile of states
/// stays in cache while every row streams through it.
fn column_tiles(m: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..m)
        .step_by(ROW_TILE)
        .map(move |t0| t0..(t0 + ROW_TILE).min(m))
}

/// Runs `fold(j0, w)` over the columns of a `push_rows` of `m` states in runs of `LANES`
/// (the last run `w < LANES` long): a fold sums each run's columns over every row in
/// registers, then adds the sums to the states. The rows stream side by side, each read once,
/// with no scratch between rows and states (a pass per row over a tile of sums cost W8's fold
/// 0.36 s of busy time against 0.21 s), and each state gets the sum `(((0 + r₀) + r₁) + …)`
/// that a column-by-column pass gives it.
#[inline(always)]
pub(crate) fn fold_lanes<const LANES: usize, F: FnMut(usize, usize)>(m: usize, mut fold: F) {
    let whole = m - m % LANES;
    for j0 in (0..whole).step_by(LANES) {
        fold(j0, LANES);
    }
    if whole < m {
        fold(whole, m - whole);
    }
}

// ---------------------------------------------------------------------------------------------
// States

/// `sum`/`nansum`: an accumulator in `T::Acc`.
#[derive(Clone)]
pub(crate) struct SumState<T: Numeric, const SKIP_NAN: bool>(pub T::Acc);

impl<T: Numeric, const SKIP_NAN: bool> State<T> for SumState<T, SKIP_NAN> {
    type Out = T::Sum;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        if !(SKIP_NAN && x.is_nan_()) {
            self.0 = self.0.add_(x.to_acc());
        }
    }
    #[inline]
    fn push_slice(&mut self, xs: &[T]) {
        // Eight independent accumulators: vectorizes, and the order is fixed per block.
        let mut acc = [<T::Acc as num_traits::Zero>::zero(); 8];
        let chunks = xs.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                let v = c[k];
                if !(SKIP_NAN && v.is_nan_()) {
                    acc[k] = acc[k].add_(v.to_acc());
                }
            }
        }
        let mut total = acc[0];
        for a in &acc[1..] {
            total = total.add_(*a);
        }
        for &v in rest {
            if !(SKIP_NAN && v.is_nan_()) {
                total = total.add_(v.to_acc());
            }
        }
        self.0 = self.0.add_(total);
    }
    fn merge(&mut self, o: &Self) {
        self.0 = self.0.add_(o.0);
    }
    fn finish(&self, _ctx: &()) -> Result<T::Sum> {
        Ok(T::acc_to_sum(self.0))
    }
    fn encoded_len() -> usize {
        std::mem::size_of::<T::Acc>()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_num(self.0, out);
    }
    fn decode(b: &[u8]) -> Self {
        SumState(get_num(b))
    }
}

/// `prod`: a product in `T::Acc`.
#[derive(Clone)]
pub(crate) struct ProdState<T: Numeric>(pub T::Acc);

impl<T: Numeric> State<T> for ProdState<T> {
    type Out = T::Sum;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        self.0 = self.0.mul_(x.to_acc());
    }
    fn merge(&mut self, o: &Self) {
        self.0 = self.0.mul_(o.0);
    }
    fn finish(&self, _ctx: &()) -> Result<T::Sum> {
        Ok(T::acc_to_sum(self.0))
    }
    fn encoded_len() -> usize {
        std::mem::size_of::<T::Acc>()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_num(self.0, out);
    }
    fn decode(b: &[u8]) -> Self {
        ProdState(get_num(b))
    }
}

/// `nanmean` (and the reference for `mean`, which keeps its count once per partial:
/// [`crate::ops::mean`]): a count and an f64 sum (16 bytes, half of [`MomentState`]: the mean
/// needs no shift to stay accurate).
#[derive(Clone)]
pub(crate) struct MeanState<T, const SKIP_NAN: bool> {
    n: f64,
    s: f64,
    _t: PhantomData<fn(T)>,
}

impl<T, const SKIP_NAN: bool> MeanState<T, SKIP_NAN> {
    pub(crate) fn new() -> Self {
        MeanState {
            n: 0.0,
            s: 0.0,
            _t: PhantomData,
        }
    }
}

impl<T: Numeric, const SKIP_NAN: bool> State<T> for MeanState<T, SKIP_NAN> {
    type Out = T::Mean;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        let x = x.to_f64_();
        if SKIP_NAN && x.is_nan() {
            return;
        }
        self.s += x;
        self.n += 1.0;
    }
    #[inline]
    fn push_slice(&mut self, xs: &[T]) {
        let (mut s, mut n) = ([0.0f64; 4], [0.0f64; 4]);
        let chunks = xs.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for j in 0..4 {
                let x = c[j].to_f64_();
                if SKIP_NAN {
                    // Branch-free, so the loop vectorizes.
                    let ok = !x.is_nan();
                    s[j] += if ok { x } else { 0.0 };
                    n[j] += ok as u8 as f64;
                } else {
                    s[j] += x;
                }
            }
        }
        self.s += (s[0] + s[1]) + (s[2] + s[3]);
        self.n += if SKIP_NAN {
            (n[0] + n[1]) + (n[2] + n[3])
        } else {
            (xs.len() - rest.len()) as f64
        };
        for &x in rest {
            self.push(x);
        }
    }
    /// Eight columns at a time, every row into registers, then into the states: see
    /// [`fold_lanes`].
    fn push_rows(states: &mut [Self], rows: &[&[T]]) {
        fold_lanes::<8, _>(states.len(), |j0, w| {
            let (mut s, mut n) = ([0.0f64; 8], [0.0f64; 8]);
            for row in rows {
                let r = &row[j0..j0 + w];
                for k in 0..w {
                    let x = r[k].to_f64_();
                    if SKIP_NAN {
                        let ok = !x.is_nan();
                        s[k] += if ok { x } else { 0.0 };
                        n[k] += ok as u8 as f64;
                    } else {
                        s[k] += x;
                    }
                }
            }
            for (k, st) in states[j0..j0 + w].iter_mut().enumerate() {
                st.s += s[k];
                st.n += if SKIP_NAN { n[k] } else { rows.len() as f64 };
            }
        });
    }
    fn merge(&mut self, o: &Self) {
        self.s += o.s;
        self.n += o.n;
    }
    fn finish(&self, _ctx: &()) -> Result<T::Mean> {
        Ok(<T::Mean as NumericSealed>::from_f64_(if self.n == 0.0 {
            f64::NAN
        } else {
            self.s / self.n
        }))
    }
    fn encoded_len() -> usize {
        16
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_nums(&[self.n, self.s], out);
    }
    fn decode(b: &[u8]) -> Self {
        MeanState {
            n: get_nth(b, 0),
            s: get_nth(b, 1),
            _t: PhantomData,
        }
    }
}

/// What a moments reduction returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum MomentOut {
    Var { ddof: f64 },
    Std { ddof: f64 },
}

/// `mean`/`var`/`std` and their NaN-skipping variants: `n`, a shift `k` (the first value seen),
/// and the sums of `d = x - k` and `d²`. Shifting keeps `Σd² - (Σd)²/n` accurate for data with
/// a large mean (temperatures in kelvin); partials combine with Chan et al.'s formula.
#[derive(Clone)]
pub(crate) struct MomentState<T, const SKIP_NAN: bool> {
    n: f64,
    k: f64,
    s1: f64,
    s2: f64,
    _t: PhantomData<fn(T)>,
}

impl<T, const SKIP_NAN: bool> MomentState<T, SKIP_NAN> {
    pub(crate) fn new() -> Self {
        MomentState {
            n: 0.0,
            k: 0.0,
            s1: 0.0,
            s2: 0.0,
            _t: PhantomData,
        }
    }
    fn mean_m2(&self) -> (f64, f64) {
        if self.n == 0.0 {
            return (f64::NAN, f64::NAN);
        }
        // `s1 * (s1 / n)`, not `s1 * s1 / n`: it cannot overflow where `s2` does not. When the
        // squares of finite deviations overflow (|x| > ~1e154), `s2` is +inf with `s1` finite:
        // the variance is inf, as NumPy's (not `inf - inf = NaN`). An infinite input makes `s1`
        // infinite too and the result NaN, as NumPy's.
        let m2 = if self.s2 == f64::INFINITY && self.s1.is_finite() {
            f64::INFINITY
        } else {
            self.s2 - self.s1 * (self.s1 / self.n)
        };
        (self.k + self.s1 / self.n, m2)
    }
}

impl<T: Numeric, const SKIP_NAN: bool> State<T> for MomentState<T, SKIP_NAN> {
    type Out = T::Mean;
    type Ctx = MomentOut;
    #[inline(always)]
    fn push(&mut self, x: T) {
        let x = x.to_f64_();
        if SKIP_NAN && x.is_nan() {
            return;
        }
        if self.n == 0.0 {
            self.k = x;
        }
        let d = x - self.k;
        self.s1 += d;
        self.s2 += d * d;
        self.n += 1.0;
    }
    #[inline]
    fn push_slice(&mut self, xs: &[T]) {
        let mut i = 0;
        while self.n == 0.0 && i < xs.len() {
            self.push(xs[i]);
            i += 1;
        }
        let k = self.k;
        let (mut s1, mut s2, mut n) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
        let chunks = xs[i..].chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for j in 0..4 {
                let x = c[j].to_f64_();
                if SKIP_NAN {
                    // Branch-free, so the loop vectorizes.
                    let ok = !x.is_nan();
                    let d = if ok { x - k } else { 0.0 };
                    s1[j] += d;
                    s2[j] += d * d;
                    n[j] += ok as u8 as f64;
                } else {
                    let d = x - k;
                    s1[j] += d;
                    s2[j] += d * d;
                }
            }
        }
        self.s1 += (s1[0] + s1[1]) + (s1[2] + s1[3]);
        self.s2 += (s2[0] + s2[1]) + (s2[2] + s2[3]);
        self.n += if SKIP_NAN {
            (n[0] + n[1]) + (n[2] + n[3])
        } else {
            (xs.len() - i - rest.len()) as f64
        };
        for &x in rest {
            self.push(x);
        }
    }
    /// Four columns at a time, every row into registers, then into the states: see
    /// [`fold_lanes`]. The shift of an empty state is the first value it will see (the first
    /// non-NaN one when NaN is skipped), as `push` would choose it.
    fn push_rows(states: &mut [Self], rows: &[&[T]]) {
        fold_lanes::<4, _>(states.len(), |j0, w| {
            let mut k = [0.0f64; 4];
            for (c, state) in states[j0..j0 + w].iter_mut().enumerate() {
                if state.n == 0.0 {
                    let first = rows
                        .iter()
                        .map(|r| r[j0 + c].to_f64_())
                        .find(|x| !(SKIP_NAN && x.is_nan()));
                    state.k = first.unwrap_or(0.0);
                }
                k[c] = state.k;
            }
            let (mut s1, mut s2, mut n) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
            for row in rows {
                let r = &row[j0..j0 + w];
                for c in 0..w {
                    let x = r[c].to_f64_();
                    if SKIP_NAN {
                        let ok = !x.is_nan();
                        let d = if ok { x - k[c] } else { 0.0 };
                        s1[c] += d;
                        s2[c] += d * d;
                        n[c] += ok as u8 as f64;
                    } else {
                        let d = x - k[c];
                        s1[c] += d;
                        s2[c] += d * d;
                    }
                }
            }
            for (c, st) in states[j0..j0 + w].iter_mut().enumerate() {
                st.s1 += s1[c];
                st.s2 += s2[c];
                st.n += if SKIP_NAN { n[c] } else { rows.len() as f64 };
            }
        });
    }
    fn merge(&mut self, o: &Self) {
        if o.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = o.clone();
            return;
        }
        let (ma, m2a) = self.mean_m2();
        let (mb, m2b) = o.mean_m2();
        let n = self.n + o.n;
        let delta = mb - ma;
        let mean = ma + delta * (o.n / n);
        let m2 = m2a + m2b + delta * delta * (self.n * o.n / n);
        self.n = n;
        self.k = mean;
        self.s1 = 0.0;
        self.s2 = m2;
    }
    fn finish(&self, out: &MomentOut) -> Result<T::Mean> {
        let (_, m2) = self.mean_m2();
        // Rounding can leave M2 slightly negative; clamp it without losing a NaN.
        let m2 = if m2 < 0.0 { 0.0 } else { m2 };
        let v = match *out {
            MomentOut::Var { ddof } => {
                if self.n - ddof <= 0.0 {
                    f64::NAN
                } else {
                    m2 / (self.n - ddof)
                }
            }
            MomentOut::Std { ddof } => {
                if self.n - ddof <= 0.0 {
                    f64::NAN
                } else {
                    (m2 / (self.n - ddof)).sqrt()
                }
            }
        };
        // Keep NaN inputs visible (the shifted sums already carry them).
        Ok(<T::Mean as NumericSealed>::from_f64_(v))
    }
    fn encoded_len() -> usize {
        32
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_nums(&[self.n, self.k, self.s1, self.s2], out);
    }
    fn decode(b: &[u8]) -> Self {
        MomentState {
            n: get_nth(b, 0),
            k: get_nth(b, 1),
            s1: get_nth(b, 2),
            s2: get_nth(b, 3),
            _t: PhantomData,
        }
    }
}

/// `min`/`max` (NaN propagates) and `nanmin`/`nanmax` (NaN skipped; all-NaN gives NaN).
#[derive(Clone)]
pub(crate) struct ExtremeState<T, const MAX: bool, const SKIP_NAN: bool> {
    v: T,
    seen: bool,
    nan: bool,
    /// A NaN was skipped (nan-variants): an all-NaN slice, not an empty one.
    skipped: bool,
}

impl<T: Numeric, const MAX: bool, const SKIP_NAN: bool> ExtremeState<T, MAX, SKIP_NAN> {
    pub(crate) fn new() -> Self {
        ExtremeState {
            v: T::zero(),
            seen: false,
            nan: false,
            skipped: false,
        }
    }
}

impl<T: Numeric, const MAX: bool, const SKIP_NAN: bool> State<T>
    for ExtremeState<T, MAX, SKIP_NAN>
{
    type Out = T;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        if x.is_nan_() {
            if !SKIP_NAN {
                self.nan = true;
                self.v = x;
            }
            self.skipped = true;
            return;
        }
        if !self.seen || (if MAX { x > self.v } else { x < self.v }) {
            if !self.nan {
                self.v = x;
            }
            self.seen = true;
        }
    }
    fn merge(&mut self, o: &Self) {
        self.skipped |= o.skipped;
        if self.nan {
            return;
        }
        if o.nan {
            *self = o.clone();
            return;
        }
        if o.seen && (!self.seen || (if MAX { o.v > self.v } else { o.v < self.v })) {
            self.v = o.v;
            self.seen = true;
        }
    }
    fn finish(&self, _ctx: &()) -> Result<T> {
        if self.nan {
            return Ok(self.v);
        }
        if !self.seen {
            // Only NaN seen by a nan-variant: NaN, as NumPy. Nothing seen at all is an empty
            // reduction, refused when the node is built; never answer it with a number.
            if SKIP_NAN && T::IS_FLOAT && self.skipped {
                return Ok(T::from_f64_(f64::NAN));
            }
            return Err(Error::InvalidArgument {
                op: if MAX { "max" } else { "min" },
                detail: "zero-size reduction: min/max of no element has no identity".into(),
            });
        }
        Ok(self.v)
    }
    fn encoded_len() -> usize {
        std::mem::size_of::<T>() + 1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_num(self.v, out);
        out.push(self.seen as u8 | (self.nan as u8) << 1 | (self.skipped as u8) << 2);
    }
    fn decode(b: &[u8]) -> Self {
        let flags = b[std::mem::size_of::<T>()];
        ExtremeState {
            v: get_num(b),
            seen: flags & 1 != 0,
            nan: flags & 2 != 0,
            skipped: flags & 4 != 0,
        }
    }
}

/// `count_nonzero`.
#[derive(Clone)]
pub(crate) struct CountState(pub u64);
impl<T: Element> State<T> for CountState {
    type Out = i64;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        self.0 += x.is_nonzero() as u64;
    }
    fn merge(&mut self, o: &Self) {
        self.0 += o.0;
    }
    fn finish(&self, _ctx: &()) -> Result<i64> {
        Ok(self.0 as i64)
    }
    fn encoded_len() -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_num(self.0, out);
    }
    fn decode(b: &[u8]) -> Self {
        CountState(get_num(b))
    }
}

/// `any` (`ALL == false`) and `all` (`ALL == true`).
#[derive(Clone)]
pub(crate) struct LogicState<const ALL: bool>(pub bool);
impl<T: Element, const ALL: bool> State<T> for LogicState<ALL> {
    type Out = bool;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        if ALL {
            self.0 &= x.is_nonzero();
        } else {
            self.0 |= x.is_nonzero();
        }
    }
    fn merge(&mut self, o: &Self) {
        if ALL {
            self.0 &= o.0;
        } else {
            self.0 |= o.0;
        }
    }
    fn finish(&self, _ctx: &()) -> Result<bool> {
        Ok(self.0)
    }
    fn encoded_len() -> usize {
        1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.0 as u8);
    }
    fn decode(b: &[u8]) -> Self {
        LogicState(b[0] != 0)
    }
}

// ---------------------------------------------------------------------------------------------
// Accumulating a block into an array of states

/// The shape of a block's partial: reduced axes kept with length 1.
pub(crate) fn state_shape(block_shape: &[usize], axes: &[usize]) -> Vec<usize> {
    block_shape
        .iter()
        .enumerate()
        .map(|(ax, &l)| if axes.contains(&ax) { 1 } else { l })
        .collect()
}

/// Folds one block into `states` (the block's partial shape).
pub(crate) fn accumulate_into<T: Element, S: State<T>>(
    states: &mut ArrayD<S>,
    block: &ArrayViewD<'_, T>,
    axes: &[usize],
) {
    let nd = block.ndim();
    if block.is_empty() {
        return;
    }
    if axes.len() == nd {
        let s = states.first_mut().expect("one state");
        push_all(s, block);
        return;
    }
    if axes == [nd - 1] {
        Zip::from(states.lanes_mut(Axis(nd - 1)))
            .and(block.lanes(Axis(nd - 1)))
            .for_each(|mut s, lane| {
                let s = &mut s[0];
                match lane.as_slice() {
                    Some(xs) => s.push_slice(xs),
                    None => lane.iter().for_each(|&x| s.push(x)),
                }
            });
        return;
    }
    // A contiguous block: runs of consecutive axes that are all reduced or all kept are
    // merged, so any choice of axes folds contiguous runs (`push_slice`) or whole rows
    // (`push_rows`), never one element at a time.
    if let (Some(xs), Some(st)) = (block.as_slice(), states.as_slice_mut()) {
        let dims = merged_dims(block.shape(), axes);
        fold_contiguous(st, xs, &dims);
        return;
    }
    // General case: for every position along the reduced axes, fold the sub-block with those
    // axes fixed into the states, elementwise.
    let mut sv = states.view_mut();
    for &ax in axes.iter().rev() {
        sv.index_axis_inplace(Axis(ax), 0);
    }
    let ranges: Vec<std::ops::Range<usize>> = axes.iter().map(|&ax| 0..block.shape()[ax]).collect();
    crate::chunks::for_each_index(&ranges, |pos| {
        let mut sub = block.view();
        for (k, &ax) in axes.iter().enumerate().rev() {
            sub.index_axis_inplace(Axis(ax), pos[k]);
        }
        Zip::from(&mut sv).and(&sub).for_each(|s, &x| s.push(x));
    });
}

/// The rows of a group of blocks reduced over leading `axes`: each a contiguous slice of the
/// kept (trailing) axes, one per position of the reduced ones, block after block, and the
/// row length. `None` when the axes do not lead, the blocks' kept shapes differ, or a row is
/// not contiguous (whole standard-layout blocks and row-strided views of a larger in-memory
/// array qualify).
pub(crate) fn leading_rows<'v, T: Element>(
    views: &[&'v ArrayViewD<'_, T>],
    axes: &[usize],
) -> Option<(usize, Vec<&'v [T]>)> {
    let first = views.first()?;
    let nd = first.ndim();
    let leading =
        !axes.is_empty() && axes.len() < nd && axes.iter().enumerate().all(|(k, &a)| k == a);
    let tail = &first.shape()[axes.len()..];
    if !leading || !views.iter().all(|v| &v.shape()[axes.len()..] == tail) {
        return None;
    }
    let m: usize = tail.iter().product();
    let mut rows: Vec<&'v [T]> = Vec::new();
    for v in views {
        if let Some(d) = v.as_slice() {
            if m > 0 {
                rows.extend(d.chunks_exact(m));
            }
            continue;
        }
        let ranges: Vec<std::ops::Range<usize>> = axes.iter().map(|&ax| 0..v.shape()[ax]).collect();
        let mut ok = true;
        crate::chunks::for_each_index(&ranges, |pos| {
            let mut sub = (*v).clone();
            for (k, &ax) in axes.iter().enumerate().rev() {
                sub.index_axis_inplace(Axis(ax), pos[k]);
            }
            match sub.to_slice() {
                Some(r) => rows.push(r),
                None => ok = false,
            }
        });
        if !ok {
            return None;
        }
    }
    Some((m, rows))
}

/// The block's axes as (length, reduced) with length-1 axes dropped and neighbours of the same
/// kind merged: the C-order layout of a contiguous block and of its states, seen as few axes.
fn merged_dims(shape: &[usize], axes: &[usize]) -> Vec<(usize, bool)> {
    let mut dims: Vec<(usize, bool)> = Vec::with_capacity(shape.len());
    for (ax, &n) in shape.iter().enumerate() {
        let reduced = axes.contains(&ax);
        match dims.last_mut() {
            _ if n == 1 => {}
            Some((len, r)) if *r == reduced => *len *= n,
            _ => dims.push((n, reduced)),
        }
    }
    dims
}

/// Folds the C-contiguous elements `xs` laid out as `dims` (see [`merged_dims`]) into the
/// C-contiguous `states` of its kept axes. Walks the outer axes and folds the inner one or
/// two: a reduced run into one state (`push_slice`), or rows into a run of states
/// (`push_rows`, the vectorized column-by-column fold).
fn fold_contiguous<T: Element, S: State<T>>(states: &mut [S], xs: &[T], dims: &[(usize, bool)]) {
    match dims {
        [] => states[0].push(xs[0]),
        [(_, true)] => states[0].push_slice(xs),
        [(_, false)] => states.iter_mut().zip(xs).for_each(|(s, &x)| s.push(x)),
        [(_, false), (r, true)] => states
            .iter_mut()
            .zip(xs.chunks_exact(*r))
            .for_each(|(s, run)| s.push_slice(run)),
        [(_, true), (k, false)] => {
            let rows: Vec<&[T]> = xs.chunks_exact(*k).collect();
            S::push_rows(states, &rows);
        }
        [(n, false), rest @ ..] => {
            let (sn, xn) = (states.len() / n, xs.len() / n);
            for (st, sub) in states.chunks_exact_mut(sn).zip(xs.chunks_exact(xn)) {
                fold_contiguous(st, sub, rest);
            }
        }
        [(n, true), rest @ ..] => {
            for sub in xs.chunks_exact(xs.len() / n) {
                fold_contiguous(states, sub, rest);
            }
        }
    }
}

/// Where the elements of a C-order block go among its partial's C-order states: the block's
/// axes merged as in [`merged_dims`], the innermost run `inner_len` long (reduced into one
/// state, or kept: one state per element), and per outer merged axis its length and its
/// stride among the states (0 when reduced).
struct TileMap {
    inner_len: usize,
    inner_reduced: bool,
    outer: Vec<(usize, usize)>,
}

impl TileMap {
    fn new(block_shape: &[usize], axes: &[usize]) -> TileMap {
        let dims = merged_dims(block_shape, axes);
        let Some((&(inner_len, inner_reduced), rest)) = dims.split_last() else {
            // Every axis has length 1: one element, one state.
            return TileMap {
                inner_len: 1,
                inner_reduced: true,
                outer: Vec::new(),
            };
        };
        let mut stride = if inner_reduced { 1 } else { inner_len };
        let mut outer = vec![(0, 0); rest.len()];
        for (k, &(len, reduced)) in rest.iter().enumerate().rev() {
            outer[k] = (len, if reduced { 0 } else { stride });
            if !reduced {
                stride *= len;
            }
        }
        TileMap {
            inner_len,
            inner_reduced,
            outer,
        }
    }

    /// The state index of the first element of inner run `q`.
    #[inline]
    fn run_state(&self, mut q: usize) -> usize {
        let mut at = 0;
        for &(len, stride) in self.outer.iter().rev() {
            at += (q % len) * stride;
            q /= len;
        }
        at
    }

    /// Folds the elements `xs`, starting at row-major offset `offset` of the block, into
    /// `states`: each piece within one inner run at once (`push_slice` into one state for a
    /// reduced run, element by element into consecutive states for a kept one).
    #[inline]
    fn fold<T: Element, S: State<T>>(&self, states: &mut [S], offset: usize, mut xs: &[T]) {
        let mut p = offset;
        while !xs.is_empty() {
            let i = p % self.inner_len;
            let n = (self.inner_len - i).min(xs.len());
            let (piece, rest) = xs.split_at(n);
            let base = self.run_state(p / self.inner_len);
            if self.inner_reduced {
                states[base].push_slice(piece);
            } else {
                for (s, &x) in states[base + i..base + i + n].iter_mut().zip(piece) {
                    s.push(x);
                }
            }
            p += n;
            xs = rest;
        }
    }
}

/// Folds one block into grouped `states` (the block's shape with `slots.axis` replaced by
/// `slots.n`): each position `p` along the axis (global position `start + p`) into the states
/// of its slot, in position order. Runs of consecutive positions of one slot in a contiguous
/// block along a leading axis are folded as rows (vectorized [`State::push_rows`]).
pub(crate) fn accumulate_grouped<T: Element, S: State<T>>(
    states: &mut ArrayD<S>,
    block: &ArrayViewD<'_, T>,
    slots: &Slots,
    start: usize,
) {
    let ax = slots.axis;
    let len = block.shape()[ax];
    if block.is_empty() {
        return;
    }
    if ax == 0
        && let (Some(xs), Some(st)) = (block.as_slice(), states.as_slice_mut())
    {
        let m = xs.len() / len;
        let rows: Vec<&[T]> = xs.chunks_exact(m).collect();
        let mut p = 0;
        while p < len {
            let slot = slots.slot(start + p);
            let mut q = p + 1;
            while q < len && slots.slot(start + q) == slot {
                q += 1;
            }
            if let Some(s) = slot {
                S::push_rows(&mut st[s * m..(s + 1) * m], &rows[p..q]);
            }
            p = q;
        }
        return;
    }
    for p in 0..len {
        if let Some(s) = slots.slot(start + p) {
            let mut st = states.index_axis_mut(Axis(ax), s);
            Zip::from(&mut st)
                .and(&block.index_axis(Axis(ax), p))
                .for_each(|s, &x| s.push(x));
        }
    }
}

/// `first`/`last` (`LAST`) and `nanfirst`/`nanlast` (`SKIP_NAN`): the first or last value
/// pushed, in position order (partials merge in position order: earlier `self`, later
/// `other`). Nothing seen (only NaN, for the nan-variants) gives NaN for floats.
#[derive(Clone)]
pub(crate) struct EdgeState<T, const LAST: bool, const SKIP_NAN: bool> {
    v: T,
    seen: bool,
}

impl<T: Numeric, const LAST: bool, const SKIP_NAN: bool> EdgeState<T, LAST, SKIP_NAN> {
    pub(crate) fn new() -> Self {
        EdgeState {
            v: T::zero(),
            seen: false,
        }
    }
}

impl<T: Numeric, const LAST: bool, const SKIP_NAN: bool> State<T> for EdgeState<T, LAST, SKIP_NAN> {
    type Out = T;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        if SKIP_NAN && x.is_nan_() {
            return;
        }
        if LAST || !self.seen {
            self.v = x;
            self.seen = true;
        }
    }
    fn merge(&mut self, o: &Self) {
        if o.seen && (LAST || !self.seen) {
            *self = o.clone();
        }
    }
    fn finish(&self, _ctx: &()) -> Result<T> {
        if self.seen {
            return Ok(self.v);
        }
        if T::IS_FLOAT {
            return Ok(T::from_f64_(f64::NAN));
        }
        Err(Error::InvalidArgument {
            op: if LAST { "last" } else { "first" },
            detail: "a group of no element has no first or last value".into(),
        })
    }
    fn encoded_len() -> usize {
        std::mem::size_of::<T>() + 1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_num(self.v, out);
        out.push(self.seen as u8);
    }
    fn decode(b: &[u8]) -> Self {
        EdgeState {
            v: get_num(b),
            seen: b[std::mem::size_of::<T>()] != 0,
        }
    }
}

fn push_all<T: Element, S: State<T>>(s: &mut S, block: &ArrayViewD<'_, T>) {
    // Memory order is fine: every state is order-independent up to rounding, and the order
    // is fixed for a given block, so results stay deterministic.
    if let Some(xs) = block.as_slice_memory_order() {
        s.push_slice(xs);
        return;
    }
    let last = block.ndim() - 1;
    for lane in block.lanes(Axis(last)) {
        match lane.as_slice() {
            Some(xs) => s.push_slice(xs),
            None => lane.iter().for_each(|&x| s.push(x)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The generic reducer over a state type

/// A reduction defined by its state: `sum`, `prod`, `mean`, `var`, `std`, `min`, `max`,
/// `count_nonzero`, `any`, `all` and the NaN variants.
pub(crate) struct StateReducer<T: Element, S: State<T>> {
    pub name: String,
    pub init: S,
    pub ctx: S::Ctx,
    pub _t: PhantomData<fn(T)>,
}

impl<T: Element, S: State<T, Ctx = ()>> StateReducer<T, S> {
    pub(crate) fn arc(name: impl Into<String>, init: S) -> Arc<dyn Reducer> {
        Self::arc_with(name, init, ())
    }
}

impl<T: Element, S: State<T>> StateReducer<T, S> {
    pub(crate) fn arc_with(name: impl Into<String>, init: S, ctx: S::Ctx) -> Arc<dyn Reducer> {
        Arc::new(StateReducer {
            name: name.into(),
            init,
            ctx,
            _t: PhantomData::<fn(T)>,
        })
    }

    fn states_or_new(&self, acc: Option<Value>, shape: &[usize]) -> ArrayD<S> {
        match acc {
            Some(Value::Partial(p, _)) => *p
                .downcast::<ArrayD<S>>()
                .expect("internal: partial of another type"),
            _ => ArrayD::from_elem(IxDyn(shape), self.init.clone()),
        }
    }
}

fn states_of<S: 'static>(v: &Value) -> &ArrayD<S> {
    v.partial::<ArrayD<S>>()
}

impl<T: Element, S: State<T>> Reducer for StateReducer<T, S> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn partial_bytes(&self, elems: usize) -> usize {
        elems * std::mem::size_of::<S>()
    }
    fn streams(&self, _axes: &[usize], _ndim: usize) -> bool {
        true
    }
    fn partial(
        &self,
        block: &AnyView<'_>,
        axes: &[usize],
        _origin: &[usize],
        acc: Option<Value>,
    ) -> Result<Value> {
        let v = T::view_ref(block).expect("internal: reduction input of another type");
        let mut states = self.states_or_new(acc, &state_shape(v.shape(), axes));
        accumulate_into(&mut states, v, axes);
        let bytes = self.partial_bytes(states.len());
        Ok(Value::Partial(Box::new(states), bytes))
    }
    fn partial_stream(
        &self,
        feed: &mut TileFeed<'_>,
        block_shape: &[usize],
        axes: &[usize],
        acc: Option<Value>,
    ) -> Result<Value> {
        let mut states = self.states_or_new(acc, &state_shape(block_shape, axes));
        let st = states
            .as_slice_mut()
            .expect("internal: reduction states are contiguous");
        let map = TileMap::new(block_shape, axes);
        feed(&mut |offset, tile| map.fold(st, offset, T::slice_ref(tile)));
        let bytes = self.partial_bytes(states.len());
        Ok(Value::Partial(Box::new(states), bytes))
    }
    fn partial_group(
        &self,
        blocks: &[AnyView<'_>],
        axes: &[usize],
        acc: &mut Option<Value>,
    ) -> Option<Result<Value>> {
        let views: Vec<&ArrayViewD<'_, T>> = blocks
            .iter()
            .map(|b| T::view_ref(b))
            .collect::<Option<_>>()?;
        let first = views.first()?;
        let (_, rows) = leading_rows(&views, axes)?;
        let mut states = self.states_or_new(acc.take(), &state_shape(first.shape(), axes));
        S::push_rows(
            states
                .as_slice_mut()
                .expect("internal: reduction states are contiguous"),
            &rows,
        );
        let bytes = self.partial_bytes(states.len());
        Some(Ok(Value::Partial(Box::new(states), bytes)))
    }
    fn partial_grouped(
        &self,
        block: &AnyView<'_>,
        origin: &[usize],
        slots: &Slots,
        acc: Option<Value>,
    ) -> Result<Value> {
        let v = T::view_ref(block).expect("internal: reduction input of another type");
        let mut shape = v.shape().to_vec();
        shape[slots.axis] = slots.n;
        let mut states = self.states_or_new(acc, &shape);
        accumulate_grouped(&mut states, v, slots, origin[slots.axis]);
        let bytes = self.partial_bytes(states.len());
        Ok(Value::Partial(Box::new(states), bytes))
    }
    fn combine(&self, parts: &[&Value]) -> Result<Value> {
        let mut acc: ArrayD<S> = states_of::<S>(parts[0]).clone();
        for p in &parts[1..] {
            let o = states_of::<S>(p);
            let o = o
                .view()
                .into_shape_with_order(acc.raw_dim())
                .expect("internal: partial shapes differ");
            Zip::from(&mut acc).and(&o).for_each(|a, b| a.merge(b));
        }
        let bytes = self.partial_bytes(acc.len());
        Ok(Value::Partial(Box::new(acc), bytes))
    }
    fn finalize(&self, part: &Value, out_shape: &[usize]) -> Result<AnyArray> {
        let states = states_of::<S>(part);
        let mut out = Vec::with_capacity(states.len());
        for s in states.iter() {
            out.push(s.finish(&self.ctx)?);
        }
        let arr =
            ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("internal: output block size");
        Ok(S::Out::wrap(arr))
    }
    fn state_bytes(&self) -> Option<usize> {
        Some(S::encoded_len())
    }
    fn encode_partial(&self, part: &Value) -> Result<Vec<u8>> {
        let states = states_of::<S>(part);
        let mut out = Vec::with_capacity(states.len() * S::encoded_len());
        for st in states.iter() {
            st.encode(&mut out);
        }
        Ok(out)
    }
    fn decode_partial(&self, bytes: &[u8], shape: &[usize]) -> Result<Value> {
        let len = S::encoded_len();
        let n: usize = shape.iter().product();
        if bytes.len() != n * len {
            return Err(Error::internal(
                "reduction partial",
                format!(
                    "{} bytes for a {} partial of shape {shape:?} ({len} bytes a state): the \
                     partials array was not written by this plan",
                    bytes.len(),
                    self.name
                ),
            ));
        }
        let states: Vec<S> = bytes.chunks_exact(len).map(S::decode).collect();
        let arr = ArrayD::from_shape_vec(IxDyn(shape), states).expect("internal: state count");
        let b = self.partial_bytes(arr.len());
        Ok(Value::Partial(Box::new(arr), b))
    }
}

// ---------------------------------------------------------------------------------------------
// Arg reductions

/// `(value, global index)` of the first extreme; NaN wins for `argmin`/`argmax`, is skipped by
/// the nan variants (an all-NaN slice is an error there).
#[derive(Clone, Copy)]
struct ArgState<T> {
    v: T,
    idx: u64,
    seen: bool,
    nan: bool,
}

/// `argmin`/`argmax`/`nanargmin`/`nanargmax` over one axis (`axis = Some`) or flattened.
pub(crate) struct ArgReducer<T, const MAX: bool, const SKIP_NAN: bool> {
    pub name: &'static str,
    /// The reduced axis, or `None` for the flattened index over all axes.
    pub axis: Option<usize>,
    /// The full input shape (for flattened indices).
    pub full_shape: Vec<usize>,
    pub _t: PhantomData<fn(T)>,
}

impl<T: Numeric, const MAX: bool, const SKIP_NAN: bool> ArgReducer<T, MAX, SKIP_NAN> {
    #[inline(always)]
    fn push(s: &mut ArgState<T>, x: T, idx: u64) {
        if x.is_nan_() {
            if !SKIP_NAN && (!s.nan || idx < s.idx) {
                *s = ArgState {
                    v: x,
                    idx,
                    seen: true,
                    nan: true,
                };
            }
            return;
        }
        if s.nan {
            return;
        }
        if !s.seen || (if MAX { x > s.v } else { x < s.v }) || (x == s.v && idx < s.idx) {
            *s = ArgState {
                v: x,
                idx,
                seen: true,
                nan: false,
            };
        }
    }
    fn merge(a: &mut ArgState<T>, b: &ArgState<T>) {
        if !b.seen {
            return;
        }
        if !a.seen {
            *a = *b;
            return;
        }
        if a.nan || b.nan {
            if b.nan && (!a.nan || b.idx < a.idx) {
                *a = *b;
            }
            return;
        }
        if (if MAX { b.v > a.v } else { b.v < a.v }) || (b.v == a.v && b.idx < a.idx) {
            *a = *b;
        }
    }
}

impl<T: Numeric, const MAX: bool, const SKIP_NAN: bool> Reducer for ArgReducer<T, MAX, SKIP_NAN> {
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn partial_bytes(&self, elems: usize) -> usize {
        elems * std::mem::size_of::<ArgState<T>>()
    }
    fn streams(&self, _axes: &[usize], _ndim: usize) -> bool {
        false
    }
    fn partial(
        &self,
        block: &AnyView<'_>,
        axes: &[usize],
        origin: &[usize],
        acc: Option<Value>,
    ) -> Result<Value> {
        let v = T::view_ref(block).expect("internal: reduction input of another type");
        let init = ArgState {
            v: T::zero(),
            idx: 0,
            seen: false,
            nan: false,
        };
        let mut states = match acc {
            Some(Value::Partial(p, _)) => *p
                .downcast::<ArrayD<ArgState<T>>>()
                .expect("internal: partial of another type"),
            _ => ArrayD::from_elem(IxDyn(&state_shape(v.shape(), axes)), init),
        };
        let strides: Vec<u64> = {
            let mut s = vec![1u64; self.full_shape.len()];
            for ax in (0..self.full_shape.len().saturating_sub(1)).rev() {
                s[ax] = s[ax + 1] * self.full_shape[ax + 1] as u64;
            }
            s
        };
        let mut pos = vec![0usize; v.ndim()];
        for (idx, &x) in v.indexed_iter() {
            let g: u64 = match self.axis {
                Some(ax) => (origin[ax] + idx[ax]) as u64,
                None => (0..v.ndim())
                    .map(|a| (origin[a] + idx[a]) as u64 * strides[a])
                    .sum(),
            };
            for a in 0..v.ndim() {
                pos[a] = if axes.contains(&a) { 0 } else { idx[a] };
            }
            Self::push(&mut states[IxDyn(&pos)], x, g);
        }
        let bytes = self.partial_bytes(states.len());
        Ok(Value::Partial(Box::new(states), bytes))
    }
    fn partial_grouped(
        &self,
        block: &AnyView<'_>,
        origin: &[usize],
        slots: &Slots,
        acc: Option<Value>,
    ) -> Result<Value> {
        let v = T::view_ref(block).expect("internal: reduction input of another type");
        let ax = slots.axis;
        let init = ArgState {
            v: T::zero(),
            idx: 0,
            seen: false,
            nan: false,
        };
        let mut shape = v.shape().to_vec();
        shape[ax] = slots.n;
        let mut states = match acc {
            Some(Value::Partial(p, _)) => *p
                .downcast::<ArrayD<ArgState<T>>>()
                .expect("internal: partial of another type"),
            _ => ArrayD::from_elem(IxDyn(&shape), init),
        };
        // Indices are positions along the grouped axis of the input (as flox's).
        for p in 0..v.shape()[ax] {
            let g = origin[ax] + p;
            if let Some(s) = slots.slot(g) {
                let mut st = states.index_axis_mut(Axis(ax), s);
                Zip::from(&mut st)
                    .and(&v.index_axis(Axis(ax), p))
                    .for_each(|s, &x| Self::push(s, x, g as u64));
            }
        }
        let bytes = self.partial_bytes(states.len());
        Ok(Value::Partial(Box::new(states), bytes))
    }
    fn combine(&self, parts: &[&Value]) -> Result<Value> {
        let mut acc: ArrayD<ArgState<T>> = states_of::<ArgState<T>>(parts[0]).clone();
        for p in &parts[1..] {
            let o = states_of::<ArgState<T>>(p);
            Zip::from(&mut acc)
                .and(o)
                .for_each(|a, b| Self::merge(a, b));
        }
        let bytes = self.partial_bytes(acc.len());
        Ok(Value::Partial(Box::new(acc), bytes))
    }
    fn finalize(&self, part: &Value, out_shape: &[usize]) -> Result<AnyArray> {
        let states = states_of::<ArgState<T>>(part);
        let mut out = Vec::with_capacity(states.len());
        for s in states.iter() {
            if !s.seen {
                return Err(Error::InvalidArgument {
                    op: self.name,
                    detail: "All-NaN slice encountered: no index to return".into(),
                });
            }
            out.push(s.idx as i64);
        }
        Ok(i64::wrap(
            ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("internal: output block size"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Kernels

/// One input block of a partial task: its fused program over leaves, shape and position.
pub(crate) struct PartialInput {
    pub program: Arc<Program>,
    pub leaves: Vec<Leaf>,
    pub block_shape: Vec<usize>,
    pub origin: Vec<usize>,
}

impl HeapBytes for PartialInput {
    fn heap_bytes(&self) -> usize {
        self.leaves.heap_bytes() + self.block_shape.heap_bytes() + self.origin.heap_bytes()
    }
}

/// Computes the partial of a group of input blocks (evaluating a fused elementwise input in
/// place, tile by tile when the reduction streams), and with `finalize`, the output block.
pub(crate) struct PartialKernel {
    pub inputs: Vec<PartialInput>,
    pub in_dtype: DType,
    pub axes: Vec<usize>,
    pub reducer: Arc<dyn Reducer>,
    pub finalize: Option<Vec<usize>>,
}

impl Kernel for PartialKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        // In a chain, the partial of the earlier groups, folded into in place.
        let mut acc: Option<Value> = ctx.owned.take();
        let inputs: Vec<Vec<AnyView<'_>>> = self
            .inputs
            .iter()
            .map(|i| i.leaves.iter().map(|l| l.view(ctx)).collect())
            .collect();
        let plain = inputs
            .iter()
            .zip(&self.inputs)
            .all(|(v, i)| i.program.is_identity_over(v, &i.block_shape));
        if plain {
            let views: Vec<AnyView<'_>> = inputs.iter().map(|v| v[0].clone()).collect();
            if let Some(part) = self.reducer.partial_group(&views, &self.axes, &mut acc) {
                return self.finish(part?);
            }
        }
        for (inp, views) in self.inputs.iter().zip(&inputs) {
            let identity = inp.program.is_identity_over(views, &inp.block_shape);
            acc = Some(if identity {
                self.reducer
                    .partial(&views[0], &self.axes, &inp.origin, acc)?
            } else if self.reducer.streams(&self.axes, inp.block_shape.len()) {
                self.reducer.partial_stream(
                    &mut |visit| inp.program.eval_tiles(views, &inp.block_shape, visit),
                    &inp.block_shape,
                    &self.axes,
                    acc,
                )?
            } else {
                let mut block = AnyArray::zeros(self.in_dtype, &inp.block_shape);
                inp.program.eval_into(views, &mut block.view_mut());
                self.reducer
                    .partial(&block.view(), &self.axes, &inp.origin, acc)?
            });
        }
        self.finish(acc.expect("internal: partial task without input"))
    }

    fn heap_bytes(&self) -> usize {
        self.inputs.heap_bytes() + self.axes.heap_bytes() + self.finalize.heap_bytes()
    }
}

impl PartialKernel {
    fn finish(&self, part: Value) -> Result<Option<Value>> {
        Ok(Some(match &self.finalize {
            Some(shape) => Value::Block(self.reducer.finalize(&part, shape)?),
            None => part,
        }))
    }
}

/// Combines the partials of its dependencies, and with `finalize`, produces the output block.
pub(crate) struct CombineKernel {
    pub reducer: Arc<dyn Reducer>,
    pub finalize: Option<Vec<usize>>,
}

impl Kernel for CombineKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let part = self.reducer.combine(ctx.deps)?;
        Ok(Some(match &self.finalize {
            Some(shape) => Value::Block(self.reducer.finalize(&part, shape)?),
            None => part,
        }))
    }

    fn heap_bytes(&self) -> usize {
        self.finalize.heap_bytes()
    }
}

/// A partial's byte form as a `u8` block of shape `shape` (the partial's elements, then
/// [`Reducer::state_bytes`] bytes each): how a cut reduction tree's partials are stored
/// between engine stages.
pub(crate) struct EncodeKernel {
    pub reducer: Arc<dyn Reducer>,
    pub shape: Vec<usize>,
}

impl Kernel for EncodeKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let bytes = self.reducer.encode_partial(ctx.deps[0])?;
        let arr = ArrayD::from_shape_vec(IxDyn(&self.shape), bytes).map_err(|e| {
            Error::internal(
                "reduction partial",
                format!("byte form of the partial: {e}"),
            )
        })?;
        Ok(Some(Value::Block(u8::wrap(arr))))
    }

    fn heap_bytes(&self) -> usize {
        self.shape.heap_bytes()
    }
}

/// The partial of shape `shape` from its byte form, a `u8` block (see [`EncodeKernel`]).
pub(crate) struct DecodeKernel {
    pub reducer: Arc<dyn Reducer>,
    pub shape: Vec<usize>,
}

impl Kernel for DecodeKernel {
    fn run(&self, ctx: &mut TaskCtx<'_, '_>) -> Result<Option<Value>> {
        let view = ctx.dep_view(0);
        let v = u8::view_ref(&view).ok_or_else(|| {
            Error::internal("reduction partial", "a partials block is not of type u8")
        })?;
        let bytes: std::borrow::Cow<'_, [u8]> = match v.as_slice() {
            Some(s) => s.into(),
            None => v.iter().copied().collect::<Vec<u8>>().into(),
        };
        Ok(Some(self.reducer.decode_partial(&bytes, &self.shape)?))
    }

    fn heap_bytes(&self) -> usize {
        self.shape.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of 3 columns × 5 rows, with NaN leading one column and filling another.
    fn rows() -> Vec<Vec<f64>> {
        let nan = f64::NAN;
        vec![
            vec![1e6 + 1.0, nan, nan],
            vec![1e6 + 2.5, 3.0, nan],
            vec![1e6 - 4.0, nan, nan],
            vec![1e6 + 0.5, 7.0, nan],
            vec![1e6 + 9.0, -1.0, nan],
        ]
    }

    /// `push_rows` (struct-of-arrays) must agree with element-by-element `push`.
    fn check<S: State<f64>>(init: S, ctx: &S::Ctx)
    where
        S::Out: Into<f64>,
    {
        let rows = rows();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        // Half the rows first, then the rest, to exercise states that already hold data.
        let mut fast = vec![init.clone(); 3];
        S::push_rows(&mut fast, &refs[..2]);
        S::push_rows(&mut fast, &refs[2..]);
        let mut slow = vec![init; 3];
        for r in &rows {
            for (s, &x) in slow.iter_mut().zip(r) {
                s.push(x);
            }
        }
        for (f, s) in fast.iter().zip(&slow) {
            let (f, s): (f64, f64) = (f.finish(ctx).unwrap().into(), s.finish(ctx).unwrap().into());
            assert!(
                (f.is_nan() && s.is_nan()) || (f - s).abs() <= 1e-9 * s.abs().max(1.0),
                "{f} vs {s}"
            );
        }
    }

    #[test]
    fn partials_survive_their_byte_form_bit_for_bit() {
        fn roundtrip<S: State<f64>>(init: S, ctx: S::Ctx)
        where
            S::Out: PartialEq + std::fmt::Debug,
        {
            let r = StateReducer::<f64, S>::arc_with("t", init, ctx);
            let block = ndarray::Array2::from_shape_vec((5, 3), rows().concat())
                .unwrap()
                .into_dyn();
            let view = AnyView::F64(block.view());
            let part = r.partial(&view, &[0], &[0, 0], None).unwrap();
            let bytes = r.encode_partial(&part).unwrap();
            assert_eq!(bytes.len(), 3 * r.state_bytes().unwrap());
            let back = r.decode_partial(&bytes, &[1, 3]).unwrap();
            let (a, b) = (r.finalize(&part, &[3]), r.finalize(&back, &[3]));
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                (a, b) => assert_eq!(a.is_err(), b.is_err()),
            }
            // Merging decoded partials is merging the originals.
            let two = r.combine(&[&part, &back]).unwrap();
            let twice = r.combine(&[&part, &part]).unwrap();
            assert_eq!(
                r.encode_partial(&two).unwrap(),
                r.encode_partial(&twice).unwrap()
            );
            assert!(r.decode_partial(&bytes[1..], &[1, 3]).is_err());
        }
        roundtrip(MeanState::<f64, true>::new(), ());
        roundtrip(
            MomentState::<f64, false>::new(),
            MomentOut::Std { ddof: 0.0 },
        );
        roundtrip(
            MomentState::<f64, true>::new(),
            MomentOut::Var { ddof: 1.0 },
        );
        roundtrip(SumState::<f64, true>(0.0), ());
        roundtrip(ExtremeState::<f64, true, true>::new(), ());
        roundtrip(ExtremeState::<f64, false, false>::new(), ());
        roundtrip(CountState(0), ());
        roundtrip(LogicState::<true>(true), ());
        roundtrip(EdgeState::<f64, true, true>::new(), ());
        roundtrip(ProdState::<f64>(1.0), ());
    }

    /// `push_rows` over many states gives each state the bits a fold of its column alone
    /// gives it (lanes and the shorter last run alike), into states empty or not.
    fn lanes_match_columns<S: State<f64>>(init: S) {
        let (m, nrows) = (13, 6);
        let nan = f64::NAN;
        let rows: Vec<Vec<f64>> = (0..nrows)
            .map(|r| {
                (0..m)
                    .map(|j| match (r * m + j) % 7 {
                        3 => nan,
                        k => 1e6 + (r * 31 + j * 7 + k) as f64 * 0.37,
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let bytes = |states: &[S]| {
            let mut out = Vec::new();
            states.iter().for_each(|s| s.encode(&mut out));
            out
        };
        let mut fast = vec![init.clone(); m];
        S::push_rows(&mut fast, &refs[..1]);
        S::push_rows(&mut fast, &refs[1..]);
        let mut slow = vec![init; m];
        for (j, st) in slow.iter_mut().enumerate() {
            let col: Vec<Vec<f64>> = rows.iter().map(|r| vec![r[j]]).collect();
            let col: Vec<&[f64]> = col.iter().map(|c| c.as_slice()).collect();
            S::push_rows(std::slice::from_mut(st), &col[..1]);
            S::push_rows(std::slice::from_mut(st), &col[1..]);
        }
        assert_eq!(bytes(&fast), bytes(&slow));
    }

    #[test]
    fn row_folds_in_lanes_match_column_folds_bit_for_bit() {
        lanes_match_columns(MeanState::<f64, false>::new());
        lanes_match_columns(MeanState::<f64, true>::new());
        lanes_match_columns(MomentState::<f64, false>::new());
        lanes_match_columns(MomentState::<f64, true>::new());
        lanes_match_columns(crate::ops::mean::MeanSum::<f64>::default());
    }

    #[test]
    fn push_rows_matches_push() {
        check(MeanState::<f64, false>::new(), &());
        check(MeanState::<f64, true>::new(), &());
        for out in [MomentOut::Var { ddof: 0.0 }, MomentOut::Std { ddof: 1.0 }] {
            check(MomentState::<f64, false>::new(), &out);
            check(MomentState::<f64, true>::new(), &out);
        }
    }
}
