//! `xray-collector`: an OpenTelemetry-collector-compatible trace collector for AWS X-Ray.
//!
//! Data flows receiver → processors → exporters inside `traces` pipelines (see `pipeline` for
//! what flows, `service` for how the pieces are wired and stopped). Module map:
//!
//! * `aws`: SigV4 signing with cached credentials and the HTTPS client to AWS endpoints.
//! * `cli`: the command line the OpenTelemetry Operator uses.
//! * `config`: the collector YAML, typed and validated (no runtime types).
//! * `pipeline`: [`pipeline::Traces`], [`pipeline::Consumer`], [`pipeline::TracesSender`].
//! * `receivers/awsxray`: X-Ray datagrams over UDP.
//! * `processors/batch`: batching.
//! * `exporters/{awsxray,debug,file}`: delivery, behind `exporters/queue`.
//! * `extensions/health_check`, `telemetry` (metrics and logs), `service` (topology).

pub mod aws;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod exporters;
pub mod extensions;
pub mod pipeline;
pub mod processors;
pub mod receivers;
pub mod registry;
pub mod serve;
pub mod service;
pub mod telemetry;
pub mod traces;
pub mod translate;
