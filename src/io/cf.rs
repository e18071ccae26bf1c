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
//! let cf = CfDecode::from_attributes(attrs.as_object().unwrap())?.unwrap();
//! let raw = AnyArray::I16(ArrayD::from_shape_vec(vec![3], vec![0i16, 4, -1]).unwrap());
//! let out = cf.decode_block(&raw);
//! assert_eq!(out[[0]], 10.0);
//! assert_eq!(out[[1]], 12.0);
//! assert!(out[[2]].is_nan());
//! # Ok::<(), chunkwise::Error>(())
//! ```

use crate::element::{AnyArray, DType, Numeric, NumericSealed};
use crate::error::{Error, Result};
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
    /// The NetCDF `_Unsigned` attribute: `Some(true)` reads signed integers as the unsigned
    /// integers of the same width (`-1i8` is 255), `Some(false)` reads unsigned integers as
    /// signed; fill values are reinterpreted the same way (as xarray does). Float data ignore it.
    pub unsigned: Option<bool>,
}

/// The attribute names [`CfDecode::from_attributes`] reads.
pub const CF_ATTRIBUTES: [&str; 5] = [
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "_Unsigned",
];

fn bad(name: &str, v: &Value, detail: &str) -> Error {
    Error::BadAttribute {
        attribute: name.to_string(),
        value: v.to_string(),
        detail: detail.to_string(),
    }
}

impl CfDecode {
    /// Reads the CF packing and masking attributes of a variable.
    ///
    /// `scale_factor` and `add_offset` may be a number or a one-element list (NetCDF
    /// attributes are arrays). The fill values (`_FillValue`, `missing_value`) may be a number,
    /// a list of numbers, one of the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (how Zarr
    /// writes non-finite floats in JSON), or the base64 string of a little-endian `f64` (how
    /// xarray writes a float `_FillValue` in Zarr v3, e.g. `"AAAAAAA4j8A="` for −999).
    /// `_Unsigned` is `"true"` or `"false"` (any case) or a boolean.
    ///
    /// Returns `Ok(None)` when the map has none of these attributes, so callers can skip
    /// decoding altogether.
    ///
    /// # Errors
    /// [`Error::BadAttribute`] naming the attribute when one of them has a value that is not
    /// of the forms above (`scale_factor: "abc"`, `_Unsigned: "maybe"`, ...): decoding with
    /// it ignored would give wrong numbers.
    pub fn from_attributes(attributes: &Map<String, Value>) -> Result<Option<CfDecode>> {
        let one = |name: &str| -> Result<Option<f64>> {
            match attributes.get(name) {
                None => Ok(None),
                Some(v) => first_number(v)
                    .map(Some)
                    .ok_or_else(|| bad(name, v, "expected a number (or a one-element list)")),
            }
        };
        let scale_factor = one("scale_factor")?;
        let add_offset = one("add_offset")?;
        let mut fill_values = Vec::new();
        let mut has_fill = false;
        for name in ["_FillValue", "missing_value"] {
            if let Some(v) = attributes.get(name) {
                has_fill = true;
                let xs = numbers(v).ok_or_else(|| {
                    bad(
                        name,
                        v,
                        "expected a number, a list of numbers, \"NaN\"/\"Infinity\"/\"-Infinity\" \
                         or the base64 of a float64",
                    )
                })?;
                for x in xs {
                    // NaN always decodes to NaN: no need to list it.
                    if !x.is_nan() && !fill_values.contains(&x) {
                        fill_values.push(x);
                    }
                }
            }
        }
        let unsigned = match attributes.get("_Unsigned") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v @ Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => return Err(bad("_Unsigned", v, "expected \"true\" or \"false\"")),
            },
            Some(v) => return Err(bad("_Unsigned", v, "expected \"true\" or \"false\"")),
        };
        if scale_factor.is_none() && add_offset.is_none() && !has_fill && unsigned.is_none() {
            return Ok(None);
        }
        Ok(Some(CfDecode {
            scale_factor,
            add_offset,
            fill_values,
            unsigned,
        }))
    }

    /// Whether decoding changes nothing (no scaling, no offset, no fill value, no change of
    /// signedness).
    pub fn is_identity(&self) -> bool {
        self.scale_factor.is_none()
            && self.add_offset.is_none()
            && self.fill_values.is_empty()
            && self.unsigned.is_none()
    }

    /// The float type the decoded values of a variable stored as `stored` are given, as
    /// xarray chooses it: a float variable keeps its type; packed integers (`scale_factor` or
    /// `add_offset`, which JSON attributes carry as float64) decode to `f64`; integers only
    /// masked decode to `f32` up to 16 bits and to `f64` above.
    pub fn decoded_dtype(&self, stored: DType) -> DType {
        match stored {
            DType::F32 => DType::F32,
            DType::F64 => DType::F64,
            _ if self.scale_factor.is_some() || self.add_offset.is_some() => DType::F64,
            d if d.size() <= 2 => DType::F32,
            _ => DType::F64,
        }
    }

    /// Decodes one raw value: a fill value or NaN → NaN, otherwise `raw * scale + offset`.
    /// `_Unsigned` is not applied (the stored width is unknown here).
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
    /// blocks a fill value that the type cannot represent never matches. With `_Unsigned`,
    /// integers are first reinterpreted in the other signedness of the same width.
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
        // `$a` holds `$from` values to be read as `$to` (same width, other signedness).
        macro_rules! reinterpret {
            ($a:expr, $from:ty, $to:ty) => {{
                let fills = self.fills_in_reinterpreted::<$from, $to>();
                $a.mapv(|x: $from| {
                    let y = x as $to;
                    if fills.contains(&y) {
                        f64::NAN
                    } else {
                        self.unpack(y.to_f64_())
                    }
                })
            }};
        }
        let to_unsigned = self.unsigned == Some(true);
        let to_signed = self.unsigned == Some(false);
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
            AnyArray::I8(a) if to_unsigned => reinterpret!(a, i8, u8),
            AnyArray::I16(a) if to_unsigned => reinterpret!(a, i16, u16),
            AnyArray::I32(a) if to_unsigned => reinterpret!(a, i32, u32),
            AnyArray::I64(a) if to_unsigned => reinterpret!(a, i64, u64),
            AnyArray::U8(a) if to_signed => reinterpret!(a, u8, i8),
            AnyArray::U16(a) if to_signed => reinterpret!(a, u16, i16),
            AnyArray::U32(a) if to_signed => reinterpret!(a, u32, i32),
            AnyArray::U64(a) if to_signed => reinterpret!(a, u64, i64),
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
            .filter_map(|&f| exact::<T>(f))
            .collect()
    }

    /// The fill values of data stored as `F` and read as `U` (same width, other signedness),
    /// as `U`: a fill value written in the stored type (`-1` for `i8`) is reinterpreted
    /// (255), one already written in the read type (255) is kept.
    fn fills_in_reinterpreted<F: Numeric + Reinterpret<U>, U: Numeric>(&self) -> Vec<U> {
        self.fill_values
            .iter()
            .filter_map(|&f| exact::<F>(f).map(F::reinterpret).or_else(|| exact::<U>(f)))
            .collect()
    }
}

/// `f` as `T` when `T` holds it exactly (floats: always).
fn exact<T: Numeric>(f: f64) -> Option<T> {
    if T::IS_FLOAT {
        Some(T::from_f64_(f))
    } else {
        let t = T::from_f64_(f);
        (t.to_f64_() == f).then_some(t)
    }
}

/// A bit-for-bit cast between the signed and unsigned integers of one width.
trait Reinterpret<U> {
    fn reinterpret(self) -> U;
}

macro_rules! reinterpret_pairs {
    ($($a:ty => $b:ty),*) => {$(
        impl Reinterpret<$b> for $a {
            fn reinterpret(self) -> $b {
                self as $b
            }
        }
        impl Reinterpret<$a> for $b {
            fn reinterpret(self) -> $a {
                self as $a
            }
        }
    )*};
}
reinterpret_pairs!(i8 => u8, i16 => u16, i32 => u32, i64 => u64);

/// Every number in a JSON value: a number, a special-float or base64 string, or a list of
/// them; `None` if anything in it is not one of those.
fn numbers(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|x| vec![x]),
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
            other => base64_f64(other),
        },
        _ => None,
    }
}

/// The float encoded by xarray's Zarr v3 `FillValueCoder`: the base64 of the value's 8
/// little-endian `f64` bytes (or 4 bytes of an `f32`).
pub fn base64_f64(s: &str) -> Option<f64> {
    let bytes = base64_decode(s)?;
    match bytes.len() {
        8 => Some(f64::from_le_bytes(bytes.try_into().ok()?)),
        4 => Some(f64::from(f32::from_le_bytes(bytes.try_into().ok()?))),
        _ => None,
    }
}

/// A fill-value attribute as one number: a number, a one-element list, a special-float or
/// base64 string; `None` for anything else.
pub fn base64_f64_or_number(v: &Value) -> Option<f64> {
    first_number(v)
}

/// The base64 (standard alphabet, padded) of `x`'s 8 little-endian bytes: how xarray writes a
/// float `_FillValue` in Zarr v3 attributes.
pub fn base64_of_f64(x: f64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = x.to_le_bytes();
    let mut out = String::with_capacity(12);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard padded base64; `None` for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (gi, g) in s.chunks(4).enumerate() {
        let last = gi == s.len() / 4 - 1;
        let pad = g.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &g[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
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
            CfDecode::from_attributes(&attrs(json!({"units": "K"}))).unwrap(),
            None
        );
    }

    #[test]
    fn malformed_attributes_are_errors_naming_them() {
        for (a, name) in [
            (json!({"scale_factor": "abc"}), "scale_factor"),
            (json!({"add_offset": [1.0, 2.0]}), "add_offset"),
            (json!({"_FillValue": "none"}), "_FillValue"),
            (json!({"missing_value": [1, "x"]}), "missing_value"),
            (json!({"_Unsigned": "yes"}), "_Unsigned"),
        ] {
            let e = CfDecode::from_attributes(&attrs(a.clone())).unwrap_err();
            assert!(
                matches!(&e, Error::BadAttribute { attribute, .. } if attribute == name),
                "{a}: {e}"
            );
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn base64_fill_values() {
        // As xarray writes them in Zarr v3: struct.pack("<d", v) in base64.
        assert_eq!(base64_f64("AAAAAAA4j8A="), Some(-999.0));
        assert!(base64_f64("AAAAAAAA+H8=").unwrap().is_nan());
        assert_eq!(base64_f64("AAAAAAA4j8"), None);
        assert_eq!(base64_f64("AAAA"), None); // 3 bytes
        for v in [-999.0, 1e20, 0.0, -32767.0, f64::INFINITY, 0.1] {
            assert_eq!(base64_f64(&base64_of_f64(v)), Some(v));
        }
        assert_eq!(base64_of_f64(-999.0), "AAAAAAA4j8A=");
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": "AAAAAAA4j8A="})))
            .unwrap()
            .unwrap();
        assert_eq!(cf.fill_values, vec![-999.0]);
    }

    #[test]
    fn unsigned_attribute_reinterprets_signed_integers() {
        let cf = CfDecode::from_attributes(&attrs(json!({"_Unsigned": "true", "_FillValue": -1})))
            .unwrap()
            .unwrap();
        assert!(!cf.is_identity());
        let raw = AnyArray::I8(ArrayD::from_shape_vec(vec![4], vec![-56i8, -67, -1, 5]).unwrap());
        let out = cf.decode_block(&raw);
        assert_eq!(out[[0]], 200.0);
        assert_eq!(out[[1]], 189.0);
        assert!(out[[2]].is_nan(), "-1 as _FillValue is 255 unsigned");
        assert_eq!(out[[3]], 5.0);
        // A fill value already given unsigned.
        let cf = CfDecode::from_attributes(&attrs(json!({"_Unsigned": "TRUE", "_FillValue": 255})))
            .unwrap()
            .unwrap();
        assert!(cf.decode_block(&raw)[[2]].is_nan());
        // And back: unsigned storage read as signed.
        let cf = CfDecode::from_attributes(&attrs(json!({"_Unsigned": "false"})))
            .unwrap()
            .unwrap();
        let raw = AnyArray::U16(ArrayD::from_shape_vec(vec![2], vec![65535u16, 7]).unwrap());
        let out = cf.decode_block(&raw);
        assert_eq!(out[[0]], -1.0);
        assert_eq!(out[[1]], 7.0);
    }

    #[test]
    fn parses_scalars_and_lists() {
        let cf = CfDecode::from_attributes(&attrs(json!({
            "scale_factor": [0.01],
            "add_offset": 273.15,
            "_FillValue": -32768,
            "missing_value": [-32767, -32768],
        })))
        .unwrap()
        .unwrap();
        assert_eq!(cf.scale_factor, Some(0.01));
        assert_eq!(cf.add_offset, Some(273.15));
        assert_eq!(cf.fill_values, vec![-32768.0, -32767.0]);
        assert!(!cf.is_identity());
    }

    #[test]
    fn nan_fill_only_is_some_and_identity() {
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": "NaN"})))
            .unwrap()
            .unwrap();
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
            unsigned: None,
        };
        assert_eq!(cf.decode_f64(3.0), 7.0);
        assert!(cf.decode_f64(-9.0).is_nan());
        assert!(cf.decode_f64(f64::NAN).is_nan());
        let offset_only = CfDecode {
            scale_factor: None,
            add_offset: Some(-1.0),
            fill_values: vec![],
            unsigned: None,
        };
        assert_eq!(offset_only.decode_f64(3.0), 2.0);
    }

    #[test]
    fn decode_int_block() {
        let cf = CfDecode::from_attributes(&attrs(json!({
            "scale_factor": 0.5, "add_offset": 100.0, "_FillValue": -1, "missing_value": 1e9
        })))
        .unwrap()
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
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": 1e20})))
            .unwrap()
            .unwrap();
        let raw =
            AnyArray::F32(ArrayD::from_shape_vec(vec![3], vec![1e20f32, 2.0, f32::NAN]).unwrap());
        let out = cf.decode_block(&raw);
        assert!(out[[0]].is_nan());
        assert_eq!(out[[1]], 2.0);
        assert!(out[[2]].is_nan());
    }

    #[test]
    fn unrepresentable_fill_never_matches_integers() {
        let cf = CfDecode::from_attributes(&attrs(json!({"_FillValue": 300})))
            .unwrap()
            .unwrap();
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
            unsigned: None,
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
