//! Test support for the AWS adapter tests: a moto server per test, and a fault-injecting proxy.

#[allow(dead_code)] // the chaos run reads what the adapter tests do not
pub mod fault_proxy;
pub mod moto;
