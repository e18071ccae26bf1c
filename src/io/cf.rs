//! CF-convention decoding of packed or masked variables (`scale_factor`, `add_offset`,
//! `_FillValue`, `missing_value`), as xarray's `decode_cf` does for numbers.
//!
//! The attributes come as a JSON map (Zarr attributes; HDF5/NetCDF attributes converted to
//! JSON), so the helpers work for every back-end. Decoding is `raw == fill → NaN`, then
//! `raw * scale_factor + add_offset`.
//!
//! # Example: decode a packed block
//! ```
//! use chunkwise::io::cf::CfDecode;
//! use chunkwise::AnyArray;
//! use ndarray::ArrayD;
//!
//! let attrs = serde_json::json!({"scale_factor": 0.5, "add_offset": 10.0, "_FillValue": -1});
//! let cf = CfDecode::from_attributes(attrs.as_object().unwrap()).unwrap();
//! let raw = AnyArray::I16(ArrayD::from_shape_vec(vec![3], vec![0i16, 4, -1]).unwrap());
//! let out = cf.decode_block(&raw);
//! assert_eq!(out[[0]], 10.0);
//! assert_eq!(out[[1]], 12.0);
//! assert!(out[[2]].is_nan());
//! ```

use crate::element::{AnyArray, Numeric};
use ndarray::ArrayD;
use serde_json::{Map, Value};

/// How to decode the raw values of a CF variable: which raw values mean "missing", and the
/// linear unpacking.
#[derive(Clone, Debug, PartialEq)]
pub struct CfDecode {
    /// `scale_factor`: raw values are multiplied by it (after masking).
    pub scale_factor: Option<f64>,
    /// `add_offset`: added after scaling.
    pub add_offset: Option<f64>,
    /// Raw values that mean "missing" (`_FillValue` and `missing_value`, each a scalar or a
    /// list); they decode to NaN. NaN itself always decodes to NaN.
    pub fill_values: Vec<f64>,
}

/// The attribute names [`CfDecode::from_attributes`] reads.
pub const CF_ATTRIBUTES: [&str; 4] = ["scale_factor", "add_offset", "_FillValue", "missing_value"];

impl CfDecode {
    /// Reads the CF packing and masking attributes of a variable.
    ///
    /// Each attribute may be a number, a one-element list (NetCDF attributes are arrays), or —
    /// for the fill values — a list of numbers; strings `"NaN"`, `"Infinity"` and
    /// `"-Infinity"` (how Zarr writes non-finite floats in JSON) are understood. Values of other
    /// JSON types are ignored.
    ///
    /// Returns `None` when the map has none of the four attributes (or none with a usable
    /// value), so callers can skip decoding altogether.
    pub fn from_attributes(attributes: &Map<String, Value>) -> Option<CfDecode> {
        let scale_factor = attributes.get("scale_factor").and_then(first_number);
        let add_offset = attributes.get("add_offset").and_then(first_number);
        let mut fill_values = Vec::new();
        for name in ["_FillValue", "missing_value"] {
            if let Some(v) = attributes.get(name) {
                for x in numbers(v) {
                    // NaN always decodes to NaN: no need to list it.
                    if !x.is_nan() && !fill_values.contains(&x) {
                        fill_values.push(x);
                    }
                }
            }
        }
        let has_nan_fill = ["_FillValue", "missing_value"]
            .iter()
            .filter_map(|n| attributes.get(*n))
            .any(|v| numbers(v).iter().any(|x| x.is_nan()));
        if scale_factor.is_none() && add_offset.is_none() && fill_values.is_empty() && !has_nan_fill
        {
            return None;
        }
        Some(CfDecode {
            scale_factor,
            add_offset,
            fill_values,
        })
    }

    /// Whether decoding changes nothing (no scaling, no offset, no fill value).
    pub fn is_identity(&self) -> bool {
        self.scale_factor.is_none() && self.add_offset.is_none() && self.fill_values.is_empty()
    }

    /// Decodes one raw value: a fill value or NaN → NaN, otherwise `raw * scale + offset`.
    ///
    /// Fill values are compared exactly in `f64`; for `f32` data use [`CfDecode::decode_block`]
    /// or [`CfDecode::decode_block_f32`], which compare in the stored type.
    pub fn decode_f64(&self, raw: f64) -> f64 {
        if raw.is_nan() || self.fill_values.contains(&raw) {
            return f64::NAN;
        }
        self.unpack(raw)
    }

    fn unpack(&self, raw: f64) -> f64 {
        let mut v = raw;
        if let Some(s) = self.scale_factor {
            v *= s;
        }
        if let Some(o) = self.add_offset {
            v += o;
        }
        v
    }

    /// Decodes a whole block of any element type to `f64` (bool reads as 0/1).
    ///
    /// Fill values are compared in the block's own type: for an `f32` block, a fill value of
    /// `1e20` matches the stored `1e20f32` even though the two differ as `f64`; for integer
    /// blocks a fill value that the type cannot represent never matches.
    pub fn decode_block(&self, raw: &AnyArray) -> ArrayD<f64> {
        macro_rules! numeric {
            ($a:expr, $t:ty) => {{
                let fills = self.fills_in::<$t>();
                $a.mapv(|x: $t| {
                    if x.is_nan_() || fills.contains(&x) {
                        f64::NAN
                    } else {
                        self.unpack(x.to_f64_())
                    }
                })
            }};
        }
        match raw {
            AnyArray::Bool(a) => {
                let f0 = self.fill_values.contains(&0.0);
                let f1 = self.fill_values.contains(&1.0);
                a.mapv(|b| {
                    if (b && f1) || (!b && f0) {
                        f64::NAN
                    } else {
                        self.unpack(if b { 1.0 } else { 0.0 })
                    }
                })
            }
            AnyArray::I8(a) => numeric!(a, i8),
            AnyArray::I16(a) => numeric!(a, i16),
            AnyArray::I32(a) => numeric!(a, i32),
            AnyArray::I64(a) => numeric!(a, i64),
            AnyArray::U8(a) => numeric!(a, u8),
            AnyArray::U16(a) => numeric!(a, u16),
            AnyArray::U32(a) => numeric!(a, u32),
            AnyArray::U64(a) => numeric!(a, u64),
            AnyArray::F32(a) => numeric!(a, f32),
            AnyArray::F64(a) => numeric!(a, f64),
        }
    }

    /// [`CfDecode::decode_block`] computed in `f64` and stored as `f32` (half the memory; the
    /// usual choice for packed 16-bit climate data).
    pub fn decode_block_f32(&self, raw: &AnyArray) -> ArrayD<f32> {
        self.decode_block(raw).mapv(|v| v as f32)
    }

    /// The fill values that `T` represents exactly, converted to `T`.
    fn fills_in<T: Numeric>(&self) -> Vec<T> {
        self.fill_values
            .iter()
            .filter_map(|&f| {
                if T::IS_FLOAT {
                    Some(T::from_f64_(f))
                } else {
                    let t = T::from_f64_(f);
                    (t.to_f64_() == f).then_some(t)
                }
            })
            .collect()
    }
}

/// Every number in a JSON value: a number, a numeric string, or a list of them.
fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// A number, a one-element list of a number, or a special-float string.
fn first_number(v: &Value) -> Option<f64> {
    match v {
        Value::Array(items) if items.len() == 1 => scalar(&items[0]),
        other => scalar(other),
    }
}

fn scalar(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn no_cf_attributes_gives_none() {
        assert_eq!(
            CfDecode::from_attributes(&attrs(json!({"units": "K"}))),
            None
        );
        assert_eq!(
            CfDecode::from_attributes(&attrs(json!({"scale_factor": "x"}))),
            None
        );
    }

    #[test]
    fn parses_scalars_and_lists() {
        let cf = CfDecode::from_attributes(&attrs(json!({
            "scale_factor": [0.01],
            "add_offset": 273.15,
            "_FillValue": -32768,
            "missing_value": [-32767, -32768],
        })))
        .unwrap();
        assert_eq!(cf.scale_factor, Some(0.01));
        assert_eq!(cf.add_offset, Some(273.15));
        assert_eq!(cf.fill_values, vec![-32768.0, -32767.0]);
        assert!(!cf.is_identity());
    }

    #[test]
    fn nan_fill_only_is_some_and_identity() {
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": "NaN"}))).unwrap();
        assert!(cf.fill_values.is_empty());
        assert!(cf.is_identity());
        assert!(cf.decode_f64(f64::NAN).is_nan());
        assert_eq!(cf.decode_f64(1.5), 1.5);
    }

    #[test]
    fn decode_scalar() {
        let cf = CfDecode {
            scale_factor: Some(2.0),
            add_offset: Some(1.0),
            fill_values: vec![-9.0],
        };
        assert_eq!(cf.decode_f64(3.0), 7.0);
        assert!(cf.decode_f64(-9.0).is_nan());
        assert!(cf.decode_f64(f64::NAN).is_nan());
        let offset_only = CfDecode {
            scale_factor: None,
            add_offset: Some(-1.0),
            fill_values: vec![],
        };
        assert_eq!(offset_only.decode_f64(3.0), 2.0);
    }

    #[test]
    fn decode_int_block() {
        let cf = CfDecode::from_attributes(&attrs(json!({
            "scale_factor": 0.5, "add_offset": 100.0, "_FillValue": -1, "missing_value": 1e9
        })))
        .unwrap();
        let raw = AnyArray::I16(ArrayD::from_shape_vec(vec![2, 2], vec![0, 2, -1, 7]).unwrap());
        let out = cf.decode_block(&raw);
        assert_eq!(out.shape(), &[2, 2]);
        assert_eq!(out[[0, 0]], 100.0);
        assert_eq!(out[[0, 1]], 101.0);
        assert!(out[[1, 0]].is_nan());
        assert_eq!(out[[1, 1]], 103.5);
        let out32 = cf.decode_block_f32(&raw);
        assert_eq!(out32[[1, 1]], 103.5f32);
    }

    #[test]
    fn f32_fill_compared_in_f32() {
        // 1e20 is not exactly representable: the f32 value differs from the f64 one.
        assert_ne!(1e20f32 as f64, 1e20f64);
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": 1e20}))).unwrap();
        let raw =
            AnyArray::F32(ArrayD::from_shape_vec(vec![3], vec![1e20f32, 2.0, f32::NAN]).unwrap());
        let out = cf.decode_block(&raw);
        assert!(out[[0]].is_nan());
        assert_eq!(out[[1]], 2.0);
        assert!(out[[2]].is_nan());
    }

    #[test]
    fn unrepresentable_fill_never_matches_integers() {
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": 300}))).unwrap();
        let raw = AnyArray::U8(ArrayD::from_shape_vec(vec![2], vec![255u8, 44]).unwrap());
        let out = cf.decode_block(&raw);
        assert_eq!(out[[0]], 255.0);
        assert_eq!(out[[1]], 44.0);
    }

    #[test]
    fn bool_blocks() {
        let cf = CfDecode {
            scale_factor: Some(10.0),
            add_offset: None,
            fill_values: vec![0.0],
        };
        let raw = AnyArray::Bool(ArrayD::from_shape_vec(vec![2], vec![true, false]).unwrap());
        let out = cf.decode_block(&raw);
        assert_eq!(out[[0]], 10.0);
        assert!(out[[1]].is_nan());
    }
}

/// A source decoded with CF conventions: raw values of any numeric type become `f32` or `f64`,
/// fill values become NaN, then `raw * scale_factor + add_offset`.
#[derive(Debug)]
pub struct CfSource {
    inner: std::sync::Arc<dyn crate::io::BlockSource>,
    cf: CfDecode,
    out: crate::element::DType,
}

impl CfSource {
    /// Decodes `inner` into `out` (`F32` or `F64`).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] if `out` is not a float type.
    pub fn new(
        inner: std::sync::Arc<dyn crate::io::BlockSource>,
        cf: CfDecode,
        out: crate::element::DType,
    ) -> crate::error::Result<CfSource> {
        if !out.is_float() {
            return Err(crate::error::Error::InvalidArgument {
                op: "cf_decode",
                detail: format!(
                    "CF-decoded values are floats; {out} was requested for {}",
                    inner.describe()
                ),
            });
        }
        Ok(CfSource { inner, cf, out })
    }
}

impl crate::io::BlockSource for CfSource {
    fn dtype(&self) -> crate::element::DType {
        self.out
    }
    fn shape(&self) -> &[usize] {
        self.inner.shape()
    }
    fn natural_chunks(&self) -> Option<Vec<usize>> {
        self.inner.natural_chunks()
    }
    fn read(&self, region: &crate::chunks::Region) -> crate::error::Result<AnyArray> {
        let raw = self.inner.read(region)?;
        Ok(match self.out {
            crate::element::DType::F32 => AnyArray::F32(self.cf.decode_block_f32(&raw)),
            _ => AnyArray::F64(self.cf.decode_block(&raw)),
        })
    }
    fn read_scratch_bytes(&self, region: &crate::chunks::Region) -> usize {
        self.inner.read_scratch_bytes(region) + region.len() * self.inner.dtype().size()
    }
    fn is_rematerializable(&self) -> bool {
        self.inner.is_rematerializable()
    }
    fn io_lane(&self) -> crate::io::IoLane {
        self.inner.io_lane()
    }
    fn describe(&self) -> String {
        format!("cf_decode({})", self.inner.describe())
    }
    fn location(&self) -> Option<crate::io::guard::StoredLocation> {
        self.inner.location()
    }
}
