//! Element types: the sealed [`Element`] trait, the numeric sub-traits and the runtime [`DType`].
//!
//! Blocks travel through the executor type-erased as [`AnyArray`]; the typed API
//! ([`crate::ChunkedArray`]) converts at its boundary. The traits are sealed: their
//! conversions and arithmetic kernels live on crate-private supertraits, so users can
//! name [`Element`], [`Numeric`] and [`Float`] as bounds but neither implement them nor call
//! (or see documented) the plumbing, and the crate can change it without a breaking release.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use std::fmt;

pub use sealed::{AnyArray, AnyView, AnyViewMut};
pub(crate) use sealed::{AnySlice, AnySliceMut, AnyVec, ElementSealed, FloatSealed, NumericSealed};

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
        pub(crate) enum AnyVec { $($v(Vec<$t>)),* }

        /// A borrowed run of elements of any type (a tile of a register or of an input).
        #[derive(Clone, Copy, Debug)]
        #[allow(missing_docs)]
        pub(crate) enum AnySlice<'a> { $($v(&'a [$t])),* }

        /// A mutable run of elements of any type (a tile of a register or of the output).
        #[derive(Debug)]
        #[allow(missing_docs)]
        pub(crate) enum AnySliceMut<'a> { $($v(&'a mut [$t])),* }

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
            pub fn to_owned(&self) -> AnyArray { match self { $(AnyView::$v(a) => AnyArray::$v(a.as_standard_layout().into_owned())),* } }
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
            pub(crate) fn zeros(dtype: DType, len: usize) -> AnyVec {
                match dtype { $(DType::$v => AnyVec::$v(vec![<$t>::default(); len])),* }
            }
            /// The element type.
            pub(crate) fn dtype(&self) -> DType { match self { $(AnyVec::$v(_) => DType::$v),* } }
            /// Number of elements.
            pub(crate) fn len(&self) -> usize { match self { $(AnyVec::$v(v) => v.len()),* } }
            /// Its first `n` elements.
            pub(crate) fn head(&self, n: usize) -> AnySlice<'_> {
                match self { $(AnyVec::$v(v) => AnySlice::$v(&v[..n])),* }
            }
            /// Its first `n` elements, mutably.
            pub(crate) fn head_mut(&mut self, n: usize) -> AnySliceMut<'_> {
                match self { $(AnyVec::$v(v) => AnySliceMut::$v(&mut v[..n])),* }
            }
        }

        impl AnySlice<'_> {
            /// The element type.
            pub(crate) fn dtype(&self) -> DType { match self { $(AnySlice::$v(_) => DType::$v),* } }
        }

        impl AnySliceMut<'_> {
            /// The element type.
            pub(crate) fn dtype(&self) -> DType { match self { $(AnySliceMut::$v(_) => DType::$v),* } }
        }

        $(
            impl super::Element for $t {
                const DTYPE: DType = DType::$v;
            }
            impl ElementSealed for $t {
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
                #[inline(always)]
                fn is_nonzero(self) -> bool { self != <$t>::default() }
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
/// need views that live as long as the block. Returns `None` when the shapes are incompatible.
/// Negative strides (`a.slice(s![..;-1])`) are kept: those axes are flipped to positive
/// strides for the raw construction and flipped back after.
pub(crate) fn broadcast_view<'a, T>(
    v: &ArrayViewD<'a, T>,
    shape: &[usize],
) -> Option<ArrayViewD<'a, T>> {
    use ndarray::ShapeBuilder;
    let mut v = v.clone();
    let flipped: Vec<usize> = (0..v.ndim()).filter(|&k| v.strides()[k] < 0).collect();
    for &ax in &flipped {
        v.invert_axis(ndarray::Axis(ax));
    }
    let b = v.broadcast(shape)?;
    let strides: Vec<usize> = b.strides().iter().map(|&s| s as usize).collect();
    let ptr = b.as_ptr();
    // SAFETY: `ptr` and `strides` describe `b`, a valid broadcast of `v` whose strides are all
    // non-negative (negative ones were inverted above; broadcasting only adds zero strides),
    // and every element they reach lies in the data `v` borrows for `'a`; shared views allow
    // aliasing, so repeated (zero-stride) elements are fine. Tested by
    // `element::tests::broadcast_view_matches_ndarray`.
    let mut out = unsafe {
        ArrayViewD::from_shape_ptr(ndarray::IxDyn(shape).strides(ndarray::IxDyn(&strides)), ptr)
    };
    // Broadcasting prepends axes: the flipped input axes sit `lead` places later.
    let lead = shape.len() - v.ndim();
    for &ax in &flipped {
        out.invert_axis(ndarray::Axis(ax + lead));
    }
    Some(out)
}

/// Runs `$body` with `$v` bound to the typed value inside any of the type-erased enums
/// (`AnyArray`, `AnyView`, `AnyViewMut`, `AnyVec`), and `$T` aliased to its element type.
///
/// Crate-local: `crate::dispatch!` through the `pub(crate) use` in lib.rs.
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
pub(crate) use dispatch;

/// Runs `$body` with `T` aliased to the Rust type of a runtime [`DType`].
///
/// Exported only because the CLI (another crate) needs it: `chunkwise::__cli::dispatch_dtype!`,
/// hidden and outside the semver promise; the crate says `crate::dispatch_dtype!`.
#[macro_export]
#[doc(hidden)]
macro_rules! __dispatch_dtype {
    ($dtype:expr, $body:expr) => {
        $crate::__dispatch_dtype!($dtype, $body, else unreachable!("every dtype is listed"))
    };
    // `$other` for dtypes added after the caller was written (`DType` is non-exhaustive).
    ($dtype:expr, $body:expr, else $other:expr) => {
        $crate::__dispatch_dtype!(@arms $dtype, $body, $other,
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

/// Like `dispatch_dtype!` for the numeric types only, with `$bool` evaluated for `bool`
/// (for bodies that need [`Numeric`] or `bytemuck::Pod`). Exported for the CLI as
/// `chunkwise::__cli::dispatch_numeric!`, like `dispatch_dtype!`.
#[macro_export]
#[doc(hidden)]
macro_rules! __dispatch_numeric {
    ($dtype:expr, $body:expr, bool => $bool:expr) => {
        $crate::__dispatch_numeric!($dtype, $body, bool => $bool,
            else unreachable!("every dtype is listed"))
    };
    ($dtype:expr, $body:expr, bool => $bool:expr, else $other:expr) => {
        match $dtype {
            $crate::element::DType::Bool => $bool,
            dtype => $crate::__dispatch_dtype!(@arms dtype, $body, $other,
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
/// can name them all. Convert between typed and type-erased blocks with
/// [`AnyArray::from`] and [`AnyArray::downcast`].
///
/// Use it as a bound; another crate cannot implement it:
///
/// ```compile_fail
/// #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
/// struct Celsius(f64);
/// impl chunkwise::Element for Celsius {
///     const DTYPE: chunkwise::DType = chunkwise::DType::F64;
/// }
/// ```
///
/// nor call the crate's plumbing through the bound:
///
/// ```compile_fail
/// fn erase<T: chunkwise::Element>(a: chunkwise::ndarray::ArrayD<T>) -> chunkwise::AnyArray {
///     T::wrap(a) // crate-private
/// }
/// ```
///
/// The public conversions instead:
///
/// ```
/// use chunkwise::{AnyArray, Element, ndarray::ArrayD};
/// fn erase<T: Element>(a: ArrayD<T>) -> AnyArray {
///     AnyArray::from(a)
/// }
/// let back = erase(ArrayD::<u16>::zeros(vec![3])).downcast::<u16>();
/// assert_eq!(back.unwrap().len(), 3);
/// ```
// Sealed: the supertrait is crate-private, so other crates can neither implement the trait
// nor call the plumbing on it (intended, hence the allowed lint).
#[allow(private_bounds)]
pub trait Element:
    Copy + Send + Sync + Default + PartialEq + PartialOrd + fmt::Debug + 'static + ElementSealed
{
    /// The runtime tag of this type.
    const DTYPE: DType;
}

/// The sealed supertraits with the crate's plumbing (type erasure, arithmetic kernels) and
/// the type-erased containers. The traits are crate-private, so no other crate can name,
/// implement or call them, even through an `Element` bound; the containers other crates see
/// (`AnyArray`, `AnyView`, `AnyViewMut`) are re-exported by `element`.
mod sealed {
    use super::*;

    /// Type erasure of [`Element`]: the conversions between typed and type-erased blocks,
    /// views, registers and tiles.
    #[doc(hidden)]
    pub(crate) trait ElementSealed: Copy {
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
        /// Whether the value is nonzero (`true` for bool; NaN counts as nonzero, as in NumPy).
        fn is_nonzero(self) -> bool;
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

    /// The arithmetic kernels of [`Numeric`], with NumPy's integer semantics.
    #[doc(hidden)]
    pub(crate) trait NumericSealed: Copy {
        /// The accumulator of `sum`/`prod`: `f64` for floats (so a billion `f32` values sum
        /// to NumPy's float64 answer), `i64`/`u64` for integers (wrapping on overflow).
        type Acc: Numeric;
        /// Widens to the accumulator.
        fn to_acc(self) -> Self::Acc;
        /// Narrows an accumulated sum to the result type.
        fn acc_to_sum(a: Self::Acc) -> <Self as Numeric>::Sum
        where
            Self: Numeric;
        /// `a + b`, wrapping on integer overflow.
        fn add_(self, b: Self) -> Self;
        /// `a - b`, wrapping on integer overflow.
        fn sub_(self, b: Self) -> Self;
        /// `a * b`, wrapping on integer overflow.
        fn mul_(self, b: Self) -> Self;
        /// `a / b`: true division for floats; for integers NumPy's floor division `a // b`
        /// (rounds toward negative infinity, `-7 / 2 == -4`, not Rust's truncation), with
        /// division by zero giving 0 and `MIN / -1` wrapping to `MIN`.
        fn div_(self, b: Self) -> Self;
        /// `a % b` as NumPy's `%` (`np.remainder`): the result takes the **divisor's** sign
        /// (`-7 % 2 == 1`, `7 % -2 == -1`), so `a == (a / b) * b + a % b` for integers. Integer
        /// remainder by zero gives 0; for floats, remainder by zero is NaN and `x % ±inf` follows
        /// NumPy (`-5.0 % inf == inf`). Rust's `%` (C's `fmod`, the dividend's sign) differs.
        fn rem_(self, b: Self) -> Self;
        /// `-a`, wrapping for integers (unsigned: two's complement).
        fn neg_(self) -> Self;
        /// `|a|` (identity for unsigned types).
        fn abs_(self) -> Self;
        /// `a` raised to an integer power (wrapping for integers; negative powers of integers give 0
        /// unless `a` is ±1). For floats within 1 ulp of `powf` (not Rust's `powi`, whose repeated
        /// squaring drifts by tens of ulp for large exponents).
        fn powi_(self, n: i32) -> Self;
        /// Whether the value is NaN (always false for integers).
        fn is_nan_(self) -> bool;
        /// Lossy conversion to f64.
        fn to_f64_(self) -> f64;
        /// Conversion from f64 (Rust's `as`): to integers truncating toward zero, **saturating**
        /// at the type's bounds, NaN to 0; to `f32` rounding to nearest.
        fn from_f64_(v: f64) -> Self;
    }

    /// The helpers of [`Float`].
    #[doc(hidden)]
    pub(crate) trait FloatSealed: Copy {
        /// The largest value of the type below this one (`-inf` stays, NaN stays NaN).
        fn next_below(self) -> Self;
    }

    for_each_dtype!(define_containers);
}

impl<T: Element> From<ArrayD<T>> for AnyArray {
    /// Erases the element type of a block.
    fn from(a: ArrayD<T>) -> AnyArray {
        T::wrap(a)
    }
}

impl<'a, T: Element> From<ArrayViewD<'a, T>> for AnyView<'a> {
    /// Erases the element type of a view.
    fn from(a: ArrayViewD<'a, T>) -> AnyView<'a> {
        T::wrap_view(a)
    }
}

impl AnyArray {
    /// The typed block, when its element type is `T`.
    ///
    /// ```
    /// use chunkwise::{AnyArray, ndarray::ArrayD};
    /// let a = AnyArray::from(ArrayD::<f32>::zeros(vec![2, 3]));
    /// let a = a.downcast::<i32>().unwrap_err(); // not i32: given back unchanged
    /// assert_eq!(a.downcast::<f32>().unwrap().shape(), &[2, 3]);
    /// ```
    ///
    /// # Errors
    /// The block itself, unchanged, when its element type is not `T`.
    pub fn downcast<T: Element>(self) -> Result<ArrayD<T>, AnyArray> {
        T::unwrap(self)
    }

    /// Borrows the typed block, when its element type is `T`.
    pub fn downcast_ref<T: Element>(&self) -> Option<&ArrayD<T>> {
        T::array_ref(self)
    }
}

/// A numeric element type (every [`Element`] but `bool`): arithmetic, ordering, conversion.
///
/// Integer arithmetic follows NumPy rather than debug-mode Rust: overflow wraps, `/` is floor
/// division (NumPy's `//`), `%` takes the divisor's sign, and division or remainder by zero
/// gives 0 instead of panicking. Float arithmetic is IEEE 754, with NumPy's `%`
/// (`np.remainder`). The README's semantics section lists every deviation from NumPy.
// Sealed: the supertrait is crate-private, so other crates can neither implement the trait
// nor call the plumbing on it (intended, hence the allowed lint).
#[allow(private_bounds)]
pub trait Numeric:
    Element
    + NumericSealed
    + num_traits::NumCast
    + num_traits::Bounded
    + num_traits::Zero
    + num_traits::One
{
    /// Whether this is a floating-point type.
    const IS_FLOAT: bool;
    /// The result type of `sum`/`prod`, as NumPy: the type itself for floats, `i64` for signed
    /// and `u64` for unsigned integers.
    type Sum: Numeric;
    /// The result type of `mean`/`var`/`std`: the type itself for floats, `f64` for integers.
    type Mean: Float;
}

macro_rules! impl_int {
    ($($t:ident => $acc:ident),*) => {$(
        impl Numeric for $t {
            const IS_FLOAT: bool = false;
            type Sum = $acc;
            type Mean = f64;
        }
        impl NumericSealed for $t {
            type Acc = $acc;
            #[inline(always)] fn to_acc(self) -> $acc { self as $acc }
            #[inline(always)] fn acc_to_sum(a: $acc) -> $acc { a }
            #[inline(always)] fn add_(self, b: Self) -> Self { self.wrapping_add(b) }
            #[inline(always)] fn sub_(self, b: Self) -> Self { self.wrapping_sub(b) }
            #[inline(always)] fn mul_(self, b: Self) -> Self { self.wrapping_mul(b) }
            #[inline(always)] fn div_(self, b: Self) -> Self { floor_div!(self, b, $t) }
            #[inline(always)] fn rem_(self, b: Self) -> Self { floor_rem!(self, b, $t) }
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
/// NumPy's `//` for integers: floor division, 0 for a zero divisor, `MIN // -1` wraps.
macro_rules! floor_div {
    ($a:expr, $b:expr, u8) => { floor_div!(@unsigned $a, $b) };
    ($a:expr, $b:expr, u16) => { floor_div!(@unsigned $a, $b) };
    ($a:expr, $b:expr, u32) => { floor_div!(@unsigned $a, $b) };
    ($a:expr, $b:expr, u64) => { floor_div!(@unsigned $a, $b) };
    (@unsigned $a:expr, $b:expr) => {
        if $b == 0 { 0 } else { $a / $b }
    };
    ($a:expr, $b:expr, $t:ident) => {{
        let (a, b) = ($a, $b);
        if b == 0 {
            0
        } else {
            let q = a.wrapping_div(b);
            let r = a.wrapping_rem(b);
            // Truncation rounded toward zero; step down when the exact quotient is negative.
            if r != 0 && ((r < 0) != (b < 0)) { q.wrapping_sub(1) } else { q }
        }
    }};
}
/// NumPy's `%` for integers: the remainder has the divisor's sign, 0 for a zero divisor.
macro_rules! floor_rem {
    ($a:expr, $b:expr, u8) => { floor_rem!(@unsigned $a, $b) };
    ($a:expr, $b:expr, u16) => { floor_rem!(@unsigned $a, $b) };
    ($a:expr, $b:expr, u32) => { floor_rem!(@unsigned $a, $b) };
    ($a:expr, $b:expr, u64) => { floor_rem!(@unsigned $a, $b) };
    (@unsigned $a:expr, $b:expr) => {
        if $b == 0 { 0 } else { $a % $b }
    };
    ($a:expr, $b:expr, $t:ident) => {{
        let (a, b) = ($a, $b);
        if b == 0 {
            0
        } else {
            let r = a.wrapping_rem(b);
            if r != 0 && ((r < 0) != (b < 0)) { r.wrapping_add(b) } else { r }
        }
    }};
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
            type Mean = $t;
        }
        impl NumericSealed for $t {
            type Acc = f64;
            #[inline(always)] fn to_acc(self) -> f64 { self as f64 }
            #[inline(always)] fn acc_to_sum(a: f64) -> $t { a as $t }
            #[inline(always)] fn add_(self, b: Self) -> Self { self + b }
            #[inline(always)] fn sub_(self, b: Self) -> Self { self - b }
            #[inline(always)] fn mul_(self, b: Self) -> Self { self * b }
            #[inline(always)] fn div_(self, b: Self) -> Self { self / b }
            #[inline(always)] fn rem_(self, b: Self) -> Self {
                // NumPy's `npy_divmod`: C's fmod, moved into the divisor's sign.
                let m = self % b;
                if b == 0.0 {
                    m
                } else if m != 0.0 {
                    if (b < 0.0) != (m < 0.0) { m + b } else { m }
                } else {
                    (0.0 as $t).copysign(b)
                }
            }
            #[inline(always)] fn neg_(self) -> Self { -self }
            #[inline(always)] fn abs_(self) -> Self { self.abs() }
            #[inline(always)] fn powi_(self, n: i32) -> Self {
                // `powi` squares repeatedly and its error grows with |n|; up to |n| = 2 it is
                // one correctly rounded operation. Beyond, libm's `pow` in f64 (within 1 ulp of
                // f64, so correctly rounded or within 1 ulp after narrowing to f32).
                if (-2..=2).contains(&n) {
                    self.powi(n)
                } else {
                    (self as f64).powf(n as f64) as $t
                }
            }
            #[inline(always)] fn is_nan_(self) -> bool { self.is_nan() }
            #[inline(always)] fn to_f64_(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64_(v: f64) -> Self { v as $t }
        }
        impl Float for $t {}
        impl FloatSealed for $t {
            #[inline]
            fn next_below(self) -> Self {
                // `next_down` needs Rust 1.86 (MSRV 1.85): step the bit pattern by hand.
                if self.is_nan() || self == <$t>::NEG_INFINITY {
                    self
                } else if self == 0.0 {
                    -<$t>::from_bits(1)
                } else if self > 0.0 {
                    <$t>::from_bits(self.to_bits() - 1)
                } else {
                    <$t>::from_bits(self.to_bits() + 1)
                }
            }
        }
    )*};
}
impl_float!(f32, f64);

/// A floating-point element type (`f32`, `f64`): the transcendental functions and NaN.
// Sealed: the supertrait is crate-private, so other crates can neither implement the trait
// nor call the plumbing on it (intended, hence the allowed lint).
#[allow(private_bounds)]
pub trait Float: Numeric + FloatSealed + num_traits::Float {}

/// Converts one element to another type with Rust's `as` semantics, which chunkwise defines
/// for every input: floats to integers truncate toward zero and **saturate** at the target's
/// bounds, NaN becomes 0; integers to narrower integers wrap (two's complement, as NumPy);
/// `bool` is 0/1 and anything nonzero (NaN included) becomes `true`.
///
/// NumPy leaves float-to-integer casts of out-of-range values and NaN undefined (the result
/// depends on the platform, e.g. `int32` gets `-2147483648` on x86-64 for NaN and `1e20`);
/// chunkwise's answer is the same everywhere.
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
        assert_eq!((-7i32).div_(2), -4);
        assert_eq!(i32::MIN.div_(-1), i32::MIN);
        assert_eq!(i8::MAX.add_(1), i8::MIN);
        assert_eq!(200u8.mul_(2), 144);
        assert_eq!(2i32.powi_(-1), 0);
        assert_eq!((-1i32).powi_(-3), -1);
    }

    /// NumPy 2.4: `a // b` and `a % b` for these int32 pairs (zero divisors give 0).
    #[test]
    fn integer_division_floors_as_numpy() {
        let a = [-7i32, 7, -1, 7, -7, 0, 5];
        let b = [2i32, 2, 2, -2, -2, 3, 0];
        let q: Vec<i32> = a.iter().zip(&b).map(|(&a, &b)| a.div_(b)).collect();
        let r: Vec<i32> = a.iter().zip(&b).map(|(&a, &b)| a.rem_(b)).collect();
        assert_eq!(q, [-4, 3, -1, -4, 3, 0, 0]);
        assert_eq!(r, [1, 1, 1, -1, -1, 0, 0]);
        assert_eq!(i8::MIN.div_(-1), i8::MIN);
        assert_eq!(i8::MIN.rem_(-1), 0);
        assert_eq!(7u8.div_(2), 3);
        assert_eq!(7u8.rem_(0), 0);
        // Exhaustively over i8: floor of the exact quotient, and a == q*b + r with r having
        // b's sign and |r| < |b|.
        for a in i8::MIN..=i8::MAX {
            for b in i8::MIN..=i8::MAX {
                if b == 0 || (a == i8::MIN && b == -1) {
                    continue;
                }
                let (q, r) = (a.div_(b), a.rem_(b));
                assert_eq!(q as f64, (a as f64 / b as f64).floor(), "{a} // {b}");
                assert_eq!(q as i32 * b as i32 + r as i32, a as i32, "{a} % {b}");
                assert!(r == 0 || (r < 0) == (b < 0), "{a} % {b} = {r}");
            }
        }
    }

    /// NumPy 2.4: `np.remainder` of these float64 pairs (bit patterns, so `-0.0` counts).
    #[test]
    fn float_remainder_takes_the_divisor_sign() {
        let inf = f64::INFINITY;
        let x = [-7.5, 7.5, -1.0, 5.0, -5.0, 0.0, -0.0, 5.0, inf, 3.0];
        let y = [2.0, -2.0, 2.0, inf, inf, -3.0, 3.0, 0.0, 2.0, -inf];
        let want = [
            0.5,
            -0.5,
            1.0,
            5.0,
            inf,
            -0.0,
            0.0,
            f64::NAN,
            f64::NAN,
            -inf,
        ];
        for ((&x, &y), &w) in x.iter().zip(&y).zip(&want) {
            let got = x.rem_(y);
            assert!(
                got.to_bits() == w.to_bits() || (got.is_nan() && w.is_nan()),
                "{x} % {y} = {got}, NumPy {w}"
            );
        }
        assert_eq!((-7.5f32).rem_(2.0), 0.5);
        assert_eq!((-7.5f64).div_(2.0), -3.75);
    }

    /// Distance in ulp between two finite f64 of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn powi_is_within_an_ulp_of_powf() {
        let mut h = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            h
        };
        let mut worst = (0u64, 0u64);
        for _ in 0..20_000 {
            let base = 0.5 + (next() >> 11) as f64 / (1u64 << 53) as f64 * 1.5;
            let n = (next() % 2000) as i32 - 1000;
            let want = base.powf(n as f64);
            let got = base.powi_(n);
            if want.is_finite() && want != 0.0 && want.is_normal() {
                worst.0 = worst.0.max(ulps(got, want));
            }
            let (b32, w32) = (base as f32, (base as f32 as f64).powf(n as f64) as f32);
            let g32 = b32.powi_(n);
            if w32.is_normal() {
                worst.1 = worst.1.max(
                    ulps(g32 as f64, w32 as f64)
                        .min((g32.to_bits() as i64 - w32.to_bits() as i64).unsigned_abs()),
                );
            }
        }
        assert!(worst.0 <= 1, "f64 powi off by {} ulp", worst.0);
        assert!(worst.1 <= 1, "f32 powi off by {} ulp", worst.1);
        assert_eq!(2.0f64.powi_(10), 1024.0);
        assert_eq!((-2.0f64).powi_(3), -8.0);
        assert_eq!(f64::NAN.powi_(0), 1.0);
        assert_eq!(1.0f32.next_below(), 1.0 - f32::EPSILON / 2.0);
        assert_eq!((-1.0f64).next_below(), -1.0 - f64::EPSILON);
        assert_eq!(0.0f64.next_below(), -f64::from_bits(1));
        assert_eq!(f32::INFINITY.next_below(), f32::MAX);
        assert_eq!(0.0f64.powi_(-3), f64::INFINITY);
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
        // Negative strides, on a broadcast axis of length 1 too.
        let rev = big.slice(ndarray::s![..;-1, 1..;-2]).into_dyn();
        assert_eq!(
            broadcast_view(&rev, &[3, 4, 3]).unwrap(),
            rev.broadcast(vec![3, 4, 3]).unwrap()
        );
        let row = big.slice(ndarray::s![2..3;-1, ..;-1]).into_dyn();
        assert_eq!(
            broadcast_view(&row, &[5, 6]).unwrap(),
            row.broadcast(vec![5, 6]).unwrap()
        );
    }

    #[test]
    fn dtype_names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_numpy_name(d.numpy_name()), Some(d));
        }
    }
}
