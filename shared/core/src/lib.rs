//! RoamGuard core: contracts, reference data, live state, features, model and decision for
//! real-time roaming-fraud scoring, and the scoring pipeline with its ports and the HTTP-agnostic
//! API. No file or network I/O besides what a port does, and no AWS crate: the adapters live in
//! `roamguard-local` and `roamguard-aws`, the traffic simulator in `roamguard-sim`.

// Contracts: what comes in, what is known of a subscriber, what goes out.
pub mod events;
pub mod labels;
pub mod profile;
pub mod verdict;

// Reference data and the subscriber's live state.
pub mod countries;
pub mod state;

// event → features → score → decision.
pub mod decision;
pub mod explain;
pub mod features;
pub mod model;
pub mod rules;

// What customers feel: operating points, calibration on labelled history, drift, champion
// against challenger.
pub mod compare;
pub mod drift;
pub mod evaluation;

// The pipeline, the ports it talks to, and the API over it.
pub mod api;
pub mod metrics;
pub mod pipeline;
pub mod ports;

pub mod base64;
pub mod cost;
pub mod rng;

/// The namespace of RoamGuard's metrics (CloudWatch embedded metrics in AWS, dimension
/// `Function`): a name, here so that handlers can write metrics without linking an adapter.
pub const METRICS_NAMESPACE: &str = "RoamGuard";
