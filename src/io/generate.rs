//! Generated sources: blocks computed from their region by a closure (`from_fn`, `arange`,
//! `linspace`, seeded random). Any region can be generated, so rechunking them is free.

use super::BlockSource;
use crate::chunks::Region;
use crate::element::{AnyArray, DType, Element};
use crate::error::Result;
use ndarray::ArrayD;
use std::fmt;
use std::marker::PhantomData;

/// A source whose blocks a closure computes from their region.
pub struct FnSource<T, F> {
    shape: Vec<usize>,
    name: String,
    f: F,
    _t: PhantomData<fn() -> T>,
}

impl<T, F> FnSource<T, F> {
    /// A source of `shape` whose region `r` is `f(r)`; `name` appears in plans.
    pub fn new(shape: Vec<usize>, name: impl Into<String>, f: F) -> Self {
        FnSource {
            shape,
            name: name.into(),
            f,
            _t: PhantomData,
        }
    }
}

impl<T, F> fmt::Debug for FnSource<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnSource({}, {:?})", self.name, self.shape)
    }
}

impl<T: Element, F> BlockSource for FnSource<T, F>
where
    F: Fn(&Region) -> Result<ArrayD<T>> + Send + Sync,
{
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn read(&self, region: &Region) -> Result<AnyArray> {
        Ok(T::wrap((self.f)(region)?))
    }
    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// SplitMix64: a fast, well-mixed hash of a 64-bit counter (the seeded random sources hash the
/// global element index, so values do not depend on chunking or threads).
#[inline]
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform double in [0, 1) for element `index` of stream `seed`.
#[inline]
pub(crate) fn uniform01(seed: u64, index: u64) -> f64 {
    let h = splitmix64(splitmix64(seed) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal for element `index` of stream `seed` (Box–Muller on two uniforms).
#[inline]
pub(crate) fn normal01(seed: u64, index: u64) -> f64 {
    let u1 = uniform01(seed, index.wrapping_mul(2));
    let u2 = uniform01(seed, index.wrapping_mul(2).wrapping_add(1));
    let r = (-2.0 * (1.0 - u1).ln()).sqrt();
    r * (std::f64::consts::TAU * u2).cos()
}
