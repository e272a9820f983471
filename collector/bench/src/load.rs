//! The UDP load generator and the raw-socket ceiling.
//!
//! The generator sends the benchmark document at a set rate for a set time from one thread
//! through [`SOURCES`] client sockets, pacing in 1 ms slots (it sends what is due, then sleeps
//! until the next slot), so bursts are at most one slot's worth. The ceiling is a plain blocking receive loop that discards: what this
//! machine can take in on one UDP socket with the same kernel buffer, while the generator runs.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::doc::Template;

/// What the generator did.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Datagrams sent.
    pub datagrams: u64,
    /// Send errors (each is a datagram not sent, and not counted in `datagrams`).
    pub errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// CPU seconds the generator thread used.
    pub cpu_seconds: f64,
}

/// Client sockets the generator rotates over: like several application pods, several source
/// ports, so a receiver with several `SO_REUSEPORT` sockets sees its load spread by the kernel.
pub const SOURCES: usize = 8;

/// Sends `rate` datagrams per second to `to` for `duration`, numbering documents from `first`.
pub fn generate(to: SocketAddr, rate: u64, duration: Duration, first: u64) -> anyhow::Result<Sent> {
    generate_count(to, rate, rate * duration.as_millis() as u64 / 1000, first)
}

/// Sends `total` datagrams to `to` at `rate` per second, numbering documents from `first`.
pub fn generate_count(to: SocketAddr, rate: u64, total: u64, first: u64) -> anyhow::Result<Sent> {
    let mut sockets = Vec::with_capacity(SOURCES);
    for _ in 0..SOURCES {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.connect(to)?;
        sockets.push(socket);
    }
    let epoch = crate::now_ns() / 1_000_000_000;
    let template = Template::new(epoch);
    let mut buf = template.buffer();
    let cpu0 = crate::procfs::cpu_seconds("thread-self").unwrap_or(0.0);
    let start = Instant::now();
    let (mut sent, mut errors) = (0u64, 0u64);
    while sent + errors < total {
        let elapsed = start.elapsed();
        let due = ((rate as u128 * elapsed.as_micros()) / 1_000_000).min(total as u128) as u64;
        while sent + errors < due {
            template.fill(&mut buf, first + sent + errors, crate::now_ns());
            let socket = &sockets[((sent + errors) % SOURCES as u64) as usize];
            match socket.send(&buf) {
                Ok(_) => sent += 1,
                Err(_) => errors += 1,
            }
        }
        if sent + errors < total {
            // Sleep to the next 1 ms slot.
            let next = Duration::from_millis(elapsed.as_millis() as u64 + 1);
            if let Some(wait) = next.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu_seconds = crate::procfs::cpu_seconds("thread-self").unwrap_or(0.0) - cpu0;
    Ok(Sent {
        datagrams: sent,
        errors,
        elapsed,
        cpu_seconds,
    })
}

/// The raw-socket receiver: counts and discards datagrams until stopped.
pub struct RawReceiver {
    pub addr: SocketAddr,
    pub received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<f64>>,
}

impl RawReceiver {
    /// Binds a loopback UDP socket asking for `recv_buffer` bytes of kernel buffer, and starts
    /// the receive loop.
    pub fn start(recv_buffer: usize) -> anyhow::Result<RawReceiver> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        let _ = s.set_recv_buffer_size(recv_buffer);
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        let socket: UdpSocket = s.into();
        let addr = socket.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, st) = (received.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("raw-ceiling".into())
            .spawn(move || {
                let cpu0 = crate::procfs::cpu_seconds("thread-self").unwrap_or(0.0);
                let mut buf = vec![0u8; 65_536];
                loop {
                    match socket.recv(&mut buf) {
                        Ok(_) => {
                            r.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) if st.load(Ordering::Relaxed) => break,
                        Err(_) => {}
                    }
                }
                crate::procfs::cpu_seconds("thread-self").unwrap_or(0.0) - cpu0
            })?;
        Ok(RawReceiver {
            addr,
            received,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the loop once the socket is idle; returns the CPU seconds it used.
    pub fn stop(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(0.0)
    }
}
