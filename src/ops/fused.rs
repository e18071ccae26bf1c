//! The fused elementwise kernel: an [`Expr`] compiled to a register program and evaluated one
//! tile (up to [`TILE`] elements) at a time, so a chain of elementwise operations reads each
//! input once and writes the output once, with no intermediate block arrays — only a few
//! cache-resident registers per task.

use super::expr::{Expr, ExprNode, TileFn};
use crate::dispatch;
use crate::element::{AnySlice, AnySliceMut, AnyVec, AnyView, AnyViewMut, DType, Element};
use ndarray::{ArrayView1, ArrayViewMut1, Axis};
use std::collections::HashMap;
use std::sync::Arc;

/// Elements per tile: small enough that every register stays in L1.
pub(crate) const TILE: usize = 1024;

thread_local! {
    /// Each worker's registers, reused by every program it runs.
    static REGISTERS: std::cell::RefCell<Vec<AnyVec>> = const { std::cell::RefCell::new(Vec::new()) };
}

enum Instr {
    Load {
        leaf: usize,
        dst: usize,
    },
    Call {
        f: Arc<dyn TileFn>,
        args: Vec<usize>,
        dst: usize,
    },
}

/// A compiled elementwise expression.
pub(crate) struct Program {
    instrs: Vec<Instr>,
    reg_dtypes: Vec<DType>,
    out: usize,
}

impl Program {
    /// Compiles `expr`; sub-expressions shared by pointer are computed once.
    pub(crate) fn compile(expr: &Expr) -> Program {
        let mut p = Program {
            instrs: Vec::new(),
            reg_dtypes: Vec::new(),
            out: 0,
        };
        let mut memo: HashMap<*const ExprNode, usize> = HashMap::new();
        let mut loads: HashMap<usize, usize> = HashMap::new();
        // Composed nodes live until compilation ends: `memo` is keyed by their addresses.
        let mut composed: Vec<Expr> = Vec::new();
        p.out = p.emit(expr, &mut memo, &mut loads, &mut composed);
        p
    }

    fn emit(
        &mut self,
        e: &Expr,
        memo: &mut HashMap<*const ExprNode, usize>,
        loads: &mut HashMap<usize, usize>,
        composed: &mut Vec<Expr>,
    ) -> usize {
        if let Some(&r) = memo.get(&Arc::as_ptr(e)) {
            return r;
        }
        let r = match &**e {
            ExprNode::Input(k, dtype) => {
                if let Some(&r) = loads.get(k) {
                    r
                } else {
                    let dst = self.reg_dtypes.len();
                    self.reg_dtypes.push(*dtype);
                    self.instrs.push(Instr::Load { leaf: *k, dst });
                    loads.insert(*k, dst);
                    dst
                }
            }
            ExprNode::Call(f, args) => {
                // `g(f(x))` with `f` and `g` known to compose: one call, one pass.
                if let [inner] = args.as_slice()
                    && let ExprNode::Call(g, inner_args) = &**inner
                    && let Some(fg) = g.then(f.as_ref())
                {
                    let node = Arc::new(ExprNode::Call(fg, inner_args.clone()));
                    composed.push(node.clone());
                    let r = self.emit(&node, memo, loads, composed);
                    memo.insert(Arc::as_ptr(e), r);
                    return r;
                }
                let args: Vec<usize> = args
                    .iter()
                    .map(|a| self.emit(a, memo, loads, composed))
                    .collect();
                let dst = self.reg_dtypes.len();
                self.reg_dtypes.push(f.out_dtype());
                self.instrs.push(Instr::Call {
                    f: f.clone(),
                    args,
                    dst,
                });
                dst
            }
        };
        memo.insert(Arc::as_ptr(e), r);
        r
    }

    /// Whether evaluating over `views` would just copy the one view of `shape` (the block is
    /// its own input): callers then use the view directly.
    pub(crate) fn is_identity_over(&self, views: &[AnyView<'_>], shape: &[usize]) -> bool {
        self.n_calls() == 0 && views.len() == 1 && views[0].shape() == shape
    }

    /// Scratch bytes of one evaluation (the registers).
    pub(crate) fn scratch_bytes(&self) -> usize {
        self.reg_dtypes.iter().map(|d| d.size() * TILE).sum()
    }

    /// Number of tile-function calls per tile (for plans).
    pub(crate) fn n_calls(&self) -> usize {
        self.instrs
            .iter()
            .filter(|i| matches!(i, Instr::Call { .. }))
            .count()
    }

    /// Evaluates the program over `leaves` (each broadcastable to `out`'s shape) into `out`.
    pub(crate) fn eval_into(&self, leaves: &[AnyView<'_>], out: &mut AnyViewMut<'_>) {
        let shape = out.shape().to_vec();
        let views = broadcast_all(leaves, &shape);
        let flat = out_is_flat(out) && views.iter().all(leaf_is_flat);
        let mut storer = make_storer(out, flat);
        self.drive(views, &shape, flat, &mut *storer);
    }

    /// Evaluates the program over `leaves` broadcast to `shape`, handing each tile of results
    /// to `visit` in row-major order, with the row-major offset of its first element in
    /// `shape`. A tile never crosses the end of a lane along the last axis unless every leaf
    /// is flat (contiguous or constant), when tiles run straight through the whole block.
    pub(crate) fn eval_tiles(
        &self,
        leaves: &[AnyView<'_>],
        shape: &[usize],
        visit: &mut dyn FnMut(usize, AnySlice<'_>),
    ) {
        struct Visit<'v> {
            visit: &'v mut dyn FnMut(usize, AnySlice<'_>),
            /// Offset of the current lane's first element (lanes are visited in order).
            lane_start: usize,
            lane_len: usize,
            lanes_seen: usize,
        }
        impl Storer for Visit<'_> {
            fn next_lane(&mut self) {
                self.lane_start = self.lanes_seen * self.lane_len;
                self.lanes_seen += 1;
            }
            fn direct(&mut self, _start: usize, _n: usize) -> Option<AnySliceMut<'_>> {
                None
            }
            fn store(&mut self, start: usize, _n: usize, src: AnySlice<'_>) {
                (self.visit)(self.lane_start + start, src)
            }
        }
        let views = broadcast_all(leaves, shape);
        let flat = views.iter().all(leaf_is_flat);
        let lane_len = shape.last().copied().unwrap_or(1);
        let mut sink = Visit {
            visit,
            lane_start: 0,
            lane_len,
            lanes_seen: 0,
        };
        self.drive(views, shape, flat, &mut sink);
    }

    /// Runs the program over `views` (already broadcast to `shape`), tile by tile: in one
    /// flat pass when `flat` (every view and the output contiguous or constant), else lane by
    /// lane along the last axis.
    ///
    /// Contiguous runs of an input are read in place and the last operation writes straight
    /// into a contiguous output, so registers hold only intermediate results.
    fn drive(&self, views: Vec<AnyView<'_>>, shape: &[usize], flat: bool, sink: &mut dyn Storer) {
        let total: usize = shape.iter().product();
        if total == 0 {
            return;
        }
        let mut loaders: Vec<Box<dyn Loader<'_> + '_>> =
            views.into_iter().map(|v| make_loader(v, flat)).collect();
        let (n_lanes, lane_len) = if flat {
            (1, total)
        } else {
            (total / shape[shape.len() - 1], shape[shape.len() - 1])
        };
        // Registers are reused across tasks on the same worker (a fresh zeroed set per task
        // was a large part of the per-task cost of small blocks).
        let tile = TILE.min(lane_len);
        let mut regs = REGISTERS.with(|r| std::mem::take(&mut *r.borrow_mut()));
        regs.truncate(self.reg_dtypes.len());
        for (k, &d) in self.reg_dtypes.iter().enumerate() {
            if k == regs.len() {
                regs.push(AnyVec::zeros(d, tile));
            } else if regs[k].dtype() != d || regs[k].len() < tile {
                regs[k] = AnyVec::zeros(d, tile.max(regs[k].len()));
            }
        }
        let placeholder = || AnyVec::Bool(Vec::new());
        let empty = AnySlice::Bool(&[]);
        // Per register: the input run it aliases for the current tile (loads read in place).
        let mut direct: Vec<Option<AnySlice<'_>>> = vec![None; regs.len()];
        // Per register: how many elements of a constant input it already holds.
        let mut filled = vec![0usize; regs.len()];
        for _ in 0..n_lanes {
            for l in loaders.iter_mut() {
                l.next_lane();
            }
            sink.next_lane();
            let mut start = 0;
            while start < lane_len {
                let n = TILE.min(lane_len - start);
                let mut stored = false;
                for ins in &self.instrs {
                    match ins {
                        Instr::Load { leaf, dst } => {
                            let l = &mut loaders[*leaf];
                            direct[*dst] = l.direct(start, n);
                            if direct[*dst].is_none() {
                                if !l.is_constant() {
                                    l.load(start, n, &mut regs[*dst]);
                                } else if filled[*dst] < n {
                                    l.load(start, n, &mut regs[*dst]);
                                    filled[*dst] = n;
                                }
                            }
                        }
                        Instr::Call { f, args, dst } => {
                            let direct_out = if *dst == self.out {
                                sink.direct(start, n)
                            } else {
                                None
                            };
                            stored |= direct_out.is_some();
                            // Without a direct output, the destination register is taken out
                            // of `regs` while its arguments borrow the others.
                            let mut taken = None;
                            let out = match direct_out {
                                Some(o) => o,
                                None => taken
                                    .insert(std::mem::replace(&mut regs[*dst], placeholder()))
                                    .head_mut(n),
                            };
                            let mut a = [empty; 3];
                            let more: Vec<AnySlice<'_>>;
                            let arg = |r: usize| direct[r].unwrap_or_else(|| regs[r].head(n));
                            let a: &[AnySlice<'_>] = if args.len() <= 3 {
                                for (k, &r) in args.iter().enumerate() {
                                    a[k] = arg(r);
                                }
                                &a[..args.len()]
                            } else {
                                more = args.iter().map(|&r| arg(r)).collect();
                                &more
                            };
                            f.call(a, out);
                            if let Some(reg) = taken {
                                regs[*dst] = reg;
                            }
                        }
                    }
                }
                if !stored {
                    let r = self.out;
                    sink.store(start, n, direct[r].unwrap_or_else(|| regs[r].head(n)));
                }
                start += n;
            }
        }
        REGISTERS.with(|r| *r.borrow_mut() = regs);
    }
}

fn broadcast_all<'a>(leaves: &[AnyView<'a>], shape: &[usize]) -> Vec<AnyView<'a>> {
    leaves
        .iter()
        .map(|l| {
            l.broadcast_to(shape).unwrap_or_else(|| {
                panic!(
                    "internal: leaf {:?} not broadcastable to {shape:?}",
                    l.shape()
                )
            })
        })
        .collect()
}

fn out_is_flat(out: &AnyViewMut<'_>) -> bool {
    dispatch!(AnyViewMut, out, v => v.is_standard_layout())
}

fn leaf_is_flat(v: &AnyView<'_>) -> bool {
    dispatch!(AnyView, v, v => v.is_standard_layout() || v.strides().iter().all(|&s| s == 0))
}

/// Reads tiles of one leaf.
trait Loader<'a> {
    fn next_lane(&mut self);
    /// The tile in place, when it is a contiguous run of the input.
    fn direct(&self, start: usize, n: usize) -> Option<AnySlice<'a>>;
    /// Whether every tile holds the same value (a broadcast scalar).
    fn is_constant(&self) -> bool;
    /// Copies the tile into a register.
    fn load(&mut self, start: usize, n: usize, dst: &mut AnyVec);
}

/// Writes tiles of the output.
trait Storer {
    fn next_lane(&mut self);
    /// The output tile in place, when it is a contiguous run (the last operation then writes
    /// there directly).
    fn direct(&mut self, start: usize, n: usize) -> Option<AnySliceMut<'_>>;
    fn store(&mut self, start: usize, n: usize, src: AnySlice<'_>);
}

enum TypedLoader<'a, T> {
    Flat(&'a [T]),
    Scalar(T),
    /// Lanes along the last axis, in row-major order of the other axes (collected once per
    /// block, so moving to the next lane is an index increment).
    Lanes {
        lanes: Vec<ArrayView1<'a, T>>,
        next: usize,
        cur: Option<ArrayView1<'a, T>>,
        /// The current lane when it is contiguous.
        cur_slice: Option<&'a [T]>,
    },
}

impl<'a, T: Element> Loader<'a> for TypedLoader<'a, T> {
    fn next_lane(&mut self) {
        if let TypedLoader::Lanes {
            lanes,
            next,
            cur,
            cur_slice,
        } = self
        {
            *cur = lanes.get(*next).cloned();
            *cur_slice = cur.as_ref().and_then(|l| l.to_slice());
            *next += 1;
        }
    }
    #[inline]
    fn direct(&self, start: usize, n: usize) -> Option<AnySlice<'a>> {
        match self {
            TypedLoader::Flat(s) => Some(T::wrap_slice(&s[start..start + n])),
            TypedLoader::Lanes {
                cur_slice: Some(s), ..
            } => Some(T::wrap_slice(&s[start..start + n])),
            _ => None,
        }
    }
    fn is_constant(&self) -> bool {
        matches!(self, TypedLoader::Scalar(_))
    }
    #[inline]
    fn load(&mut self, start: usize, n: usize, dst: &mut AnyVec) {
        let d = &mut T::vec_mut(dst)[..n];
        match self {
            TypedLoader::Flat(s) => d.copy_from_slice(&s[start..start + n]),
            TypedLoader::Scalar(v) => d.fill(*v),
            TypedLoader::Lanes { cur, .. } => {
                let lane = cur
                    .as_ref()
                    .expect("internal: lane loaded before next_lane");
                let part = lane.slice(ndarray::s![start..start + n]);
                if let Some(s) = part.as_slice() {
                    d.copy_from_slice(s);
                } else if part.strides()[0] == 0 {
                    d.fill(part[0]);
                } else {
                    for (d, &s) in d.iter_mut().zip(part.iter()) {
                        *d = s;
                    }
                }
            }
        }
    }
}

/// The 1-d lanes along the last axis of `v`, in row-major order, keeping `v`'s lifetime.
fn collect_lanes<'a, T>(v: ndarray::ArrayViewD<'a, T>, out: &mut Vec<ArrayView1<'a, T>>) {
    if v.ndim() == 1 {
        out.push(v.into_dimensionality().expect("one axis"));
        return;
    }
    for sub in v.into_outer_iter() {
        collect_lanes(sub, out);
    }
}

fn make_loader<'a>(v: AnyView<'a>, flat: bool) -> Box<dyn Loader<'a> + 'a> {
    fn typed<'a, T: Element>(
        v: ndarray::ArrayViewD<'a, T>,
        flat: bool,
    ) -> Box<dyn Loader<'a> + 'a> {
        if flat {
            if v.strides().iter().all(|&s| s == 0) {
                let first = *v.iter().next().expect("nonempty");
                return Box::new(TypedLoader::Scalar(first));
            }
            let s = v.to_slice().expect("flat leaf is contiguous");
            return Box::new(TypedLoader::Flat(s));
        }
        let mut lanes = Vec::new();
        collect_lanes(v, &mut lanes);
        Box::new(TypedLoader::Lanes {
            lanes,
            next: 0,
            cur: None,
            cur_slice: None,
        })
    }
    dispatch!(AnyView, v, v => typed::<T>(v, flat))
}

enum TypedStorer<'a, 'b, T> {
    Flat(&'b mut [T]),
    Lanes {
        iter: ndarray::iter::LanesIterMut<'b, T, ndarray::IxDyn>,
        cur: Option<ArrayViewMut1<'b, T>>,
        _a: std::marker::PhantomData<&'a ()>,
    },
}

impl<T: Element> Storer for TypedStorer<'_, '_, T> {
    fn next_lane(&mut self) {
        if let TypedStorer::Lanes { iter, cur, .. } = self {
            *cur = iter.next();
        }
    }
    #[inline]
    fn direct(&mut self, start: usize, n: usize) -> Option<AnySliceMut<'_>> {
        match self {
            TypedStorer::Flat(d) => Some(T::wrap_slice_mut(&mut d[start..start + n])),
            TypedStorer::Lanes { cur, .. } => {
                let lane = cur
                    .as_mut()
                    .expect("internal: lane stored before next_lane");
                let d = lane.as_slice_mut()?;
                Some(T::wrap_slice_mut(&mut d[start..start + n]))
            }
        }
    }
    #[inline]
    fn store(&mut self, start: usize, n: usize, src: AnySlice<'_>) {
        let s = T::slice_ref(src);
        match self {
            TypedStorer::Flat(d) => d[start..start + n].copy_from_slice(s),
            TypedStorer::Lanes { cur, .. } => {
                let lane = cur
                    .as_mut()
                    .expect("internal: lane stored before next_lane");
                let mut part = lane.slice_mut(ndarray::s![start..start + n]);
                if let Some(d) = part.as_slice_mut() {
                    d.copy_from_slice(s);
                } else {
                    for (d, &s) in part.iter_mut().zip(s) {
                        *d = s;
                    }
                }
            }
        }
    }
}

fn make_storer<'b>(out: &'b mut AnyViewMut<'_>, flat: bool) -> Box<dyn Storer + 'b> {
    fn typed<'a, 'b, T: Element>(
        v: &'b mut ndarray::ArrayViewMutD<'a, T>,
        flat: bool,
    ) -> Box<dyn Storer + 'b> {
        if flat {
            return Box::new(TypedStorer::Flat(v.as_slice_mut().expect("flat output")));
        }
        let last = v.ndim() - 1;
        Box::new(TypedStorer::Lanes {
            iter: v.lanes_mut(Axis(last)).into_iter(),
            cur: None,
            _a: std::marker::PhantomData,
        })
    }
    dispatch!(AnyViewMut, out, v => typed::<T>(v, flat))
}
