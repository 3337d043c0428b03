//! The `s3` broker: a bucket (and optional key prefix) of AWS S3 or an S3-compatible store,
//! through the `object_store` crate (one well-tested client for listing, ranged reads,
//! multipart uploads, copies and presigned links; the AWS SDK would bring far more code for
//! the same calls). Keys are `<prefix>/<path>`; a path is checked with
//! [`super::clean_path`] first, so nothing outside the prefix is reached. Credentials come
//! from the definition, a credentials file or the environment, and are never shown: error
//! messages are the store's own, which name keys, not secrets.

use super::spec::{BrokerSpec, S3Credentials};
use super::{clean_path, clean_prefix, Broker, ByteStream, ObjectInfo, StorageError, Written};
use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Files up to this size are stored with one request; larger ones in parts of this size.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// Parts uploaded at once for one file.
const PARTS_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone)]
pub struct S3Broker {
    store: Arc<AmazonS3>,
    bucket: String,
    /// "" or a clean prefix, without a trailing `/`.
    prefix: String,
}

impl S3Broker {
    /// The broker `spec` describes (an `s3` one); reads a credentials file now.
    pub fn from_spec(spec: &BrokerSpec) -> Result<Self, StorageError> {
        let BrokerSpec::S3 {
            bucket_name,
            prefix,
            region_name,
            endpoint,
            credentials,
            credentials_file,
            ..
        } = spec
        else {
            return Err(StorageError::Invalid("not an s3 broker".to_string()));
        };
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket_name);
        if !region_name.is_empty() {
            builder = builder.with_region(region_name);
        } else if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        if !endpoint.is_empty() {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                // S3-compatible stores answer path-style requests.
                .with_virtual_hosted_style_request(false);
        }
        let keys = match (credentials, credentials_file.is_empty()) {
            (Some(keys), _) => Some(keys.clone()),
            (None, false) => Some(read_credentials_file(credentials_file)?),
            (None, true) => None,
        };
        if let Some(keys) = keys {
            builder = builder
                .with_access_key_id(keys.access_key_id)
                .with_secret_access_key(keys.secret_access_key);
        }
        let store = builder.build().map_err(|e| {
            StorageError::Invalid(format!(
                "bucket {bucket_name}: cannot use the S3 settings: {e}"
            ))
        })?;
        Ok(S3Broker {
            store: Arc::new(store),
            bucket: bucket_name.clone(),
            prefix: clean_prefix(prefix)?.to_string(),
        })
    }

    fn key(&self, path: &str) -> Result<Key, StorageError> {
        let path = clean_path(path)?;
        let full = if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.prefix)
        };
        Key::parse(&full).map_err(|e| StorageError::BadPath(format!("{path}: {e}")))
    }

    /// `key` relative to the prefix (`None` when outside it).
    fn relative(&self, key: &Key) -> Option<String> {
        let key = key.as_ref();
        if self.prefix.is_empty() {
            return Some(key.to_string());
        }
        key.strip_prefix(&self.prefix)?
            .strip_prefix('/')
            .map(str::to_string)
    }

    fn error(&self, path: &str, err: object_store::Error) -> StorageError {
        match err {
            object_store::Error::NotFound { .. } => StorageError::NotFound(path.to_string()),
            other => StorageError::Backend(format!(
                "bucket {}: {path}: {}",
                self.bucket,
                crate::error::cause_chain(&other)
            )),
        }
    }
}

/// Reads `aws_access_key_id` and `aws_secret_access_key` (the first of each) from an AWS
/// shared credentials file.
fn read_credentials_file(path: &str) -> Result<S3Credentials, StorageError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StorageError::Invalid(format!("cannot read the credentials file {path}: {e}"))
    })?;
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            (name.trim() == key).then(|| value.trim().to_string())
        })
    };
    match (value("aws_access_key_id"), value("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(S3Credentials {
            access_key_id,
            secret_access_key,
        }),
        _ => Err(StorageError::Invalid(format!(
            "the credentials file {path} must hold aws_access_key_id = ... and \
             aws_secret_access_key = ... lines"
        ))),
    }
}

fn info(path: String, meta: &object_store::ObjectMeta) -> ObjectInfo {
    ObjectInfo {
        path,
        size: meta.size,
        modified: OffsetDateTime::from_unix_timestamp(meta.last_modified.timestamp()).ok(),
    }
}

/// Reads up to `buffer.len()` bytes, fewer only at the end.
async fn fill(
    content: &mut (dyn AsyncRead + Unpin + Send),
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = content.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

#[async_trait]
impl Broker for S3Broker {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let prefix = clean_prefix(prefix)?;
        let under = match (self.prefix.is_empty(), prefix.is_empty()) {
            (true, true) => None,
            (true, false) => Some(prefix.to_string()),
            (false, true) => Some(self.prefix.clone()),
            (false, false) => Some(format!("{}/{prefix}", self.prefix)),
        };
        let under = under.map(Key::from);
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(under.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.error(prefix, e))?;
        let mut found: Vec<ObjectInfo> = metas
            .iter()
            .filter_map(|meta| Some(info(self.relative(&meta.location)?, meta)))
            .collect();
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    async fn stat(&self, path: &str) -> Result<ObjectInfo, StorageError> {
        let key = self.key(path)?;
        let meta = self
            .store
            .head(&key)
            .await
            .map_err(|e| self.error(path, e))?;
        Ok(info(path.to_string(), &meta))
    }

    async fn read(
        &self,
        path: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let key = self.key(path)?;
        if range.as_ref().is_some_and(|r| r.is_empty()) {
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&key, options)
            .await
            .map_err(|e| self.error(path, e))?;
        let bucket = self.bucket.clone();
        Ok(got
            .into_stream()
            .map_err(move |e| {
                std::io::Error::other(format!(
                    "bucket {bucket}: {}",
                    crate::error::cause_chain(&e)
                ))
            })
            .boxed())
    }

    async fn write(
        &self,
        path: &str,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<Written, StorageError> {
        let key = self.key(path)?;
        let io = |e: std::io::Error| StorageError::Backend(format!("{path}: {e}"));
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; PART_BYTES];
        let first = fill(content, &mut buffer).await.map_err(io)?;
        hasher.update(&buffer[..first]);
        if first < PART_BYTES {
            // Small: one request.
            buffer.truncate(first);
            self.store
                .put(&key, PutPayload::from(buffer))
                .await
                .map_err(|e| self.error(path, e))?;
            return Ok(Written {
                size: first as u64,
                sha256: super::host::hex(&hasher.finalize()),
            });
        }
        let upload = self
            .store
            .put_multipart(&key)
            .await
            .map_err(|e| self.error(path, e))?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        parts.write(&buffer[..first]);
        let mut size = first as u64;
        let streamed: Result<(), StorageError> = async {
            loop {
                parts
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| self.error(path, e))?;
                let read = fill(content, &mut buffer).await.map_err(io)?;
                if read == 0 {
                    return Ok(());
                }
                hasher.update(&buffer[..read]);
                parts.write(&buffer[..read]);
                size += read as u64;
            }
        }
        .await;
        if let Err(err) = streamed {
            // Leave no parts behind (they cost storage until aborted).
            let _ = parts.abort().await;
            return Err(err);
        }
        parts.finish().await.map_err(|e| self.error(path, e))?;
        Ok(Written {
            size,
            sha256: super::host::hex(&hasher.finalize()),
        })
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let (source, target) = (self.key(from)?, self.key(to)?);
        self.store
            .copy(&source, &target)
            .await
            .map_err(|e| self.error(from, e))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let (source, target) = (self.key(from)?, self.key(to)?);
        self.store
            .rename(&source, &target)
            .await
            .map_err(|e| self.error(from, e))
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        let key = self.key(path)?;
        match self.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(self.error(path, err)),
        }
    }

    async fn presigned_url(
        &self,
        path: &str,
        seconds: u64,
    ) -> Result<Option<String>, StorageError> {
        let key = self.key(path)?;
        let url = self
            .store
            .signed_url(
                reqwest::Method::GET,
                &key,
                Duration::from_secs(seconds.max(1)),
            )
            .await
            .map_err(|e| self.error(path, e))?;
        Ok(Some(url.to_string()))
    }
}

/// The S3 server of the tests (`scripts/start-s3.sh`): its endpoint, when
/// `ADES_TEST_S3_ENDPOINT` is set.
#[cfg(test)]
pub(crate) fn test_spec(bucket: &str, prefix: &str) -> Option<BrokerSpec> {
    let endpoint = std::env::var("ADES_TEST_S3_ENDPOINT").ok()?;
    Some(BrokerSpec::S3 {
        bucket_name: bucket.to_string(),
        prefix: prefix.to_string(),
        region_name: "us-east-1".to_string(),
        endpoint,
        credentials: Some(S3Credentials {
            access_key_id: "ades-test".to_string(),
            secret_access_key: "ades-test-secret".to_string(),
        }),
        credentials_file: String::new(),
        host_path: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(broker: &S3Broker, path: &str, range: Option<Range<u64>>) -> Vec<u8> {
        let chunks: Vec<bytes::Bytes> = broker
            .read(path, range)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn a_real_bucket_is_written_listed_read_and_signed() {
        let prefix = format!("unit-{}", uuid::Uuid::new_v4().simple());
        let Some(spec) = test_spec("ades-test-in", &prefix) else {
            eprintln!("skipped: ADES_TEST_S3_ENDPOINT is not set (scripts/start-s3.sh)");
            return;
        };
        let broker = S3Broker::from_spec(&spec).unwrap();
        let small = broker
            .write("a/hello.txt", &mut &b"hello, world"[..])
            .await
            .unwrap();
        assert_eq!(
            small.sha256,
            "09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b"
        );
        assert_eq!(
            read_all(&broker, "a/hello.txt", Some(7..12)).await,
            b"world"
        );
        // Larger than one part: a multipart upload.
        let big: Vec<u8> = (0..PART_BYTES * 2 + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        let written = broker.write("b/big.bin", &mut &big[..]).await.unwrap();
        assert_eq!(written.size, big.len() as u64);
        assert_eq!(
            written.sha256,
            super::super::host::hex(&Sha256::digest(&big))
        );
        assert_eq!(read_all(&broker, "b/big.bin", None).await, big);
        broker.copy("a/hello.txt", "c/copy.txt").await.unwrap();
        broker.rename("c/copy.txt", "c/moved.txt").await.unwrap();
        let listed: Vec<String> = broker
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect();
        assert_eq!(listed, ["a/hello.txt", "b/big.bin", "c/moved.txt"]);
        assert_eq!(broker.list("a").await.unwrap().len(), 1);
        let url = broker
            .presigned_url("a/hello.txt", 60)
            .await
            .unwrap()
            .unwrap();
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, "hello, world");
        assert!(matches!(
            broker.stat("../escape").await,
            Err(StorageError::BadPath(_))
        ));
        for path in listed {
            broker.delete(&path).await.unwrap();
        }
        assert!(matches!(
            broker.stat("a/hello.txt").await,
            Err(StorageError::NotFound(_))
        ));
    }
}
