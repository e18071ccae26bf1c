//! Coordinates: the labels of one dimension, numbers or CF times.

use crate::element::AnyArray;
use crate::error::{Error, Result};
use crate::io::cf::CfDecode;
use crate::time::{Calendar, CfDateTime, TimeCoder};
use serde_json::{Map, Value};

/// The labels of a coordinate.
#[derive(Clone, Debug, PartialEq)]
pub enum CoordValues {
    /// Numbers (latitudes, levels, ...), as `f64`.
    Numbers(Vec<f64>),
    /// CF times decoded in their calendar.
    Times {
        /// The times.
        times: Vec<CfDateTime>,
        /// Their calendar.
        calendar: Calendar,
        /// The units they were stored with (`"days since 2000-01-01"`), used again when
        /// written; `None` lets the writer choose (the coarsest unit in which every time is
        /// whole, since the first time).
        units: Option<String>,
    },
    /// Names (the seasons of `groupby("time.season")`: `"DJF"`, `"JJA"`, ...). Selected by
    /// name (`Label::from("DJF")`); not written to stores yet.
    Labels(Vec<String>),
}

/// A dimension coordinate: one label per position along its dimension, and its attributes
/// (`units`, `standard_name`, ...; for times, without `units` and `calendar`, which are in
/// [`CoordValues::Times`]).
///
/// ```
/// use chunkwise::dataset::Coordinate;
/// use chunkwise::time::{Calendar, CfDateTime};
///
/// let lat = Coordinate::numbers(vec![60.0, 45.0, 30.0]);
/// assert_eq!(lat.len(), 3);
/// let t = Coordinate::times(vec![CfDateTime::ymd(2001, 1, 1)], Calendar::NoLeap);
/// assert_eq!(t.as_times().unwrap().0[0].year, 2001);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Coordinate {
    /// The labels.
    pub values: CoordValues,
    /// The attributes (decoded: without CF encoding keys).
    pub attrs: Map<String, Value>,
}

/// Attribute keys that describe how a variable is stored, not what it is: xarray moves them
/// to `encoding` when it decodes, and so does chunkwise.
pub(crate) const ENCODING_KEYS: [&str; 7] = [
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "_Unsigned",
    "_ARRAY_DIMENSIONS",
    "dtype",
];

/// `attrs` without the encoding keys (and, for times, without `units` and `calendar`).
pub(crate) fn decoded_attrs(attrs: &Map<String, Value>, time: bool) -> Map<String, Value> {
    attrs
        .iter()
        .filter(|(k, _)| {
            !ENCODING_KEYS.contains(&k.as_str()) && !(time && (k == &"units" || k == &"calendar"))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The CF time units of a variable's attributes, when it has `units: "<unit> since <date>"`.
pub(crate) fn time_units(attrs: &Map<String, Value>) -> Option<&str> {
    attrs
        .get("units")
        .and_then(Value::as_str)
        .filter(|u| u.contains(" since "))
}

impl Coordinate {
    /// A numeric coordinate without attributes.
    pub fn numbers(values: Vec<f64>) -> Coordinate {
        Coordinate {
            values: CoordValues::Numbers(values),
            attrs: Map::new(),
        }
    }

    /// A time coordinate in `calendar` without attributes; written with units the writer
    /// chooses.
    pub fn times(times: Vec<CfDateTime>, calendar: Calendar) -> Coordinate {
        Coordinate {
            values: CoordValues::Times {
                times,
                calendar,
                units: None,
            },
            attrs: Map::new(),
        }
    }

    /// The coordinate with attributes `attrs`.
    pub fn with_attrs(mut self, attrs: Map<String, Value>) -> Coordinate {
        self.attrs = attrs;
        self
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        match &self.values {
            CoordValues::Numbers(v) => v.len(),
            CoordValues::Times { times, .. } => times.len(),
            CoordValues::Labels(v) => v.len(),
        }
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The numbers, for a numeric coordinate.
    pub fn as_numbers(&self) -> Option<&[f64]> {
        match &self.values {
            CoordValues::Numbers(v) => Some(v),
            _ => None,
        }
    }

    /// The times and their calendar, for a time coordinate.
    pub fn as_times(&self) -> Option<(&[CfDateTime], Calendar)> {
        match &self.values {
            CoordValues::Times {
                times, calendar, ..
            } => Some((times, *calendar)),
            _ => None,
        }
    }

    /// The labels at `indices`, in that order.
    pub(crate) fn take(&self, indices: &[usize]) -> Coordinate {
        let values = match &self.values {
            CoordValues::Numbers(v) => {
                CoordValues::Numbers(indices.iter().map(|&i| v[i]).collect())
            }
            CoordValues::Times {
                times,
                calendar,
                units,
            } => CoordValues::Times {
                times: indices.iter().map(|&i| times[i]).collect(),
                calendar: *calendar,
                units: units.clone(),
            },
            CoordValues::Labels(v) => {
                CoordValues::Labels(indices.iter().map(|&i| v[i].clone()).collect())
            }
        };
        Coordinate {
            values,
            attrs: self.attrs.clone(),
        }
    }

    /// Label `i` as text (for error messages).
    pub(crate) fn label(&self, i: usize) -> String {
        match &self.values {
            CoordValues::Numbers(v) => format!("{}", v[i]),
            CoordValues::Times { times, .. } => times[i].to_string(),
            CoordValues::Labels(v) => v[i].clone(),
        }
    }

    /// Whether label `i` of `self` equals label `j` of `other`.
    pub(crate) fn same_label(&self, i: usize, other: &Coordinate, j: usize) -> bool {
        match (&self.values, &other.values) {
            (CoordValues::Numbers(a), CoordValues::Numbers(b)) => {
                a[i] == b[j] || (a[i].is_nan() && b[j].is_nan())
            }
            (
                CoordValues::Times {
                    times: a,
                    calendar: ca,
                    ..
                },
                CoordValues::Times {
                    times: b,
                    calendar: cb,
                    ..
                },
            ) => ca == cb && a[i] == b[j],
            (CoordValues::Labels(a), CoordValues::Labels(b)) => a[i] == b[j],
            _ => false,
        }
    }

    /// The first position where the labels of `self` and `other` differ, described, or
    /// `None` when they are the same labels.
    pub(crate) fn first_difference(&self, other: &Coordinate) -> Option<String> {
        if let (Some((_, ca)), Some((_, cb))) = (self.as_times(), other.as_times())
            && ca != cb
        {
            return Some(format!("calendars {ca} and {cb}"));
        }
        if std::mem::discriminant(&self.values) != std::mem::discriminant(&other.values) {
            return Some("the labels are of different kinds (numbers, times, names)".into());
        }
        if self.len() != other.len() {
            return Some(format!("{} and {} labels", self.len(), other.len()));
        }
        (0..self.len())
            .find(|&i| !self.same_label(i, other, i))
            .map(|i| format!("position {i}: {} and {}", self.label(i), other.label(i)))
    }

    /// Decodes a coordinate variable `name` from its raw stored values and attributes: CF
    /// masking and packing, then CF time when its `units` are `"<unit> since <date>"`.
    pub(crate) fn decode(
        name: &str,
        raw: &AnyArray,
        attrs: &Map<String, Value>,
    ) -> Result<Coordinate> {
        let cf = CfDecode::from_attributes(attrs).map_err(|e| in_variable(e, name))?;
        let Some(units) = time_units(attrs) else {
            let values = match &cf {
                Some(cf) => cf.decode_block(raw).iter().copied().collect(),
                None => identity().decode_block(raw).iter().copied().collect(),
            };
            return Ok(Coordinate {
                values: CoordValues::Numbers(values),
                attrs: decoded_attrs(attrs, false),
            });
        };
        let calendar = attrs.get("calendar").and_then(Value::as_str);
        let coder = TimeCoder::new(units, calendar).map_err(|e| in_variable(e, name))?;
        let times = match (raw, &cf) {
            // Integers without packing decode exactly.
            (AnyArray::I64(a), None) => coder.decode_i64(&a.iter().copied().collect::<Vec<_>>()),
            (AnyArray::I32(a), None) => {
                coder.decode_i64(&a.iter().map(|&x| i64::from(x)).collect::<Vec<_>>())
            }
            _ => {
                let v: Vec<f64> = match &cf {
                    Some(cf) => cf.decode_block(raw).iter().copied().collect(),
                    None => identity().decode_block(raw).iter().copied().collect(),
                };
                coder.decode(&v)
            }
        }
        .map_err(|e| in_variable(e, name))?;
        Ok(Coordinate {
            values: CoordValues::Times {
                times,
                calendar: coder.calendar,
                units: Some(units.to_string()),
            },
            attrs: decoded_attrs(attrs, true),
        })
    }

    /// The stored form of the coordinate: its values (times encoded with their units, as
    /// `i64` when every time is a whole number of units, else `f64`) and the attributes to
    /// store (for times, `units` and `calendar` added).
    pub(crate) fn encode(&self, name: &str) -> Result<(AnyArray, Map<String, Value>)> {
        let mut attrs = self.attrs.clone();
        match &self.values {
            CoordValues::Numbers(v) => Ok((
                AnyArray::F64(
                    ndarray::ArrayD::from_shape_vec(vec![v.len()], v.clone()).map_err(|e| {
                        Error::internal("encode coordinate", format!("{name}: {e}"))
                    })?,
                ),
                attrs,
            )),
            CoordValues::Times {
                times,
                calendar,
                units,
            } => {
                let coder = match units {
                    Some(u) => TimeCoder::new(u, Some(calendar.cf_name())),
                    None => TimeCoder::infer(times, *calendar),
                }
                .map_err(|e| in_variable(e, name))?;
                // The units as they were given (xarray keeps the stored string).
                let shown = units.clone().unwrap_or_else(|| coder.units.to_string());
                attrs.insert("units".into(), Value::String(shown));
                attrs.insert("calendar".into(), Value::String(calendar.cf_name().into()));
                let n = times.len();
                let arr = if coder.all_whole(times).map_err(|e| in_variable(e, name))? {
                    let v = coder.encode_i64(times).map_err(|e| in_variable(e, name))?;
                    AnyArray::I64(ndarray::ArrayD::from_shape_vec(vec![n], v).map_err(|e| {
                        Error::internal("encode coordinate", format!("{name}: {e}"))
                    })?)
                } else {
                    let v = coder.encode(times).map_err(|e| in_variable(e, name))?;
                    AnyArray::F64(ndarray::ArrayD::from_shape_vec(vec![n], v).map_err(|e| {
                        Error::internal("encode coordinate", format!("{name}: {e}"))
                    })?)
                };
                Ok((arr, attrs))
            }
            CoordValues::Labels(_) => Err(Error::InvalidArgument {
                op: "encode coordinate",
                detail: format!(
                    "coordinate {name:?} holds names (strings), which chunkwise cannot write \
                     to a store yet"
                ),
            }),
        }
    }
}

/// CF decoding that only converts to `f64`.
fn identity() -> CfDecode {
    CfDecode {
        scale_factor: None,
        add_offset: None,
        fill_values: Vec::new(),
        unsigned: None,
    }
}

/// `e` with the variable named in its message, where the error kind does not name it.
pub(crate) fn in_variable(e: Error, name: &str) -> Error {
    match e {
        Error::TimeUnits { units, detail } => Error::TimeUnits {
            units,
            detail: format!("{detail} (variable {name})"),
        },
        Error::UnsupportedCalendar { calendar } => Error::UnsupportedCalendar {
            calendar: format!("{calendar} (variable {name})"),
        },
        Error::TimeValue {
            op,
            units,
            calendar,
            detail,
        } => Error::TimeValue {
            op,
            units,
            calendar,
            detail: format!("{detail} (variable {name})"),
        },
        Error::BadAttribute {
            attribute,
            value,
            detail,
        } => Error::BadAttribute {
            attribute: format!("{name}:{attribute}"),
            value,
            detail,
        },
        other => other,
    }
}
