//! Receiver configs: `awsxray` and `otlp`, with contrib's keys.

use serde::Deserialize;

/// `receivers.awsxray`: X-Ray segments over UDP, plus the optional sampling proxy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsXrayReceiverConfig {
    /// UDP address to listen on (`host:port`); default `0.0.0.0:2000`.
    pub endpoint: String,
    /// Transport; only `udp` exists.
    pub transport: String,
    /// The TCP sampling proxy that forwards `GetSamplingRules` and `SamplingTargets`.
    pub proxy_server: Option<ProxyServerConfig>,
    /// Kernel receive buffer requested for each UDP socket, in bytes (`SO_RCVBUF`; the kernel caps
    /// it at `net.core.rmem_max`); default 8 MiB. A larger buffer absorbs longer bursts before the
    /// kernel drops datagrams. Not a contrib key: an extension of this collector.
    pub receive_buffer_size: usize,
}

/// Default of [`AwsXrayReceiverConfig::receive_buffer_size`].
pub const DEFAULT_RECEIVE_BUFFER_SIZE: usize = 8 << 20;

impl Default for AwsXrayReceiverConfig {
    fn default() -> Self {
        AwsXrayReceiverConfig {
            endpoint: "0.0.0.0:2000".to_owned(),
            transport: "udp".to_owned(),
            proxy_server: None,
            receive_buffer_size: DEFAULT_RECEIVE_BUFFER_SIZE,
        }
    }
}

/// `receivers.awsxray.proxy_server`, contrib's keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyServerConfig {
    /// TCP address to listen on; default `0.0.0.0:2000`.
    pub endpoint: String,
    /// HTTP(S) proxy used to reach the X-Ray API.
    pub proxy_address: String,
    /// TLS settings for the upstream connection.
    pub tls: ProxyTlsConfig,
    /// Region of the X-Ray endpoint the proxy forwards to.
    pub region: String,
    /// Role to assume for signing.
    pub role_arn: String,
    /// X-Ray endpoint override.
    pub aws_endpoint: String,
    /// Skip instance metadata when resolving the region.
    pub local_mode: bool,
    /// SigV4 service name; default `xray`.
    pub service_name: String,
}

impl Default for ProxyServerConfig {
    fn default() -> Self {
        ProxyServerConfig {
            endpoint: "0.0.0.0:2000".to_owned(),
            proxy_address: String::new(),
            tls: ProxyTlsConfig::default(),
            region: String::new(),
            role_arn: String::new(),
            aws_endpoint: String::new(),
            local_mode: false,
            service_name: "xray".to_owned(),
        }
    }
}

/// `proxy_server.tls`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyTlsConfig {
    /// Skip verification of the upstream certificate.
    pub insecure: bool,
    /// Server name to verify instead of the endpoint's host.
    pub server_name_override: String,
    /// CA bundle to verify the upstream with.
    pub ca_file: String,
}

/// `receivers.otlp`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    /// The enabled protocols; a protocol is on when its key is present.
    pub protocols: OtlpProtocols,
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
