//! RoamGuard's test kit, shared by every crate's tests, the fuzz targets and the measurements:
//!
//! - [`moto`]: a moto server (AWS emulator) of a test's own on 127.0.0.1;
//! - [`proxy`]: one HTTP proxy in front of it that records calls and injects latency and faults;
//! - [`runtime_api`]: a Lambda Runtime API, to run a function binary as Lambda runs it;
//! - [`stack`]: `infra/template.yaml` deployed into moto;
//! - [`inputs`]: proptest strategies for hostile inputs;
//! - [`fixtures`]: the built-in model and the ports in memory;
//!
//! Test support panics on a broken set-up: a failed test says what could not be prepared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod fixtures;
pub mod inputs;
pub mod moto;
pub mod proxy;
pub mod runtime_api;
pub mod stack;
