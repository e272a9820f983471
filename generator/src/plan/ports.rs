//! The collector's ports: the receivers' and the collector's own.

use serde::Serialize;

use crate::blueprint::model::Receivers;
use crate::blueprint::rules::{HEALTH_CHECK_PORT, METRICS_PORT};

/// The collector's ports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortsPlan {
    /// X-Ray segments, UDP.
    pub xray_udp: u16,
    /// The X-Ray sampling proxy, TCP, when enabled.
    pub xray_proxy_tcp: Option<u16>,
    /// OTLP gRPC, TCP, when enabled.
    pub otlp_grpc: Option<u16>,
    /// OTLP HTTP, TCP, when enabled.
    pub otlp_http: Option<u16>,
    /// The health check extension, TCP 13133.
    pub health_check: u16,
    /// The collector's own metrics, TCP 8888.
    pub metrics: u16,
}

impl PortsPlan {
    /// The ports of the receivers, plus the fixed ones of the collector itself.
    pub fn new(receivers: &Receivers) -> PortsPlan {
        let otlp = receivers.otlp.as_ref();
        PortsPlan {
            xray_udp: receivers.xray.udp_port,
            xray_proxy_tcp: receivers.xray.sampling_proxy.as_ref().map(|p| p.tcp_port),
            otlp_grpc: otlp.and_then(|o| o.grpc.as_ref()).map(|p| p.port),
            otlp_http: otlp.and_then(|o| o.http.as_ref()).map(|p| p.port),
            health_check: HEALTH_CHECK_PORT,
            metrics: METRICS_PORT,
        }
    }
}
