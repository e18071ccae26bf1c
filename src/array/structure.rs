//! Structural operations: slicing, transposes, new and removed axes, concatenation, stacking
//! and reshaping. All are lazy; slices compute only the blocks they need.

use super::ChunkedArray;
use crate::chunks::{AxisChunks, ChunkGrid, unify_axis};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::graph::slice::{SliceAxis, SliceFn, SliceSpec};
use crate::graph::structure::{ConcatFn, PermuteFn, ReshapeFn};
use crate::graph::{Node, NodeRef, Op};
use ndarray::SliceInfoElem;
use std::sync::Arc;

/// `n` rechunked to `grid` (a no-op when it already has it).
fn with_grid(n: &NodeRef, grid: ChunkGrid) -> NodeRef {
    if n.grid == grid {
        n.clone()
    } else {
        Node::new(grid, n.dtype, Op::Rechunk { input: n.clone() })
    }
}

impl<T: Element> ChunkedArray<T> {
    fn sliced(&self, spec: SliceSpec) -> Self {
        if spec.is_identity(self.shape()) {
            return self.clone();
        }
        let grid = spec.out_grid(self.chunks());
        ChunkedArray::from_node(Node::new(
            grid,
            T::DTYPE,
            Op::Blocks {
                f: Arc::new(SliceFn { spec }),
                inputs: vec![self.node.clone()],
            },
        ))
    }

    /// A basic slice with ndarray's `s![]` syntax: ranges with steps (negative steps reverse
    /// the range, then step), single indices (the axis is dropped) and `NewAxis`.
    ///
    /// Only the blocks the slice needs are computed. A slice of a source becomes reads of the
    /// sliced regions; a slice of elementwise work is pushed through to its inputs (so
    /// `(a + b).slice(..)` reads only the sliced parts of `a` and `b`); a slice of anything else
    /// takes each output block from the one input block that covers it. The output chunks are
    /// the input's chunk boundaries intersected with the slice.
    ///
    /// # Errors
    /// [`Error::Axis`] when the slice indexes another number of axes than the array has;
    /// [`Error::InvalidArgument`] for an index or range bound out of range, or a zero step
    /// (where ndarray panics).
    ///
    /// # Example
    /// ```
    /// use chunkwise::prelude::*;
    /// use ndarray::s;
    /// let rt = Runtime::builder().threads(1).build()?;
    /// let a = ndarray::Array::from_shape_fn((6, 8), |(i, j)| (i * 10 + j) as i32);
    /// let x = ChunkedArray::from_ndarray(a.clone(), [4, 3])?;
    /// let y = x.slice(s![1..5;2, ..;-3])?;
    /// assert_eq!(y.compute(&rt)?, a.slice(s![1..5;2, ..;-3]).into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn slice<I: AsRef<[SliceInfoElem]>>(&self, info: I) -> Result<Self> {
        let spec = SliceSpec::resolve("slice", self.shape(), info.as_ref())?;
        Ok(self.sliced(spec))
    }

    /// A new axis of length 1 at position `axis` (ndarray's `insert_axis`).
    ///
    /// # Errors
    /// [`Error::Axis`] when `axis > ndim`.
    pub fn insert_axis(&self, axis: usize) -> Result<Self> {
        if axis > self.ndim() {
            return Err(Error::Axis {
                op: "insert_axis",
                detail: format!(
                    "axis {axis} is out of range for an array of shape {:?} (at most {})",
                    self.shape(),
                    self.ndim()
                ),
            });
        }
        let mut elems = full_ranges(self.shape());
        elems.insert(axis, SliceAxis::NewAxis);
        Ok(self.sliced(SliceSpec { elems }))
    }

    /// The array without axis `axis`, which must have length 1 (ndarray's `remove_axis` with
    /// index 0).
    ///
    /// # Errors
    /// [`Error::Axis`] when `axis >= ndim`; [`Error::Shape`] when the axis length is not 1.
    pub fn remove_axis(&self, axis: usize) -> Result<Self> {
        check_axis("remove_axis", axis, self.shape())?;
        if self.shape()[axis] != 1 {
            return Err(Error::Shape {
                op: "remove_axis",
                detail: format!(
                    "axis {axis} of shape {:?} has length {}, only length-1 axes can be removed",
                    self.shape(),
                    self.shape()[axis]
                ),
            });
        }
        let mut elems = full_ranges(self.shape());
        elems[axis] = SliceAxis::Index(0);
        Ok(self.sliced(SliceSpec { elems }))
    }

    /// The axes permuted: output axis `k` is input axis `axes[k]` (ndarray's
    /// `permuted_axes`). Each output block is the transposed input block.
    ///
    /// # Errors
    /// [`Error::Axis`] when `axes` is not a permutation of `0..ndim`.
    pub fn permuted_axes(&self, axes: &[usize]) -> Result<Self> {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        let ok = axes.len() == nd
            && axes
                .iter()
                .all(|&a| a < nd && !std::mem::replace(&mut seen[a], true));
        if !ok {
            return Err(Error::Axis {
                op: "permuted_axes",
                detail: format!(
                    "{axes:?} is not a permutation of the axes of shape {:?}",
                    self.shape()
                ),
            });
        }
        if axes.iter().enumerate().all(|(k, &a)| k == a) {
            return Ok(self.clone());
        }
        let grid = ChunkGrid::new(
            axes.iter()
                .map(|&a| self.chunks().axis(a).clone())
                .collect(),
        );
        Ok(ChunkedArray::from_node(Node::new(
            grid,
            T::DTYPE,
            Op::Blocks {
                f: Arc::new(PermuteFn {
                    perm: axes.to_vec(),
                }),
                inputs: vec![self.node.clone()],
            },
        )))
    }

    /// The transpose: the axes reversed (ndarray's `t`).
    pub fn t(&self) -> Self {
        let axes: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permuted_axes(&axes)
            .expect("a reversal is a permutation")
    }

    /// The same elements in C order with another shape (ndarray's `into_shape_with_order`
    /// with row-major order).
    ///
    /// Axes are matched in groups whose lengths have equal products (axes that merge or
    /// split). Each output block comes from one input block, which needs, in every group:
    /// the axes after the group's first axis of length > 1 unchunked, and that axis's chunk
    /// boundaries on whole rows of the new shape. **When the input's chunks do not allow it, the
    /// input is rechunked first** (the later axes of the group to one chunk, the first to a
    /// multiple of the needed row count), which may make larger blocks; a size-0 array is
    /// rechunked to one block.
    ///
    /// # Errors
    /// [`Error::Shape`] when the number of elements differs.
    pub fn into_shape(&self, shape: &[usize]) -> Result<Self> {
        let ins = self.shape().to_vec();
        let total: usize = ins.iter().product();
        if shape.iter().product::<usize>() != total {
            return Err(Error::Shape {
                op: "into_shape",
                detail: format!(
                    "cannot reshape an array of shape {ins:?} ({total} elements) into shape {shape:?} ({} elements)",
                    shape.iter().product::<usize>()
                ),
            });
        }
        if shape == ins.as_slice() {
            return Ok(self.clone());
        }
        let whole = |s: &[usize]| {
            ChunkGrid::new(
                s.iter()
                    .map(|&l| AxisChunks::regular(l, l.max(1)))
                    .collect(),
            )
        };
        let reshape = |input: NodeRef, grid: ChunkGrid, lead: Vec<(usize, usize)>| {
            ChunkedArray::from_node(Node::new(
                grid,
                T::DTYPE,
                Op::Blocks {
                    f: Arc::new(ReshapeFn {
                        lead,
                        in_ndim: ins.len(),
                        shape: shape.to_vec(),
                    }),
                    inputs: vec![input],
                },
            ))
        };
        if total == 0 {
            let input = with_grid(&self.node, whole(&ins));
            return Ok(reshape(input, whole(shape), vec![]));
        }
        let mut in_axes: Vec<AxisChunks> = ins.iter().map(|&l| AxisChunks::regular(l, l)).collect();
        let mut out_axes: Vec<AxisChunks> =
            shape.iter().map(|&l| AxisChunks::regular(l, l)).collect();
        let mut lead = Vec::new();
        for (gi, go) in axis_groups(&ins, shape) {
            let li = gi.clone().find(|&a| ins[a] > 1);
            let lo = go.clone().find(|&a| shape[a] > 1);
            let (Some(li), Some(lo)) = (li, lo) else {
                continue; // Only length-1 axes on one side: both sides are all ones.
            };
            let r: usize = ins[li + 1..gi.end].iter().product();
            let r2: usize = shape[lo + 1..go.end].iter().product();
            let ax = self.chunks().axis(li);
            let aligned = ax.offsets().iter().all(|&o| (o * r).is_multiple_of(r2));
            let chunks = if aligned {
                ax.clone()
            } else {
                let m = r2 / gcd(r, r2);
                let c = ax.max_size().div_ceil(m) * m;
                AxisChunks::regular(ins[li], c)
            };
            let sizes: Vec<usize> = chunks.sizes().iter().map(|&s| s * r / r2).collect();
            out_axes[lo] = AxisChunks::from_sizes(&sizes);
            in_axes[li] = chunks;
            lead.push((lo, li));
        }
        let input = with_grid(&self.node, ChunkGrid::new(in_axes));
        Ok(reshape(input, ChunkGrid::new(out_axes), lead))
    }
}

/// Concatenates arrays along `axis` (ndarray's `concatenate`). Blocks keep their chunks along
/// `axis`; other axes are unified (rechunked where the inputs differ). No block is copied.
///
/// # Errors
/// [`Error::InvalidArgument`] for no arrays; [`Error::Axis`] for an axis out of range;
/// [`Error::Shape`] when the shapes differ on another axis or in rank.
pub fn concatenate<T: Element>(
    axis: usize,
    arrays: &[&ChunkedArray<T>],
) -> Result<ChunkedArray<T>> {
    let op = "concatenate";
    let Some(first) = arrays.first() else {
        return Err(Error::InvalidArgument {
            op,
            detail: "no arrays to concatenate".into(),
        });
    };
    check_axis(op, axis, first.shape())?;
    for a in arrays {
        let same = a.ndim() == first.ndim()
            && a.shape()
                .iter()
                .zip(first.shape())
                .enumerate()
                .all(|(k, (x, y))| k == axis || x == y);
        if !same {
            return Err(Error::Shape {
                op,
                detail: format!(
                    "shapes {:?} and {:?} differ on an axis other than axis {axis}",
                    first.shape(),
                    a.shape()
                ),
            });
        }
    }
    let nd = first.ndim();
    let mut axes = Vec::with_capacity(nd);
    for k in 0..nd {
        let mut acc = first.chunks().axis(k).clone();
        for a in &arrays[1..] {
            acc = unify_axis(&acc, a.chunks().axis(k));
        }
        axes.push(acc);
    }
    let nonempty: Vec<&&ChunkedArray<T>> = arrays.iter().filter(|a| a.shape()[axis] > 0).collect();
    let parts: Vec<&&ChunkedArray<T>> = if nonempty.is_empty() {
        vec![first]
    } else {
        nonempty
    };
    let mut inputs = Vec::with_capacity(parts.len());
    let mut sizes = Vec::new();
    let mut offsets = vec![0];
    for a in &parts {
        let mut g = axes.clone();
        g[axis] = a.chunks().axis(axis).clone();
        inputs.push(with_grid(&a.node, ChunkGrid::new(g)));
        sizes.extend(a.chunks().axis(axis).sizes());
        offsets.push(offsets.last().unwrap() + a.chunks().axis(axis).nblocks());
    }
    if inputs.len() == 1 {
        return Ok(ChunkedArray::from_node(inputs.pop().unwrap()));
    }
    axes[axis] = AxisChunks::from_sizes(&sizes);
    Ok(ChunkedArray::from_node(Node::new(
        ChunkGrid::new(axes),
        T::DTYPE,
        Op::Blocks {
            f: Arc::new(ConcatFn {
                axis,
                block_offsets: offsets,
            }),
            inputs,
        },
    )))
}

/// Stacks arrays of one shape along a new axis at position `axis` (ndarray's `stack`).
///
/// # Errors
/// [`Error::InvalidArgument`] for no arrays; [`Error::Axis`] when `axis > ndim`;
/// [`Error::Shape`] when the shapes differ.
pub fn stack<T: Element>(axis: usize, arrays: &[&ChunkedArray<T>]) -> Result<ChunkedArray<T>> {
    let Some(first) = arrays.first() else {
        return Err(Error::InvalidArgument {
            op: "stack",
            detail: "no arrays to stack".into(),
        });
    };
    if let Some(a) = arrays.iter().find(|a| a.shape() != first.shape()) {
        return Err(Error::Shape {
            op: "stack",
            detail: format!("shapes {:?} and {:?} differ", first.shape(), a.shape()),
        });
    }
    let expanded = arrays
        .iter()
        .map(|a| a.insert_axis(axis))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&ChunkedArray<T>> = expanded.iter().collect();
    concatenate(axis, &refs)
}

fn full_ranges(shape: &[usize]) -> Vec<SliceAxis> {
    shape
        .iter()
        .map(|&len| SliceAxis::Range {
            start: 0,
            len,
            step: 1,
        })
        .collect()
}

fn check_axis(op: &'static str, axis: usize, shape: &[usize]) -> Result<()> {
    if axis >= shape.len() {
        return Err(Error::Axis {
            op,
            detail: format!("axis {axis} is out of range for an array of shape {shape:?}"),
        });
    }
    Ok(())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Groups of input and output axes whose lengths have equal products (nonzero lengths).
fn axis_groups(
    ins: &[usize],
    outs: &[usize],
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let (mut i, mut j) = (0, 0);
    let mut groups = Vec::new();
    while i < ins.len() || j < outs.len() {
        let (gi, gj) = (i, j);
        let (mut pi, mut pj) = (1usize, 1usize);
        if i < ins.len() {
            pi *= ins[i];
            i += 1;
        }
        if j < outs.len() {
            pj *= outs[j];
            j += 1;
        }
        while pi != pj {
            if pi < pj {
                pi *= ins[i];
                i += 1;
            } else {
                pj *= outs[j];
                j += 1;
            }
        }
        groups.push((gi..i, gj..j));
    }
    groups
}
