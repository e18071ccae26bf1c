//! `chunkwise info` on a Zarr group or a NetCDF4/HDF5 file: what `ncdump -h` or xarray's
//! repr shows (dimensions, coordinates with their range, decoded time span, variables,
//! attributes). An array path (`store.zarr:var`, a store whose root is an array) is left to
//! `commands::info`.

use anyhow::Result;
use chunkwise::dataset::{CoordValues, Coordinate, Dataset};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Whether `s` names a whole group or file (no `:inner` part) that `Dataset` can describe.
fn is_group_or_file(s: &str) -> bool {
    let p = Path::new(s);
    if p.is_file() {
        // HDF5 (NetCDF4) by its signature; anything else is left to `commands::info`, which
        // names what it is.
        let mut head = [0u8; 8];
        return std::fs::File::open(p)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && &head == b"\x89HDF\r\n\x1a\n";
    }
    if !p.is_dir() {
        return false;
    }
    if p.join(".zgroup").is_file() {
        return true;
    }
    std::fs::read_to_string(p.join("zarr.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|j| j.get("node_type").and_then(Value::as_str) == Some("group"))
}

/// The first and last labels of a coordinate, as text.
fn span(c: &Coordinate) -> (String, String, String) {
    match &c.values {
        CoordValues::Numbers(v) => (
            v.first().map(|x| x.to_string()).unwrap_or_default(),
            v.last().map(|x| x.to_string()).unwrap_or_default(),
            String::new(),
        ),
        CoordValues::Times {
            times, calendar, ..
        } => (
            times.first().map(|t| t.to_string()).unwrap_or_default(),
            times.last().map(|t| t.to_string()).unwrap_or_default(),
            calendar.cf_name().to_string(),
        ),
        CoordValues::Labels(v) => (
            v.first().cloned().unwrap_or_default(),
            v.last().cloned().unwrap_or_default(),
            String::new(),
        ),
    }
}

fn attr_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Describes the group or file at `path` when it is one; `None` for an array path.
pub(crate) fn group_info(path: &str, as_json: bool) -> Option<Result<()>> {
    if !is_group_or_file(path) {
        return None;
    }
    Some(describe(path, as_json))
}

fn describe(path: &str, as_json: bool) -> Result<()> {
    let ds = Dataset::open(path)?;
    if as_json {
        let mut coords = Map::new();
        for (d, c) in ds.coords() {
            let (first, last, cal) = span(c);
            let mut o = Map::new();
            o.insert("length".into(), json!(c.len()));
            o.insert("first".into(), json!(first));
            o.insert("last".into(), json!(last));
            if !cal.is_empty() {
                o.insert("calendar".into(), json!(cal));
            }
            o.insert("attributes".into(), Value::Object(c.attrs.clone()));
            coords.insert(d.clone(), Value::Object(o));
        }
        let mut vars = Map::new();
        for (n, v) in ds.variables() {
            vars.insert(
                n.clone(),
                json!({
                    "dims": v.dims,
                    "shape": v.shape,
                    "dtype": v.dtype.numpy_name(),
                    "attributes": v.attrs,
                }),
            );
        }
        let dims: Map<String, Value> = ds
            .dims()
            .iter()
            .map(|(d, n)| (d.clone(), json!(n)))
            .collect();
        let o = json!({
            "path": path,
            "dimensions": dims,
            "coordinates": coords,
            "variables": vars,
            "attributes": ds.attrs(),
        });
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    println!("<Dataset> {path}");
    let dims: Vec<String> = ds.dims().iter().map(|(d, n)| format!("{d}: {n}")).collect();
    println!("Dimensions:  ({})", dims.join(", "));
    let width = ds
        .coords()
        .keys()
        .chain(ds.variables().keys())
        .map(String::len)
        .max()
        .unwrap_or(0);
    println!("Coordinates:");
    for (d, c) in ds.coords() {
        let (first, last, cal) = span(c);
        let cal = if cal.is_empty() {
            String::new()
        } else {
            format!("  calendar {cal}")
        };
        println!("  * {d:<width$}  ({d}) {first} .. {last}{cal}");
    }
    println!("Data variables:");
    for (n, v) in ds.variables() {
        let units = v
            .attrs
            .get("units")
            .map(|u| format!("  [{}]", attr_text(u)))
            .unwrap_or_default();
        println!(
            "    {n:<width$}  ({}) {}{units}",
            v.dims.join(", "),
            v.dtype.numpy_name()
        );
    }
    if !ds.attrs().is_empty() {
        println!("Attributes:");
        for (k, v) in ds.attrs() {
            println!("    {k}: {}", attr_text(v));
        }
    }
    Ok(())
}
