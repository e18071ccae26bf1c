//! Inputs in every memory layout (C, F, negative strides, strided) through elementwise work,
//! structure and map_overlap: issue 14 items 8–11.

mod strategies;

use chunkwise::prelude::*;
use chunkwise::stack;
use ndarray::{ArrayD, Axis, Dimension, IxDyn, s};
use strategies::{Layout, with_layout};

fn rt() -> Runtime {
    Runtime::builder()
        .threads(2)
        .memory_limit("64 MiB")
        .build()
        .unwrap()
}

fn data(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| {
        i.slice()
            .iter()
            .enumerate()
            .map(|(k, &x)| (x as f64) * 10f64.powi(k as i32))
            .sum()
    })
}

const LAYOUTS: [Layout; 5] = [
    Layout::C,
    Layout::F,
    Layout::Reversed(1),
    Layout::Reversed(3),
    Layout::Strided,
];

/// Item 8: `x[::-1] + 1` and friends on a negatively strided array.
#[test]
fn elementwise_on_every_layout() {
    let rt = rt();
    let a = data(&[3, 4]);
    for l in &LAYOUTS {
        let b = with_layout(&a, l);
        let x = ChunkedArray::from_ndarray(b.clone(), [2, 3]).unwrap();
        let got = (&x + 1.0).compute(&rt).unwrap();
        assert_eq!(got, a.mapv(|v| v + 1.0), "{l:?}");
        let y = ChunkedArray::from_ndarray(with_layout(&data(&[4]), l), [3]).unwrap();
        let got = (&x * &y).unwrap().compute(&rt).unwrap();
        assert_eq!(got, &a * &data(&[4]), "{l:?} broadcast");
        let rev = ChunkedArray::from_ndarray(a.clone().slice_move(s![..;-1, ..]), [2, 2]).unwrap();
        let got = (&rev - &x).unwrap().sum().compute_scalar(&rt).unwrap();
        let want = (&a.slice(s![..;-1, ..]) - &a).sum();
        assert_eq!(got, want, "{l:?} reversed operand");
    }
}

/// Item 9: `insert_axis` and `stack` of F-order and negatively strided arrays.
#[test]
fn insert_axis_and_stack_on_every_layout() {
    let rt = rt();
    let a = data(&[3, 4]);
    for l in &LAYOUTS {
        let x = ChunkedArray::from_ndarray(with_layout(&a, l), [2, 3]).unwrap();
        for ax in 0..=2 {
            let got = x.insert_axis(ax).unwrap().compute(&rt).unwrap();
            assert_eq!(
                got,
                a.clone().insert_axis(Axis(ax)),
                "{l:?} insert_axis({ax})"
            );
        }
        let got = stack(1, &[&x, &x]).unwrap().compute(&rt).unwrap();
        let want = ndarray::stack(Axis(1), &[a.view(), a.view()]).unwrap();
        assert_eq!(got, want, "{l:?} stack");
    }
}

/// Item 10: `insert_axis(0)` then a slice that empties that axis.
#[test]
fn inserted_axis_sliced_empty() {
    let rt = rt();
    let a = data(&[3, 4]);
    for l in &LAYOUTS {
        let x = ChunkedArray::from_ndarray(with_layout(&a, l), [2, 3]).unwrap();
        let y = x.insert_axis(0).unwrap().slice(s![1.., .., ..]).unwrap();
        assert_eq!(y.shape(), &[0, 3, 4]);
        assert_eq!(y.compute(&rt).unwrap().shape(), &[0, 3, 4], "{l:?}");
        let z = x
            .insert_axis(0)
            .unwrap()
            .slice(s![0..0, 1.., ..;2])
            .unwrap();
        assert_eq!(z.compute(&rt).unwrap().shape(), &[0, 2, 2], "{l:?}");
        assert_eq!((&y + 1.0).sum().compute_scalar(&rt).unwrap(), 0.0);
    }
}

/// Item 11: `map_overlap` on an array with a length-0 axis.
#[test]
fn map_overlap_with_an_empty_axis() {
    let rt = rt();
    for shape in [[0usize, 4], [3, 0]] {
        for boundary in [
            Boundary::None,
            Boundary::Reflect,
            Boundary::Periodic,
            Boundary::Nearest,
            Boundary::Constant(0.0),
        ] {
            let x = ChunkedArray::from_ndarray(data(&shape), [2, 2]).unwrap();
            let y = x
                .map_overlap(&[1, 1], boundary, |b, _| b.to_owned())
                .unwrap();
            let got = y.compute(&rt).unwrap();
            assert_eq!(got.shape(), &shape, "{shape:?} {boundary:?}");
        }
    }
}
