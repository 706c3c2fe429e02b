//! RoamGuard core: contracts, live state, features, model and decision rules for real-time
//! roaming-fraud scoring, and the scoring pipeline with its ports and embedded adapters.
//! No AWS code in the domain: the AWS adapters live in `aws`, behind the `aws` feature, and
//! the rest compiles without any AWS crate.

pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
pub mod base64;
pub mod config;
pub mod countries;
pub mod decision;
pub mod embedded;
pub mod events;
pub mod features;
pub mod generator;
pub mod model;
pub mod pipeline;
pub mod ports;
pub mod profile;
pub mod state;
pub mod verdict;
