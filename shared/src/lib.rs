//! RoamGuard core: contracts, live state, features, model and decision rules for real-time
//! roaming-fraud scoring, and the scoring pipeline with its ports and embedded adapters.
//! No AWS code lives here: the domain compiles without any AWS crate.

pub mod base64;
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
