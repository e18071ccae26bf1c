//! `mean` (not `nanmean`): per output element only an f64 sum, and the count of the elements
//! each sum holds kept once per partial rather than once per element.
//!
//! Without NaN skipping every element of a partial has seen as many inputs as every other: a
//! block's partial over axes `A` counts the block's lengths along `A`, a chain or tree of
//! such partials adds those counts. Only a grouped partial differs, one count per group
//! along the grouped axis. So a partial's counts are an array broadcast against its sums:
//! a single number, or one per group. A mean's partial is then 8 bytes an element instead of
//! 16 (`(n, Σ)`), and a leading-axis fold (W8's mean over time) reads and rewrites half the
//! state per block.
//!
//! Results are bit-identical to those of a per-element `(n, Σ)` state: the sums are folded in
//! the same order with the same partial sums, and divided by the same count.

use crate::element::{AnyArray, AnyView, ElementSealed, Numeric, NumericSealed};
use crate::error::{Error, Result};
use crate::exec::task::Value;
use crate::ops::group::Slots;
use crate::ops::reduce::{Reducer, State, StateReducer, TileFeed, fold_lanes, get_num, put_num};
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use std::marker::PhantomData;
use std::sync::Arc;

/// The f64 sum of a mean: [`crate::ops::reduce::MeanState`]'s folds without the count.
#[derive(Clone)]
pub(crate) struct MeanSum<T>(f64, PhantomData<fn(T)>);

impl<T> Default for MeanSum<T> {
    fn default() -> Self {
        MeanSum(0.0, PhantomData)
    }
}

impl<T: Numeric> State<T> for MeanSum<T> {
    type Out = f64;
    type Ctx = ();
    #[inline(always)]
    fn push(&mut self, x: T) {
        self.0 += x.to_f64_();
    }
    #[inline]
    fn push_slice(&mut self, xs: &[T]) {
        let mut s = [0.0f64; 4];
        let chunks = xs.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for j in 0..4 {
                s[j] += c[j].to_f64_();
            }
        }
        self.0 += (s[0] + s[1]) + (s[2] + s[3]);
        for &x in rest {
            self.push(x);
        }
    }
    /// Eight columns at a time, every row into registers, then into the states: see
    /// [`fold_lanes`].
    fn push_rows(states: &mut [Self], rows: &[&[T]]) {
        fold_lanes::<8, _>(states.len(), |j0, w| {
            let mut acc = [0.0f64; 8];
            for row in rows {
                let r = &row[j0..j0 + w];
                for k in 0..w {
                    acc[k] += r[k].to_f64_();
                }
            }
            for (state, a) in states[j0..j0 + w].iter_mut().zip(acc) {
                state.0 += a;
            }
        });
    }
    fn merge(&mut self, o: &Self) {
        self.0 += o.0;
    }
    fn finish(&self, _ctx: &()) -> Result<f64> {
        Ok(self.0)
    }
    fn encoded_len() -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_num(self.0, out);
    }
    fn decode(b: &[u8]) -> Self {
        MeanSum(get_num(b), PhantomData)
    }
}

/// A mean's partial: the sums, and the counts broadcast against them (every axis of length 1
/// but a grouped one, which has a count per group; a partial decoded from its byte form gets
/// that form back, [`collapse_counts`]).
struct MeanPartial {
    sums: Value,
    counts: ArrayD<f64>,
}

/// The `mean` reduction (see the module docs).
pub(crate) struct MeanReducer<T: Numeric> {
    sums: StateReducer<T, MeanSum<T>>,
}

impl<T: Numeric> MeanReducer<T> {
    pub(crate) fn arc(name: impl Into<String>) -> Arc<dyn Reducer> {
        Arc::new(MeanReducer {
            sums: StateReducer {
                name: name.into(),
                init: MeanSum::<T>::default(),
                ctx: (),
                _t: PhantomData,
            },
        })
    }

    /// The sums and counts of `acc` (zero counts of rank `ndim` when there is none).
    fn split(acc: Option<Value>, ndim: usize) -> (Option<Value>, ArrayD<f64>) {
        match acc {
            Some(Value::Partial(p, _)) => {
                let p = p
                    .downcast::<MeanPartial>()
                    .expect("internal: partial of another type");
                (Some(p.sums), p.counts)
            }
            _ => (None, ArrayD::zeros(IxDyn(&vec![1; ndim]))),
        }
    }

    /// The partial of `sums` and `counts`, of the bytes the plan expects of it
    /// ([`Reducer::partial_bytes`]): its counts, one or one per group, are not counted.
    fn join(&self, sums: Value, counts: ArrayD<f64>) -> Value {
        let bytes = sums.bytes();
        Value::Partial(Box::new(MeanPartial { sums, counts }), bytes)
    }
}

/// Elements per output element of a block of `shape` reduced over `axes`.
fn reduced_len(shape: &[usize], axes: &[usize]) -> f64 {
    axes.iter().map(|&a| shape[a]).product::<usize>() as f64
}

/// `a + b` for counts broadcast against the same sums (equal shapes, or one of them a single
/// number, or either broadcast to the other's shape).
fn add_counts(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    if a.shape() == b.shape() {
        return Ok(a + b);
    }
    let shape: Vec<usize> = a
        .shape()
        .iter()
        .zip(b.shape())
        .map(|(&x, &y)| x.max(y))
        .collect();
    match (a.broadcast(IxDyn(&shape)), b.broadcast(IxDyn(&shape))) {
        (Some(x), Some(y)) => Ok(&x + &y),
        _ => Err(Error::internal(
            "mean",
            format!(
                "partial counts of shapes {:?} and {:?} do not broadcast",
                a.shape(),
                b.shape()
            ),
        )),
    }
}

/// `counts` with every axis along which they do not vary collapsed to length 1: the form a
/// partial had before its byte form spelled out a count per element (one count, or one per
/// group along the grouped axis).
fn collapse_counts(mut counts: ArrayD<f64>) -> ArrayD<f64> {
    for ax in 0..counts.ndim() {
        let first = counts.index_axis(Axis(ax), 0).to_owned();
        let constant = counts
            .axis_iter(Axis(ax))
            .all(|lane| lane.iter().zip(first.iter()).all(|(a, b)| a == b));
        if constant && counts.shape()[ax] > 1 {
            counts = first.insert_axis(Axis(ax));
        }
    }
    counts
}

impl<T: Numeric> Reducer for MeanReducer<T> {
    fn name(&self) -> String {
        self.sums.name.clone()
    }
    fn partial_bytes(&self, elems: usize) -> usize {
        self.sums.partial_bytes(elems)
    }
    fn streams(&self, axes: &[usize], ndim: usize) -> bool {
        self.sums.streams(axes, ndim)
    }
    fn partial(
        &self,
        block: &AnyView<'_>,
        axes: &[usize],
        origin: &[usize],
        acc: Option<Value>,
    ) -> Result<Value> {
        let (acc, counts) = Self::split(acc, block.shape().len());
        let sums = self.sums.partial(block, axes, origin, acc)?;
        Ok(self.join(sums, counts + reduced_len(block.shape(), axes)))
    }
    fn partial_stream(
        &self,
        feed: &mut TileFeed<'_>,
        block_shape: &[usize],
        axes: &[usize],
        acc: Option<Value>,
    ) -> Result<Value> {
        let (acc, counts) = Self::split(acc, block_shape.len());
        let sums = self.sums.partial_stream(feed, block_shape, axes, acc)?;
        Ok(self.join(sums, counts + reduced_len(block_shape, axes)))
    }
    fn partial_group(
        &self,
        blocks: &[AnyView<'_>],
        axes: &[usize],
        acc: &mut Option<Value>,
    ) -> Option<Result<Value>> {
        let ndim = blocks.first()?.shape().len();
        let (mut sums_acc, counts) = Self::split(acc.take(), ndim);
        let Some(sums) = self.sums.partial_group(blocks, axes, &mut sums_acc) else {
            // No such path: `acc` is left as it was, for the block-by-block fold.
            *acc = sums_acc.map(|s| self.join(s, counts));
            return None;
        };
        let added: f64 = blocks.iter().map(|b| reduced_len(b.shape(), axes)).sum();
        Some(sums.map(|s| self.join(s, counts + added)))
    }
    fn partial_grouped(
        &self,
        block: &AnyView<'_>,
        origin: &[usize],
        slots: &Slots,
        acc: Option<Value>,
    ) -> Result<Value> {
        let ndim = block.shape().len();
        let (acc, counts) = Self::split(acc, ndim);
        let sums = self.sums.partial_grouped(block, origin, slots, acc)?;
        let mut shape = vec![1; ndim];
        shape[slots.axis] = slots.n;
        let mut added = ArrayD::<f64>::zeros(IxDyn(&shape));
        let start = origin[slots.axis];
        let per_slot = added
            .as_slice_mut()
            .expect("internal: fresh counts are contiguous");
        for p in 0..block.shape()[slots.axis] {
            if let Some(s) = slots.slot(start + p) {
                per_slot[s] += 1.0;
            }
        }
        Ok(self.join(sums, add_counts(&counts, &added)?))
    }
    fn combine(&self, parts: &[&Value]) -> Result<Value> {
        let parts: Vec<&MeanPartial> = parts.iter().map(|p| p.partial::<MeanPartial>()).collect();
        let sums: Vec<&Value> = parts.iter().map(|p| &p.sums).collect();
        let mut counts = parts[0].counts.clone();
        for p in &parts[1..] {
            counts = add_counts(&counts, &p.counts)?;
        }
        Ok(self.join(self.sums.combine(&sums)?, counts))
    }
    fn finalize(&self, part: &Value, out_shape: &[usize]) -> Result<AnyArray> {
        let p = part.partial::<MeanPartial>();
        let sums = p.sums.partial::<ArrayD<MeanSum<T>>>();
        let Some(counts) = p.counts.broadcast(sums.raw_dim()) else {
            return Err(Error::internal(
                "mean",
                format!(
                    "partial counts of shape {:?} for sums of shape {:?}",
                    p.counts.shape(),
                    sums.shape()
                ),
            ));
        };
        let mut out = Vec::with_capacity(sums.len());
        Zip::from(sums).and(&counts).for_each(|s, &n| {
            out.push(<T::Mean as NumericSealed>::from_f64_(if n == 0.0 {
                f64::NAN
            } else {
                s.0 / n
            }));
        });
        let arr =
            ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("internal: output block size");
        Ok(<T::Mean as ElementSealed>::wrap(arr))
    }
    fn state_bytes(&self) -> Option<usize> {
        Some(16)
    }
    /// Per element its count and its sum, as [`crate::ops::reduce::MeanState`] writes them.
    fn encode_partial(&self, part: &Value) -> Result<Vec<u8>> {
        let p = part.partial::<MeanPartial>();
        let sums = p.sums.partial::<ArrayD<MeanSum<T>>>();
        let counts = p
            .counts
            .broadcast(sums.raw_dim())
            .expect("internal: partial counts broadcast against their sums");
        let mut out = Vec::with_capacity(sums.len() * 16);
        Zip::from(sums).and(&counts).for_each(|s, &n| {
            put_num(n, &mut out);
            put_num(s.0, &mut out);
        });
        Ok(out)
    }
    fn decode_partial(&self, bytes: &[u8], shape: &[usize]) -> Result<Value> {
        let elems: usize = shape.iter().product();
        if bytes.len() != elems * 16 {
            return Err(Error::internal(
                "reduction partial",
                format!(
                    "{} bytes for a {} partial of shape {shape:?} (16 bytes a state): the \
                     partials array was not written by this plan",
                    bytes.len(),
                    self.sums.name
                ),
            ));
        }
        let (counts, sums): (Vec<f64>, Vec<MeanSum<T>>) = bytes
            .chunks_exact(16)
            .map(|st| (get_num::<f64>(st), MeanSum(get_num(&st[8..]), PhantomData)))
            .unzip();
        fn as_array<X>(shape: &[usize], v: Vec<X>) -> ArrayD<X> {
            ArrayD::from_shape_vec(IxDyn(shape), v).expect("internal: one value per state")
        }
        let sums = Value::Partial(Box::new(as_array(shape, sums)), self.partial_bytes(elems));
        Ok(self.join(sums, collapse_counts(as_array(shape, counts))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::group::NO_GROUP;
    use crate::ops::reduce::MeanState;
    use ndarray::{Array3, ArrayD};

    /// The per-element `(n, Σ)` mean this reducer replaces: the reference, bit for bit.
    fn reference() -> Arc<dyn Reducer> {
        StateReducer::<f32, MeanState<f32, false>>::arc("mean", MeanState::new())
    }

    fn block(seed: u32, shape: (usize, usize, usize)) -> ArrayD<f32> {
        Array3::from_shape_fn(shape, |(i, j, k)| {
            let h = (i as u32 * 7919 + j as u32 * 104_729 + k as u32 * 31 + seed)
                .wrapping_mul(2_654_435_761);
            280.0 + (h >> 8) as f32 / (1 << 20) as f32
        })
        .into_dyn()
    }

    fn bits(a: &AnyArray) -> String {
        format!("{a:?}")
    }

    #[test]
    fn folds_combines_and_byte_forms_match_the_per_element_state() {
        let new = MeanReducer::<f32>::arc("mean");
        let old = reference();
        let (a, b) = (block(1, (5, 3, 5)), block(2, (3, 3, 5)));
        let (va, vb) = (AnyView::F32(a.view()), AnyView::F32(b.view()));
        for axes in [vec![0], vec![1], vec![2], vec![0, 2], vec![0, 1, 2]] {
            let out: Vec<usize> = state_shape_of(&[5, 3, 5], &axes);
            // A chain: the second block folded into the first's partial.
            let chain = |r: &Arc<dyn Reducer>| {
                let p = r.partial(&va, &axes, &[0, 0, 0], None).unwrap();
                let p = if axes.iter().all(|&ax| ax == 0) {
                    r.partial(&vb, &axes, &[5, 0, 0], Some(p)).unwrap()
                } else {
                    p
                };
                (
                    r.encode_partial(&p).unwrap(),
                    bits(&r.finalize(&p, &out).unwrap()),
                )
            };
            assert_eq!(chain(&new), chain(&old), "axes {axes:?}");
            // A tree: two partials combined.
            let tree = |r: &Arc<dyn Reducer>| {
                let p = r.partial(&va, &axes, &[0, 0, 0], None).unwrap();
                let q = r.partial(&va, &axes, &[0, 0, 0], None).unwrap();
                let c = r.combine(&[&p, &q]).unwrap();
                (
                    r.encode_partial(&c).unwrap(),
                    bits(&r.finalize(&c, &out).unwrap()),
                )
            };
            assert_eq!(tree(&new), tree(&old), "axes {axes:?}");
        }
        // A group of blocks folded row by row (the leading-axis fast path), into a partial.
        let group = |r: &Arc<dyn Reducer>| {
            let mut acc = Some(r.partial(&vb, &[0], &[0, 0, 0], None).unwrap());
            let p = r
                .partial_group(&[va.clone(), vb.clone()], &[0], &mut acc)
                .expect("a leading-axis group folds by rows")
                .unwrap();
            assert!(acc.is_none(), "the group took the partial it folded into");
            (
                r.encode_partial(&p).unwrap(),
                bits(&r.finalize(&p, &[3, 5]).unwrap()),
            )
        };
        assert_eq!(group(&new), group(&old));
    }

    fn state_shape_of(shape: &[usize], axes: &[usize]) -> Vec<usize> {
        shape
            .iter()
            .enumerate()
            .filter(|(ax, _)| !axes.contains(ax))
            .map(|(_, &l)| l)
            .collect()
    }

    #[test]
    fn grouped_partials_count_each_group_and_survive_their_byte_form() {
        let new = MeanReducer::<f32>::arc("mean");
        let old = reference();
        // Positions 0..8 along axis 0 in groups 0,1,1,none,2,0,2,2: block one is 0..5,
        // block two 5..8.
        let codes: Arc<[u32]> = vec![0, 1, 1, NO_GROUP, 2, 0, 2, 2].into();
        let slots = Slots {
            axis: 0,
            codes,
            first: 0,
            n: 3,
        };
        let (a, b) = (block(3, (5, 2, 3)), block(4, (3, 2, 3)));
        let (va, vb) = (AnyView::F32(a.view()), AnyView::F32(b.view()));
        let run = |r: &Arc<dyn Reducer>| {
            let p = r.partial_grouped(&va, &[0, 0, 0], &slots, None).unwrap();
            let p = r.partial_grouped(&vb, &[5, 0, 0], &slots, Some(p)).unwrap();
            let q = r.partial_grouped(&vb, &[5, 0, 0], &slots, None).unwrap();
            let c = r.combine(&[&p, &q]).unwrap();
            let bytes = r.encode_partial(&c).unwrap();
            let back = r.decode_partial(&bytes, &[3, 2, 3]).unwrap();
            (
                bytes,
                bits(&r.finalize(&c, &[3, 2, 3]).unwrap()),
                bits(&r.finalize(&back, &[3, 2, 3]).unwrap()),
            )
        };
        // Its counts are one per group again after the byte form, and its bytes what the
        // plan expects of a partial of 18 elements.
        let p = new.partial_grouped(&va, &[0, 0, 0], &slots, None).unwrap();
        let back = new
            .decode_partial(&new.encode_partial(&p).unwrap(), &[3, 2, 3])
            .unwrap();
        assert_eq!(back.partial::<MeanPartial>().counts.shape(), [3, 1, 1]);
        assert_eq!((p.bytes(), back.bytes()), (18 * 8, 18 * 8));
        let (n, o) = (run(&new), run(&old));
        assert_eq!(n, o);
        assert_eq!(n.1, n.2, "a decoded partial finalizes as the original");
        assert!(new.decode_partial(&n.0[1..], &[3, 2, 3]).is_err());
    }

    #[test]
    fn an_empty_reduction_is_nan() {
        let r = MeanReducer::<f32>::arc("mean");
        let empty = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
        let p = r
            .partial(&AnyView::F32(empty.view()), &[0], &[0, 0], None)
            .unwrap();
        let AnyArray::F32(out) = r.finalize(&p, &[3]).unwrap() else {
            panic!("the mean of f32 is f32")
        };
        assert!(out.iter().all(|v| v.is_nan()));
    }
}
