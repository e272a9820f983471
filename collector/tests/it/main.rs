//! The collector's integration tests, one binary: each module is one suite (run one with
//! `cargo nextest run -p xray-collector -E 'test(/^e2e_otlp::/)'`). One binary links the collector
//! and the test dependencies once instead of once per suite.
//!
//! Shared modules: `common` runs the real `xray-collector` binary and reads its metrics,
//! `support` holds the fault-injecting X-Ray and OTLP/HTTP servers and the IMDSv2 stand-in (the
//! Kubernetes API stand-in is `harness::k8s_api`, shared with the benchmark), `round_trip` the round-trip
//! property of `from_xray` and `prop_round_trip`. Fixtures stay beside this directory:
//! `tests/from_xray/`, `tests/translate/`, `tests/apps/`.

mod common;
mod round_trip;
mod support {
    pub mod fault_otlp;
    pub mod fault_xray;
    pub mod imds;
}

mod config;
mod config_eks;
mod credentials;
mod deployed;
mod e2e_eks_identity;
mod e2e_otlp;
mod e2e_otlphttp;
mod e2e_sampling_proxy;
mod e2e_xray_sdk;
mod fault_exporter;
mod from_xray;
mod from_xray_corpus;
mod fuzz_inputs;
mod golden_configs;
mod local_exporters;
mod otlphttp_faults;
mod persistent_queue;
mod prop_inputs;
mod prop_round_trip;
mod shutdown;
mod startup;
mod translate;
