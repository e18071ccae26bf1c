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

/// A block of `region` filled in row-major order with `f(global index, linear index)`, where
/// the linear index is the element's row-major position in an array of shape `full`. Walks
/// lanes of the last axis with an incrementing index instead of rebuilding an index per element.
pub(crate) fn fill_region<T: Element>(
    region: &Region,
    full: &[usize],
    mut f: impl FnMut(&[usize], u64) -> T,
) -> ArrayD<T> {
    let shape = region.shape();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        let nd = shape.len();
        let mut strides = vec![1u64; nd];
        for ax in (0..nd.saturating_sub(1)).rev() {
            strides[ax] = strides[ax + 1] * full[ax + 1] as u64;
        }
        let mut g: Vec<usize> = region.0.iter().map(|r| r.start).collect();
        if nd == 0 {
            out.push(f(&g, 0));
        } else {
            let last = nd - 1;
            loop {
                let base: u64 = (0..nd).map(|a| g[a] as u64 * strides[a]).sum();
                let start = region.0[last].start;
                for j in 0..shape[last] {
                    g[last] = start + j;
                    out.push(f(&g, base + j as u64));
                }
                g[last] = start;
                // Advance the outer index.
                let mut ax = last;
                loop {
                    if ax == 0 {
                        return ArrayD::from_shape_vec(ndarray::IxDyn(&shape), out)
                            .expect("sized to the region");
                    }
                    ax -= 1;
                    g[ax] += 1;
                    if g[ax] < region.0[ax].end {
                        break;
                    }
                    g[ax] = region.0[ax].start;
                }
            }
        }
    }
    ArrayD::from_shape_vec(ndarray::IxDyn(&shape), out).expect("sized to the region")
}
