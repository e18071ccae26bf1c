//! Property-test strategies shared by the test binaries: small shapes (0–4 axes, including
//! empty and length-1 axes), random chunkings (regular, whole, explicit irregular) and memory
//! layouts of the `ndarray` inputs (C, F, negative strides, strided views).
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
