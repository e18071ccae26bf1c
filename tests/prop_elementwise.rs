//! Property tests of elementwise expressions: random shapes (0–4 axes, size-0 and size-1
//! axes), random and independent chunkings per operand (regular, ragged, irregular),
//! broadcasting operands, every memory layout of the inputs (C, F, negative strides, strided)
//! and random expression trees, checked against the same expression
//! evaluated eagerly on in-memory `ndarray` arrays.

use chunkwise::prelude::*;
use chunkwise::{CastFrom, IntoOperand, OpKind};
use ndarray::{ArrayD, IxDyn, Zip};
use proptest::prelude::*;
use proptest::strategy::Union;
use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::OnceLock;
mod strategies;
use strategies::*;

type CA<T> = ChunkedArray<T>;

fn rt(threads: usize) -> &'static Runtime {
    static RT: [OnceLock<Runtime>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    RT[threads - 1].get_or_init(|| {
        Runtime::builder()
            .threads(threads)
            .memory_limit("64 MiB")
            .build()
            .unwrap()
    })
}

// ---------------------------------------------------------------------------------------------
// Element types: the reference semantics, written independently of the crate.
// ---------------------------------------------------------------------------------------------

trait TE: Numeric + CastFrom<f64> + Debug {
    const FLOAT: bool;
    fn elem() -> BoxedStrategy<Self>;
    fn scalar() -> BoxedStrategy<Self>;
    fn r_add(a: Self, b: Self) -> Self;
    fn r_sub(a: Self, b: Self) -> Self;
    fn r_mul(a: Self, b: Self) -> Self;
    fn r_div(a: Self, b: Self) -> Self;
    fn r_rem(a: Self, b: Self) -> Self;
    fn r_neg(a: Self) -> Self;
    fn r_abs(a: Self) -> Self;
    fn r_powi(a: Self, n: i32) -> Self;
    /// The closure given to `mapv`.
    fn r_map(a: Self) -> Self;
    /// A round trip through another element type (`astype`).
    fn r_cast(a: Self) -> Self;
    fn r_sqrt(a: Self) -> Self;
    fn r_exp(a: Self) -> Self;
    fn l_cast(a: &CA<Self>) -> CA<Self>;
    fn l_sqrt(a: &CA<Self>) -> CA<Self>;
    fn l_exp(a: &CA<Self>) -> CA<Self>;
    /// `s op a` with the scalar on the left.
    fn l_rbin(op: BinOp, s: Self, a: &CA<Self>) -> CA<Self>;
    fn bits(self) -> u64;
    fn close(a: Self, b: Self) -> bool;
}

macro_rules! int_te {
    ($t:ty, $big:ty, abs = $abs:expr, negpow = $negpow:expr) => {
        impl TE for $t {
            const FLOAT: bool = false;
            fn elem() -> BoxedStrategy<Self> {
                prop_oneof![4 => (-20 as $big..20).prop_map(|v| v as $t), 1 => any::<$t>()].boxed()
            }
            fn scalar() -> BoxedStrategy<Self> {
                prop_oneof![4 => (-5 as $big..6).prop_map(|v| v as $t), 1 => any::<$t>()].boxed()
            }
            fn r_add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            fn r_sub(a: Self, b: Self) -> Self { a.wrapping_sub(b) }
            fn r_mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            // NumPy's `//` and `%`: floor of the exact quotient (in i128, wrapped back), and
            // the remainder that goes with it (the divisor's sign); 0 for a zero divisor.
            fn r_div(a: Self, b: Self) -> Self {
                if b == 0 { return 0; }
                let (a, b) = (a as i128, b as i128);
                let q = if b > 0 { a.div_euclid(b) } else { (-a).div_euclid(-b) };
                q as $t
            }
            fn r_rem(a: Self, b: Self) -> Self {
                if b == 0 { return 0; }
                let (a, b) = (a as i128, b as i128);
                let q = if b > 0 { a.div_euclid(b) } else { (-a).div_euclid(-b) };
                (a - q * b) as $t
            }
            fn r_neg(a: Self) -> Self { a.wrapping_neg() }
            fn r_abs(a: Self) -> Self { ($abs)(a) }
            fn r_powi(a: Self, n: i32) -> Self {
                if n >= 0 { a.wrapping_pow(n as u32) } else { ($negpow)(a, n) }
            }
            fn r_map(a: Self) -> Self { a.wrapping_mul(3).wrapping_sub(1) }
            fn r_cast(a: Self) -> Self { a as f64 as $t }
            fn r_sqrt(_: Self) -> Self { unreachable!() }
            fn r_exp(_: Self) -> Self { unreachable!() }
            fn l_cast(a: &CA<Self>) -> CA<Self> { a.astype::<f64>().astype::<$t>() }
            fn l_sqrt(_: &CA<Self>) -> CA<Self> { unreachable!() }
            fn l_exp(_: &CA<Self>) -> CA<Self> { unreachable!() }
            fn l_rbin(op: BinOp, s: Self, a: &CA<Self>) -> CA<Self> {
                match op {
                    BinOp::Add => s + a,
                    BinOp::Sub => s - a,
                    BinOp::Mul => s * a,
                    BinOp::Div => s / a,
                    BinOp::Rem => s % a,
                }
            }
            fn bits(self) -> u64 { self as u64 }
            fn close(a: Self, b: Self) -> bool { a == b }
        }
    };
}

int_te!(
    i32,
    i64,
    abs = |a: i32| a.wrapping_abs(),
    negpow = |a: i32, n: i32| match a {
        1 => 1,
        -1 =>
            if n % 2 == 0 {
                1
            } else {
                -1
            },
        _ => 0,
    }
);
int_te!(
    i64,
    i64,
    abs = |a: i64| a.wrapping_abs(),
    negpow = |a: i64, n: i32| match a {
        1 => 1,
        -1 =>
            if n % 2 == 0 {
                1
            } else {
                -1
            },
        _ => 0,
    }
);
int_te!(
    u8,
    i16,
    abs = |a: u8| a,
    negpow = |a: u8, _n: i32| u8::from(a == 1)
);

macro_rules! float_te {
    ($t:ty, $other:ty, tol = $tol:expr) => {
        impl TE for $t {
            const FLOAT: bool = true;
            fn elem() -> BoxedStrategy<Self> {
                prop_oneof![
                    6 => -10.0 as $t..10.0,
                    1 => (-4i32..5).prop_map(|v| v as $t),
                    1 => Just(0.0 as $t),
                ]
                .boxed()
            }
            fn scalar() -> BoxedStrategy<Self> {
                prop_oneof![3 => -4.0 as $t..4.0, 1 => (-2i32..3).prop_map(|v| v as $t)].boxed()
            }
            fn r_add(a: Self, b: Self) -> Self { a + b }
            fn r_sub(a: Self, b: Self) -> Self { a - b }
            fn r_mul(a: Self, b: Self) -> Self { a * b }
            fn r_div(a: Self, b: Self) -> Self { a / b }
            // `np.remainder`: in `[0, b)` for `b > 0`, in `(b, 0]` for `b < 0`.
            fn r_rem(a: Self, b: Self) -> Self {
                if b > 0.0 { a.rem_euclid(b) } else if b < 0.0 { -(-a).rem_euclid(-b) } else { a % b }
            }
            fn r_neg(a: Self) -> Self { -a }
            fn r_abs(a: Self) -> Self { a.abs() }
            // NumPy's `power` on floats is libm's `pow`, within an ulp. Rust's `powi` squares
            // repeatedly and is several ulps off for |n| > 2, which `%` then magnifies (a
            // dividend of 220 has an f32 ulp of 1.5e-5): the reference is `pow` in f64.
            fn r_powi(a: Self, n: i32) -> Self {
                if (-2..=2).contains(&n) { a.powi(n) } else { (a as f64).powf(n as f64) as $t }
            }
            fn r_map(a: Self) -> Self { a * 3.0 - 1.0 }
            fn r_cast(a: Self) -> Self { a as $other as $t }
            fn r_sqrt(a: Self) -> Self { a.sqrt() }
            fn r_exp(a: Self) -> Self { a.exp() }
            fn l_cast(a: &CA<Self>) -> CA<Self> { a.astype::<$other>().astype::<$t>() }
            fn l_sqrt(a: &CA<Self>) -> CA<Self> { a.sqrt() }
            fn l_exp(a: &CA<Self>) -> CA<Self> { a.exp() }
            fn l_rbin(op: BinOp, s: Self, a: &CA<Self>) -> CA<Self> {
                match op {
                    BinOp::Add => s + a,
                    BinOp::Sub => s - a,
                    BinOp::Mul => s * a,
                    BinOp::Div => s / a,
                    BinOp::Rem => s % a,
                }
            }
            fn bits(self) -> u64 { self.to_bits() as u64 }
            fn close(a: Self, b: Self) -> bool {
                (a.is_nan() && b.is_nan())
                    || a == b
                    || (a - b).abs() <= $tol * a.abs().max(b.abs())
            }
        }
    };
}

float_te!(f64, f32, tol = 1e-12);
float_te!(f32, f64, tol = 1e-6);

// ---------------------------------------------------------------------------------------------
// Expression trees.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Clone, Copy, Debug)]
enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Clone, Debug)]
enum Arg<T> {
    E(Box<E<T>>),
    S(T),
}

#[derive(Clone, Debug)]
enum E<T> {
    Leaf(usize),
    Bin(BinOp, Box<E<T>>, Box<E<T>>),
    /// `e op s`, or `s op e` when the flag is set.
    BinS(BinOp, Box<E<T>>, T, bool),
    Neg(Box<E<T>>),
    Abs(Box<E<T>>),
    Powi(Box<E<T>>, i32),
    Clip(Box<E<T>>, T, T),
    Mapv(Box<E<T>>),
    /// `where(a cmp b, x, y)`.
    Where(Cmp, Box<E<T>>, Arg<T>, Arg<T>, Arg<T>),
    Cast(Box<E<T>>),
    /// `sqrt(abs(e))`.
    Sqrt(Box<E<T>>),
    /// `exp(clip(e, -20, 20))`.
    Exp(Box<E<T>>),
}

fn binop() -> impl Strategy<Value = BinOp> {
    prop_oneof![
        Just(BinOp::Add),
        Just(BinOp::Sub),
        Just(BinOp::Mul),
        Just(BinOp::Div),
        Just(BinOp::Rem)
    ]
}

fn cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![
        Just(Cmp::Gt),
        Just(Cmp::Ge),
        Just(Cmp::Lt),
        Just(Cmp::Le),
        Just(Cmp::Eq),
        Just(Cmp::Ne)
    ]
}

fn expr<T: TE>(nops: usize) -> BoxedStrategy<E<T>> {
    let leaf = (0..nops).prop_map(E::Leaf);
    leaf.prop_recursive(4, 24, 3, |inner| {
        let b = |e: E<T>| Box::new(e);
        let arg = prop_oneof![
            2 => inner.clone().prop_map(move |e| Arg::E(Box::new(e))),
            1 => T::scalar().prop_map(Arg::S),
        ];
        let mut v: Vec<BoxedStrategy<E<T>>> = vec![
            (binop(), inner.clone(), inner.clone())
                .prop_map(move |(o, x, y)| E::Bin(o, b(x), b(y)))
                .boxed(),
            (binop(), inner.clone(), T::scalar(), any::<bool>())
                .prop_map(move |(o, x, s, l)| E::BinS(o, b(x), s, l))
                .boxed(),
            inner.clone().prop_map(move |x| E::Neg(b(x))).boxed(),
            inner.clone().prop_map(move |x| E::Abs(b(x))).boxed(),
            (inner.clone(), -1i32..4)
                .prop_map(move |(x, n)| E::Powi(b(x), n))
                .boxed(),
            (inner.clone(), T::scalar(), T::scalar())
                .prop_map(move |(x, p, q)| {
                    let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
                    E::Clip(b(x), lo, hi)
                })
                .boxed(),
            inner.clone().prop_map(move |x| E::Mapv(b(x))).boxed(),
            (cmp(), inner.clone(), arg.clone(), arg.clone(), arg)
                .prop_map(move |(c, a, r, x, y)| E::Where(c, b(a), r, x, y))
                .boxed(),
            inner.clone().prop_map(move |x| E::Cast(b(x))).boxed(),
        ];
        if T::FLOAT {
            v.push(inner.clone().prop_map(move |x| E::Sqrt(b(x))).boxed());
            v.push(inner.prop_map(move |x| E::Exp(b(x))).boxed());
        }
        Union::new(v)
    })
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Lazy evaluation with chunkwise.
// ---------------------------------------------------------------------------------------------

fn lib_bin<T: TE>(op: BinOp, a: &CA<T>, b: &CA<T>) -> Result<CA<T>> {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Rem => a % b,
    }
}

fn lib_bin_s<T: TE>(op: BinOp, a: &CA<T>, s: T) -> CA<T> {
    match op {
        BinOp::Add => a + s,
        BinOp::Sub => a - s,
        BinOp::Mul => a * s,
        BinOp::Div => a / s,
        BinOp::Rem => a % s,
    }
}

fn lib_cmp<'a, T: TE>(c: Cmp, a: &CA<T>, rhs: impl IntoOperand<'a, T>) -> Result<CA<bool>> {
    match c {
        Cmp::Gt => a.gt(rhs),
        Cmp::Ge => a.ge(rhs),
        Cmp::Lt => a.lt(rhs),
        Cmp::Le => a.le(rhs),
        Cmp::Eq => a.eq_elem(rhs),
        Cmp::Ne => a.ne_elem(rhs),
    }
}

enum LArg<T: TE> {
    A(CA<T>),
    S(T),
}

fn lib_arg<T: TE>(a: &Arg<T>, ops: &[CA<T>]) -> Result<LArg<T>> {
    Ok(match a {
        Arg::E(e) => LArg::A(lib_eval(e, ops)?),
        Arg::S(s) => LArg::S(*s),
    })
}

fn lib_eval<T: TE>(e: &E<T>, ops: &[CA<T>]) -> Result<CA<T>> {
    Ok(match e {
        E::Leaf(i) => ops[*i].clone(),
        E::Bin(o, x, y) => lib_bin(*o, &lib_eval(x, ops)?, &lib_eval(y, ops)?)?,
        E::BinS(o, x, s, left) => {
            let x = lib_eval(x, ops)?;
            if *left {
                T::l_rbin(*o, *s, &x)
            } else {
                lib_bin_s(*o, &x, *s)
            }
        }
        E::Neg(x) => -&lib_eval(x, ops)?,
        E::Abs(x) => lib_eval(x, ops)?.abs(),
        E::Powi(x, n) => lib_eval(x, ops)?.powi(*n),
        E::Clip(x, lo, hi) => lib_eval(x, ops)?.clip(*lo, *hi),
        E::Mapv(x) => lib_eval(x, ops)?.mapv(T::r_map),
        E::Where(c, a, r, x, y) => {
            let a = lib_eval(a, ops)?;
            let mask = match lib_arg(r, ops)? {
                LArg::A(r) => lib_cmp(*c, &a, &r)?,
                LArg::S(s) => lib_cmp(*c, &a, s)?,
            };
            match (lib_arg(x, ops)?, lib_arg(y, ops)?) {
                (LArg::A(x), LArg::A(y)) => where_(&mask, &x, &y)?,
                (LArg::A(x), LArg::S(y)) => where_(&mask, &x, y)?,
                (LArg::S(x), LArg::A(y)) => mask.select(x, &y)?,
                (LArg::S(x), LArg::S(y)) => where_(&mask, x, y)?,
            }
        }
        E::Cast(x) => T::l_cast(&lib_eval(x, ops)?),
        E::Sqrt(x) => T::l_sqrt(&lib_eval(x, ops)?.abs()),
        E::Exp(x) => {
            let lo = <T as CastFrom<f64>>::cast_from(-20.0);
            let hi = <T as CastFrom<f64>>::cast_from(20.0);
            T::l_exp(&lib_eval(x, ops)?.clip(lo, hi))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Eager reference on ndarray (explicit NumPy broadcasting).
// ---------------------------------------------------------------------------------------------

fn bshape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = if i + a.len() >= n {
                a[i + a.len() - n]
            } else {
                1
            };
            let y = if i + b.len() >= n {
                b[i + b.len() - n]
            } else {
                1
            };
            assert!(x == y || x == 1 || y == 1, "reference: {a:?} vs {b:?}");
            if x == 1 { y } else { x }
        })
        .collect()
}

fn zip2<A: Copy, B: Copy, O>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(A, B) -> O) -> ArrayD<O> {
    let s = bshape(a.shape(), b.shape());
    let av = a.broadcast(IxDyn(&s)).unwrap();
    let bv = b.broadcast(IxDyn(&s)).unwrap();
    Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y))
}

fn zip3<A: Copy, B: Copy, C: Copy, O>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    c: &ArrayD<C>,
    f: impl Fn(A, B, C) -> O,
) -> ArrayD<O> {
    let s = bshape(&bshape(a.shape(), b.shape()), c.shape());
    let av = a.broadcast(IxDyn(&s)).unwrap();
    let bv = b.broadcast(IxDyn(&s)).unwrap();
    let cv = c.broadcast(IxDyn(&s)).unwrap();
    Zip::from(&av)
        .and(&bv)
        .and(&cv)
        .map_collect(|&x, &y, &z| f(x, y, z))
}

fn scalar0<T: Clone>(s: T) -> ArrayD<T> {
    ArrayD::from_elem(IxDyn(&[]), s)
}

fn ref_binf<T: TE>(op: BinOp) -> fn(T, T) -> T {
    match op {
        BinOp::Add => T::r_add,
        BinOp::Sub => T::r_sub,
        BinOp::Mul => T::r_mul,
        BinOp::Div => T::r_div,
        BinOp::Rem => T::r_rem,
    }
}

fn ref_arg<T: TE>(a: &Arg<T>, ops: &[ArrayD<T>]) -> ArrayD<T> {
    match a {
        Arg::E(e) => ref_eval(e, ops),
        Arg::S(s) => scalar0(*s),
    }
}

fn ref_eval<T: TE>(e: &E<T>, ops: &[ArrayD<T>]) -> ArrayD<T> {
    match e {
        E::Leaf(i) => ops[*i].clone(),
        E::Bin(o, x, y) => zip2(&ref_eval(x, ops), &ref_eval(y, ops), ref_binf::<T>(*o)),
        E::BinS(o, x, s, left) => {
            let x = ref_eval(x, ops);
            let f = ref_binf::<T>(*o);
            if *left {
                zip2(&scalar0(*s), &x, f)
            } else {
                zip2(&x, &scalar0(*s), f)
            }
        }
        E::Neg(x) => ref_eval(x, ops).mapv(T::r_neg),
        E::Abs(x) => ref_eval(x, ops).mapv(T::r_abs),
        E::Powi(x, n) => {
            let n = *n;
            ref_eval(x, ops).mapv(|v| T::r_powi(v, n))
        }
        E::Clip(x, lo, hi) => {
            let (lo, hi) = (*lo, *hi);
            ref_eval(x, ops).mapv(|v| {
                if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                }
            })
        }
        E::Mapv(x) => ref_eval(x, ops).mapv(T::r_map),
        E::Where(c, a, r, x, y) => {
            let c = *c;
            let mask = zip2(&ref_eval(a, ops), &ref_arg(r, ops), |p: T, q: T| match c {
                Cmp::Gt => p > q,
                Cmp::Ge => p >= q,
                Cmp::Lt => p < q,
                Cmp::Le => p <= q,
                Cmp::Eq => p == q,
                Cmp::Ne => p != q,
            });
            zip3(&mask, &ref_arg(x, ops), &ref_arg(y, ops), |m, p, q| {
                if m { p } else { q }
            })
        }
        E::Cast(x) => ref_eval(x, ops).mapv(T::r_cast),
        E::Sqrt(x) => ref_eval(x, ops).mapv(|v| T::r_sqrt(T::r_abs(v))),
        E::Exp(x) => {
            let lo = <T as CastFrom<f64>>::cast_from(-20.0);
            let hi = <T as CastFrom<f64>>::cast_from(20.0);
            ref_eval(x, ops).mapv(|v| {
                let c = if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                };
                T::r_exp(c)
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes and chunkings.
// ---------------------------------------------------------------------------------------------

/// The shape of one operand broadcast-compatible with `base`: some leading axes dropped,
/// some axes set to 1.
fn operand_shape(base: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let nd = base.len();
    (
        prop_oneof![3 => Just(0usize), 1 => 0..=nd],
        prop::collection::vec(prop::bool::weighted(0.25), nd),
    )
        .prop_map(move |(drop, ones)| {
            base[drop..]
                .iter()
                .zip(&ones[drop..])
                .map(|(&l, &o)| if o { 1 } else { l })
                .collect()
        })
}

#[derive(Clone, Debug)]
struct Operand<T> {
    shape: Vec<usize>,
    chunks: Vec<AxisSpec>,
    data: Vec<T>,
    /// How the `ndarray` given to `from_ndarray` lies in memory.
    layout: Layout,
}

impl<T: TE> Operand<T> {
    fn ndarray(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.data.clone()).unwrap()
    }
    fn chunked(&self) -> CA<T> {
        let a = with_layout(&self.ndarray(), &self.layout);
        CA::from_ndarray(a, ChunkSpec::PerAxis(self.chunks.clone())).unwrap()
    }
}

fn operand_with_shape<T: TE>(shape: Vec<usize>) -> impl Strategy<Value = Operand<T>> {
    let n: usize = shape.iter().product();
    (
        chunks_for(&shape),
        prop::collection::vec(T::elem(), n),
        Just(shape),
        layout(),
    )
        .prop_map(|(chunks, data, shape, layout)| Operand {
            shape,
            chunks,
            data,
            layout,
        })
}

fn operand<T: TE>(base: Vec<usize>) -> impl Strategy<Value = Operand<T>> {
    operand_shape(base).prop_flat_map(operand_with_shape::<T>)
}

#[derive(Clone, Debug)]
struct Case<T> {
    ops: Vec<Operand<T>>,
    expr: E<T>,
}

fn case<T: TE>() -> impl Strategy<Value = Case<T>> {
    case_with::<T>(base_shape().boxed())
}

/// Up to 3 axes, the last long enough that a lane spans several kernel tiles (1024).
fn long_lane_shape() -> BoxedStrategy<Vec<usize>> {
    (prop::collection::vec(1usize..=3, 0..=2), 1000usize..=2600)
        .prop_map(|(mut s, last)| {
            s.push(last);
            s
        })
        .boxed()
}

fn case_with<T: TE>(shapes: BoxedStrategy<Vec<usize>>) -> impl Strategy<Value = Case<T>> {
    (shapes, 1usize..=3).prop_flat_map(|(base, n)| {
        (prop::collection::vec(operand::<T>(base), n), expr::<T>(n))
            .prop_map(|(ops, expr)| Case { ops, expr })
    })
}

// ---------------------------------------------------------------------------------------------
// Checks.
// ---------------------------------------------------------------------------------------------

fn assert_close<T: TE>(
    got: &ArrayD<T>,
    want: &ArrayD<T>,
) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(got.shape(), want.shape());
    for ((i, g), w) in got.indexed_iter().zip(want.iter()) {
        prop_assert!(T::close(*g, *w), "at {:?}: got {:?}, want {:?}", i, g, w);
    }
    Ok(())
}

fn assert_same_bits<T: TE>(a: &ArrayD<T>, b: &ArrayD<T>) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b.iter()) {
        prop_assert_eq!(x.bits(), y.bits(), "{:?} vs {:?}", x, y);
    }
    Ok(())
}

/// Reassembles the output of `for_each_block`, checking each block's region and that every
/// block arrives exactly once.
fn reassemble<T: TE>(x: &CA<T>, threads: usize) -> std::result::Result<ArrayD<T>, TestCaseError> {
    let mut out = ArrayD::<T>::default(IxDyn(x.shape()));
    let mut seen = HashSet::new();
    let mut count = 0usize;
    let mut bad = None;
    x.for_each_block(rt(threads), |r: &Region, b| {
        count += 1;
        let ranges: Vec<(usize, usize)> = r.ranges().iter().map(|q| (q.start, q.end)).collect();
        if !seen.insert(ranges) || b.shape() != r.shape().as_slice() {
            bad = Some(format!("block {r:?} of shape {:?}", b.shape()));
        }
        let mut v = out.view_mut();
        for (ax, q) in r.ranges().iter().enumerate() {
            v.slice_axis_inplace(
                ndarray::Axis(ax),
                ndarray::Slice::from(q.start as isize..q.end as isize),
            );
        }
        v.assign(&b);
        Ok(())
    })
    .map_err(|e| TestCaseError::fail(format!("for_each_block: {e}")))?;
    prop_assert!(bad.is_none(), "{:?}", bad);
    prop_assert_eq!(count, x.nblocks());
    Ok(out)
}

fn check_case<T: TE>(c: &Case<T>) -> std::result::Result<(), TestCaseError> {
    let lazy_ops: Vec<CA<T>> = c.ops.iter().map(Operand::chunked).collect();
    let ref_ops: Vec<ArrayD<T>> = c.ops.iter().map(Operand::ndarray).collect();
    let want = ref_eval(&c.expr, &ref_ops);
    let lazy = lib_eval(&c.expr, &lazy_ops)
        .map_err(|e| TestCaseError::fail(format!("building the expression: {e}")))?;
    prop_assert_eq!(lazy.shape(), want.shape());
    let got1 = lazy
        .compute(rt(1))
        .map_err(|e| TestCaseError::fail(format!("compute: {e}")))?;
    assert_close(&got1, &want)?;
    let got2 = lazy
        .compute(rt(2))
        .map_err(|e| TestCaseError::fail(format!("compute (2 threads): {e}")))?;
    assert_same_bits(&got1, &got2)?;
    let blocks = reassemble(&lazy, 2)?;
    assert_same_bits(&blocks, &got1)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn expressions_f64(c in case::<f64>()) { check_case(&c)?; }

    #[test]
    fn expressions_f32(c in case::<f32>()) { check_case(&c)?; }

    #[test]
    fn expressions_i32(c in case::<i32>()) { check_case(&c)?; }

    #[test]
    fn expressions_i64(c in case::<i64>()) { check_case(&c)?; }

    #[test]
    fn expressions_u8(c in case::<u8>()) { check_case(&c)?; }

    /// `(x * 2 + 1)^2` fuses into one elementwise node and one task per output block.
    #[test]
    fn fused_chain_is_one_task_per_block(
        op in base_shape().prop_flat_map(operand_with_shape::<f64>)
    ) {
        let x = op.chunked();
        let y = (&x * 2.0 + 1.0).powi(2);
        let plan = y.plan_summary(rt(2));
        prop_assert_eq!(plan.optimized_of(OpKind::Elementwise).count(), 1, "{}", plan);
        prop_assert_eq!(plan.tasks, x.nblocks(), "{}", plan);
        prop_assert_eq!(plan.output_blocks, x.nblocks(), "{}", plan);
        let got = y.compute(rt(2)).unwrap();
        let want = op.ndarray().mapv(|v| (v * 2.0 + 1.0).powi(2));
        assert_close(&got, &want)?;
    }
}

#[test]
fn broadcast_with_independent_chunkings() {
    // (4, 1, 6) chunked [3, 1, 4] against (5, 6) chunked [2, [1, 5]]: the unified grid on
    // the last axis must split at 1, 4 and 5.
    let a = ArrayD::from_shape_fn(IxDyn(&[4, 1, 6]), |i| (i[0] * 10 + i[2]) as i64);
    let b = ArrayD::from_shape_fn(IxDyn(&[5, 6]), |i| (i[0] * 100 + i[1] * 7) as i64);
    let x = CA::from_ndarray(a.clone(), [3, 1, 4]).unwrap();
    let y = CA::from_ndarray(
        b.clone(),
        ChunkSpec::PerAxis(vec![AxisSpec::Size(2), AxisSpec::Explicit(vec![1, 5])]),
    )
    .unwrap();
    let z = (&x - &y).unwrap();
    assert_eq!(z.shape(), &[4, 5, 6]);
    assert_eq!(z.compute(rt(2)).unwrap(), &a - &b);
    let z = (&y * &x).unwrap();
    assert_eq!(z.compute(rt(1)).unwrap(), &b * &a);
}

proptest! {
    // Long lanes are slower: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn expressions_long_lanes_f64(c in case_with::<f64>(long_lane_shape())) { check_case(&c)?; }

    #[test]
    fn expressions_long_lanes_i32(c in case_with::<i32>(long_lane_shape())) { check_case(&c)?; }
}
