//! A model in S3 (`MODEL_URI`): a prefix `s3://bucket/prefix/` holding `model.json` and
//! `metadata.json`, as `make train` writes a model directory. Read once when an execution
//! environment starts, with [`ConfigObjects`], and checked exactly as `--model-dir` is
//! ([`FraudModel::from_slices`]: metadata complete, feature names and order this build's). A model
//! that cannot be read or is refused is an error: the caller fails the init, it never scores with
//! the built-in model in its place.

use std::fmt;

use roamguard::model::{FraudModel, LoadError};

use crate::SdkConfig;
use crate::config_object::{ConfigObjectError, ConfigObjects, ObjectLocation};

/// Where a model is: a bucket and a key prefix (empty, or ending in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLocation {
    pub bucket: String,
    /// `models/v3/`: the objects are `models/v3/model.json` and `models/v3/metadata.json`.
    pub prefix: String,
}

impl ModelLocation {
    /// Parses `s3://bucket/prefix/` (a missing trailing `/` is added: the prefix is a directory);
    /// Err says what is wrong.
    pub fn parse(uri: &str) -> Result<ModelLocation, String> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| format!("{uri:?} does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // The bucket name is checked as for any configuration object.
        ObjectLocation::parse(&format!("s3://{bucket}/{}", ModelLocation::MODEL))?;
        if prefix.contains("//") || prefix.starts_with('/') {
            return Err(format!("{uri:?} has an empty directory in its prefix"));
        }
        let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
        Ok(ModelLocation { bucket: bucket.to_string(), prefix })
    }

    pub const MODEL: &'static str = "model.json";
    pub const METADATA: &'static str = "metadata.json";

    /// The object `name` under the prefix (latest version).
    pub fn object(&self, name: &str) -> ObjectLocation {
        ObjectLocation { bucket: self.bucket.clone(), key: format!("{}{name}", self.prefix), version_id: None }
    }
}

impl fmt::Display for ModelLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Why a model in S3 could not be used (the cause is in the message, not a `source`, as in
/// [`LoadError`]).
#[derive(Debug, thiserror::Error)]
pub enum ModelSourceError {
    #[error("model at {location}: {error} (the built-in model is not used in its place)")]
    Read { location: String, error: ConfigObjectError },
    #[error(
        "model at {location} refused: {error}; upload a complete model directory (model.json + metadata.json from `make train`) built for this version's features (the built-in model is not used in its place)"
    )]
    Invalid { location: String, error: LoadError },
}

/// A model read from S3, with the S3 version ids it was read at (for the start log).
pub struct LoadedModel {
    pub model: FraudModel,
    pub model_object_version: Option<String>,
    pub metadata_object_version: Option<String>,
}

/// Largest `model.json` read: the committed model is ~400 KB; a retrained one with more or deeper
/// trees stays well below this, and a prefix pointing at a data file must not fill the memory.
pub const MODEL_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Reads `model.json` and `metadata.json` under `location` and checks them as a model directory.
pub async fn load_model(sdk: &SdkConfig, location: &ModelLocation) -> Result<LoadedModel, ModelSourceError> {
    let objects = ConfigObjects::new(sdk).with_max_bytes(MODEL_MAX_BYTES);
    let read_error = |error| ModelSourceError::Read { location: location.to_string(), error };
    let model = objects.fetch(&location.object(ModelLocation::MODEL)).await.map_err(read_error)?;
    let metadata = objects.fetch(&location.object(ModelLocation::METADATA)).await.map_err(read_error)?;
    let loaded = FraudModel::from_slices(&model.bytes, &metadata.bytes)
        .map_err(|error| ModelSourceError::Invalid { location: location.to_string(), error })?;
    Ok(LoadedModel {
        model: loaded,
        model_object_version: model.version_id,
        metadata_object_version: metadata.version_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_parsing_a_model_uri_should_make_the_prefix_a_directory_and_refuse_anything_else() {
        let l = ModelLocation::parse("s3://roamguard-models/models/v3/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("roamguard-models", "models/v3/"));
        assert_eq!(l.object("model.json").key, "models/v3/model.json");
        assert_eq!(l.to_string(), "s3://roamguard-models/models/v3/");
        assert_eq!(ModelLocation::parse("s3://b/models/v3").unwrap().prefix, "models/v3/", "a directory");
        assert_eq!(ModelLocation::parse("s3://b/").unwrap().object("metadata.json").key, "metadata.json");
        assert_eq!(ModelLocation::parse("s3://b").unwrap().prefix, "");
        for bad in ["roamguard-models/v3/", "https://b/v3/", "s3:///v3/", "s3://my bucket/v3/", "s3://b//v3/"] {
            assert!(ModelLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
