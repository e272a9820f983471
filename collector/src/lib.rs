//! `xray-collector`: an OpenTelemetry-collector-compatible trace collector for AWS X-Ray.
//!
//! Data flows receiver → pipeline → processors → exporter queue → exporter inside `traces`
//! pipelines (see `service` for how the pieces are wired and stopped). Module map:
//!
//! * `traces`: the data every stage shares ([`traces::Traces`], `Segment`, `SegmentIds`,
//!   `Refused`); it imports nothing else of the crate.
//! * `pipeline`: [`pipeline::TracesSender`], a receiver's handle on its pipelines.
//! * `consumer`: [`consumer::Consumer`], the input of the next stage (processor channel, exporter
//!   queue, fan-out).
//! * `registry`: the closed lists of component types (type name → parse → build), per kind.
//! * `config`: the loader (sections, pipelines, extension references, located errors), and the
//!   helpers components use (`config::component`, `duration`, `id`, `located`, `yaml`).
//! * `receivers/{awsxray,otlp}`, `processors/batch`, `exporters/{awsxray,debug,file,otlphttp}`,
//!   `extensions/{health_check,file_storage,sigv4auth}`: one folder per component, with its
//!   `config.rs` (contrib's keys and checks) and its construction; the kind's trait is in the
//!   kind's `mod.rs`.
//! * `exporters/{queue,retry,disklog}`: the sending queue (and its disk codecs), the one retry
//!   policy of the network exporters, the persistent queue's log.
//! * `serve`: the one serving loop of the small HTTP/1 servers (limits, timeouts, backoff), and
//!   the same accept side as a stream of capped, idle-closing connections (`serve::incoming`)
//!   for the OTLP/gRPC server. `receivers/otlp/budget`: the OTLP receiver's decoded-memory budget.
//! * `telemetry`: counters (with the closed `reason` enums of `telemetry::reason`), logs, the
//!   metrics endpoint. `aws`: SigV4 signing and the HTTPS client. `translate`: OTLP ↔ X-Ray.
//! * `cli`: the command line the OpenTelemetry Operator uses; `service`: the topology.
//!
//! Adding a component touches its folder, its `pub mod` line and one line in `registry`.

pub mod aws;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod exporters;
pub mod extensions;
#[doc(hidden)]
pub mod fuzzing;
pub mod json_escape;
pub mod pipeline;
pub mod prepare_dir;
pub mod processors;
pub mod receivers;
pub mod registry;
pub mod serve;
pub mod service;
pub mod telemetry;
pub mod traces;
pub mod translate;
