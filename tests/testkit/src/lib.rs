//! The fixed world of Mandate's conformance vectors (keys from fixed seeds, the bundle, token
//! builders), shared by the generator binary and the property tests.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod cases;
pub mod codes;
pub mod http_cases;
pub mod kit;
pub mod loads;
pub mod replace_cases;
pub mod schemas;
pub mod security_cases;
pub mod tokens;
pub mod world;
pub mod world_json;
