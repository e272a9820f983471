//! `xray-collector-bench`: measures the collector's throughput on this machine against a raw
//! ceiling measured in the same run, for four paths: X-Ray segments over UDP or OTLP spans over
//! gRPC in, `PutTraceSegments` (awsxray) or OTLP/HTTP (otlphttp) out.
//!
//! For each path and each rate of a ladder it runs a load generator for a set time against (1) the
//! ceiling (for UDP a plain receive loop that discards; for OTLP gRPC the sink's own gRPC server,
//! which decodes and counts) and (2) a fresh `xray-collector` process exporting to the sink. The
//! sink is a separate process (`xray-collector-bench sink`, module `sink`), so its CPU is reported
//! on its own, as is the generator's. A step has zero loss when every item sent reached the sink
//! (or the ceiling), the kernel counted no drop on the socket and the collector counted no
//! refusal, drop or failure. It reports the highest zero-loss rate of each, the collector's
//! CPU-seconds per million items, its peak RSS and the p50/p99 delay from send to export.
//!
//! ```text
//! cargo build --release -p xray-collector -p xray-collector-bench
//! target/release/xray-collector-bench [--duration 10] [--rates 25000,50000,...]
//!     [--collector target/release/xray-collector] [--only raw|collector]
//!     [--paths udp-awsxray,udp-otlphttp,otlp-awsxray,otlp-otlphttp]   tuned configs of configs/
//!     [--config TEMPLATE.yaml [--input udp|otlp]]                     a config with placeholders
//!     [--rendered CONFIG.yaml]                     a full config or OpenTelemetryCollector manifest
//!     [--stamp]          the --rendered configs in a cluster, each after its plain pass-through
//! target/release/xray-collector-bench sink                            the sink process
//! target/release/xray-collector-bench send --to 127.0.0.1:2000 --count N --rate R [--otlp]
//! ```
//!
//! A config template names what the benchmark fills in per step with upper-case placeholders:
//! `UDP_PORT`, `OTLP_GRPC_PORT`, `OTLP_HTTP_PORT`, `SINK_ENDPOINT` (`http://127.0.0.1:port` of the
//! sink), `HEALTH_PORT`, `METRICS_PORT`, `PROXY_PORT` and `STORAGE_DIR`. `--rendered` takes a
//! config without placeholders (what the blueprint renders) and rewrites it (module `rendered`).
//!
//! `--stamp` runs each `--rendered` config in a cluster (module `cluster`): a Kubernetes API
//! stand-in serves the load generator's address as a pod, so `k8sattributes` and the `eks`
//! detector find it and every document is stamped with the pod's EKS identity, as on EKS. Before
//! each such path the same run measures the plain pass-through config of its input and exporter
//! (the tuned config of `configs/`), and ends with a table of the two. The sink counts the
//! stamped documents (module `sink`); a step of a stamped path counts as zero-loss only when
//! every segment that reached the sink was stamped, so the figure cannot measure unstamped
//! traffic.

mod cluster;
mod doc;
mod load;
mod otlp;
mod procfs;
mod rendered;
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

/// Where the load enters the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// X-Ray daemon datagrams on UDP (the `awsxray` receiver).
    Udp,
    /// OTLP spans over gRPC (the `otlp` receiver), in batches of 512.
    Otlp,
}

impl Input {
    fn parse(s: &str) -> anyhow::Result<Input> {
        match s {
            "udp" => Ok(Input::Udp),
            "otlp" => Ok(Input::Otlp),
            other => bail!("unknown input {other}: udp or otlp"),
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Input::Udp => "segments",
            Input::Otlp => "spans",
        }
    }
}

/// One path to measure: a collector config template and the input it is fed.
#[derive(Debug, Clone)]
struct Path {
    label: String,
    input: Input,
    config: String,
    /// The standard path (`PATHS`) of the same input and exporter, when known.
    kind: Option<&'static str>,
    /// Run in the cluster of `--stamp`: every segment must arrive stamped.
    stamp: bool,
    /// Environment of the collector's pod (the rendered `spec.env` under `--stamp`).
    env: Vec<(String, String)>,
}

impl Path {
    /// The standard path of `PATHS` (its tuned config), labelled as such.
    fn standard(root: &std::path::Path, name: &str) -> anyhow::Result<Path> {
        let (label, input, file) =
            PATHS.iter().find(|(l, _, _)| *l == name).with_context(|| {
                format!(
                    "unknown path {name}: one of {}",
                    PATHS.map(|p| p.0).join(", ")
                )
            })?;
        let file = root.join("collector/bench/configs").join(file);
        Ok(Path {
            label: format!("{label} (tuned)"),
            input: *input,
            config: std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?,
            kind: Some(label),
            stamp: false,
            env: Vec::new(),
        })
    }
}

/// The standard path of an input and an exporter.
fn standard_kind(input: Input, exporter: &str) -> Option<&'static str> {
    PATHS
        .iter()
        .map(|p| p.0)
        .find(|l| *l == format!("{}-{exporter}", input_name(input)))
}

fn input_name(input: Input) -> &'static str {
    match input {
        Input::Udp => "udp",
        Input::Otlp => "otlp",
    }
}

/// The tuned config of each of the four standard paths, in `collector/bench/configs/`.
const PATHS: [(&str, Input, &str); 4] = [
    ("udp-awsxray", Input::Udp, "throughput.yaml"),
    ("udp-otlphttp", Input::Udp, "otlphttp.yaml"),
    ("otlp-awsxray", Input::Otlp, "otlp-awsxray.yaml"),
    ("otlp-otlphttp", Input::Otlp, "otlp-otlphttp.yaml"),
];

struct Args {
    overload: Option<Duration>,
    overload_factor: u64,
    sink_delay_ms: u64,
    queue_bytes: u64,
    duration: Duration,
    rates: Vec<u64>,
    collector: PathBuf,
    paths: Vec<Path>,
    only: Option<String>,
    stamp: bool,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> anyhow::Result<Args> {
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
        paths: Vec::new(),
        only: None,
        stamp: false,
    };
    let mut config: Option<(String, String)> = None;
    let mut rendered: Vec<(String, String)> = Vec::new();
    let mut input = Input::Udp;
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
            "--config" => {
                let file = value()?;
                let text =
                    std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
                config = Some((file, text));
            }
            "--input" => input = Input::parse(&value()?)?,
            "--paths" => {
                for name in value()?.split(',').map(str::trim) {
                    args.paths.push(Path::standard(&root, name)?);
                }
            }
            "--rendered" => {
                let file = value()?;
                let text =
                    std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
                rendered.push((file, text));
            }
            "--stamp" => args.stamp = true,
            "--only" => args.only = Some(value()?),
            "--overload" => args.overload = Some(Duration::from_secs_f64(value()?.parse()?)),
            "--overload-factor" => args.overload_factor = value()?.parse()?,
            "--sink-delay-ms" => args.sink_delay_ms = value()?.parse()?,
            "--queue-bytes" => args.queue_bytes = value()?.parse()?,
            "--help" | "-h" => {
                println!(
                    "usage: xray-collector-bench [--duration SECS] [--rates R1,R2,...] [--collector PATH] [--only raw|collector]\n           [--paths udp-awsxray,udp-otlphttp,otlp-awsxray,otlp-otlphttp] [--config TEMPLATE [--input udp|otlp]] [--rendered CONFIG]... [--stamp]\n       xray-collector-bench --overload SECS [--overload-factor 10] [--sink-delay-ms 250] [--queue-bytes 8388608] [--collector PATH]\n       xray-collector-bench sink\n       xray-collector-bench send --to HOST:PORT --count N --rate R [--otlp]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    if args.stamp && rendered.is_empty() {
        bail!("--stamp measures the --rendered configs: give at least one");
    }
    for (file, text) in rendered {
        let r = rendered::rewrite(&text, args.stamp).with_context(|| file.clone())?;
        for input in r.inputs {
            let kind = standard_kind(input, r.exporter);
            if args.stamp {
                // The plain pass-through of the same input and exporter, first, once.
                let plain = kind.with_context(|| {
                    format!(
                        "{file}: no plain path for {} -> {}",
                        input_name(input),
                        r.exporter
                    )
                })?;
                if !args.paths.iter().any(|p| p.kind == kind && !p.stamp) {
                    args.paths.push(Path::standard(&root, plain)?);
                }
            }
            let mut env = r.env.clone();
            if args.stamp && !env.iter().any(|(k, _)| k == "K8S_CLUSTER_NAME") {
                env.push(("K8S_CLUSTER_NAME".into(), cluster::CLUSTER_NAME.into()));
            }
            args.paths.push(Path {
                label: format!(
                    "{} -> {file}{}",
                    input_name(input),
                    if args.stamp { " (stamped)" } else { "" }
                ),
                input,
                config: r.template.clone(),
                kind,
                stamp: args.stamp,
                env,
            });
        }
    }
    if let Some((file, text)) = config {
        args.paths.push(Path {
            label: file,
            input,
            config: text,
            kind: None,
            stamp: false,
            env: Vec::new(),
        });
    }
    if args.paths.is_empty() {
        args.paths.push(Path {
            label: "udp-awsxray (built-in config)".to_owned(),
            input: Input::Udp,
            config: DEFAULT_CONFIG.to_owned(),
            kind: Some("udp-awsxray"),
            stamp: false,
            env: Vec::new(),
        });
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
    sink_cpu: f64,
    peak_rss: u64,
    p50_ms: f64,
    p99_ms: f64,
    /// With the sink checking stamps: the segments that reached it, and those stamped.
    segments: u64,
    stamped: u64,
    /// Whether every segment must arrive stamped (a path of `--stamp`).
    stamp: bool,
}

impl Step {
    /// Nothing lost: every item sent arrived, and nothing was dropped or counted; on a stamped
    /// path, also every segment stamped.
    fn lossless(&self) -> bool {
        self.sent > 0
            && self.delivered == self.sent
            && self.send_errors == 0
            && self.socket_drops == 0
            && self.refused == 0.0
            && self.dropped == 0.0
            && (!self.stamp || self.all_stamped())
    }

    /// Every segment that reached the sink carried the pod's identity (and there were some).
    fn all_stamped(&self) -> bool {
        self.segments > 0 && self.stamped == self.segments
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
    let mut argv = std::env::args().skip(1).peekable();
    match argv.peek().map(String::as_str) {
        Some("sink") => return sink::serve(),
        Some("send") => {
            argv.next();
            return send(argv);
        }
        _ => {}
    }
    let args = parse_args(argv)?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "# xray-collector-bench: {} s per step, load average at start: {}",
        args.duration.as_secs_f64(),
        load.trim()
    );
    println!(
        "# UDP document: {} bytes per datagram; OTLP: batches of {} spans",
        doc::Template::new(0).len(),
        otlp::BATCH
    );
    let sink = sink::Sink::spawn()?;
    if let Some(seconds) = args.overload {
        return overload(&args, &sink, seconds);
    }
    // The cluster of `--stamp`; the sink checks every path of the run, so that they all cost it
    // the same.
    let cluster = if args.stamp {
        sink.set_stamp(cluster::POD.uid)?;
        let cluster = cluster::Cluster::start()?;
        println!(
            "# --stamp: Kubernetes API stand-in at {} serving pod {}/{} (uid {}) at {}; the sink counts documents carrying the uid",
            cluster.url(),
            cluster::POD.namespace,
            cluster::POD.pod,
            cluster::POD.uid,
            cluster::POD.ip
        );
        Some(cluster)
    } else {
        None
    };
    if args.only.as_deref() != Some("raw") && !args.collector.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p xray-collector`",
            args.collector.display()
        );
    }
    let mut ceilings: Vec<(Input, Vec<Step>)> = Vec::new();
    let mut results: Vec<(&Path, Vec<Step>)> = Vec::new();
    for path in &args.paths {
        let raw_steps = match ceilings.iter().find(|(i, _)| *i == path.input) {
            Some((_, steps)) => steps.clone(),
            None if args.only.as_deref() == Some("collector") => Vec::new(),
            None => {
                let steps = ladder(&args.rates, |rate| match path.input {
                    Input::Udp => raw_step(rate, args.duration),
                    Input::Otlp => raw_otlp_step(&sink, rate, args.duration),
                })?;
                ceilings.push((path.input, steps.clone()));
                steps
            }
        };
        let mut col_steps = Vec::new();
        if args.only.as_deref() != Some("raw") {
            col_steps = ladder(&args.rates, |rate| {
                collector_step(&args, path, &sink, cluster.as_ref(), rate)
            })?;
        }
        report(path, &raw_steps, &col_steps, args.stamp);
        results.push((path, col_steps));
    }
    if args.stamp {
        compare_stamped(&results);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\n# load average at end: {}", load.trim());
    Ok(())
}

/// `send`: a fixed number of items at a fixed rate to a collector started elsewhere (for
/// profiling it under `valgrind --tool=callgrind` or `perf record`).
fn send(mut it: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let (mut to, mut count, mut rate, mut otlp) = (None, 100_000u64, 10_000u64, false);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--to" => to = Some(value()?.parse::<SocketAddr>()?),
            "--count" => count = value()?.parse()?,
            "--rate" => rate = value()?.parse()?,
            "--otlp" => otlp = true,
            other => bail!("send: unknown argument {other}"),
        }
    }
    let to = to.context("send needs --to HOST:PORT")?;
    anyhow::ensure!(rate > 0, "--rate must be positive");
    let duration = Duration::from_secs_f64(count as f64 / rate as f64);
    let sent = if otlp {
        otlp::generate(to, rate, duration)?
    } else {
        load::generate_count(to, rate, count, 0)?
    };
    println!(
        "sent {} errors {} in {:.2} s, generator CPU {:.2} s",
        sent.datagrams,
        sent.errors,
        sent.elapsed.as_secs_f64(),
        sent.cpu_seconds
    );
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

/// The OTLP ceiling: the generator straight to the sink's gRPC server (decode and count).
fn raw_otlp_step(sink: &sink::Sink, rate: u64, duration: Duration) -> anyhow::Result<Step> {
    sink.reset()?;
    let cpu0 = sink.cpu_seconds();
    let sent = otlp::generate(sink.grpc, rate, duration)?;
    settle(|| sink.documents(), sent.datagrams);
    let cpu = sink.cpu_seconds() - cpu0;
    let stats = sink.stats()?;
    Ok(Step {
        rate,
        sent: sent.datagrams,
        send_errors: sent.errors,
        achieved: sent.datagrams as f64 / sent.elapsed.as_secs_f64(),
        delivered: stats.documents,
        cpu_seconds: cpu,
        generator_cpu: sent.cpu_seconds,
        sink_cpu: cpu,
        p50_ms: stats.p50_ms,
        p99_ms: stats.p99_ms,
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

/// A GET over HTTP/1.0 on loopback: the status and the body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
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
    grpc: u16,
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
    env: &[(String, String)],
    sink: &sink::Sink,
    tag: &str,
) -> anyhow::Result<Started> {
    let (udp, health, metrics) = (free_udp_port()?, free_port()?, free_port()?);
    let (grpc, http, proxy) = (free_port()?, free_port()?, free_port()?);
    let dir = std::env::temp_dir().join(format!("xray-bench-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = template
        .replace("UDP_PORT", &udp.to_string())
        .replace("OTLP_GRPC_PORT", &grpc.to_string())
        .replace("OTLP_HTTP_PORT", &http.to_string())
        .replace("PROXY_PORT", &proxy.to_string())
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
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log"))?)
        .spawn()
        .with_context(|| format!("starting {}", args.collector.display()))?;
    let pid = child.id();
    let mut started = Started {
        running: Running(child),
        pid,
        udp,
        grpc,
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

fn collector_step(
    args: &Args,
    path: &Path,
    sink: &sink::Sink,
    cluster: Option<&cluster::Cluster>,
    rate: u64,
) -> anyhow::Result<Step> {
    sink.reset()?;
    let mut env = path.env.clone();
    if path.stamp {
        env.extend(cluster.context("a stamped path without the cluster")?.env());
    }
    let started = start_collector(args, &path.config, &env, sink, &rate.to_string())?;
    if path.stamp {
        // The pod cache fills before the load starts, as it does long before in a cluster.
        wait_metric(
            started.metrics,
            "xray_collector_processor_k8sattributes_api_up",
            1.0,
        )
        .with_context(|| {
            format!(
                "k8sattributes never reached the stand-in: {}",
                std::fs::read_to_string(started.dir.join("stderr.log")).unwrap_or_default()
            )
        })?;
    }
    let (pid, udp, metrics) = (started.pid, started.udp, started.metrics);
    let cpu0 = procfs::cpu_seconds(&pid.to_string()).unwrap_or(0.0);
    let sink_cpu0 = sink.cpu_seconds();
    let (errs0, rcvbuf0) = procfs::udp_errors();
    let drops0 = procfs::socket_drops(udp);
    let sent = match path.input {
        Input::Udp => load::generate(([127, 0, 0, 1], udp).into(), rate, args.duration, 0)?,
        Input::Otlp => otlp::generate(([127, 0, 0, 1], started.grpc).into(), rate, args.duration)?,
    };
    settle(|| sink.documents(), sent.datagrams);
    let cpu1 = procfs::cpu_seconds(&pid.to_string()).unwrap_or(0.0);
    let sink_cpu = sink.cpu_seconds() - sink_cpu0;
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
    let stats = sink.stats()?;
    Ok(Step {
        rate,
        sent: sent.datagrams,
        send_errors: sent.errors,
        achieved: sent.datagrams as f64 / sent.elapsed.as_secs_f64(),
        delivered: stats.documents,
        socket_drops,
        host_in_errors: errs1.saturating_sub(errs0),
        host_rcvbuf_errors: rcvbuf1.saturating_sub(rcvbuf0),
        refused: metric_sum(&text, "xray_collector_receiver_refused_items_total"),
        dropped: metric_sum(&text, "xray_collector_exporter_dropped_items_total")
            + metric_sum(&text, "xray_collector_exporter_failed_items_total"),
        cpu_seconds: cpu1 - cpu0,
        generator_cpu: sent.cpu_seconds,
        sink_cpu,
        peak_rss,
        p50_ms: stats.p50_ms,
        p99_ms: stats.p99_ms,
        segments: stats.segments,
        stamped: stats.stamped,
        stamp: path.stamp,
    })
}

/// Waits (at most 20 s) until the collector's `metric` reaches `want`.
fn wait_metric(port: u16, metric: &str, want: f64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let text = http_get(port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default();
        if metric_sum(&text, metric) >= want {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{metric} did not reach {want} within 20 s")
}

fn best(steps: &[Step]) -> Option<&Step> {
    steps
        .iter()
        .filter(|s| s.zero_loss())
        .max_by_key(|s| s.rate)
}

fn report(path: &Path, raw: &[Step], col: &[Step], stamp_run: bool) {
    let unit = path.input.unit();
    println!("\n# Path: {}\n", path.label);
    if !raw.is_empty() {
        match path.input {
            Input::Udp => println!("## Raw-socket ceiling (plain receive loop that discards)\n"),
            Input::Otlp => println!(
                "## OTLP ceiling (the generator straight to the sink's gRPC server: decode and count)\n"
            ),
        }
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
            "\n## xray-collector ({}, sink in its own process; rates in {unit}/s)\n",
            path.label
        );
        let stamped_head = if stamp_run {
            " stamped / segments |"
        } else {
            ""
        };
        let stamped_rule = if stamp_run { "---:|" } else { "" };
        println!(
            "| target/s | achieved/s | sent | exported | socket drops | host InErrors | refused+dropped+failed | CPU s | CPU s per 1M | peak RSS MiB | p50 ms | p99 ms | generator CPU s | sink CPU s |{stamped_head} zero loss |"
        );
        println!(
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|{stamped_rule}:---:|"
        );
        for s in col {
            let stamped = if stamp_run {
                format!(" {} / {} |", s.stamped, s.segments)
            } else {
                String::new()
            };
            println!(
                "| {} | {:.0} | {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |{stamped} {} |",
                s.rate,
                s.achieved,
                s.sent,
                s.delivered,
                s.socket_drops,
                s.host_in_errors,
                s.refused + s.dropped + s.send_errors as f64,
                s.cpu_seconds,
                s.cpu_per_million(),
                s.peak_rss as f64 / (1024.0 * 1024.0),
                s.p50_ms,
                s.p99_ms,
                s.generator_cpu,
                s.sink_cpu,
                if s.zero_loss() { "yes" } else { "no" }
            );
        }
        if path.stamp {
            let unstamped: Vec<u64> = col
                .iter()
                .filter(|s| !s.all_stamped())
                .map(|s| s.rate)
                .collect();
            if unstamped.is_empty() {
                println!(
                    "\nEvery segment that reached the sink carried the pod's identity, at every step."
                );
            } else {
                println!(
                    "\nNOT STAMPED: at {unstamped:?}/s some segments reached the sink without the pod's identity; those steps do not count as zero-loss (see the collector's log)."
                );
            }
        }
    }
    println!("\n## Summary ({})\n", path.label);
    let raw_best = best(raw);
    let col_best = best(col);
    if let Some(r) = raw_best {
        println!("* Ceiling, highest zero-loss rate: {} {unit}/s", r.rate);
    } else if !raw.is_empty() {
        println!("* Ceiling: no step without loss");
    }
    if let Some(c) = col_best {
        println!(
            "* Collector, highest zero-loss rate: {} {unit}/s; CPU {:.1} s per million {unit}; peak RSS {:.1} MiB; delay p50 {:.1} ms, p99 {:.1} ms",
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

/// `--stamp`: each stamped path against the plain pass-through of its input and exporter, at
/// the rates both ran.
fn compare_stamped(results: &[(&Path, Vec<Step>)]) {
    println!("\n# Stamped (rendered default config, in a cluster) against plain pass-through\n");
    println!(
        "| path | plain: highest zero-loss/s | stamped: highest zero-loss/s | rate/s | plain CPU s per 1M | stamped CPU s per 1M | stamped / plain CPU | plain p99 ms | stamped p99 ms | stamped / segments |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (path, stamped) in results.iter().filter(|(p, _)| p.stamp) {
        let Some((plain, plain_steps)) = results
            .iter()
            .find(|(p, _)| !p.stamp && p.kind == path.kind)
        else {
            continue;
        };
        let rate = |steps: &[Step]| {
            best(steps)
                .map(|s| s.rate.to_string())
                .unwrap_or_else(|| "none".into())
        };
        for s in stamped {
            let Some(p) = plain_steps.iter().find(|p| p.rate == s.rate) else {
                continue;
            };
            println!(
                "| {} vs {} | {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {} / {} |",
                path.label,
                plain.label,
                rate(plain_steps),
                rate(stamped),
                s.rate,
                p.cpu_per_million(),
                s.cpu_per_million(),
                s.cpu_per_million() / p.cpu_per_million(),
                p.p99_ms,
                s.p99_ms,
                s.stamped,
                s.segments
            );
        }
    }
}

/// The overload run: the sink answers each call after `sink_delay_ms`, which makes the X-Ray API
/// the bottleneck at `senders × 50 / delay` documents per second; the generator sends
/// `overload_factor` times that for `seconds`, into a sending queue bounded in bytes. It reports
/// the collector's memory over the run and the accounting of every document sent.
fn overload(args: &Args, sink: &sink::Sink, seconds: Duration) -> anyhow::Result<()> {
    const SENDERS: u64 = 10;
    sink.reset()?;
    sink.set_delay_ms(args.sink_delay_ms)?;
    let sustainable = SENDERS * 50 * 1000 / args.sink_delay_ms.max(1);
    let rate = sustainable * args.overload_factor;
    let template = DEFAULT_CONFIG.replace(
        "    local_mode: true\n",
        &format!(
            "    local_mode: true\n    sending_queue:\n      num_consumers: {SENDERS}\n      sizer: bytes\n      queue_size: {}\n",
            args.queue_bytes
        ),
    );
    let started = start_collector(args, &template, &[], sink, "overload")?;
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
            sink.documents() + counted(&text) as u64 + (procfs::socket_drops(udp) - drops0)
        },
        sent.datagrams,
    );
    let text = http_get(metrics, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let exported = sink.documents();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> anyhow::Result<Args> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    fn golden(name: &str) -> String {
        format!(
            "{}/../../golden/{name}/kubernetes/opentelemetrycollector.yaml",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[test]
    fn stamp_puts_each_plain_pass_through_before_the_stamped_paths_of_its_kind() {
        let a = args(&[
            "--stamp",
            "--rendered",
            &golden("new-cluster-vpc"),
            "--rendered",
            &golden("xray-sdk-migration"),
        ])
        .unwrap();
        let order: Vec<(Option<&str>, bool)> = a.paths.iter().map(|p| (p.kind, p.stamp)).collect();
        assert_eq!(
            order,
            vec![
                (Some("udp-awsxray"), false),
                (Some("udp-awsxray"), true),
                (Some("otlp-awsxray"), false),
                (Some("otlp-awsxray"), true),
                (Some("udp-otlphttp"), false),
                (Some("udp-otlphttp"), true),
                (Some("otlp-otlphttp"), false),
                (Some("otlp-otlphttp"), true),
            ]
        );
        let stamped = &a.paths[1];
        assert!(stamped.config.contains("\"auth_type\": \"kubeConfig\""));
        assert!(
            stamped
                .env
                .contains(&("K8S_CLUSTER_NAME".into(), "payments-tracing".into())),
            "{:?}",
            stamped.env
        );
        assert!(a.paths[0].config.contains("send_batch_size: 50"));
        // A plain config has no cluster name of its own: the benchmark's.
        let plain = tempfile_with(
            "receivers: {awsxray: {}}\nprocessors: {k8sattributes: {}}\nexporters: {awsxray: {region: us-east-1}}\nservice: {pipelines: {traces: {receivers: [awsxray], processors: [k8sattributes], exporters: [awsxray]}}}\n",
        );
        let a = args(&["--stamp", "--rendered", &plain]).unwrap();
        assert!(
            a.paths[1]
                .env
                .contains(&("K8S_CLUSTER_NAME".into(), cluster::CLUSTER_NAME.into()))
        );
        let _ = std::fs::remove_file(plain);
        // Without --stamp nothing changes: no plain path added, no cluster.
        let a = args(&["--rendered", &golden("new-cluster-vpc")]).unwrap();
        assert!(a.paths.iter().all(|p| !p.stamp && p.env.is_empty()));
        assert_eq!(a.paths.len(), 2);
        assert!(args(&["--stamp"]).is_err());
        assert!(args(&["--stamp", "--paths", "udp-awsxray"]).is_err());
    }

    fn tempfile_with(text: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "xray-bench-test-{}-{}.yaml",
            std::process::id(),
            now_ns()
        ));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    #[test]
    fn a_stamped_step_is_zero_loss_only_when_every_segment_arrived_stamped() {
        let step = Step {
            rate: 1000,
            sent: 3000,
            achieved: 1000.0,
            delivered: 3000,
            segments: 3000,
            stamped: 3000,
            stamp: true,
            ..Step::default()
        };
        assert!(step.zero_loss());
        assert!(
            !Step {
                stamped: 2999,
                ..step.clone()
            }
            .zero_loss()
        );
        assert!(
            !Step {
                segments: 0,
                stamped: 0,
                ..step.clone()
            }
            .zero_loss()
        );
        // A plain path is not held to it.
        assert!(
            Step {
                stamped: 0,
                stamp: false,
                ..step
            }
            .zero_loss()
        );
    }
}
