//! The `awsxray` receiver: X-Ray daemon datagrams on UDP.
//!
//! The receiver binds one socket per core on the same address (`SO_REUSEPORT`), each drained by its
//! own task. Each task reads up to [`SLOTS`] datagrams per system call (`recvmmsg`, through
//! `quinn-udp`'s safe wrapper, which also turns on UDP GRO: a slot may then hold several datagrams
//! of one sender, split at the kernel's stride) into reused 64 KiB slots, with each datagram's
//! source address, and copies each datagram into an exact-size [`Bytes`] (its only copy and its
//! only allocation: the body is then a slice of it, handed on unchanged), so what a queue holds is
//! what it counts. A burst of datagrams is drained without waiting (a call that fills fewer slots
//! than it offered ends the burst and clears the socket's readiness, so each wake-up costs one
//! system call, not a second one that finds the socket empty) and handed on as one
//! [`Traces::XRay`] batch (one allocation per burst besides the datagrams' own copies) with a
//! non-blocking `try_send`: UDP cannot push back, so a full pipeline refuses the batch and the
//! refusal is counted (`reason="pipeline_full"`).
//! Each segment carries its datagram's source address (`Segment::source`, for `k8sattributes`).
//! Malformed datagrams are counted by reason and dropped; nothing here can stop the receiver.
//! On shutdown the socket's kernel buffer is drained before the receiver stops, so datagrams that
//! had already arrived are not lost.

pub mod config;
pub mod datagram;
mod scan;

use std::io;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use quinn_udp::{RecvMeta, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
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
                let state = UdpSocketState::new((&socket).into()).map_err(|e| {
                    anyhow::format_err!(
                        "receivers.{name}: cannot set up batched receives on UDP {}: {e}",
                        self.endpoint
                    )
                })?;
                ctx.tasks.spawn(run(
                    socket,
                    state,
                    sender.clone(),
                    ctx.stop_receivers.clone(),
                ));
            }
            Ok(())
        })
    }
}

/// Largest UDP payload plus slack: nothing is ever truncated.
const MAX_DATAGRAM: usize = 65_536;
/// Most datagrams handed on in one batch.
const MAX_BURST: usize = 64;
/// Slots read per `recvmmsg` call, one reused [`MAX_DATAGRAM`] buffer each (1 MiB per socket, of
/// which only the pages datagrams land in become resident); at most `quinn_udp::BATCH_SIZE`.
const SLOTS: usize = 16;
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
/// `state` is the socket's batched-receive state (`UdpSocketState::new` on it).
pub async fn run(
    socket: UdpSocket,
    state: UdpSocketState,
    sender: TracesSender,
    shutdown: CancellationToken,
) {
    let mut rx = Reader::new(sender, state);
    // One cancellation future for the task's life: registered once, not on every wake-up.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            biased;
            _ = &mut cancelled => break,
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
    /// The socket's batched-receive state (`quinn-udp`).
    state: UdpSocketState,
    /// [`SLOTS`] receive buffers of [`MAX_DATAGRAM`] bytes, back to back.
    slots: Vec<u8>,
    /// What each slot received.
    meta: [RecvMeta; SLOTS],
    last_warning: AtomicU64,
}

impl Reader {
    fn new(sender: TracesSender, state: UdpSocketState) -> Reader {
        Reader {
            sender,
            state,
            slots: vec![0; SLOTS * MAX_DATAGRAM],
            meta: [RecvMeta::default(); SLOTS],
            last_warning: AtomicU64::new(0),
        }
    }

    /// Reads up to `max` datagrams without waiting; returns the valid segments.
    fn drain(&mut self, socket: &UdpSocket, max: usize) -> Vec<Segment> {
        let mut batch = Vec::new();
        let mut now = None;
        // Counted once per burst, not per datagram: the counters are shared and labelled.
        let mut received = 0;
        let mut refused: Vec<(ReceiverRefusal, usize)> = Vec::new();
        let mut left = max;
        while left > 0 {
            let want = left.min(SLOTS);
            let (n, more) = match receive_many(
                socket,
                &self.state,
                &mut self.slots,
                &mut self.meta[..want],
            ) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(receiver = self.sender.receiver(), error = %e, "UDP receive failed.");
                    break;
                }
            };
            // One allocation for the burst's segments (more only if GRO packed slots).
            batch.reserve(n);
            let now = *now.get_or_insert_with(Instant::now);
            for (slot, meta) in self.meta[..n].iter().enumerate() {
                let filled = &self.slots[slot * MAX_DATAGRAM..slot * MAX_DATAGRAM + meta.len];
                // With GRO a slot holds datagrams of `stride` bytes (the last may be shorter).
                let stride = if meta.stride == 0 {
                    meta.len
                } else {
                    meta.stride
                };
                let mut datagrams = filled.chunks(stride.max(1));
                let empty: &[u8] = &[];
                let first = datagrams.next().unwrap_or(empty);
                for bytes in std::iter::once(first).chain(datagrams) {
                    // An exact-size copy (about 1 kB, cheaper than the receive itself): a segment
                    // held in a queue then pins only its own bytes, never a shared chunk of others
                    // that were dropped, so a byte-bounded sending queue bounds memory.
                    let datagram = Bytes::copy_from_slice(bytes);
                    received += 1;
                    match datagram::parse(&datagram, now) {
                        Ok(mut segment) => {
                            // The sender's address, for `k8sattributes` (`pod_association`).
                            segment.source = Some(meta.addr.ip());
                            batch.push(segment);
                        }
                        Err(e) => {
                            match refused.iter_mut().find(|(reason, _)| *reason == e.reason()) {
                                Some((_, n)) => *n += 1,
                                None => refused.push((e.reason(), 1)),
                            }
                            self.warn_malformed(&e, datagram.len(), meta.addr.ip());
                        }
                    }
                }
            }
            left = left.saturating_sub(n);
            if !more {
                // The kernel had no more: the socket is drained for now.
                break;
            }
        }
        let telemetry = self.sender.telemetry();
        let receiver = self.sender.receiver();
        if received > 0 {
            self.sender.counters().received(received);
        }
        for (reason, n) in refused {
            telemetry.receiver_refused(receiver, reason, n);
        }
        batch
    }

    fn warn_malformed(&self, e: &datagram::Malformed, len: usize, source: IpAddr) {
        if self.first_this_second() {
            tracing::warn!(
                receiver = self.sender.receiver(),
                reason = e.reason().as_str(),
                error = %e,
                bytes = len,
                source = %source,
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

/// One `recvmmsg` call without waiting: fills `meta.len()` slots at most; how many, and whether
/// the socket may hold more (every slot was filled). An empty socket is a `WouldBlock` error, and
/// so, to the runtime, is a call that filled fewer slots than it offered: the kernel had no more,
/// so the socket's readiness is cleared then too and the next `readable()` waits for new
/// datagrams, instead of returning at once for a second call that would only find the socket
/// empty. (A datagram that arrives after the call raises a new readiness event either way.)
fn receive_many(
    socket: &UdpSocket,
    state: &UdpSocketState,
    slots: &mut [u8],
    meta: &mut [RecvMeta],
) -> io::Result<(usize, bool)> {
    let want = meta.len().min(SLOTS);
    let mut partial = 0;
    let read = socket.try_io(Interest::READABLE, || {
        let mut chunks = slots.chunks_mut(MAX_DATAGRAM);
        let mut iovs: [IoSliceMut<'_>; SLOTS] =
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
        let n = state.recv(socket.into(), &mut iovs[..want], &mut meta[..want])?;
        if n < want {
            partial = n;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match read {
        Ok(n) => Ok((n, true)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && partial > 0 => Ok((partial, false)),
        Err(e) => Err(e),
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

    /// Batched receives read bursts of any size in order, each datagram whole (up to the largest
    /// UDP payload) with its sender's address, and report an empty socket as `WouldBlock`.
    #[tokio::test]
    async fn batched_receive_reads_whole_datagrams_with_their_source() {
        let cfg = AwsXrayReceiverConfig {
            endpoint: "127.0.0.1:0".to_owned(),
            ..AwsXrayReceiverConfig::default()
        };
        // Keep one socket (the others leave the SO_REUSEPORT group), so every datagram lands on it.
        let socket = bind("awsxray", &cfg).await.unwrap().remove(0);
        let to = socket.local_addr().unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sizes: Vec<usize> = (0..40)
            .map(|i| ([1, 700, 65_507, 9_000][i % 4] + i).min(65_507))
            .collect();
        let state = UdpSocketState::new((&socket).into()).unwrap();
        let mut slots = vec![0u8; SLOTS * MAX_DATAGRAM];
        let mut meta = [RecvMeta::default(); SLOTS];
        for (i, &n) in sizes.iter().enumerate() {
            client.send_to(&vec![b'a' + (i % 26) as u8; n], to).unwrap();
        }
        let mut read = Vec::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while read.len() < sizes.len() && Instant::now() < deadline {
            socket.readable().await.unwrap();
            match receive_many(&socket, &state, &mut slots, &mut meta) {
                Ok((n, _)) => {
                    for (slot, m) in meta[..n].iter().enumerate() {
                        let data = &slots[slot * MAX_DATAGRAM..slot * MAX_DATAGRAM + m.len];
                        assert_eq!(m.addr, client.local_addr().unwrap());
                        assert!(
                            m.stride == 0 || m.stride == m.len,
                            "no GRO for distinct sizes"
                        );
                        read.push((m.len, data[0], data.iter().all(|&b| b == data[0])));
                    }
                }
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            }
        }
        let want: Vec<(usize, u8, bool)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, b'a' + (i % 26) as u8, true))
            .collect();
        assert_eq!(read, want);
        let err = receive_many(&socket, &state, &mut slots, &mut meta).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
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
