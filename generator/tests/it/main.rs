//! The generator's integration tests, one binary: each module is one suite (run one with
//! `cargo nextest run -p blueprint -E 'test(/^golden::/)'`). One binary links the generator and
//! the test dependencies once instead of once per suite.

mod cdk;
mod fuzz_inputs;
mod golden;
mod invalid_blueprints;
mod kubernetes;
mod limits;
mod metrics;
mod robustness;
mod schema;
mod terraform;
