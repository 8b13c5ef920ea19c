//! Upload to S3 or an S3-compatible store with aws-sdk-s3: one `PutObject` for small files,
//! multipart above a threshold with parts sent in parallel, the SDK's retries with backoff,
//! optional server-side encryption and storage class, and presigned GET links.
//!
//! Credentials, region and endpoint come from the standard AWS chain (environment, profile
//! files with `AWS_PROFILE`/`--profile`, SSO, web identity, instance role) and
//! `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3`. A custom endpoint uses path-style addressing
//! unless told otherwise, since most S3-compatible stores need it.
//!
//! An object is reported uploaded only after S3 confirmed it whole: a failed multipart upload is
//! aborted, so no half-written object is left behind under the key.
use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_s3::{
    Client,
    presigning::PresigningConfig,
    primitives::{ByteStream, Length},
    types::{
        ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
        StorageClass,
    },
};
use futures::{StreamExt, TryStreamExt};
use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Metadata key (`x-amz-meta-…`) holding the SHA-256 of the uploaded file.
pub const SHA256_METADATA: &str = "casefile-sha256";

/// An `s3://bucket/prefix/` destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Empty or ending in `/`.
    pub prefix: String,
}

impl S3Location {
    pub fn parse(url: &str) -> Result<S3Location, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{url}` is not an S3 URL; use s3://bucket/prefix/"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("`{url}` names no bucket; use s3://bucket/prefix/"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// How to reach the store and how to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Options {
    /// Named profile (`--profile`); otherwise `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides `AWS_ENDPOINT_URL(_S3)`.
    pub endpoint_url: Option<String>,
    /// `None`: path-style when an endpoint is set, virtual-hosted otherwise.
    pub path_style: Option<bool>,
    /// Files at least this big go multipart.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
    /// Attempts per request (the SDK's standard retry mode, exponential backoff with jitter).
    pub max_attempts: u32,
    /// `AES256` or `aws:kms`.
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    /// e.g. `STANDARD_IA`, `GLACIER_IR`.
    pub storage_class: Option<String>,
    pub presign_expiry: Duration,
}

/// S3's limits: parts of at least 5 MiB (except the last), at most 10,000 of them.
pub const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PARTS: u64 = 10_000;

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            profile: None,
            region: None,
            endpoint_url: None,
            path_style: None,
            multipart_threshold: 16 << 20,
            part_size: 16 << 20,
            concurrency: 8,
            max_attempts: 4,
            sse: None,
            sse_kms_key_id: None,
            storage_class: None,
            presign_expiry: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What went wrong with S3.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 settings: {0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("S3 {operation} s3://{bucket}/{key} failed: {message}{hint}")]
    Request {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
        hint: &'static str,
    },
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedObject {
    pub bucket: String,
    pub key: String,
    pub bytes: u64,
    /// Parts used (1 for a single PutObject).
    pub parts: u64,
    /// True when an identical object (same size and SHA-256) was already there.
    pub already_present: bool,
}

impl UploadedObject {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Loads the standard AWS configuration (environment, profiles, SSO, instance role) with the
/// overrides in `options`.
pub async fn load_sdk_config(options: &S3Options) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// The uploader: an S3 client plus the upload options.
#[derive(Debug, Clone)]
pub struct S3Uploader {
    client: Client,
    options: S3Options,
    /// File bytes the store has acknowledged (parts and single puts), shared by clones; progress
    /// displays read it while an upload runs.
    acknowledged: Arc<AtomicU64>,
}

impl S3Uploader {
    /// From the standard chain (see [`load_sdk_config`]).
    pub async fn from_env(options: S3Options) -> Result<S3Uploader, S3Error> {
        let sdk = load_sdk_config(&options).await;
        S3Uploader::new(&sdk, options)
    }

    /// From an already loaded SDK configuration (tests pass static credentials this way).
    pub fn new(sdk: &SdkConfig, options: S3Options) -> Result<S3Uploader, S3Error> {
        if options.part_size < MIN_PART_SIZE {
            return Err(S3Error::Config(format!(
                "part size {} is below S3's minimum of 5 MiB",
                options.part_size
            )));
        }
        if options.concurrency == 0 {
            return Err(S3Error::Config(
                "upload concurrency must be at least 1".into(),
            ));
        }
        if let Some(sse) = &options.sse
            && !matches!(sse.as_str(), "AES256" | "aws:kms" | "aws:kms:dsse")
        {
            return Err(S3Error::Config(format!(
                "server-side encryption `{sse}` is not one of AES256, aws:kms, aws:kms:dsse"
            )));
        }
        let custom_endpoint = options.endpoint_url.is_some()
            || sdk.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        let mut builder = aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(300))
                    .build(),
            )
            .force_path_style(options.path_style.unwrap_or(custom_endpoint));
        if sdk.region().is_none() {
            // S3-compatible stores ignore the region, but signing needs one.
            builder = builder.region(aws_config::Region::new("us-east-1"));
        }
        Ok(S3Uploader {
            client: Client::from_conf(builder.build()),
            options,
            acknowledged: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn options(&self) -> &S3Options {
        &self.options
    }

    /// File bytes acknowledged by the store since this uploader was built (for progress).
    pub fn bytes_acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Uploads `path` to `bucket/key`, skipping it when an object with the same size and
    /// SHA-256 metadata is there already (a re-export after a partial failure).
    pub async fn upload_file(
        &self,
        path: &Path,
        bucket: &str,
        key: &str,
        sha256: &str,
        content_type: &str,
    ) -> Result<UploadedObject, S3Error> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|source| S3Error::Io {
                path: path.display().to_string(),
                source,
            })?
            .len();
        if self.matching_object_exists(bucket, key, size, sha256).await {
            return Ok(UploadedObject {
                bucket: bucket.into(),
                key: key.into(),
                bytes: size,
                parts: 0,
                already_present: true,
            });
        }
        let metadata = HashMap::from([(SHA256_METADATA.to_string(), sha256.to_string())]);
        if size < self.options.multipart_threshold.max(1) {
            self.put_single(path, bucket, key, size, content_type, metadata)
                .await?;
            return Ok(UploadedObject {
                bucket: bucket.into(),
                key: key.into(),
                bytes: size,
                parts: 1,
                already_present: false,
            });
        }
        let parts = self
            .put_multipart(path, bucket, key, size, content_type, metadata)
            .await?;
        Ok(UploadedObject {
            bucket: bucket.into(),
            key: key.into(),
            bytes: size,
            parts,
            already_present: false,
        })
    }

    /// True when the key holds an object of `size` bytes whose SHA-256 metadata is `sha256`.
    async fn matching_object_exists(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        sha256: &str,
    ) -> bool {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => {
                head.content_length().is_some_and(|l| l as u64 == size)
                    && head
                        .metadata()
                        .and_then(|m| m.get(SHA256_METADATA))
                        .is_some_and(|v| v == sha256)
            }
            Err(_) => false,
        }
    }

    async fn put_single(
        &self,
        path: &Path,
        bucket: &str,
        key: &str,
        size: u64,
        content_type: &str,
        metadata: HashMap<String, String>,
    ) -> Result<(), S3Error> {
        let body = file_body(path, 0, size).await?;
        let mut request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(size as i64)
            .content_type(content_type)
            .set_metadata(Some(metadata))
            .body(body);
        if let Some(sse) = &self.options.sse {
            request = request.server_side_encryption(ServerSideEncryption::from(sse.as_str()));
        }
        if let Some(kms) = &self.options.sse_kms_key_id {
            request = request.ssekms_key_id(kms);
        }
        if let Some(class) = &self.options.storage_class {
            request = request.storage_class(StorageClass::from(class.as_str()));
        }
        request
            .send()
            .await
            .map_err(|e| request_error("PutObject", bucket, key, e))?;
        self.acknowledged.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Part size: the configured one, grown if the file would need more than 10,000 parts.
    fn part_size_for(&self, size: u64) -> u64 {
        self.options
            .part_size
            .max(size.div_ceil(MAX_PARTS))
            .max(MIN_PART_SIZE)
    }

    async fn put_multipart(
        &self,
        path: &Path,
        bucket: &str,
        key: &str,
        size: u64,
        content_type: &str,
        metadata: HashMap<String, String>,
    ) -> Result<u64, S3Error> {
        let mut create = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .set_metadata(Some(metadata));
        if let Some(sse) = &self.options.sse {
            create = create.server_side_encryption(ServerSideEncryption::from(sse.as_str()));
        }
        if let Some(kms) = &self.options.sse_kms_key_id {
            create = create.ssekms_key_id(kms);
        }
        if let Some(class) = &self.options.storage_class {
            create = create.storage_class(StorageClass::from(class.as_str()));
        }
        let created = create
            .send()
            .await
            .map_err(|e| request_error("CreateMultipartUpload", bucket, key, e))?;
        let upload_id =
            created
                .upload_id()
                .map(str::to_string)
                .ok_or_else(|| S3Error::Request {
                    operation: "CreateMultipartUpload",
                    bucket: bucket.into(),
                    key: key.into(),
                    message: "the store returned no upload id".into(),
                    hint: "",
                })?;
        let part_size = self.part_size_for(size);
        let count = size.div_ceil(part_size).max(1);
        let result = self
            .send_parts(path, bucket, key, &upload_id, size, part_size, count)
            .await;
        let completed = match result {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| request_error("CompleteMultipartUpload", bucket, key, e)),
            Err(e) => Err(e),
        };
        match completed {
            Ok(_) => Ok(count),
            Err(e) => {
                // Best effort: the store may be the thing that failed. An upload left behind holds
                // no visible object; the next export of this snapshot aborts it (see `abort_stale`).
                let abort = self
                    .client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                if let Err(abort_error) = abort {
                    tracing::warn!(
                        bucket,
                        key,
                        "could not abort the failed multipart upload: {}",
                        error_text(&abort_error)
                    );
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_parts(
        &self,
        path: &Path,
        bucket: &str,
        key: &str,
        upload_id: &str,
        size: u64,
        part_size: u64,
        count: u64,
    ) -> Result<Vec<CompletedPart>, S3Error> {
        let mut parts: Vec<CompletedPart> = futures::stream::iter(0..count)
            .map(|index| {
                let offset = index * part_size;
                let length = part_size.min(size - offset);
                let number = (index + 1) as i32;
                async move {
                    let body = file_body(path, offset, length).await?;
                    let output = self
                        .client
                        .upload_part()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(upload_id)
                        .part_number(number)
                        .checksum_algorithm(ChecksumAlgorithm::Crc32)
                        .content_length(length as i64)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| request_error("UploadPart", bucket, key, e))?;
                    self.acknowledged.fetch_add(length, Ordering::Relaxed);
                    Ok::<_, S3Error>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(output.e_tag().map(str::to_string))
                            .set_checksum_crc32(output.checksum_crc32().map(str::to_string))
                            .set_checksum_crc32_c(output.checksum_crc32_c().map(str::to_string))
                            .set_checksum_crc64_nvme(
                                output.checksum_crc64_nvme().map(str::to_string),
                            )
                            .set_checksum_sha1(output.checksum_sha1().map(str::to_string))
                            .set_checksum_sha256(output.checksum_sha256().map(str::to_string))
                            .build(),
                    )
                }
            })
            .buffer_unordered(self.options.concurrency)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }

    /// Aborts multipart uploads left under `key` by an earlier, interrupted export. Stores that
    /// do not list uploads are skipped silently: a leftover upload holds no visible object.
    pub async fn abort_stale(&self, bucket: &str, key: &str) {
        let Ok(listed) = self
            .client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
        else {
            return;
        };
        for upload in listed.uploads() {
            if upload.key() == Some(key)
                && let Some(id) = upload.upload_id()
            {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await;
            }
        }
    }

    /// Writes a small object from memory with the upload's settings (encryption, storage
    /// class), so a bucket policy that would refuse an export refuses this too (`casefile
    /// doctor`'s probe).
    pub async fn put_bytes(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), S3Error> {
        let mut request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(bytes.len() as i64)
            .content_type("text/plain")
            .body(ByteStream::from(bytes.to_vec()));
        if let Some(sse) = &self.options.sse {
            request = request.server_side_encryption(ServerSideEncryption::from(sse.as_str()));
        }
        if let Some(kms) = &self.options.sse_kms_key_id {
            request = request.ssekms_key_id(kms);
        }
        if let Some(class) = &self.options.storage_class {
            request = request.storage_class(StorageClass::from(class.as_str()));
        }
        request
            .send()
            .await
            .map_err(|e| request_error("PutObject", bucket, key, e))?;
        Ok(())
    }

    /// Deletes one object (S3 answers success for a key that is not there).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| request_error("DeleteObject", bucket, key, e))?;
        Ok(())
    }

    /// A presigned GET URL for `key`, valid for the configured expiry (at most 7 days with SigV4).
    pub async fn presign_get(&self, bucket: &str, key: &str) -> Result<String, S3Error> {
        let config = PresigningConfig::expires_in(self.options.presign_expiry)
            .map_err(|e| S3Error::Config(format!("presign expiry: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| request_error("presign GetObject", bucket, key, e))?;
        Ok(request.uri().to_string())
    }
}

/// A retryable body reading `length` bytes of `path` from `offset` (the SDK re-reads the file
/// on retry, so nothing is held in memory).
async fn file_body(path: &Path, offset: u64, length: u64) -> Result<ByteStream, S3Error> {
    ByteStream::read_from()
        .path(path)
        .offset(offset)
        .length(Length::Exact(length))
        .buffer_size(256 << 10)
        .build()
        .await
        .map_err(|e| S3Error::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })
}

fn error_text<E: std::error::Error>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

fn request_error<E, R>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    error: aws_sdk_s3::error::SdkError<E, R>,
) -> S3Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::SdkError;
    let (message, hint) = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("error");
            let message = format!("{code}: {}", err.message().unwrap_or("no message"));
            let hint = match code {
                "SignatureDoesNotMatch" | "InvalidAccessKeyId" => {
                    " (check the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile)"
                }
                "NoSuchBucket" => " (create the bucket or fix the s3:// URL)",
                "AccessDenied" => " (the credentials may not write there)",
                _ => "",
            };
            (message, hint)
        }
        SdkError::DispatchFailure(_) if error_text(&error).contains("no credentials") => (
            error_text(&error),
            " (no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile)",
        ),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
            error_text(&error),
            " (the store did not answer; check the endpoint and network, then run the same export again — it resumes idempotently)",
        ),
        _ => (error_text(&error), ""),
    };
    S3Error::Request {
        operation,
        bucket: bucket.into(),
        key: key.into(),
        message,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let l = S3Location::parse("s3://bucket/a/b/").expect("valid");
        assert_eq!(
            (l.bucket.as_str(), l.key("x").as_str()),
            ("bucket", "a/b/x")
        );
        assert_eq!(
            S3Location::parse("s3://bucket").expect("valid").key("x"),
            "x"
        );
        assert!(S3Location::parse("s3:///x").is_err());
        assert!(S3Location::parse("https://x").is_err());
    }
}
