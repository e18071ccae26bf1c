//! Store locations given as URLs: `s3://bucket/prefix/x.zarr`, `gs://bucket/x.zarr`,
//! `https://host/path/x.zarr` (and `http://`), told apart from filesystem paths.
//!
//! Every function that takes a Zarr store path (`ChunkedArray::open_zarr`, `to_zarr`,
//! `Dataset::open`, `Dataset::to_zarr`, the CLI's paths) accepts such a URL: with the cargo
//! feature `object-store` it is opened through `object_store`; without it, the error says which
//! feature to enable (never "no such file").
//!
//! ```
//! use chunkwise::io::store_url::{is_url, url_scheme};
//! assert!(is_url("s3://bucket/x.zarr"));
//! assert_eq!(url_scheme("gs://bucket/x.zarr"), Some("gs"));
//! assert!(!is_url("data/sample.zarr"));
//! assert!(!is_url("C:\\data\\x.zarr"));
//! ```

// Without Zarr nothing opens stores, so nothing asks about URLs.
#![cfg_attr(not(feature = "zarr"), allow(dead_code))]

use crate::error::{Error, StoreErrorKind};
use std::path::Path;

/// The URL schemes chunkwise opens with the feature `object-store`.
pub const SCHEMES: &[&str] = &["s3", "gs", "http", "https"];

/// The scheme of `s` when it is a URL (`SCHEME://...`, the scheme a letter then letters,
/// digits, `+`, `-` or `.`), else `None`.
pub fn url_scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Whether `s` is a URL rather than a filesystem path.
pub fn is_url(s: &str) -> bool {
    url_scheme(s).is_some()
}

/// The URL `path` holds, if it is one (a `Path` made from `"s3://..."` keeps the text).
pub(crate) fn path_url(path: &Path) -> Option<&str> {
    path.to_str().filter(|s| is_url(s))
}

/// `url/rel` (no doubled slashes).
#[cfg_attr(not(feature = "object-store"), allow(dead_code))]
pub(crate) fn join_url(url: &str, rel: &str) -> String {
    let rel = rel.trim_matches('/');
    if rel.is_empty() {
        url.trim_end_matches('/').to_string()
    } else {
        format!("{}/{rel}", url.trim_end_matches('/'))
    }
}

/// The error for a URL this build cannot open: an unknown scheme, or (without the feature
/// `object-store`) any URL.
pub(crate) fn unsupported(op: &'static str, url: &str) -> Error {
    let scheme = url_scheme(url).unwrap_or_default().to_ascii_lowercase();
    if !SCHEMES.contains(&scheme.as_str()) {
        return Error::store(op, url, StoreErrorKind::UnknownScheme { scheme });
    }
    Error::store(op, url, StoreErrorKind::FeatureMissing { scheme })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_urls_from_paths() {
        assert_eq!(url_scheme("s3://b/x.zarr"), Some("s3"));
        assert_eq!(url_scheme("https://h/p"), Some("https"));
        assert_eq!(url_scheme("x.zarr"), None);
        assert_eq!(url_scheme("/abs/x.zarr:/t2m"), None);
        assert_eq!(url_scheme("://x"), None);
        assert_eq!(url_scheme("1s://x"), None);
        assert_eq!(join_url("s3://b/x.zarr/", "/t2m/"), "s3://b/x.zarr/t2m");
        assert_eq!(join_url("s3://b/x.zarr", ""), "s3://b/x.zarr");
    }

    #[test]
    fn unknown_scheme_and_missing_feature_say_so() {
        let e = unsupported("open zarr", "ftp://h/x.zarr").to_string();
        assert!(e.contains("ftp://") && e.contains("s3://"), "{e}");
        let e = unsupported("open zarr", "s3://b/x.zarr").to_string();
        assert!(e.contains("object-store"), "{e}");
    }
}
