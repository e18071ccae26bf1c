//! Property-test strategies shared by the test binaries: small shapes (0–4 axes, including
//! empty and length-1 axes) and random chunkings (regular, whole, explicit irregular).
#![allow(dead_code)]

use chunkwise::prelude::*;
use proptest::prelude::*;

pub fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..=6]
}

pub fn base_shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim(), 0..=4)
}

/// A random partition of `len` into positive sizes (for `len == 0`: no chunk, or one empty).
pub fn partition(len: usize) -> BoxedStrategy<Vec<usize>> {
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

pub fn axis_spec(len: usize) -> BoxedStrategy<AxisSpec> {
    prop_oneof![
        3 => (1..=len + 1).prop_map(AxisSpec::Size),
        1 => Just(AxisSpec::Whole),
        2 => partition(len).prop_map(AxisSpec::Explicit),
    ]
    .boxed()
}

pub fn chunks_for(shape: &[usize]) -> Vec<BoxedStrategy<AxisSpec>> {
    shape.iter().map(|&l| axis_spec(l)).collect()
}
