//! Zarr stores in object stores (feature `object-store`): `s3://bucket/prefix`,
//! `gs://bucket/prefix` (read and write) and `http(s)://host/path` (read-only), through
//! [`object_store`](zarrs_object_store::object_store).
//!
//! Credentials, region and endpoint come from the standard environment variables, as
//! `AmazonS3Builder::from_env()` and `GoogleCloudStorageBuilder::from_env()` read them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT` (an S3-compatible server), `AWS_ALLOW_HTTP=true` (a plain-HTTP endpoint);
//! `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_APPLICATION_CREDENTIALS`, ... An `http(s)://` store needs
//! no credentials, as public ERA5/CMIP6 mirrors are served.
//!
//! zarrs reads and writes synchronously, from the executor's worker threads; each request is
//! run to completion on one tokio runtime shared by the process (multi-threaded, so requests
//! from several workers are in flight at once and none waits for another).

use super::store_url::{join_url, url_scheme};
use crate::error::{Error, Result, StoreErrorKind};
use futures::{StreamExt, TryStreamExt};
use std::sync::{Arc, OnceLock};
use zarrs::storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs::storage::storage_adapter::async_to_sync::{
    AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
};
use zarrs::storage::{
    Bytes, MaybeBytes, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    ReadableWritableStorageTraits, StorageError, StoreKey, StorePrefix, WritableStorageTraits,
};
use zarrs_object_store::AsyncObjectStore;
use zarrs_object_store::object_store::{
    self, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjectPath,
    prefix::PrefixStore,
};

/// The process's tokio runtime for object-store requests.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chunkwise-object-store")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| {
        Error::internal(
            "object store",
            format!("cannot start the tokio runtime: {e}"),
        )
    })
}

/// Runs a future on the shared runtime from a thread outside it (an executor worker or the
/// caller's thread).
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(runtime()?.handle().block_on(f))
}

/// zarrs' sync-over-async adapter, on the shared runtime.
struct TokioBlockOn(tokio::runtime::Handle);

impl AsyncToSyncBlockOn for TokioBlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

/// The objects under a prefix as zarrs storage: zarrs' sync-over-async adapter, except that a
/// whole value (a chunk, a metadata document) is one plain GET. The adapter would ask for its
/// size (HEAD) and then its bytes as a range: two requests instead of one, and servers
/// without range support (`python3 -m http.server`, simple mirrors) refuse the range.
struct WholeObjectStorage {
    inner: AsyncToSyncStorageAdapter<
        AsyncObjectStore<PrefixStore<Arc<dyn ObjectStore>>>,
        TokioBlockOn,
    >,
    store: PrefixStore<Arc<dyn ObjectStore>>,
    handle: tokio::runtime::Handle,
}

impl ReadableStorageTraits for WholeObjectStorage {
    fn get(&self, key: &StoreKey) -> std::result::Result<MaybeBytes, StorageError> {
        let path = ObjectPath::from(key.as_str());
        self.handle
            .block_on(async {
                match self.store.get(&path).await {
                    Ok(r) => r.bytes().await.map(Some),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| StorageError::Other(error_chain(&e)))
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> std::result::Result<MaybeBytesIterator<'a>, StorageError> {
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        if let [ByteRange::FromStart(0, None)] = ranges.as_slice() {
            let whole: MaybeBytesIterator<'a> = match self.get(key)? {
                Some(b) => Some(Box::new(std::iter::once(Ok(b)))),
                None => None,
            };
            return Ok(whole);
        }
        self.inner
            .get_partial_many(key, Box::new(ranges.into_iter()))
    }

    fn size_key(&self, key: &StoreKey) -> std::result::Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.inner.supports_get_partial()
    }
}

impl WritableStorageTraits for WholeObjectStorage {
    fn set(&self, key: &StoreKey, value: Bytes) -> std::result::Result<(), StorageError> {
        self.inner.set(key, value)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> std::result::Result<(), StorageError> {
        self.inner.set_partial_many(key, offset_values)
    }

    fn erase(&self, key: &StoreKey) -> std::result::Result<(), StorageError> {
        self.inner.erase(key)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> std::result::Result<(), StorageError> {
        self.inner.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        self.inner.supports_set_partial()
    }
}

/// A location in an object store: the client for its bucket (or HTTP root) and a prefix in it.
#[derive(Clone)]
pub(crate) struct Remote {
    /// The URL, as shown in messages (no trailing slash).
    url: String,
    scheme: String,
    /// The bucket (S3, GCS) or host (HTTP), for messages.
    bucket: String,
    store: Arc<dyn ObjectStore>,
    /// The key prefix inside the store (`""`: its root).
    prefix: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

impl Remote {
    /// The store at `url`, its client configured from the environment.
    ///
    /// # Errors
    /// [`StoreErrorKind::UnknownScheme`] for a scheme other than `s3`, `gs`, `http`, `https`;
    /// [`StoreErrorKind::InvalidMetadata`]-free: a URL without a bucket, or a client that cannot
    /// be configured (a bad `AWS_ENDPOINT`, ...), is [`StoreErrorKind::ObjectStore`].
    pub(crate) fn open(op: &'static str, url: &str) -> Result<Remote> {
        let url = url.trim_end_matches('/').to_string();
        let scheme = url_scheme(&url).unwrap_or_default().to_ascii_lowercase();
        let rest = &url[scheme.len() + 3..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::store(
                op,
                url.as_str(),
                StoreErrorKind::ObjectStore {
                    detail: format!(
                        "the URL names no bucket or host; write {scheme}://BUCKET/PATH"
                    ),
                },
            ));
        }
        let config = |e: object_store::Error| {
            Error::store_caused(
                op,
                url.as_str(),
                StoreErrorKind::ObjectStore {
                    detail: format!("cannot configure the {scheme} client: {e}"),
                },
                e,
            )
        };
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match scheme.as_str() {
            "s3" => (
                Arc::new(
                    object_store::aws::AmazonS3Builder::from_env()
                        .with_bucket_name(bucket)
                        .build()
                        .map_err(config)?,
                ),
                prefix.to_string(),
            ),
            "gs" => (
                Arc::new(
                    object_store::gcp::GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(bucket)
                        .build()
                        .map_err(config)?,
                ),
                prefix.to_string(),
            ),
            "http" | "https" => (
                Arc::new(
                    object_store::http::HttpBuilder::new()
                        .with_url(url.as_str())
                        .with_client_options(ClientOptions::new().with_allow_http(scheme == "http"))
                        .build()
                        .map_err(config)?,
                ),
                String::new(),
            ),
            _ => return Err(super::store_url::unsupported(op, &url)),
        };
        Ok(Remote {
            bucket: bucket.to_string(),
            url,
            scheme,
            store,
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The URL, for messages.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The location `rel` (`a/b`) below this one.
    pub(crate) fn child(&self, rel: &str) -> Remote {
        let rel = rel.trim_matches('/');
        let mut out = self.clone();
        out.url = join_url(&self.url, rel);
        out.prefix = match (self.prefix.is_empty(), rel.is_empty()) {
            (_, true) => self.prefix.clone(),
            (true, false) => rel.to_string(),
            (false, false) => format!("{}/{rel}", self.prefix),
        };
        out
    }

    /// Whether writes are possible (`s3://`, `gs://`); `http(s)://` is read-only.
    pub(crate) fn check_writable(&self, op: &'static str) -> Result<()> {
        if self.is_http() {
            return Err(Error::store(
                op,
                self.url.as_str(),
                StoreErrorKind::ReadOnly {
                    scheme: self.scheme.clone(),
                },
            ));
        }
        Ok(())
    }

    fn key(&self, rel: &str) -> ObjectPath {
        let rel = rel.trim_matches('/');
        match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => ObjectPath::from(rel),
            (false, true) => ObjectPath::from(self.prefix.as_str()),
            (false, false) => ObjectPath::from(format!("{}/{rel}", self.prefix)),
        }
    }

    fn prefixed(&self) -> PrefixStore<Arc<dyn ObjectStore>> {
        PrefixStore::new(self.store.clone(), self.prefix.as_str())
    }

    /// zarrs storage rooted here, for reading.
    pub(crate) fn readable(&self) -> Result<Arc<dyn ReadableStorageTraits>> {
        Ok(self.readable_writable()?)
    }

    /// zarrs storage rooted here, for reading and writing.
    pub(crate) fn readable_writable(&self) -> Result<Arc<dyn ReadableWritableStorageTraits>> {
        let handle = runtime()?.handle().clone();
        Ok(Arc::new(WholeObjectStorage {
            inner: AsyncToSyncStorageAdapter::new(
                Arc::new(AsyncObjectStore::new(self.prefixed())),
                TokioBlockOn(handle.clone()),
            ),
            store: self.prefixed(),
            handle,
        }))
    }

    /// The object `rel`, or `None` if there is none.
    pub(crate) fn get(&self, op: &'static str, rel: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(rel);
        let got = block_on(async {
            match self.store.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                // A missing bucket is a 404 too: that one is an error, not "no such object".
                Err(e @ object_store::Error::NotFound { .. })
                    if !error_chain(&e).contains("NoSuchBucket") =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })?;
        got.map(|b| b.map(|b| b.to_vec()))
            .map_err(|e| self.error(op, &format!("read {}", join_url(&self.url, rel)), e))
    }

    /// The object `rel` parsed as JSON; `None` if missing or not JSON.
    pub(crate) fn get_json(
        &self,
        op: &'static str,
        rel: &str,
    ) -> Result<Option<serde_json::Value>> {
        Ok(self
            .get(op, rel)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Writes the object `rel`.
    pub(crate) fn put(&self, op: &'static str, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let key = self.key(rel);
        block_on(self.store.put(&key, PutPayload::from(bytes)))?
            .map(|_| ())
            .map_err(|e| self.error(op, &format!("write {}", join_url(&self.url, rel)), e))
    }

    /// Removes the object `rel` (missing is fine).
    pub(crate) fn delete(&self, op: &'static str, rel: &str) -> Result<()> {
        let key = self.key(rel);
        match block_on(self.store.delete(&key))? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(op, &format!("remove {}", join_url(&self.url, rel)), e)),
        }
    }

    /// Removes every object under this location but `keep` (a key relative to it).
    pub(crate) fn delete_all(&self, op: &'static str, keep: Option<&str>) -> Result<()> {
        let store = self.store.clone();
        let prefix = self.key("");
        let keep = keep.map(|k| self.key(k));
        let listing = store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_filter(move |p| std::future::ready(Some(p) != keep.as_ref()))
            .boxed();
        block_on(async {
            store
                .delete_stream(listing)
                .try_for_each(|_| async { Ok(()) })
                .await
        })?
        .or_else(|e| match e {
            object_store::Error::NotFound { .. } => Ok(()),
            e => Err(e),
        })
        .map_err(|e| self.error(op, &format!("remove the objects under {}", self.url), e))
    }

    /// Whether an HTTP server holds the store: it can be read object by object but not
    /// listed (plain servers do not answer WebDAV's PROPFIND).
    fn is_http(&self) -> bool {
        matches!(self.scheme.as_str(), "http" | "https")
    }

    /// Whether any object lies under this location (checks the bucket is there and readable:
    /// a missing bucket or refused credentials are errors). An HTTP store cannot be listed:
    /// `false`, so "nothing here" stays the answer.
    pub(crate) fn any_object(&self, op: &'static str) -> Result<bool> {
        if self.is_http() {
            return Ok(false);
        }
        let prefix = self.key("");
        let first = block_on(async {
            let mut listing = self.store.list(Some(&prefix));
            listing.next().await.transpose()
        })?;
        first
            .map(|m| m.is_some())
            .map_err(|e| self.error(op, &format!("list {}", self.url), e))
    }

    /// The names of the "directories" directly under this location, sorted.
    pub(crate) fn child_dirs(&self, op: &'static str) -> Result<Vec<String>> {
        if self.is_http() {
            return Err(Error::store(
                op,
                self.url.as_str(),
                StoreErrorKind::ObjectStore {
                    detail: "an HTTP store cannot be listed, and this group has no consolidated \
                             metadata (.zmetadata, or consolidated_metadata in zarr.json) naming \
                             its arrays; open the arrays by name instead"
                        .into(),
                },
            ));
        }
        let prefix = self.key("");
        let listed = block_on(self.store.list_with_delimiter(Some(&prefix)))?
            .map_err(|e| self.error(op, &format!("list {}", self.url), e))?;
        let mut out: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }

    /// An object-store failure while doing `action`, in words: a missing bucket, refused
    /// credentials, else the client's own message; the client's error is kept as the source.
    pub(crate) fn error(&self, op: &'static str, action: &str, e: object_store::Error) -> Error {
        let text = error_chain(&e);
        let detail = if text.contains("NoSuchBucket") {
            format!(
                "the bucket {:?} does not exist (or is not visible with these credentials) at \
                 the endpoint; create it, or check the URL and AWS_ENDPOINT",
                self.bucket
            )
        } else if matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || text.contains("403")
            || text.contains("InvalidAccessKeyId")
            || text.contains("SignatureDoesNotMatch")
            || text.contains("AccessDenied")
        {
            format!(
                "access denied (HTTP 403) while trying to {action}: the credentials were refused \
                 or lack permission; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or \
                 GOOGLE_APPLICATION_CREDENTIALS) and the bucket's policy"
            )
        } else {
            format!("cannot {action}: {}", first_line(&text))
        };
        Error::store_caused(
            op,
            self.url.as_str(),
            StoreErrorKind::ObjectStore { detail },
            e,
        )
    }
}

/// The error and its sources, as one text.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
