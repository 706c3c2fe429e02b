//! Configuration objects in S3: a small file (a thresholds file, a rules file and its lists) read
//! once at start or on a schedule, latest or at a pinned version; a reloader asks with the ETag it
//! has (`If-None-Match`) and gets `None` while the object is unchanged. Bytes, the version id and
//! the ETag come out, nothing of the S3 SDK: the caller parses and validates the contents itself.

use std::fmt;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{SdkConfig, is_retriable};

/// Where a configuration object is: `s3://bucket/key`, optionally pinned to one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLocation {
    pub bucket: String,
    pub key: String,
    /// An S3 object version id; None: the latest version.
    pub version_id: Option<String>,
}

impl ObjectLocation {
    /// Parses `s3://bucket/key` (the key may contain `/`); Err says what is wrong.
    pub fn parse(uri: &str) -> Result<ObjectLocation, String> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| format!("{uri:?} does not start with s3://"))?;
        let (bucket, key) =
            rest.split_once('/').ok_or_else(|| format!("{uri:?} has no object key after the bucket"))?;
        if bucket.is_empty() || key.is_empty() {
            return Err(format!("{uri:?} needs both a bucket and an object key"));
        }
        // Lower-case letters, digits, '-' and '.' today; legacy us-east-1 buckets may also have
        // upper-case letters and '_'.
        if bucket.chars().any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))) {
            return Err(format!("{bucket:?} is not an S3 bucket name (letters, digits, '-', '.')"));
        }
        Ok(ObjectLocation { bucket: bucket.to_string(), key: key.to_string(), version_id: None })
    }

    /// The same object at `version_id` (None: the latest).
    pub fn at_version(self, version_id: Option<String>) -> ObjectLocation {
        ObjectLocation { version_id, ..self }
    }
}

impl fmt::Display for ObjectLocation {
    /// `s3://bucket/key`, then ` (version V)` when pinned.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version_id {
            write!(f, " (version {v})")?;
        }
        Ok(())
    }
}

/// A configuration object as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigObject {
    pub bytes: Vec<u8>,
    /// The version read (None when the bucket has never been versioned).
    pub version_id: Option<String>,
    /// The object's ETag: a cheap "has it changed" for a reloader.
    pub etag: Option<String>,
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigObjectError {
    /// No such bucket, key or version (HTTP 404).
    #[error(
        "{location}: not found ({code}): check the bucket, the key and the version id, and that the object was uploaded"
    )]
    NotFound { location: String, code: String },
    /// HTTP 403. Without s3:ListBucket on the bucket, S3 answers a missing object with 403 too.
    #[error(
        "{location}: access denied ({code}): the object may not exist (S3 answers 403 for a missing key without s3:ListBucket), or the role lacks s3:GetObject / s3:GetObjectVersion on it or kms:Decrypt on its key"
    )]
    AccessDenied { location: String, code: String },
    /// Throttling, 5xx, timeouts, connection failures: the same read may succeed later.
    #[error("{location}: S3 is unavailable, try again later: {detail}")]
    Unavailable { location: String, detail: String },
    /// The response body broke off.
    #[error("{location}: reading the object failed: {detail}")]
    Interrupted { location: String, detail: String },
    #[error("{location}: larger than {limit} bytes: not a configuration file")]
    TooLarge { location: String, limit: usize },
    /// Any other refusal (a malformed version id, a request S3 rejects).
    #[error("{location}: refused by S3: {detail}")]
    Refused { location: String, detail: String },
}

impl ConfigObjectError {
    /// True when reading again later may succeed (S3 throttling, 5xx, network). A missing or
    /// forbidden object, a malformed version id or an oversized object stay so until someone
    /// fixes them.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConfigObjectError::Unavailable { .. } | ConfigObjectError::Interrupted { .. })
    }
}

/// Reads configuration objects from S3.
///
/// Path-style addressing (`endpoint/bucket/key`) is forced when the configuration overrides the
/// endpoint (moto, LocalStack: no bucket subdomains on 127.0.0.1); against AWS the SDK's
/// default (virtual-hosted style) is kept. Clones share the client (and its connections).
#[derive(Clone)]
pub struct ConfigObjects {
    client: Client,
    max_bytes: usize,
}

impl ConfigObjects {
    /// Objects larger than this are refused by default: configuration files are kilobytes, and
    /// a URI pointing at a data file must not fill the function's memory.
    pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

    pub fn new(config: &SdkConfig) -> ConfigObjects {
        let mut s3 = aws_sdk_s3::config::Builder::from(config);
        if config.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        ConfigObjects { client: Client::from_conf(s3.build()), max_bytes: ConfigObjects::DEFAULT_MAX_BYTES }
    }

    pub fn with_max_bytes(mut self, max_bytes: usize) -> ConfigObjects {
        self.max_bytes = max_bytes;
        self
    }

    /// GetObject of `location` (its pinned version, else the latest), with the SDK's standard
    /// retry on throttling and 5xx.
    pub async fn fetch(&self, location: &ObjectLocation) -> Result<ConfigObject, ConfigObjectError> {
        self.get(location, None).await?.ok_or_else(|| ConfigObjectError::Refused {
            location: location.to_string(),
            detail: "304 Not Modified to a request without If-None-Match".into(),
        })
    }

    /// A conditional GetObject: `None` while the object's ETag is still `etag` (S3 answers 304
    /// Not Modified, without the body), the object otherwise. With `etag` None, as
    /// [`ConfigObjects::fetch`]. A reloader checks every minute for the price of a 304.
    pub async fn fetch_if_changed(
        &self,
        location: &ObjectLocation,
        etag: Option<&str>,
    ) -> Result<Option<ConfigObject>, ConfigObjectError> {
        self.get(location, etag).await
    }

    /// The version ids of `location`'s key, newest first (delete markers left out), at most
    /// `limit`: where a reader looks for an earlier version when the latest is refused. Needs
    /// `s3:ListBucketVersions` on the bucket (the key as the `s3:prefix` condition suffices).
    /// Empty for an unversioned bucket's object (its version id is "null": not addressable).
    pub async fn versions(&self, location: &ObjectLocation, limit: usize) -> Result<Vec<String>, ConfigObjectError> {
        let name = location.to_string();
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&location.bucket)
                .prefix(&location.key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| classify(&name, &e))?;
            for v in page.versions() {
                if v.key() == Some(location.key.as_str())
                    && let Some(id) = v.version_id().filter(|id| *id != "null")
                {
                    found.push((v.last_modified().map(|t| (t.secs(), t.subsec_nanos())), id.to_string()));
                }
            }
            // Keys sharing the prefix (`rules.yaml.bak`) come after the key itself: stop at them.
            let past_the_key = page.versions().iter().any(|v| v.key().is_some_and(|k| k > location.key.as_str()));
            if !page.is_truncated().unwrap_or(false) || past_the_key || found.len() >= limit {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        // S3 lists a key's versions newest first; sorting keeps that when a listing does not.
        found.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
        Ok(found.into_iter().map(|(_, id)| id).take(limit).collect())
    }

    async fn get(
        &self,
        location: &ObjectLocation,
        etag: Option<&str>,
    ) -> Result<Option<ConfigObject>, ConfigObjectError> {
        let name = location.to_string();
        let mut request = self.client.get_object().bucket(&location.bucket).key(&location.key);
        if let Some(version) = &location.version_id {
            request = request.version_id(version);
        }
        if let Some(etag) = etag {
            request = request.if_none_match(etag);
        }
        let output = match request.send().await {
            Ok(output) => output,
            Err(SdkError::ServiceError(ctx)) if ctx.raw().status().as_u16() == 304 => return Ok(None),
            Err(e) => return Err(classify(&name, &e)),
        };
        let too_large = || ConfigObjectError::TooLarge { location: name.clone(), limit: self.max_bytes };
        if output.content_length().is_some_and(|n| usize::try_from(n).map_or(true, |n| n > self.max_bytes)) {
            return Err(too_large());
        }
        let version_id = output.version_id().map(str::to_string);
        let etag = output.e_tag().map(str::to_string);
        let mut body = output.body;
        let mut bytes = Vec::new();
        loop {
            match body.try_next().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > self.max_bytes {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(ConfigObjectError::Interrupted {
                        location: name,
                        detail: DisplayErrorContext(&e).to_string(),
                    });
                }
            }
        }
        Ok(Some(ConfigObject { bytes, version_id, etag }))
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    location: &str,
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> ConfigObjectError {
    let location = location.to_string();
    let detail = DisplayErrorContext(err).to_string();
    if let SdkError::ServiceError(ctx) = err {
        let code = ctx.err().code().unwrap_or("no error code").to_string();
        match ctx.raw().status().as_u16() {
            404 => return ConfigObjectError::NotFound { location, code },
            403 => return ConfigObjectError::AccessDenied { location, code },
            _ => {}
        }
    }
    if is_retriable(err) {
        ConfigObjectError::Unavailable { location, detail }
    } else {
        ConfigObjectError::Refused { location, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_parsing_an_s3_uri_should_split_bucket_and_key_and_refuse_anything_else() {
        let l = ObjectLocation::parse("s3://roamguard-config/thresholds/v3.json").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str(), l.version_id.as_deref()),
            ("roamguard-config", "thresholds/v3.json", None)
        );
        assert_eq!(l.to_string(), "s3://roamguard-config/thresholds/v3.json");
        let pinned = l.at_version(Some("3HL4kqtJ".into()));
        assert_eq!(pinned.to_string(), "s3://roamguard-config/thresholds/v3.json (version 3HL4kqtJ)");
        for bad in [
            "roamguard-config/t.json",
            "s3://roamguard-config",
            "s3://roamguard-config/",
            "s3:///t.json",
            "https://b/k",
            "s3://my bucket/k",
            "s3://b?x/k",
        ] {
            assert!(ObjectLocation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn when_classifying_errors_should_retry_only_what_may_pass() {
        let l = || "s3://b/k".to_string();
        assert!(ConfigObjectError::Unavailable { location: l(), detail: "503".into() }.is_retriable());
        assert!(ConfigObjectError::Interrupted { location: l(), detail: "reset".into() }.is_retriable());
        assert!(!ConfigObjectError::NotFound { location: l(), code: "NoSuchKey".into() }.is_retriable());
        assert!(!ConfigObjectError::AccessDenied { location: l(), code: "AccessDenied".into() }.is_retriable());
        assert!(!ConfigObjectError::TooLarge { location: l(), limit: 1 }.is_retriable());
        assert!(!ConfigObjectError::Refused { location: l(), detail: "InvalidArgument".into() }.is_retriable());
    }
}
