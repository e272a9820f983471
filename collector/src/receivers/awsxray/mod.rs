//! The `awsxray` receiver: X-Ray daemon datagrams on UDP.
//!
//! The receiver binds one socket per core on the same address (`SO_REUSEPORT`), each drained by its
//! own task. Each task reads into one reused 64 KiB buffer and copies each datagram into an
//! exact-size [`Bytes`] (its only copy: the body is then a slice of it, handed on unchanged), so
//! what a queue holds is what it counts. A burst of datagrams is drained without waiting and
//! handed on as one [`Traces::XRay`] batch with a non-blocking `try_send`: UDP cannot push back, so
//! a full pipeline refuses the batch and the refusal is counted (`reason="pipeline_full"`).
//! Each segment carries its datagram's source address (`Segment::source`, for `k8sattributes`).
//! Malformed datagrams are counted by reason and dropped; nothing here can stop the receiver.
//! On shutdown the socket's kernel buffer is drained before the receiver stops, so datagrams that
//! had already arrived are not lost.

pub mod config;
pub mod datagram;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use self::config::AwsXrayReceiverConfig;
use super::{ReceiverConfig, ReceiverContext};
use crate::aws::proxy::{ProxyOwner, SamplingProxy};
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;
use crate::pipeline::TracesSender;
use crate::telemetry::ReceiverRefusal;
use crate::traces::{Segment, Traces};

impl ReceiverConfig for AwsXrayReceiverConfig {
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        sender: TracesSender,
        ctx: &'a mut ReceiverContext,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let name = id.to_string();
            let sockets = bind(&name, self).await?;
            if let Some(proxy) = &self.proxy_server {
                // The sampling proxy carries no trace data: it stops with the other servers.
                let proxy = SamplingProxy::build(
                    ProxyOwner::Receiver(name.clone()),
                    proxy,
                    ctx.telemetry.clone(),
                )
                .await?;
                tokio::spawn(proxy.run(ctx.stop_servers.clone()));
            }
            for socket in sockets {
                ctx.tasks
                    .spawn(run(socket, sender.clone(), ctx.stop_receivers.clone()));
            }
            Ok(())
        })
    }
}

/// Largest UDP payload plus slack: nothing is ever truncated.
const MAX_DATAGRAM: usize = 65_536;
/// Most datagrams handed on in one batch.
const MAX_BURST: usize = 64;
/// Most sockets (and reader tasks) per receiver.
const MAX_SOCKETS: usize = 4;

/// Binds the UDP sockets of receiver `id`, naming the address in errors: one socket per core (at
/// most [`MAX_SOCKETS`]) on the same address with `SO_REUSEPORT`, so the kernel spreads senders
/// over several readers. Each socket asks for `receive_buffer_size` bytes of kernel receive buffer.
pub async fn bind(id: &str, cfg: &AwsXrayReceiverConfig) -> anyhow::Result<Vec<UdpSocket>> {
    let endpoint = crate::telemetry::server::normalize(&cfg.endpoint);
    let mut addr: SocketAddr = tokio::net::lookup_host(&endpoint)
        .await
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| {
            anyhow::format_err!("receivers.{id}: cannot resolve UDP address {endpoint}")
        })?;
    let count = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_SOCKETS);
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = (|| -> io::Result<std::net::UdpSocket> {
            let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_port(true)?;
            // Best effort: a smaller buffer only means the kernel drops sooner under bursts.
            let _ = s.set_recv_buffer_size(cfg.receive_buffer_size);
            s.set_nonblocking(true)?;
            s.bind(&addr.into())?;
            Ok(s.into())
        })()
        .map_err(|e| anyhow::format_err!("receivers.{id}: cannot listen on UDP {addr}: {e}"))?;
        let socket = UdpSocket::from_std(socket)?;
        // Port 0 picks a port once; the other sockets join it.
        addr = socket.local_addr()?;
        sockets.push(socket);
    }
    tracing::info!(receiver = id, address = %addr, sockets = count, "Receiving X-Ray segments on UDP.");
    Ok(sockets)
}

/// Receives until `shutdown` is cancelled, then drains what the kernel already holds.
pub async fn run(socket: UdpSocket, sender: TracesSender, shutdown: CancellationToken) {
    let mut rx = Reader::new(sender);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            r = socket.readable() => if r.is_err() { continue },
        }
        let batch = rx.drain(&socket, MAX_BURST);
        if !batch.is_empty() && rx.sender.try_send(Traces::XRay(batch)).is_err() {
            rx.warn_limited(
                "Pipeline is full; X-Ray segments refused (see xray_collector_receiver_refused_items_total).",
            );
        }
    }
    // Stop receiving: take what is already in the kernel buffer, waiting for room downstream.
    let mut drained = 0;
    loop {
        let batch = rx.drain(&socket, MAX_BURST);
        if batch.is_empty() {
            break;
        }
        drained += batch.len();
        let _ = rx.sender.send(Traces::XRay(batch)).await;
    }
    tracing::info!(
        receiver = rx.sender.receiver(),
        drained,
        "X-Ray receiver stopped."
    );
}

struct Reader {
    sender: TracesSender,
    buf: BytesMut,
    last_warning: AtomicU64,
}

impl Reader {
    fn new(sender: TracesSender) -> Reader {
        Reader {
            sender,
            buf: BytesMut::with_capacity(MAX_DATAGRAM),
            last_warning: AtomicU64::new(0),
        }
    }

    /// Reads up to `max` datagrams without waiting; returns the valid segments.
    fn drain(&mut self, socket: &UdpSocket, max: usize) -> Vec<Segment> {
        let mut batch = Vec::new();
        let now = Instant::now();
        // Counted once per burst, not per datagram: the counters are shared and labelled.
        let mut received = 0;
        let mut refused: Vec<(ReceiverRefusal, usize)> = Vec::new();
        for _ in 0..max {
            self.buf.clear();
            match socket.try_recv_buf_from(&mut self.buf) {
                Ok((_, from)) => {
                    // An exact-size copy (about 1 kB, cheaper than the receive itself): a segment
                    // held in a queue then pins only its own bytes, never a shared chunk of others
                    // that were dropped, so a byte-bounded sending queue bounds memory.
                    let datagram = Bytes::copy_from_slice(&self.buf);
                    received += 1;
                    match datagram::parse(&datagram, now) {
                        Ok(mut segment) => {
                            segment.source = Some(from.ip());
                            batch.push(segment);
                        }
                        Err(e) => {
                            match refused.iter_mut().find(|(r, _)| *r == e.reason()) {
                                Some((_, n)) => *n += 1,
                                None => refused.push((e.reason(), 1)),
                            }
                            self.warn_malformed(&e, datagram.len());
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(receiver = self.sender.receiver(), error = %e, "UDP receive failed.");
                    break;
                }
            }
        }
        let telemetry = self.sender.telemetry();
        let receiver = self.sender.receiver();
        if received > 0 {
            telemetry.receiver_received(receiver, received);
        }
        for (reason, n) in refused {
            telemetry.receiver_refused(receiver, reason, n);
        }
        batch
    }

    fn warn_malformed(&self, e: &datagram::Malformed, len: usize) {
        if self.first_this_second() {
            tracing::warn!(
                receiver = self.sender.receiver(),
                reason = e.reason().as_str(),
                error = %e,
                bytes = len,
                "Malformed X-Ray datagram dropped (see xray_collector_receiver_refused_items_total)."
            );
        }
    }

    fn warn_limited(&self, message: &str) {
        if self.first_this_second() {
            tracing::warn!(receiver = self.sender.receiver(), "{message}");
        }
    }

    fn first_this_second(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.last_warning.swap(now, Ordering::Relaxed) != now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel receive buffer each socket gets, as the kernel reports it.
    async fn buffer_sizes(receive_buffer_size: usize) -> Vec<usize> {
        let cfg = AwsXrayReceiverConfig {
            endpoint: "127.0.0.1:0".to_owned(),
            receive_buffer_size,
            ..AwsXrayReceiverConfig::default()
        };
        let sockets = bind("awsxray", &cfg).await.expect("bind on loopback");
        sockets
            .iter()
            .map(|s| socket2::SockRef::from(s).recv_buffer_size().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn receive_buffer_size_is_applied_to_every_socket() {
        // Both sizes are below the usual `net.core.rmem_max`; Linux reports twice the request.
        let small = buffer_sizes(64 << 10).await;
        let large = buffer_sizes(1 << 20).await;
        assert!(!small.is_empty());
        assert!(
            small.iter().all(|&n| (64 << 10..1 << 20).contains(&n)),
            "{small:?}"
        );
        assert!(large.iter().all(|&n| n >= 1 << 20), "{large:?}");
    }
}
