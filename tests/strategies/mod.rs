//! Property-test strategies shared by the test binaries: small shapes (0–4 axes, including
//! empty and length-1 axes), random chunkings (regular, whole, explicit irregular), memory
//! layouts of the `ndarray` inputs (C, F, negative strides, strided views), and float
//! elements with ties and NaN.
#![allow(dead_code)]

use chunkwise::prelude::*;
use ndarray::{ArrayD, Axis, IxDyn, ShapeBuilder};
use proptest::prelude::*;

pub(crate) fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..=6]
}

pub(crate) fn base_shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim(), 0..=4)
}

/// A random partition of `len` into positive sizes (for `len == 0`: no chunk, or one empty).
pub(crate) fn partition(len: usize) -> BoxedStrategy<Vec<usize>> {
    if len == 0 {
        return prop_oneof![Just(vec![]), Just(vec![0])].boxed();
    }
    prop::collection::vec(any::<bool>(), len - 1)
        .prop_map(move |cuts| {
            let mut sizes = vec![];
            let mut cur = 1;
            for c in cuts {
                if c {
                    sizes.push(cur);
                    cur = 1;
                } else {
                    cur += 1;
                }
            }
            sizes.push(cur);
            sizes
        })
        .boxed()
}

pub(crate) fn axis_spec(len: usize) -> BoxedStrategy<AxisSpec> {
    prop_oneof![
        3 => (1..=len + 1).prop_map(AxisSpec::Size),
        1 => Just(AxisSpec::Whole),
        2 => partition(len).prop_map(AxisSpec::Explicit),
    ]
    .boxed()
}

pub(crate) fn chunks_for(shape: &[usize]) -> Vec<BoxedStrategy<AxisSpec>> {
    shape.iter().map(|&l| axis_spec(l)).collect()
}

/// `n` floats with ties (small integers among values in `-10..10`) and, at a per-case rate,
/// NaN: none in half the cases, else `nan_tenths[0]` or `nan_tenths[1]` tenths of the values
/// (each value NaN with that chance).
pub(crate) fn f64_elems_with_nan(n: usize, nan_tenths: [u8; 2]) -> BoxedStrategy<Vec<f64>> {
    let val = prop_oneof![4 => -10.0f64..10.0, 1 => (-3i32..4).prop_map(f64::from)];
    let [a, b] = nan_tenths;
    (
        prop::collection::vec(val, n),
        prop::collection::vec(0u8..10, n),
        prop_oneof![2 => Just(0u8), 1 => Just(a), 1 => Just(b)],
    )
        .prop_map(|(v, sel, rate)| {
            v.into_iter()
                .zip(sel)
                .map(|(x, s)| if s < rate { f64::NAN } else { x })
                .collect()
        })
        .boxed()
}

/// How an input array lies in memory. chunkwise must give the same answer for each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Row-major, contiguous.
    C,
    /// Column-major (Fortran order), contiguous.
    F,
    /// Negative strides on the axes whose bit is set (`a.slice(s![..;-1])` on them, as
    /// flipping latitude does).
    Reversed(u32),
    /// Every other element along the last axis (a positive step > 1).
    Strided,
}

/// Any layout.
pub(crate) fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::C),
        Just(Layout::F),
        (1u32..16).prop_map(Layout::Reversed),
        Just(Layout::Strided),
    ]
}

/// An owned array equal to `a` (same shape, same values at every index) in `layout`.
pub(crate) fn with_layout<T: Clone + Default>(a: &ArrayD<T>, layout: &Layout) -> ArrayD<T> {
    match layout {
        Layout::C => a.as_standard_layout().into_owned(),
        Layout::F => {
            let mut f = ArrayD::<T>::default(IxDyn(a.shape()).f());
            f.assign(a);
            f
        }
        Layout::Reversed(mask) => {
            // Store the axes reversed, then view them reversed again: the same values, with
            // negative strides on the masked axes.
            let mut flipped = a.clone();
            let axes: Vec<usize> = (0..a.ndim()).filter(|k| mask >> k & 1 == 1).collect();
            for &ax in &axes {
                flipped.invert_axis(Axis(ax));
            }
            let mut stored = flipped.as_standard_layout().into_owned();
            for &ax in &axes {
                stored.invert_axis(Axis(ax));
            }
            stored
        }
        Layout::Strided => {
            if a.ndim() == 0 {
                return a.clone();
            }
            let last = a.ndim() - 1;
            let mut shape = a.shape().to_vec();
            shape[last] *= 2;
            let mut wide = ArrayD::<T>::default(IxDyn(&shape));
            let mut strided = wide.view_mut();
            strided.slice_axis_inplace(Axis(last), ndarray::Slice::new(0, None, 2));
            strided.assign(a);
            let mut w = wide;
            w.slice_axis_inplace(Axis(last), ndarray::Slice::new(0, None, 2));
            w
        }
    }
}
