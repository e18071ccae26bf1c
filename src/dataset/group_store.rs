//! The Zarr group a [`super::Dataset`] is opened from or written to: a directory, or (feature
//! `object-store`) a prefix in an object store. Only what the dataset code needs: metadata
//! documents by key, and the names of the nodes below the group.

use crate::error::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A group's location.
pub(super) enum GroupStore {
    /// A directory.
    Local(PathBuf),
    /// A prefix in an object store.
    #[cfg(feature = "object-store")]
    Remote(crate::io::remote::Remote),
}

impl GroupStore {
    /// The group at `path`: a URL (`s3://...`) or a directory.
    ///
    /// # Errors
    /// For a URL: an unknown scheme, a build without the feature `object-store`, or a client
    /// that cannot be configured.
    pub(super) fn new(op: &'static str, path: &Path) -> Result<GroupStore> {
        match crate::io::store_url::path_url(path) {
            #[cfg(feature = "object-store")]
            Some(url) => Ok(GroupStore::Remote(crate::io::remote::Remote::open(
                op, url,
            )?)),
            #[cfg(not(feature = "object-store"))]
            Some(url) => Err(crate::io::store_url::unsupported(op, url)),
            None => Ok(GroupStore::Local(path.to_path_buf())),
        }
    }

    /// The JSON document at `key` (`zarr.json`, `t2m/.zarray`); `None` when missing or not
    /// JSON.
    ///
    /// # Errors
    /// For an object store, a request that fails (not one that finds nothing).
    pub(super) fn read_json(&self, op: &'static str, key: &str) -> Result<Option<Value>> {
        match self {
            GroupStore::Local(dir) => {
                let _ = op;
                Ok(std::fs::read_to_string(dir.join(key))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok()))
            }
            #[cfg(feature = "object-store")]
            GroupStore::Remote(r) => r.get_json(op, key),
        }
    }

    /// Whether there is a document at `key`.
    ///
    /// # Errors
    /// As [`GroupStore::read_json`].
    pub(super) fn has(&self, op: &'static str, key: &str) -> Result<bool> {
        match self {
            GroupStore::Local(dir) => {
                let _ = op;
                Ok(dir.join(key).is_file())
            }
            #[cfg(feature = "object-store")]
            GroupStore::Remote(r) => Ok(r.get(op, key)?.is_some()),
        }
    }

    /// The names of the directories (prefixes) directly below the group, hidden ones (`.x`)
    /// left out, sorted.
    ///
    /// # Errors
    /// For an object store, a listing that fails.
    pub(super) fn children(&self, op: &'static str) -> Result<Vec<String>> {
        let mut out: Vec<String> = match self {
            GroupStore::Local(dir) => {
                let _ = op;
                std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            }
            #[cfg(feature = "object-store")]
            GroupStore::Remote(r) => r.child_dirs(op)?,
        };
        out.retain(|n| !n.starts_with('.'));
        out.sort();
        Ok(out)
    }

    /// Whether anything is stored at the group's location (a directory that exists; objects
    /// under the prefix). For an object store this also checks the bucket and credentials.
    ///
    /// # Errors
    /// For an object store, a missing bucket, refused credentials, an unreachable endpoint.
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    pub(super) fn exists(&self, op: &'static str) -> Result<bool> {
        match self {
            GroupStore::Local(dir) => {
                let _ = op;
                Ok(dir.exists())
            }
            #[cfg(feature = "object-store")]
            GroupStore::Remote(r) => r.any_object(op),
        }
    }

    /// Writes the JSON document `key`: for a directory atomically (a temporary file moved into
    /// place); an object-store put is atomic itself.
    ///
    /// # Errors
    /// The write failing, naming the file or URL.
    pub(super) fn write_json(&self, op: &'static str, key: &str, v: &Value) -> Result<()> {
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        match self {
            GroupStore::Local(dir) => {
                let file = dir.join(key);
                let tmp = file.with_extension(format!("chunkwise-tmp-{}", std::process::id()));
                let shown = file.display().to_string();
                std::fs::write(&tmp, text).map_err(|e| {
                    Error::store_io(op, shown.clone(), "write group metadata to", &tmp, e)
                })?;
                std::fs::rename(&tmp, &file)
                    .map_err(|e| Error::store_io(op, shown, "move group metadata to", &file, e))
            }
            #[cfg(feature = "object-store")]
            GroupStore::Remote(r) => r.put(op, key, text.into_bytes()),
        }
    }
}
