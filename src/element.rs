//! Element types: the sealed [`Element`] trait, the numeric sub-traits and the runtime [`DType`].
//!
//! Blocks travel through the executor type-erased as [`AnyArray`]; the typed API
//! ([`crate::ChunkedArray`]) converts at its boundary with [`Element::unwrap`] and friends.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use std::fmt;

mod private {
    pub trait Sealed {}
}

/// The runtime element type of an array, for I/O whose type is only known from a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// `bool` (masks).
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// NumPy's name for this type (`float32`, `int16`, `bool`, ...).
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Parses NumPy's name for a type (the inverse of [`DType::numpy_name`]).
    pub fn from_numpy_name(name: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.numpy_name() == name)
    }

    /// Whether the type is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Every supported type.
    pub const ALL: [DType; 11] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F32,
        DType::F64,
    ];
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.numpy_name())
    }
}

/// Calls `$body` with `$T` bound to the Rust type of every variant.
///
/// Used to generate the type-erased containers below.
macro_rules! for_each_dtype {
    ($mac:ident) => {
        $mac! {
            Bool => bool,
            I8 => i8,
            I16 => i16,
            I32 => i32,
            I64 => i64,
            U8 => u8,
            U16 => u16,
            U32 => u32,
            U64 => u64,
            F32 => f32,
            F64 => f64,
        }
    };
}

macro_rules! define_containers {
    ($($v:ident => $t:ty),* $(,)?) => {
        /// An owned n-dimensional block of any element type.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(missing_docs)]
        pub enum AnyArray { $($v(ArrayD<$t>)),* }

        /// A borrowed view of a block of any element type.
        #[derive(Clone, Debug)]
        #[allow(missing_docs)]
        pub enum AnyView<'a> { $($v(ArrayViewD<'a, $t>)),* }

        /// A mutable view of a block of any element type.
        #[derive(Debug)]
        #[allow(missing_docs)]
        pub enum AnyViewMut<'a> { $($v(ArrayViewMutD<'a, $t>)),* }

        /// A flat buffer of any element type (a register of the fused elementwise kernels).
        #[derive(Clone, Debug)]
        #[allow(missing_docs)]
        pub enum AnyVec { $($v(Vec<$t>)),* }

        /// A borrowed run of elements of any type (a tile of a register or of an input).
        #[derive(Clone, Copy, Debug)]
        #[allow(missing_docs)]
        pub enum AnySlice<'a> { $($v(&'a [$t])),* }

        /// A mutable run of elements of any type (a tile of a register or of the output).
        #[derive(Debug)]
        #[allow(missing_docs)]
        pub enum AnySliceMut<'a> { $($v(&'a mut [$t])),* }

        impl AnyArray {
            /// The element type.
            pub fn dtype(&self) -> DType { match self { $(AnyArray::$v(_) => DType::$v),* } }
            /// The shape.
            pub fn shape(&self) -> &[usize] { match self { $(AnyArray::$v(a) => a.shape()),* } }
            /// Number of elements.
            pub fn len(&self) -> usize { match self { $(AnyArray::$v(a) => a.len()),* } }
            /// Whether the block holds no element.
            pub fn is_empty(&self) -> bool { self.len() == 0 }
            /// Bytes held by the elements.
            pub fn nbytes(&self) -> usize { self.len() * self.dtype().size() }
            /// A view of the whole block.
            pub fn view(&self) -> AnyView<'_> { match self { $(AnyArray::$v(a) => AnyView::$v(a.view())),* } }
            /// A mutable view of the whole block.
            pub fn view_mut(&mut self) -> AnyViewMut<'_> { match self { $(AnyArray::$v(a) => AnyViewMut::$v(a.view_mut())),* } }
            /// A block of `shape` filled with the type's zero (`false` for bool).
            pub fn zeros(dtype: DType, shape: &[usize]) -> AnyArray {
                match dtype { $(DType::$v => AnyArray::$v(ArrayD::<$t>::from_elem(shape, <$t>::default()))),* }
            }
        }

        impl<'a> AnyView<'a> {
            /// The element type.
            pub fn dtype(&self) -> DType { match self { $(AnyView::$v(_) => DType::$v),* } }
            /// The shape.
            pub fn shape(&self) -> &[usize] { match self { $(AnyView::$v(a) => a.shape()),* } }
            /// An owned copy in standard layout.
            pub fn to_owned(&self) -> AnyArray { match self { $(AnyView::$v(a) => AnyArray::$v(a.to_owned())),* } }
            /// This view broadcast to `shape` (NumPy rules), or `None` if it cannot be.
            pub fn broadcast_to(&self, shape: &[usize]) -> Option<AnyView<'a>> {
                match self { $(AnyView::$v(a) => broadcast_view(a, shape).map(AnyView::$v)),* }
            }
            /// A sub-view of `region` (ranges per axis, relative to this view).
            pub fn slice_region(&self, region: &[std::ops::Range<usize>]) -> AnyView<'a> {
                match self { $(AnyView::$v(a) => AnyView::$v(slice_view(a.clone(), region))),* }
            }
        }

        impl<'a> AnyViewMut<'a> {
            /// The element type.
            pub fn dtype(&self) -> DType { match self { $(AnyViewMut::$v(_) => DType::$v),* } }
            /// The shape.
            pub fn shape(&self) -> &[usize] { match self { $(AnyViewMut::$v(a) => a.shape()),* } }
            /// Copies `src` (same dtype and shape) into this view.
            ///
            /// # Panics
            /// If the dtype or shape differ (an internal bug, never user input).
            pub fn assign(&mut self, src: &AnyView<'_>) {
                match (self, src) {
                    $((AnyViewMut::$v(d), AnyView::$v(s)) => d.assign(s),)*
                    (d, s) => panic!("internal: assign {} into {}", s.dtype(), d.dtype()),
                }
            }
            /// Reborrows this view for a shorter lifetime.
            pub fn reborrow(&mut self) -> AnyViewMut<'_> {
                match self { $(AnyViewMut::$v(a) => AnyViewMut::$v(a.view_mut())),* }
            }
        }

        impl AnyVec {
            /// A buffer of `len` zeros of `dtype`.
            pub fn zeros(dtype: DType, len: usize) -> AnyVec {
                match dtype { $(DType::$v => AnyVec::$v(vec![<$t>::default(); len])),* }
            }
            /// The element type.
            pub fn dtype(&self) -> DType { match self { $(AnyVec::$v(_) => DType::$v),* } }
            /// Number of elements.
            pub fn len(&self) -> usize { match self { $(AnyVec::$v(v) => v.len()),* } }
            /// Whether the buffer is empty.
            pub fn is_empty(&self) -> bool { self.len() == 0 }
            /// Its first `n` elements.
            pub fn head(&self, n: usize) -> AnySlice<'_> {
                match self { $(AnyVec::$v(v) => AnySlice::$v(&v[..n])),* }
            }
            /// Its first `n` elements, mutably.
            pub fn head_mut(&mut self, n: usize) -> AnySliceMut<'_> {
                match self { $(AnyVec::$v(v) => AnySliceMut::$v(&mut v[..n])),* }
            }
        }

        impl AnySlice<'_> {
            /// The element type.
            pub fn dtype(&self) -> DType { match self { $(AnySlice::$v(_) => DType::$v),* } }
        }

        impl AnySliceMut<'_> {
            /// The element type.
            pub fn dtype(&self) -> DType { match self { $(AnySliceMut::$v(_) => DType::$v),* } }
        }

        $(
            impl private::Sealed for $t {}
            impl Element for $t {
                const DTYPE: DType = DType::$v;
                fn wrap(a: ArrayD<Self>) -> AnyArray { AnyArray::$v(a) }
                fn unwrap(a: AnyArray) -> Result<ArrayD<Self>, AnyArray> {
                    match a { AnyArray::$v(x) => Ok(x), other => Err(other) }
                }
                fn array_ref(a: &AnyArray) -> Option<&ArrayD<Self>> {
                    match a { AnyArray::$v(x) => Some(x), _ => None }
                }
                fn wrap_view(a: ArrayViewD<'_, Self>) -> AnyView<'_> { AnyView::$v(a) }
                fn view_ref<'a, 'b>(a: &'b AnyView<'a>) -> Option<&'b ArrayViewD<'a, Self>> {
                    match a { AnyView::$v(x) => Some(x), _ => None }
                }
                fn wrap_view_mut(a: ArrayViewMutD<'_, Self>) -> AnyViewMut<'_> { AnyViewMut::$v(a) }
                fn view_mut_ref<'a, 'b>(a: &'b mut AnyViewMut<'a>) -> Option<&'b mut ArrayViewMutD<'a, Self>> {
                    match a { AnyViewMut::$v(x) => Some(x), _ => None }
                }
                #[inline(always)]
                fn is_nonzero(self) -> bool { self != <$t>::default() }
                fn vec_ref(v: &AnyVec) -> &[Self] {
                    match v { AnyVec::$v(x) => x, other => panic!("internal: register {} read as {}", other.dtype(), DType::$v) }
                }
                fn vec_mut(v: &mut AnyVec) -> &mut [Self] {
                    match v { AnyVec::$v(x) => x, other => panic!("internal: register {} written as {}", other.dtype(), DType::$v) }
                }
                #[inline(always)]
                fn slice_ref(s: AnySlice<'_>) -> &[Self] {
                    match s { AnySlice::$v(x) => x, other => panic!("internal: tile {} read as {}", other.dtype(), DType::$v) }
                }
                #[inline(always)]
                fn slice_mut(s: AnySliceMut<'_>) -> &mut [Self] {
                    match s { AnySliceMut::$v(x) => x, other => panic!("internal: tile {} written as {}", other.dtype(), DType::$v) }
                }
                #[inline(always)]
                fn wrap_slice(s: &[Self]) -> AnySlice<'_> { AnySlice::$v(s) }
                #[inline(always)]
                fn wrap_slice_mut(s: &mut [Self]) -> AnySliceMut<'_> { AnySliceMut::$v(s) }
            }
        )*
    };
}

/// `v` broadcast to `shape`, with the lifetime of the data `v` borrows.
///
/// ndarray's `broadcast` ties the result to the borrow of the view itself; the fused kernels
/// need views that live as long as the block. Returns `None` when the shapes are incompatible
/// or the view has a negative stride (callers then copy first).
pub(crate) fn broadcast_view<'a, T>(
    v: &ArrayViewD<'a, T>,
    shape: &[usize],
) -> Option<ArrayViewD<'a, T>> {
    use ndarray::ShapeBuilder;
    if v.strides().iter().any(|&s| s < 0) {
        return None;
    }
    let b = v.broadcast(shape)?;
    let strides: Vec<usize> = b.strides().iter().map(|&s| s as usize).collect();
    let ptr = b.as_ptr();
    // SAFETY: `ptr` and `strides` describe `b`, a valid broadcast of `v` (only zero strides
    // added, no negative ones), and every element they reach lies in the data `v` borrows for
    // `'a`; shared views allow aliasing, so repeated (zero-stride) elements are fine. Tested by
    // `element::tests::broadcast_view_matches_ndarray`.
    Some(unsafe {
        ArrayViewD::from_shape_ptr(ndarray::IxDyn(shape).strides(ndarray::IxDyn(&strides)), ptr)
    })
}

/// Runs `$body` with `$v` bound to the typed value inside any of the type-erased enums
/// (`AnyArray`, `AnyView`, `AnyViewMut`, `AnyVec`), and `$T` aliased to its element type.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($enum:ident, $value:expr, $v:ident => $body:expr) => {
        $crate::dispatch!(@arms $enum, $value, $v, $body,
            Bool bool, I8 i8, I16 i16, I32 i32, I64 i64, U8 u8, U16 u16, U32 u32, U64 u64, F32 f32, F64 f64)
    };
    (@arms $enum:ident, $value:expr, $v:ident, $body:expr, $($var:ident $t:ty),*) => {
        match $value {
            $($crate::element::$enum::$var($v) => {
                #[allow(dead_code)]
                type T = $t;
                $body
            })*
        }
    };
}

/// Runs `$body` with `T` aliased to the Rust type of a runtime [`DType`].
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch_dtype {
    ($dtype:expr, $body:expr) => {
        $crate::dispatch_dtype!($dtype, $body, else unreachable!("every dtype is listed"))
    };
    // `$other` for dtypes added after the caller was written (`DType` is non-exhaustive).
    ($dtype:expr, $body:expr, else $other:expr) => {
        $crate::dispatch_dtype!(@arms $dtype, $body, $other,
            Bool bool, I8 i8, I16 i16, I32 i32, I64 i64, U8 u8, U16 u16, U32 u32, U64 u64, F32 f32, F64 f64)
    };
    (@arms $dtype:expr, $body:expr, $other:expr, $($var:ident $t:ty),*) => {
        match $dtype {
            $($crate::element::DType::$var => {
                #[allow(dead_code)]
                type T = $t;
                $body
            })*
            #[allow(unreachable_patterns)]
            _ => $other,
        }
    };
}

/// Like [`dispatch_dtype!`] for the numeric types only, with `$bool` evaluated for `bool`
/// (for bodies that need [`Numeric`] or `bytemuck::Pod`).
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch_numeric {
    ($dtype:expr, $body:expr, bool => $bool:expr) => {
        $crate::dispatch_numeric!($dtype, $body, bool => $bool,
            else unreachable!("every dtype is listed"))
    };
    ($dtype:expr, $body:expr, bool => $bool:expr, else $other:expr) => {
        match $dtype {
            $crate::element::DType::Bool => $bool,
            dtype => $crate::dispatch_dtype!(@arms dtype, $body, $other,
                I8 i8, I16 i16, I32 i32, I64 i64, U8 u8, U16 u16, U32 u32, U64 u64, F32 f32, F64 f64),
        }
    };
}

fn slice_view<'a, T>(v: ArrayViewD<'a, T>, region: &[std::ops::Range<usize>]) -> ArrayViewD<'a, T> {
    let mut v = v;
    for (ax, r) in region.iter().enumerate() {
        v.slice_axis_inplace(
            ndarray::Axis(ax),
            ndarray::Slice::from(r.start as isize..r.end as isize),
        );
    }
    v
}

/// An element type chunkwise can hold: `bool`, `i8`..`i64`, `u8`..`u64`, `f32`, `f64`.
///
/// The trait is sealed: the set of types is fixed so that type-erased blocks ([`AnyArray`])
/// can name them all. The conversion methods are for the crate's and I/O back-ends' use.
pub trait Element:
    Copy + Send + Sync + Default + PartialEq + PartialOrd + fmt::Debug + 'static + private::Sealed
{
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// Erases the type of an owned block.
    fn wrap(a: ArrayD<Self>) -> AnyArray;
    /// Recovers the typed block, or gives the block back if its type differs.
    ///
    /// # Errors
    /// The block itself, unchanged, when it is not of type `Self`.
    fn unwrap(a: AnyArray) -> Result<ArrayD<Self>, AnyArray>;
    /// Borrows the typed block, if the type matches.
    fn array_ref(a: &AnyArray) -> Option<&ArrayD<Self>>;
    /// Erases the type of a view.
    fn wrap_view(a: ArrayViewD<'_, Self>) -> AnyView<'_>;
    /// Borrows the typed view, if the type matches.
    fn view_ref<'a, 'b>(a: &'b AnyView<'a>) -> Option<&'b ArrayViewD<'a, Self>>;
    /// Erases the type of a mutable view.
    fn wrap_view_mut(a: ArrayViewMutD<'_, Self>) -> AnyViewMut<'_>;
    /// Borrows the typed mutable view, if the type matches.
    fn view_mut_ref<'a, 'b>(a: &'b mut AnyViewMut<'a>) -> Option<&'b mut ArrayViewMutD<'a, Self>>;
    /// Whether the value is nonzero (`true` for bool; NaN counts as nonzero, as in NumPy).
    fn is_nonzero(self) -> bool;
    /// The typed contents of a register.
    ///
    /// # Panics
    /// If the register holds another type (an internal bug).
    fn vec_ref(v: &AnyVec) -> &[Self];
    /// The typed contents of a register, mutably.
    ///
    /// # Panics
    /// If the register holds another type (an internal bug).
    fn vec_mut(v: &mut AnyVec) -> &mut [Self];
    /// The typed contents of a tile.
    ///
    /// # Panics
    /// If the tile holds another type (an internal bug).
    fn slice_ref(s: AnySlice<'_>) -> &[Self];
    /// The typed contents of a tile, mutably.
    ///
    /// # Panics
    /// If the tile holds another type (an internal bug).
    fn slice_mut(s: AnySliceMut<'_>) -> &mut [Self];
    /// Erases the type of a tile.
    fn wrap_slice(s: &[Self]) -> AnySlice<'_>;
    /// Erases the type of a mutable tile.
    fn wrap_slice_mut(s: &mut [Self]) -> AnySliceMut<'_>;
}

for_each_dtype!(define_containers);

/// A numeric element type (every [`Element`] but `bool`): arithmetic, ordering, conversion.
///
/// Integer arithmetic follows NumPy rather than debug-mode Rust: overflow wraps, and division
/// or remainder by zero gives 0 instead of panicking. Float arithmetic is IEEE 754.
pub trait Numeric:
    Element + num_traits::NumCast + num_traits::Bounded + num_traits::Zero + num_traits::One
{
    /// Whether this is a floating-point type.
    const IS_FLOAT: bool;
    /// The result type of `sum`/`prod`, as NumPy: the type itself for floats, `i64` for signed
    /// and `u64` for unsigned integers.
    type Sum: Numeric;
    /// The accumulator of `sum`/`prod`: `f64` for floats (so a billion `f32` values sum to
    /// NumPy's float64 answer), `i64`/`u64` for integers (wrapping on overflow).
    type Acc: Numeric;
    /// The result type of `mean`/`var`/`std`: the type itself for floats, `f64` for integers.
    type Mean: Float;
    /// Widens to the accumulator.
    fn to_acc(self) -> Self::Acc;
    /// Narrows an accumulated sum to the result type.
    fn acc_to_sum(a: Self::Acc) -> Self::Sum;
    /// `a + b`, wrapping on integer overflow.
    fn add_(self, b: Self) -> Self;
    /// `a - b`, wrapping on integer overflow.
    fn sub_(self, b: Self) -> Self;
    /// `a * b`, wrapping on integer overflow.
    fn mul_(self, b: Self) -> Self;
    /// `a / b`; integer division by zero gives 0.
    fn div_(self, b: Self) -> Self;
    /// `a % b` (sign of the dividend, as Rust and ndarray); integer remainder by zero gives 0.
    fn rem_(self, b: Self) -> Self;
    /// `-a`, wrapping for integers (unsigned: two's complement).
    fn neg_(self) -> Self;
    /// `|a|` (identity for unsigned types).
    fn abs_(self) -> Self;
    /// `a` raised to an integer power (wrapping for integers; negative powers of integers give 0
    /// unless `a` is ±1).
    fn powi_(self, n: i32) -> Self;
    /// Whether the value is NaN (always false for integers).
    fn is_nan_(self) -> bool;
    /// Lossy conversion to f64.
    fn to_f64_(self) -> f64;
    /// Conversion from f64 as NumPy's `astype` does (saturating for floats out of an integer's
    /// range, NaN to 0).
    fn from_f64_(v: f64) -> Self;
}

macro_rules! impl_int {
    ($($t:ident => $acc:ident),*) => {$(
        impl Numeric for $t {
            const IS_FLOAT: bool = false;
            type Sum = $acc;
            type Acc = $acc;
            type Mean = f64;
            #[inline(always)] fn to_acc(self) -> $acc { self as $acc }
            #[inline(always)] fn acc_to_sum(a: $acc) -> $acc { a }
            #[inline(always)] fn add_(self, b: Self) -> Self { self.wrapping_add(b) }
            #[inline(always)] fn sub_(self, b: Self) -> Self { self.wrapping_sub(b) }
            #[inline(always)] fn mul_(self, b: Self) -> Self { self.wrapping_mul(b) }
            #[inline(always)] fn div_(self, b: Self) -> Self { if b == 0 { 0 } else { self.wrapping_div(b) } }
            #[inline(always)] fn rem_(self, b: Self) -> Self { if b == 0 { 0 } else { self.wrapping_rem(b) } }
            #[inline(always)] fn neg_(self) -> Self { self.wrapping_neg() }
            #[inline(always)] fn abs_(self) -> Self { abs_int!(self, $t) }
            #[inline(always)] fn powi_(self, n: i32) -> Self {
                if n >= 0 { self.wrapping_pow(n as u32) }
                else if self == 1 { 1 }
                else { neg_one_pow!(self, n, $t) }
            }
            #[inline(always)] fn is_nan_(self) -> bool { false }
            #[inline(always)] fn to_f64_(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64_(v: f64) -> Self { v as $t }
        }
    )*};
}
macro_rules! abs_int {
    ($x:expr, u8) => {
        $x
    };
    ($x:expr, u16) => {
        $x
    };
    ($x:expr, u32) => {
        $x
    };
    ($x:expr, u64) => {
        $x
    };
    ($x:expr, $t:ident) => {
        $x.wrapping_abs()
    };
}
macro_rules! neg_one_pow {
    ($x:expr, $n:expr, u8) => {
        0
    };
    ($x:expr, $n:expr, u16) => {
        0
    };
    ($x:expr, $n:expr, u32) => {
        0
    };
    ($x:expr, $n:expr, u64) => {
        0
    };
    ($x:expr, $n:expr, $t:ident) => {
        if $x == -1 {
            if $n % 2 == 0 { 1 } else { -1 }
        } else {
            0
        }
    };
}
impl_int!(i8 => i64, i16 => i64, i32 => i64, i64 => i64, u8 => u64, u16 => u64, u32 => u64, u64 => u64);

macro_rules! impl_float {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const IS_FLOAT: bool = true;
            type Sum = $t;
            type Acc = f64;
            type Mean = $t;
            #[inline(always)] fn to_acc(self) -> f64 { self as f64 }
            #[inline(always)] fn acc_to_sum(a: f64) -> $t { a as $t }
            #[inline(always)] fn add_(self, b: Self) -> Self { self + b }
            #[inline(always)] fn sub_(self, b: Self) -> Self { self - b }
            #[inline(always)] fn mul_(self, b: Self) -> Self { self * b }
            #[inline(always)] fn div_(self, b: Self) -> Self { self / b }
            #[inline(always)] fn rem_(self, b: Self) -> Self { self % b }
            #[inline(always)] fn neg_(self) -> Self { -self }
            #[inline(always)] fn abs_(self) -> Self { self.abs() }
            #[inline(always)] fn powi_(self, n: i32) -> Self { self.powi(n) }
            #[inline(always)] fn is_nan_(self) -> bool { self.is_nan() }
            #[inline(always)] fn to_f64_(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64_(v: f64) -> Self { v as $t }
        }
        impl Float for $t {}
    )*};
}
impl_float!(f32, f64);

/// A floating-point element type (`f32`, `f64`): the transcendental functions and NaN.
pub trait Float: Numeric + num_traits::Float {}

/// Converts one element to another type as NumPy's `astype` does (floats to integers truncate
/// and saturate, NaN becomes 0; `bool` is 0/1; anything nonzero becomes `true`).
pub trait CastFrom<S>: Element {
    /// The converted value.
    fn cast_from(s: S) -> Self;
}

macro_rules! impl_cast_numeric {
    ($($t:ty),*) => {
        impl_cast_numeric!(@outer [$($t),*] [$($t),*]);
    };
    (@outer [$($s:ty),*] $ts:tt) => { $( impl_cast_numeric!(@inner $s $ts); )* };
    (@inner $s:ty [$($t:ty),*]) => {$(
        impl CastFrom<$s> for $t { #[inline(always)] fn cast_from(s: $s) -> Self { s as $t } }
    )*};
}
impl_cast_numeric!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

macro_rules! impl_cast_bool {
    ($($t:ty),*) => {$(
        impl CastFrom<bool> for $t { #[inline(always)] fn cast_from(s: bool) -> Self { s as u8 as $t } }
        impl CastFrom<$t> for bool { #[inline(always)] fn cast_from(s: $t) -> Self { s != (0 as $t) } }
    )*};
}
impl_cast_bool!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
impl CastFrom<bool> for bool {
    fn cast_from(s: bool) -> Self {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_arithmetic_never_panics() {
        assert_eq!(7i32.div_(0), 0);
        assert_eq!(7i32.rem_(0), 0);
        assert_eq!(i32::MIN.div_(-1), i32::MIN);
        assert_eq!(i8::MAX.add_(1), i8::MIN);
        assert_eq!(200u8.mul_(2), 144);
        assert_eq!(2i32.powi_(-1), 0);
        assert_eq!((-1i32).powi_(-3), -1);
    }

    #[test]
    fn casts_follow_numpy() {
        assert_eq!(<i32 as CastFrom<f64>>::cast_from(-2.7), -2);
        assert_eq!(<u8 as CastFrom<f64>>::cast_from(300.0), 255);
        assert_eq!(<i32 as CastFrom<f64>>::cast_from(f64::NAN), 0);
        assert!(<bool as CastFrom<f32>>::cast_from(0.5));
        assert_eq!(<f64 as CastFrom<bool>>::cast_from(true), 1.0);
    }

    #[test]
    fn broadcast_view_matches_ndarray() {
        let a = ndarray::Array::from_shape_vec((3, 1), vec![1.0f64, 2.0, 3.0])
            .unwrap()
            .into_dyn();
        let v = a.view();
        let b = broadcast_view(&v, &[2, 3, 4]).unwrap();
        assert_eq!(b, a.broadcast(vec![2, 3, 4]).unwrap());
        assert!(broadcast_view(&v, &[2, 2]).is_none());
        let big = ndarray::Array::from_shape_fn((4, 6), |(i, j)| (i * 6 + j) as f64).into_dyn();
        let sub = big.slice(ndarray::s![1..3, 2..5]).into_dyn();
        assert_eq!(broadcast_view(&sub, &[2, 3]).unwrap(), sub);
    }

    #[test]
    fn dtype_names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_numpy_name(d.numpy_name()), Some(d));
        }
    }
}
