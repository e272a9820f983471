//! `receivers.otlp`: the collector's keys, and their checks.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// `receivers.otlp`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    /// The enabled protocols; a protocol is on when its key is present.
    pub protocols: OtlpProtocols,
    /// Decoded memory the receiver's in-flight requests may hold together, in MiB; at least
    /// twice `protocols.grpc.max_recv_msg_size_mib`. Not set: a quarter of the container's
    /// memory limit, or 64 MiB without one (`budget::derived_limit_mib`; the per-request formula
    /// is in `receivers::otlp::budget`). Not a key of the contrib collector, so rendered configs
    /// leave it out and get the derived budget.
    pub memory_limit_mib: Option<u64>,
}

/// `receivers.otlp.protocols`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpProtocols {
    /// OTLP/gRPC; default endpoint `0.0.0.0:4317`.
    #[serde(deserialize_with = "present_or_default")]
    pub grpc: Option<OtlpGrpcConfig>,
    /// OTLP/HTTP; default endpoint `0.0.0.0:4318`.
    #[serde(deserialize_with = "present_or_default")]
    pub http: Option<OtlpHttpConfig>,
}

/// `receivers.otlp.protocols.grpc`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// Address to listen on.
    pub endpoint: String,
    /// Largest accepted message, in MiB (default 4).
    pub max_recv_msg_size_mib: u64,
    /// TLS for the server; plaintext when absent.
    pub tls: Option<ServerTlsConfig>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: "0.0.0.0:4317".to_owned(),
            max_recv_msg_size_mib: 4,
            tls: None,
        }
    }
}

/// `receivers.otlp.protocols.http`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Address to listen on.
    pub endpoint: String,
    /// URL path for traces (default `/v1/traces`).
    pub traces_url_path: String,
    /// Largest accepted request body in bytes, after decompression (default 20 MiB, as contrib).
    pub max_request_body_size: u64,
    /// TLS for the server; plaintext when absent.
    pub tls: Option<ServerTlsConfig>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: "0.0.0.0:4318".to_owned(),
            traces_url_path: "/v1/traces".to_owned(),
            max_request_body_size: 20 * 1024 * 1024,
            tls: None,
        }
    }
}

/// `tls` of an OTLP server (contrib's `configtls.ServerConfig` keys).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerTlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: String,
    /// PEM private key of the server.
    pub key_file: String,
    /// PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS).
    pub client_ca_file: String,
}

/// A present key with a null value (`grpc:`) means "on, with defaults".
fn present_or_default<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(
        Option::<T>::deserialize(deserializer)?.unwrap_or_default(),
    ))
}

impl Component for OtlpReceiverConfig {
    const TYPE: &'static str = "otlp";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            c.error(
                "",
                "must specify at least one protocol (`protocols.grpc` or `protocols.http`)",
            );
        }
        if self.memory_limit_mib == Some(0) {
            c.error("memory_limit_mib", "must be at least 1");
        }
        if let Some(grpc) = &self.protocols.grpc {
            // A compressed gRPC message is charged its largest inflated size up front.
            let too_small = self
                .memory_limit_mib
                .is_some_and(|mib| grpc.max_recv_msg_size_mib.saturating_mul(2) > mib);
            if too_small {
                c.error(
                    "memory_limit_mib",
                    format!(
                        "must be at least twice protocols.grpc.max_recv_msg_size_mib ({}), or no compressed gRPC request fits",
                        grpc.max_recv_msg_size_mib
                    ),
                );
            }
            c.endpoint("protocols/grpc/endpoint", &grpc.endpoint);
        }
        if let Some(http) = &self.protocols.http {
            c.endpoint("protocols/http/endpoint", &http.endpoint);
        }
    }
}
