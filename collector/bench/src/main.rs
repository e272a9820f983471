//! `xray-collector-bench`: measures the collector's UDP-to-X-Ray throughput on this machine
//! against a raw-socket ceiling measured in the same run.
//!
//! For each rate of a ladder it runs the load generator for a set time against (1) a plain
//! receive loop that discards (the ceiling) and (2) a fresh `xray-collector` process exporting to
//! a local sink (PutTraceSegments, or OTLP/HTTP with `--config collector/bench/configs/otlphttp.yaml`).
//! A step has zero loss when every datagram sent reached the sink (or, for the ceiling, the loop)
//! and the kernel counted no drop on the socket. It reports the
//! highest zero-loss rate of each, the collector's CPU-seconds per million segments, its peak RSS
//! and the p50/p99 delay from send to export.
//!
//! ```text
//! cargo build --release -p xray-collector -p xray-collector-bench
//! target/release/xray-collector-bench [--duration 10] [--rates 25000,50000,...]
//!     [--collector target/release/xray-collector] [--config template.yaml] [--only raw|collector]
//! ```

mod doc;
mod load;
mod procfs;
mod sink;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

/// Nanoseconds since the Unix epoch (the clock shared by the generator and the sink).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The kernel receive buffer both receivers ask for (the collector's default).
const RECV_BUFFER: usize = 8 << 20;

/// The collector configuration of a run; the placeholders are replaced per step.
const DEFAULT_CONFIG: &str = r#"receivers:
  awsxray:
    endpoint: 127.0.0.1:UDP_PORT
processors:
  batch:
    send_batch_size: 50
    timeout: 200ms
exporters:
  awsxray:
    region: us-east-1
    endpoint: SINK_ENDPOINT
    local_mode: true
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch]
      exporters: [awsxray]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: METRICS_PORT
"#;

struct Args {
    overload: Option<Duration>,
    overload_factor: u64,
    sink_delay_ms: u64,
    queue_bytes: u64,
    duration: Duration,
    rates: Vec<u64>,
    collector: PathBuf,
    config: String,
    only: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = Args {
        overload: None,
        overload_factor: 10,
        sink_delay_ms: 250,
        queue_bytes: 8 << 20,
        duration: Duration::from_secs(10),
        rates: vec![
            25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000, 250_000, 300_000,
        ],
        collector: root.join("target/release/xray-collector"),
        config: DEFAULT_CONFIG.to_owned(),
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--duration" => args.duration = Duration::from_secs_f64(value()?.parse()?),
            "--rates" => {
                args.rates = value()?
                    .split(',')
                    .map(|r| r.trim().parse::<u64>())
                    .collect::<Result<_, _>>()?
            }
            "--collector" => args.collector = value()?.into(),
            "--config" => args.config = std::fs::read_to_string(value()?)?,
            "--only" => args.only = Some(value()?),
            "--overload" => args.overload = Some(Duration::from_secs_f64(value()?.parse()?)),
            "--overload-factor" => args.overload_factor = value()?.parse()?,
            "--sink-delay-ms" => args.sink_delay_ms = value()?.parse()?,
            "--queue-bytes" => args.queue_bytes = value()?.parse()?,
            "--help" | "-h" => {
                println!(
                    "usage: xray-collector-bench [--duration SECS] [--rates R1,R2,...] [--collector PATH] [--config TEMPLATE] [--only raw|collector]\n       xray-collector-bench --overload SECS [--overload-factor 10] [--sink-delay-ms 250] [--queue-bytes 8388608] [--collector PATH]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    Ok(args)
}

/// One step of the ladder.
#[derive(Debug, Default, Clone)]
struct Step {
    rate: u64,
    sent: u64,
    send_errors: u64,
    achieved: f64,
    delivered: u64,
    socket_drops: u64,
    host_in_errors: u64,
    host_rcvbuf_errors: u64,
    refused: f64,
    dropped: f64,
    cpu_seconds: f64,
    generator_cpu: f64,
    peak_rss: u64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Step {
    /// Nothing lost: every datagram sent arrived, and nothing was dropped or counted.
    fn lossless(&self) -> bool {
        self.delivered == self.sent
            && self.send_errors == 0
            && self.socket_drops == 0
            && self.refused == 0.0
            && self.dropped == 0.0
    }

    /// Lossless at the target rate (the generator reached 98 % of it).
    fn zero_loss(&self) -> bool {
        self.lossless() && self.achieved >= 0.98 * self.rate as f64
    }

    fn cpu_per_million(&self) -> f64 {
        if self.delivered == 0 {
            f64::NAN
        } else {
            self.cpu_seconds / (self.delivered as f64 / 1e6)
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "# xray-collector-bench: {} s per step, load average at start: {}",
        args.duration.as_secs_f64(),
        load.trim()
    );
    println!(
        "# document: {} bytes per datagram",
        doc::Template::new(0).len()
    );
    if let Some(seconds) = args.overload {
        return overload(&args, seconds);
    }
    let mut raw_steps = Vec::new();
    let mut col_steps = Vec::new();
    if args.only.as_deref() != Some("collector") {
        raw_steps = ladder(&args.rates, |rate| raw_step(rate, args.duration))?;
    }
    if args.only.as_deref() != Some("raw") {
        if !args.collector.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p xray-collector`",
                args.collector.display()
            );
        }
        let sink = sink::start()?;
        col_steps = ladder(&args.rates, |rate| collector_step(&args, &sink, rate))?;
    }
    report(&raw_steps, &col_steps);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\n# load average at end: {}", load.trim());
    Ok(())
}

/// Runs the steps in order, stopping after two consecutive steps with loss.
fn ladder(
    rates: &[u64],
    mut step: impl FnMut(u64) -> anyhow::Result<Step>,
) -> anyhow::Result<Vec<Step>> {
    let mut out = Vec::new();
    let mut lossy = 0;
    for &rate in rates {
        let s = step(rate)?;
        eprintln!("{s:?}");
        lossy = if s.zero_loss() { 0 } else { lossy + 1 };
        out.push(s);
        if lossy == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(out)
}

fn raw_step(rate: u64, duration: Duration) -> anyhow::Result<Step> {
    let rx = load::RawReceiver::start(RECV_BUFFER)?;
    let (errs0, rcvbuf0) = procfs::udp_errors();
    let drops0 = procfs::socket_drops(rx.addr.port());
    let sent = load::generate(rx.addr, rate, duration, 0)?;
    settle(|| rx.received.load(Ordering::Relaxed), sent.datagrams);
    let socket_drops = procfs::socket_drops(rx.addr.port()) - drops0;
    let (errs1, rcvbuf1) = procfs::udp_errors();
    let delivered = rx.received.load(Ordering::Relaxed);
    let cpu = rx.stop();
    Ok(Step {
        rate,
        sent: sent.datagrams,
        send_errors: sent.errors,
        achieved: sent.datagrams as f64 / sent.elapsed.as_secs_f64(),
        delivered,
        socket_drops,
        host_in_errors: errs1.saturating_sub(errs0),
        host_rcvbuf_errors: rcvbuf1.saturating_sub(rcvbuf0),
        cpu_seconds: cpu,
        generator_cpu: sent.cpu_seconds,
        ..Step::default()
    })
}

/// Waits until `count()` reaches `want`, or has not moved for two seconds (at most 30 s).
fn settle(count: impl Fn() -> u64, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = (count(), Instant::now());
    while Instant::now() < deadline {
        let now = count();
        if now >= want {
            return;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(2) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn free_udp_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn metric_sum(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

/// A collector process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A collector started for one measurement, with its ports.
struct Started {
    running: Running,
    pid: u32,
    udp: u16,
    metrics: u16,
    dir: PathBuf,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.running.0.kill();
        let _ = self.running.0.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the collector with `template` exporting to `sink`, and waits until it is healthy.
fn start_collector(
    args: &Args,
    template: &str,
    sink: &sink::Sink,
    tag: &str,
) -> anyhow::Result<Started> {
    let (udp, health, metrics) = (free_udp_port()?, free_port()?, free_port()?);
    let dir = std::env::temp_dir().join(format!("xray-bench-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = template
        .replace("UDP_PORT", &udp.to_string())
        .replace("SINK_ENDPOINT", &format!("http://{}", sink.addr))
        .replace("HEALTH_PORT", &health.to_string())
        .replace("METRICS_PORT", &metrics.to_string())
        .replace("STORAGE_DIR", &dir.display().to_string());
    let path = dir.join("collector.yaml");
    std::fs::write(&path, config)?;
    let child = Command::new(&args.collector)
        .arg(format!("--config={}", path.display()))
        .envs([
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", "xray_collector=warn"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log"))?)
        .spawn()
        .with_context(|| format!("starting {}", args.collector.display()))?;
    let pid = child.id();
    let mut started = Started {
        running: Running(child),
        pid,
        udp,
        metrics,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(health, "/").is_none_or(|(s, _)| s != 200) {
        if let Some(status) = started.running.0.try_wait()? {
            bail!(
                "collector exited with {status}: {}",
                std::fs::read_to_string(started.dir.join("stderr.log")).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            bail!("collector not healthy within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(started)
}

fn collector_step(args: &Args, sink: &sink::Sink, rate: u64) -> anyhow::Result<Step> {
    sink.state.reset();
    let started = start_collector(args, &args.config, sink, &rate.to_string())?;
    let (pid, udp, metrics) = (started.pid, started.udp, started.metrics);
    let cpu0 = procfs::cpu_seconds(&pid.to_string()).unwrap_or(0.0);
    let (errs0, rcvbuf0) = procfs::udp_errors();
    let drops0 = procfs::socket_drops(udp);
    let to: SocketAddr = ([127, 0, 0, 1], udp).into();
    let sent = load::generate(to, rate, args.duration, 0)?;
    settle(
        || sink.state.documents.load(Ordering::SeqCst),
        sent.datagrams,
    );
    let cpu1 = procfs::cpu_seconds(&pid.to_string()).unwrap_or(0.0);
    let peak_rss = procfs::peak_rss(pid).unwrap_or(0);
    let socket_drops = procfs::socket_drops(udp) - drops0;
    let (errs1, rcvbuf1) = procfs::udp_errors();
    let text = http_get(metrics, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default();
    // The counters behind a loss, by reason, for the log of the run.
    for line in text.lines().filter(|l| {
        !l.starts_with('#')
            && ["refused_items", "dropped_items", "failed_items"]
                .iter()
                .any(|m| l.contains(m))
    }) {
        eprintln!("  rate {rate}: {line}");
    }
    drop(started);
    let mut delays = std::mem::take(&mut *sink.state.delays_us.lock().expect("delays lock"));
    delays.sort_unstable();
    let pct = |p: f64| {
        if delays.is_empty() {
            f64::NAN
        } else {
            let i = ((delays.len() as f64 * p) as usize).min(delays.len() - 1);
            f64::from(delays[i]) / 1000.0
        }
    };
    Ok(Step {
        rate,
        sent: sent.datagrams,
        send_errors: sent.errors,
        achieved: sent.datagrams as f64 / sent.elapsed.as_secs_f64(),
        delivered: sink.state.documents.load(Ordering::SeqCst),
        socket_drops,
        host_in_errors: errs1.saturating_sub(errs0),
        host_rcvbuf_errors: rcvbuf1.saturating_sub(rcvbuf0),
        refused: metric_sum(&text, "xray_collector_receiver_refused_items_total"),
        dropped: metric_sum(&text, "xray_collector_exporter_dropped_items_total")
            + metric_sum(&text, "xray_collector_exporter_failed_items_total"),
        cpu_seconds: cpu1 - cpu0,
        generator_cpu: sent.cpu_seconds,
        peak_rss,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

fn best(steps: &[Step]) -> Option<&Step> {
    steps
        .iter()
        .filter(|s| s.zero_loss())
        .max_by_key(|s| s.rate)
}

fn report(raw: &[Step], col: &[Step]) {
    if !raw.is_empty() {
        println!("\n## Raw-socket ceiling (plain receive loop that discards)\n");
        println!(
            "| target/s | achieved/s | sent | received | socket drops | host InErrors | host RcvbufErrors | receiver CPU s | generator CPU s | zero loss |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
        for s in raw {
            println!(
                "| {} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
                s.rate,
                s.achieved,
                s.sent,
                s.delivered,
                s.socket_drops,
                s.host_in_errors,
                s.host_rcvbuf_errors,
                s.cpu_seconds,
                s.generator_cpu,
                if s.zero_loss() { "yes" } else { "no" }
            );
        }
    }
    if !col.is_empty() {
        println!(
            "\n## xray-collector (UDP -> batch -> the config's exporter -> local PutTraceSegments or OTLP/HTTP sink)\n"
        );
        println!(
            "| target/s | achieved/s | sent | exported | socket drops | host InErrors | refused+dropped+failed | CPU s | CPU s per 1M | peak RSS MiB | p50 ms | p99 ms | zero loss |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
        for s in col {
            println!(
                "| {} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                s.rate,
                s.achieved,
                s.sent,
                s.delivered,
                s.socket_drops,
                s.host_in_errors,
                s.refused + s.dropped,
                s.cpu_seconds,
                s.cpu_per_million(),
                s.peak_rss as f64 / (1024.0 * 1024.0),
                s.p50_ms,
                s.p99_ms,
                if s.zero_loss() { "yes" } else { "no" }
            );
        }
    }
    println!("\n## Summary\n");
    let raw_best = best(raw);
    let col_best = best(col);
    if let Some(r) = raw_best {
        println!(
            "* Raw-socket ceiling, highest zero-loss rate: {} /s",
            r.rate
        );
    } else if !raw.is_empty() {
        println!("* Raw-socket ceiling: no step without loss");
    }
    if let Some(c) = col_best {
        println!(
            "* Collector, highest zero-loss rate: {} /s; CPU {:.1} s per million segments; peak RSS {:.1} MiB; delay p50 {:.1} ms, p99 {:.1} ms",
            c.rate,
            c.cpu_per_million(),
            c.peak_rss as f64 / (1024.0 * 1024.0),
            c.p50_ms,
            c.p99_ms
        );
    } else if !col.is_empty() {
        println!("* Collector: no step without loss");
    }
    if let (Some(r), Some(c)) = (raw_best, col_best) {
        println!(
            "* Collector / ceiling (target rates): {:.0} %",
            100.0 * c.rate as f64 / r.rate as f64
        );
    }
    // Where the generator fell short of a target, the rate it did reach still counts if nothing
    // was lost: the highest such achieved rate of each side.
    let achieved = |steps: &[Step]| {
        steps
            .iter()
            .filter(|s| s.lossless())
            .map(|s| s.achieved)
            .fold(0.0f64, f64::max)
    };
    let (ra, ca) = (achieved(raw), achieved(col));
    if ra > 0.0 && ca > 0.0 {
        println!(
            "* Highest achieved rate without loss: ceiling {ra:.0} /s, collector {ca:.0} /s ({:.0} %)",
            100.0 * ca / ra
        );
    }
}

/// The overload run: the sink answers each call after `sink_delay_ms`, which makes the X-Ray API
/// the bottleneck at `senders × 50 / delay` documents per second; the generator sends
/// `overload_factor` times that for `seconds`, into a sending queue bounded in bytes. It reports
/// the collector's memory over the run and the accounting of every document sent.
fn overload(args: &Args, seconds: Duration) -> anyhow::Result<()> {
    const SENDERS: u64 = 10;
    let sink = sink::start()?;
    sink.state
        .delay_ms
        .store(args.sink_delay_ms, Ordering::Relaxed);
    let sustainable = SENDERS * 50 * 1000 / args.sink_delay_ms.max(1);
    let rate = sustainable * args.overload_factor;
    let template = DEFAULT_CONFIG.replace(
        "    local_mode: true\n",
        &format!(
            "    local_mode: true\n    sending_queue:\n      num_consumers: {SENDERS}\n      sizer: bytes\n      queue_size: {}\n",
            args.queue_bytes
        ),
    );
    let started = start_collector(args, &template, &sink, "overload")?;
    let to: SocketAddr = ([127, 0, 0, 1], started.udp).into();
    println!(
        "# overload: X-Ray API sustains {sustainable}/s (10 senders x 50 documents / {} ms); sending {rate}/s for {} s; queue bound {} bytes",
        args.sink_delay_ms,
        seconds.as_secs(),
        args.queue_bytes
    );
    let drops0 = procfs::socket_drops(started.udp);
    let generator = std::thread::spawn(move || load::generate(to, rate, seconds, 0));
    let mut samples = Vec::new();
    let begin = Instant::now();
    while !generator.is_finished() {
        std::thread::sleep(Duration::from_secs(1));
        samples.push((
            begin.elapsed().as_secs(),
            procfs::rss(started.pid).unwrap_or(0),
        ));
    }
    let sent = generator
        .join()
        .map_err(|_| anyhow::format_err!("generator panicked"))??;
    let counted = |text: &str| {
        metric_sum(text, "xray_collector_receiver_refused_items_total")
            + metric_sum(text, "xray_collector_exporter_dropped_items_total")
            + metric_sum(text, "xray_collector_exporter_failed_items_total")
    };
    let metrics = started.metrics;
    let udp = started.udp;
    settle(
        || {
            let text = http_get(metrics, "/metrics")
                .map(|(_, b)| b)
                .unwrap_or_default();
            sink.state.documents.load(Ordering::SeqCst)
                + counted(&text) as u64
                + (procfs::socket_drops(udp) - drops0)
        },
        sent.datagrams,
    );
    let text = http_get(metrics, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let exported = sink.state.documents.load(Ordering::SeqCst);
    let socket_drops = procfs::socket_drops(udp) - drops0;
    let peak = procfs::peak_rss(started.pid).unwrap_or(0);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("\n| second | RSS MiB |\n|---:|---:|");
    for (t, rss) in samples.iter().step_by(5) {
        println!("| {t} | {:.1} |", mib(*rss));
    }
    println!("\n| quantity | documents |\n|---|---:|");
    println!("| sent by the generator | {} |", sent.datagrams);
    println!(
        "| achieved input rate /s | {:.0} |",
        sent.datagrams as f64 / sent.elapsed.as_secs_f64()
    );
    println!("| exported (reached the API) | {exported} |");
    for line in text.lines().filter(|l| {
        !l.starts_with('#')
            && (l.starts_with("xray_collector_receiver_refused_items_total")
                || l.starts_with("xray_collector_exporter_dropped_items_total")
                || l.starts_with("xray_collector_exporter_failed_items_total"))
    }) {
        let (name, value) = line.rsplit_once(' ').unwrap_or((line, ""));
        println!("| counted: `{name}` | {value} |");
    }
    println!("| dropped by the kernel (socket drops) | {socket_drops} |");
    let accounted = exported + counted(&text) as u64 + socket_drops;
    println!(
        "| unaccounted (sent - exported - counted - kernel drops) | {} |",
        sent.datagrams as i64 - accounted as i64
    );
    println!(
        "\n* peak RSS (VmHWM) {:.1} MiB; largest RSS sample {:.1} MiB",
        mib(peak),
        mib(samples.iter().map(|s| s.1).max().unwrap_or(0))
    );
    Ok(())
}
