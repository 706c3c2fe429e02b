//! Test support for the AWS adapter tests: a moto server per test, and a fault-injecting proxy.

pub mod fault_proxy;
pub mod moto;
