//! The collector config: OpenTelemetry collector YAML (`receivers`, `processors`, `exporters`,
//! `extensions`, `connectors`, `service`), read in three steps.
//!
//! 1. Parse: YAML to a JSON value with a source map; `${env:VAR}` expanded (see `yaml`, `expand`).
//! 2. Type: each component's settings into its `*Config` struct, chosen by a closed `match` on the
//!    component type (see [`ReceiverConfig`] and friends). Unknown keys are errors.
//! 3. Validate: pipelines refer to defined, supported components; settings are in range.
//!
//! Every problem is reported at once, located as `file:line:column: path: message`.
//! Only `traces` pipelines run. Other pipelines (real configs mix in metrics) and the components
//! only they use are reported as warnings and skipped, so the trace part of ADOT configs loads
//! unchanged. These types know nothing about tokio or sockets.

pub mod duration;
pub mod expand;
pub mod exporters;
pub mod extensions;
pub mod id;
pub mod processors;
pub mod receivers;
pub mod service;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use self::exporters::{
    AwsXrayExporterConfig, DebugExporterConfig, FileExporterConfig, OtlpHttpExporterConfig,
    QueueConfig, RetryConfig,
};
use self::extensions::{FileStorageConfig, HealthCheckConfig, SigV4AuthConfig};
use self::id::{ComponentId, PipelineId, Signal};
use self::processors::BatchConfig;
use self::receivers::{AwsXrayReceiverConfig, OtlpReceiverConfig};
use self::service::ServiceConfig;
use self::yaml::{Position, SourceMap};

/// Receiver types this collector runs.
pub const RECEIVER_TYPES: &[&str] = &["awsxray", "otlp"];
/// Processor types this collector runs.
pub const PROCESSOR_TYPES: &[&str] = &["batch"];
/// Exporter types this collector runs.
pub const EXPORTER_TYPES: &[&str] = &["awsxray", "debug", "file", "otlphttp"];
/// Extension types this collector runs.
pub const EXTENSION_TYPES: &[&str] = &["file_storage", "health_check", "sigv4auth"];

/// A validated config: typed components and the `traces` pipelines.
#[derive(Clone, Debug)]
pub struct Config {
    pub receivers: BTreeMap<ComponentId, ReceiverConfig>,
    pub processors: BTreeMap<ComponentId, ProcessorConfig>,
    pub exporters: BTreeMap<ComponentId, ExporterConfig>,
    pub extensions: BTreeMap<ComponentId, ExtensionConfig>,
    /// `service`, with only the `traces` pipelines and the supported extensions.
    pub service: ServiceConfig,
}

/// A receiver's settings, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum ReceiverConfig {
    AwsXray(AwsXrayReceiverConfig),
    Otlp(OtlpReceiverConfig),
}

/// A processor's settings, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum ProcessorConfig {
    Batch(BatchConfig),
}

/// An exporter's settings, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum ExporterConfig {
    AwsXray(Box<AwsXrayExporterConfig>),
    Debug(DebugExporterConfig),
    File(FileExporterConfig),
    OtlpHttp(Box<OtlpHttpExporterConfig>),
}

/// An extension's settings, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtensionConfig {
    HealthCheck(HealthCheckConfig),
    FileStorage(FileStorageConfig),
    SigV4Auth(SigV4AuthConfig),
}

/// A located problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub position: Option<Position>,
    /// Dotted path of the offending key, e.g. `exporters.awsxray.region`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a config, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A config that loaded, with the warnings to log (skipped pipelines and components).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates a config file, expanding variables from the process environment.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![Diagnostic {
            file: file.clone(),
            position: None,
            path: String::new(),
            message: format!("cannot read config: {e}"),
        }])
    })?;
    load_str(&text, &file, &|name| std::env::var(name).ok())
}

/// Reads and validates config text; `file` names it in diagnostics.
pub fn load_str(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigErrors> {
    let (value, map) = yaml::parse(text, env).map_err(|errs| {
        ConfigErrors(
            errs.into_iter()
                .map(|e| Diagnostic {
                    file: file.to_owned(),
                    position: Some(e.position),
                    path: dotted(&e.pointer),
                    message: e.message,
                })
                .collect(),
        )
    })?;
    let mut ctx = Ctx {
        file,
        map: &map,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let config = build(&value, &mut ctx);
    let mut errors = ctx.errors;
    if errors.is_empty() {
        if let Some(config) = config {
            let mut warnings = ctx.warnings;
            warnings.sort_by_key(|d| d.position.map(|p| (p.line, p.column)));
            return Ok(Loaded { config, warnings });
        }
    }
    errors.sort_by_key(|d| d.position.map(|p| (p.line, p.column)));
    errors.dedup();
    Err(ConfigErrors(errors))
}

struct Ctx<'a> {
    file: &'a str,
    map: &'a SourceMap,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn diagnostic(&self, pointer: &str, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            position: self.map.locate(pointer),
            path: dotted(pointer),
            message,
        }
    }

    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        let d = self.diagnostic(pointer, message.into());
        self.errors.push(d);
    }

    fn warn(&mut self, pointer: &str, message: impl Into<String>) {
        let d = self.diagnostic(pointer, message.into());
        self.warnings.push(d);
    }

    /// Deserializes `value` (null meaning "all defaults") into `T`, reporting a located error.
    fn typed<T: DeserializeOwned>(&mut self, value: &Value, pointer: &str) -> Option<T> {
        let value = if value.is_null() {
            Value::Object(serde_json::Map::new())
        } else {
            value.clone()
        };
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut p = pointer.to_owned();
                for segment in e.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => {
                            p.push_str(&format!("/{index}"))
                        }
                        serde_path_to_error::Segment::Map { key } => {
                            p.push_str(&format!("/{}", yaml::escape_token(key)))
                        }
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let message = e.into_inner().to_string();
                if let Some(field) = unknown_field(&message) {
                    if !p.ends_with(&format!("/{}", yaml::escape_token(field))) {
                        p.push_str(&format!("/{}", yaml::escape_token(field)));
                    }
                }
                self.error(&p, message);
                None
            }
        }
    }
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(&rest[..rest.find('`')?])
}

/// `/exporters/awsxray~1x/region` becomes `exporters.awsxray/x.region`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// The top level, with component settings kept raw until their type is known.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    receivers: Option<BTreeMap<String, Value>>,
    processors: Option<BTreeMap<String, Value>>,
    exporters: Option<BTreeMap<String, Value>>,
    extensions: Option<BTreeMap<String, Value>>,
    connectors: Option<BTreeMap<String, Value>>,
    service: Value,
}

/// One component section (`receivers`, ...): the ids defined, their raw settings and pointers.
struct Section {
    name: &'static str,
    supported: &'static [&'static str],
    defined: BTreeMap<ComponentId, (Value, String)>,
}

impl Section {
    fn read(
        ctx: &mut Ctx,
        name: &'static str,
        supported: &'static [&'static str],
        raw: Option<BTreeMap<String, Value>>,
    ) -> Section {
        let mut defined = BTreeMap::new();
        for (key, value) in raw.unwrap_or_default() {
            let pointer = format!("/{name}/{}", yaml::escape_token(&key));
            match key.parse::<ComponentId>() {
                Ok(id) => {
                    defined.insert(id, (value, pointer));
                }
                Err(e) => ctx.error(&pointer, e.to_string()),
            }
        }
        Section {
            name,
            supported,
            defined,
        }
    }

    fn is_supported(&self, id: &ComponentId) -> bool {
        self.supported.contains(&id.kind())
    }

    fn singular(&self) -> &'static str {
        self.name.trim_end_matches('s')
    }
}

fn build(value: &Value, ctx: &mut Ctx) -> Option<Config> {
    let raw: RawConfig = ctx.typed(value, "")?;
    let receivers = Section::read(ctx, "receivers", RECEIVER_TYPES, raw.receivers);
    let processors = Section::read(ctx, "processors", PROCESSOR_TYPES, raw.processors);
    let exporters = Section::read(ctx, "exporters", EXPORTER_TYPES, raw.exporters);
    let extensions = Section::read(ctx, "extensions", EXTENSION_TYPES, raw.extensions);
    let connectors = Section::read(ctx, "connectors", &[], raw.connectors);

    if raw.service.is_null() {
        ctx.error("", "the config has no `service` section");
        return None;
    }
    let mut service: ServiceConfig = ctx.typed(&raw.service, "/service")?;
    if service.pipelines.is_empty() {
        ctx.error(
            "/service",
            "`service.pipelines` is empty: define a `traces` pipeline",
        );
    }

    // Which pipelines use each component, to name them in messages.
    let mut used_by: BTreeMap<(&'static str, ComponentId), Vec<PipelineId>> = BTreeMap::new();
    let mut trace_pipelines = BTreeMap::new();
    for (pid, pipeline) in &service.pipelines {
        let ppointer = format!(
            "/service/pipelines/{}",
            yaml::escape_token(&pid.to_string())
        );
        let is_traces = pid.signal() == Signal::Traces;
        let lists: [(&str, &Vec<ComponentId>, [&Section; 2]); 3] = [
            ("receivers", &pipeline.receivers, [&receivers, &connectors]),
            (
                "processors",
                &pipeline.processors,
                [&processors, &processors],
            ),
            ("exporters", &pipeline.exporters, [&exporters, &connectors]),
        ];
        for (list_name, ids, sections) in lists {
            let mut seen = BTreeSet::new();
            for (i, id) in ids.iter().enumerate() {
                let item = format!("{ppointer}/{list_name}/{i}");
                let Some(section) = sections.iter().find(|s| s.defined.contains_key(id)) else {
                    let message = format!(
                        "pipeline `{pid}` references {} `{id}`, which is not defined in `{list_name}`",
                        list_name.trim_end_matches('s')
                    );
                    if is_traces {
                        ctx.error(&item, message);
                    } else {
                        ctx.warn(&item, message);
                    }
                    continue;
                };
                if !seen.insert(id.clone()) {
                    ctx.error(&item, format!("pipeline `{pid}` lists `{id}` twice"));
                }
                used_by
                    .entry((section.name, id.clone()))
                    .or_default()
                    .push(pid.clone());
            }
        }
        if is_traces {
            if pipeline.receivers.is_empty() {
                ctx.error(
                    &ppointer,
                    format!("pipeline `{pid}` must have at least one receiver"),
                );
            }
            if pipeline.exporters.is_empty() {
                ctx.error(
                    &ppointer,
                    format!("pipeline `{pid}` must have at least one exporter"),
                );
            }
            trace_pipelines.insert(pid.clone(), pipeline.clone());
        } else {
            ctx.warn(
                &ppointer,
                format!("pipeline `{pid}` is skipped: xray-collector runs `traces` pipelines only"),
            );
        }
    }

    // Unsupported components: an error when a traces pipeline uses them, a warning otherwise.
    for section in [
        &receivers,
        &processors,
        &exporters,
        &extensions,
        &connectors,
    ] {
        for (id, (_, pointer)) in &section.defined {
            if section.is_supported(id) {
                continue;
            }
            let pipelines = used_by
                .get(&(section.name, id.clone()))
                .cloned()
                .unwrap_or_default();
            let traces: Vec<String> = pipelines
                .iter()
                .filter(|p| p.signal() == Signal::Traces)
                .map(|p| format!("`{p}`"))
                .collect();
            let supported = if section.supported.is_empty() {
                format!("no {} are supported", section.name)
            } else {
                format!(
                    "supported {}: {}",
                    section.name,
                    section.supported.join(", ")
                )
            };
            if !traces.is_empty() {
                ctx.error(
                    pointer,
                    format!(
                        "{} type `{}` is not supported (used by pipeline {}); {supported}",
                        section.singular(),
                        id.kind(),
                        traces.join(", ")
                    ),
                );
            } else {
                let usage = if pipelines.is_empty() {
                    if section.name == "extensions" {
                        "it is not started".to_owned()
                    } else {
                        "it is not used by any pipeline".to_owned()
                    }
                } else {
                    let names: Vec<String> = pipelines.iter().map(|p| format!("`{p}`")).collect();
                    format!(
                        "it is used only by pipeline {}, which is skipped",
                        names.join(", ")
                    )
                };
                ctx.warn(
                    pointer,
                    format!(
                        "{} type `{}` is not supported; {usage}",
                        section.singular(),
                        id.kind()
                    ),
                );
            }
        }
    }

    // Type and validate every supported component.
    let mut config = Config {
        receivers: BTreeMap::new(),
        processors: BTreeMap::new(),
        exporters: BTreeMap::new(),
        extensions: BTreeMap::new(),
        service: ServiceConfig::default(),
    };
    for (id, (value, pointer)) in &receivers.defined {
        let cfg = match id.kind() {
            "awsxray" => ctx.typed::<AwsXrayReceiverConfig>(value, pointer).map(|c| {
                validate_awsxray_receiver(ctx, &c, pointer);
                ReceiverConfig::AwsXray(c)
            }),
            "otlp" => ctx.typed::<OtlpReceiverConfig>(value, pointer).map(|c| {
                validate_otlp_receiver(ctx, &c, pointer);
                ReceiverConfig::Otlp(c)
            }),
            _ => None,
        };
        if let Some(cfg) = cfg {
            config.receivers.insert(id.clone(), cfg);
        }
    }
    for (id, (value, pointer)) in &processors.defined {
        if id.kind() == "batch" {
            if let Some(c) = ctx.typed::<BatchConfig>(value, pointer) {
                if c.send_batch_max_size != 0 && c.send_batch_max_size < c.send_batch_size {
                    ctx.error(
                        &format!("{pointer}/send_batch_max_size"),
                        format!(
                            "send_batch_max_size ({}) must be 0 or at least send_batch_size ({})",
                            c.send_batch_max_size, c.send_batch_size
                        ),
                    );
                }
                config
                    .processors
                    .insert(id.clone(), ProcessorConfig::Batch(c));
            }
        }
    }
    for (id, (value, pointer)) in &exporters.defined {
        let cfg = match id.kind() {
            "awsxray" => ctx.typed::<AwsXrayExporterConfig>(value, pointer).map(|c| {
                validate_awsxray_exporter(ctx, &c, pointer);
                ExporterConfig::AwsXray(Box::new(c))
            }),
            "debug" => ctx
                .typed::<DebugExporterConfig>(value, pointer)
                .map(ExporterConfig::Debug),
            "file" => ctx.typed::<FileExporterConfig>(value, pointer).map(|c| {
                if c.path.is_empty() {
                    ctx.error(pointer, "`path` is required");
                }
                if c.format.as_deref().is_some_and(|f| f != "json") {
                    ctx.error(&format!("{pointer}/format"), "only `json` is supported");
                }
                ExporterConfig::File(c)
            }),
            "otlphttp" => ctx
                .typed::<OtlpHttpExporterConfig>(value, pointer)
                .map(|c| {
                    validate_otlphttp_exporter(ctx, &c, pointer);
                    ExporterConfig::OtlpHttp(Box::new(c))
                }),
            _ => None,
        };
        if let Some(cfg) = cfg {
            config.exporters.insert(id.clone(), cfg);
        }
    }
    for (id, (value, pointer)) in &extensions.defined {
        if id.kind() == "health_check" {
            if let Some(c) = ctx.typed::<HealthCheckConfig>(value, pointer) {
                check_endpoint(ctx, &c.endpoint, &format!("{pointer}/endpoint"));
                if !c.path.starts_with('/') {
                    ctx.error(&format!("{pointer}/path"), "must start with `/`");
                }
                config
                    .extensions
                    .insert(id.clone(), ExtensionConfig::HealthCheck(c));
            }
        } else if id.kind() == "file_storage" {
            if let Some(c) = ctx.typed::<FileStorageConfig>(value, pointer) {
                if c.directory.is_empty() {
                    ctx.error(pointer, "`directory` is required");
                }
                if c.max_size_bytes == 0 {
                    ctx.error(&format!("{pointer}/max_size_bytes"), "must be positive");
                }
                config
                    .extensions
                    .insert(id.clone(), ExtensionConfig::FileStorage(c));
            }
        } else if id.kind() == "sigv4auth" {
            if let Some(c) = ctx.typed::<SigV4AuthConfig>(value, pointer) {
                if !c.assume_role.arn.is_empty() && !c.assume_role.arn.starts_with("arn:") {
                    ctx.error(
                        &format!("{pointer}/assume_role/arn"),
                        format!("`{}` is not an ARN", c.assume_role.arn),
                    );
                }
                config
                    .extensions
                    .insert(id.clone(), ExtensionConfig::SigV4Auth(c));
            }
        }
    }

    // An exporter's `auth.authenticator` must name a `sigv4auth` extension that the service runs,
    // and the signature's service must be known (configured, or inferred from the endpoint).
    for (id, cfg) in &config.exporters {
        let ExporterConfig::OtlpHttp(c) = cfg else {
            continue;
        };
        let Some(auth) = &c.auth else {
            continue;
        };
        let pointer = format!("{}/auth/authenticator", exporters.defined[id].1);
        let named = auth.authenticator.parse::<ComponentId>().ok();
        let known = named.as_ref().and_then(|n| config.extensions.get(n));
        let Some(ExtensionConfig::SigV4Auth(sigv4)) = known else {
            ctx.error(
                &pointer,
                format!(
                    "`{}` is not a `sigv4auth` extension defined in `extensions`",
                    auth.authenticator
                ),
            );
            continue;
        };
        if named
            .as_ref()
            .is_some_and(|n| !service.extensions.contains(n))
        {
            ctx.error(
                &pointer,
                format!(
                    "extension `{}` is not listed in `service.extensions`",
                    auth.authenticator
                ),
            );
        }
        let url = c.traces_url();
        let host = extensions::url_host(&url);
        if sigv4.service.is_empty() && extensions::infer_service_and_region(host).0.is_none() {
            ctx.error(
                &pointer,
                format!(
                    "cannot infer the SigV4 service from the endpoint host `{host}`: set `service` in extensions.{}",
                    auth.authenticator
                ),
            );
        }
    }

    // A persistent queue's `storage` must name a `file_storage` extension that the service runs.
    for (id, cfg) in &config.exporters {
        let storage = match cfg {
            ExporterConfig::AwsXray(c) => &c.sending_queue.storage,
            ExporterConfig::OtlpHttp(c) => &c.sending_queue.storage,
            ExporterConfig::Debug(_) | ExporterConfig::File(_) => continue,
        };
        let Some(storage) = storage else {
            continue;
        };
        let pointer = format!("{}/sending_queue/storage", exporters.defined[id].1);
        let named = storage.parse::<ComponentId>().ok();
        let known = named.as_ref().and_then(|n| config.extensions.get(n));
        if !matches!(known, Some(ExtensionConfig::FileStorage(_))) {
            ctx.error(
                &pointer,
                format!("`{storage}` is not a `file_storage` extension defined in `extensions`"),
            );
        } else if named
            .as_ref()
            .is_some_and(|n| !service.extensions.contains(n))
        {
            ctx.error(
                &pointer,
                format!("extension `{storage}` is not listed in `service.extensions`"),
            );
        }
    }

    // Service extensions must be defined; unsupported ones were warned about above.
    let mut started = Vec::new();
    for (i, id) in service.extensions.iter().enumerate() {
        if !extensions.defined.contains_key(id) {
            ctx.error(
                &format!("/service/extensions/{i}"),
                format!("extension `{id}` is not defined in `extensions`"),
            );
        } else if extensions.is_supported(id) {
            started.push(id.clone());
        }
    }

    let telemetry = &service.telemetry;
    if !matches!(
        telemetry.logs.level.to_ascii_lowercase().as_str(),
        "debug" | "info" | "warn" | "error"
    ) {
        ctx.error(
            "/service/telemetry/logs/level",
            format!(
                "unknown log level `{}`; expected debug, info, warn or error",
                telemetry.logs.level
            ),
        );
    }
    if !matches!(telemetry.logs.encoding.as_str(), "console" | "json") {
        ctx.error(
            "/service/telemetry/logs/encoding",
            format!(
                "unknown log encoding `{}`; expected console or json",
                telemetry.logs.encoding
            ),
        );
    }
    if let Some(level) = &telemetry.metrics.level {
        if !matches!(level.as_str(), "none" | "basic" | "normal" | "detailed") {
            ctx.error(
                "/service/telemetry/metrics/level",
                format!(
                    "unknown metrics level `{level}`; expected none, basic, normal or detailed"
                ),
            );
        }
    }
    if let Some(address) = &telemetry.metrics.address {
        check_endpoint(ctx, address, "/service/telemetry/metrics/address");
    }

    service.pipelines = trace_pipelines;
    service.extensions = started;
    config.service = service;
    Some(config)
}

fn validate_awsxray_receiver(ctx: &mut Ctx, c: &AwsXrayReceiverConfig, pointer: &str) {
    if c.transport != "udp" {
        ctx.error(
            &format!("{pointer}/transport"),
            format!(
                "transport `{}` is not supported; only `udp` is",
                c.transport
            ),
        );
    }
    check_endpoint(ctx, &c.endpoint, &format!("{pointer}/endpoint"));
    if let Some(proxy) = &c.proxy_server {
        check_endpoint(
            ctx,
            &proxy.endpoint,
            &format!("{pointer}/proxy_server/endpoint"),
        );
    }
}

fn validate_otlp_receiver(ctx: &mut Ctx, c: &OtlpReceiverConfig, pointer: &str) {
    if c.protocols.grpc.is_none() && c.protocols.http.is_none() {
        ctx.error(
            pointer,
            "must specify at least one protocol (`protocols.grpc` or `protocols.http`)",
        );
    }
    if let Some(grpc) = &c.protocols.grpc {
        check_endpoint(
            ctx,
            &grpc.endpoint,
            &format!("{pointer}/protocols/grpc/endpoint"),
        );
    }
    if let Some(http) = &c.protocols.http {
        check_endpoint(
            ctx,
            &http.endpoint,
            &format!("{pointer}/protocols/http/endpoint"),
        );
    }
}

fn validate_awsxray_exporter(ctx: &mut Ctx, c: &AwsXrayExporterConfig, pointer: &str) {
    let at = |key: &str| format!("{pointer}/{key}");
    if !c.proxy_address.is_empty() {
        ctx.error(
            &at("proxy_address"),
            "an HTTP proxy for the X-Ray API is not supported; remove `proxy_address`",
        );
    }
    if c.no_verify_ssl {
        ctx.error(
            &at("no_verify_ssl"),
            "turning TLS verification off is not supported",
        );
    }
    if c.telemetry.enabled {
        ctx.error(&at("telemetry"), "X-Ray telemetry records are not supported; the collector's metrics are on :8888/metrics");
    }
    if c.request_timeout_seconds == 0 {
        ctx.error(&at("request_timeout_seconds"), "must be at least 1");
    }
    if c.num_workers == Some(0) {
        ctx.error(&at("num_workers"), "must be at least 1");
    }
    if !(c.endpoint.is_empty()
        || c.endpoint.starts_with("http://")
        || c.endpoint.starts_with("https://"))
    {
        ctx.error(
            &at("endpoint"),
            format!("`{}` is not an http:// or https:// URL", c.endpoint),
        );
    }
    validate_queue_and_retry(ctx, &c.sending_queue, &c.retry_on_failure, pointer);
}

fn validate_otlphttp_exporter(ctx: &mut Ctx, c: &OtlpHttpExporterConfig, pointer: &str) {
    let at = |key: &str| format!("{pointer}/{key}");
    if c.endpoint.is_empty() && c.traces_endpoint.is_empty() {
        ctx.error(pointer, "`endpoint` or `traces_endpoint` is required");
    }
    for (key, url) in [
        ("endpoint", &c.endpoint),
        ("traces_endpoint", &c.traces_endpoint),
    ] {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let bad_host = rest.is_none_or(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            host.is_empty() || host.contains(char::is_whitespace)
        });
        if !url.is_empty() && bad_host {
            ctx.error(
                &at(key),
                format!("`{url}` is not an http:// or https:// URL with a host"),
            );
        }
    }
    if !matches!(c.compression.as_str(), "gzip" | "none" | "") {
        ctx.error(
            &at("compression"),
            format!(
                "compression `{}` is not supported; use `gzip` or `none`",
                c.compression
            ),
        );
    }
    if !matches!(c.encoding.as_str(), "proto" | "json") {
        ctx.error(
            &at("encoding"),
            format!(
                "encoding `{}` is not supported; use `proto` or `json`",
                c.encoding
            ),
        );
    }
    if c.timeout.is_zero() {
        ctx.error(&at("timeout"), "must be positive");
    }
    for (name, value) in &c.headers {
        let token = |ch: char| ch.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(ch);
        if name.is_empty() || !name.chars().all(token) {
            ctx.error(
                &at(&format!("headers/{}", yaml::escape_token(name))),
                format!("`{name}` is not a valid HTTP header name"),
            );
        }
        if value.chars().any(|ch| ch.is_control() && ch != '\t') {
            ctx.error(
                &at(&format!("headers/{}", yaml::escape_token(name))),
                "header values may not contain control characters",
            );
        }
    }
    if !c.tls.cert_file.is_empty() || !c.tls.key_file.is_empty() {
        let key = if c.tls.cert_file.is_empty() {
            "tls/key_file"
        } else {
            "tls/cert_file"
        };
        ctx.error(
            &at(key),
            "client certificates (mutual TLS) are not supported",
        );
    }
    if !(c.proxy_url.is_empty() || c.proxy_url.starts_with("http://")) {
        ctx.error(
            &at("proxy_url"),
            "only http:// proxies (HTTP CONNECT) are supported",
        );
    }
    validate_queue_and_retry(ctx, &c.sending_queue, &c.retry_on_failure, pointer);
}

/// Checks `sending_queue` and `retry_on_failure`, shared by the network exporters.
fn validate_queue_and_retry(ctx: &mut Ctx, q: &QueueConfig, r: &RetryConfig, pointer: &str) {
    let at = |key: &str| format!("{pointer}/{key}");
    if q.queue_size == 0 {
        ctx.error(&at("sending_queue/queue_size"), "must be at least 1");
    }
    if q.num_consumers == Some(0) {
        ctx.error(&at("sending_queue/num_consumers"), "must be at least 1");
    }
    if r.multiplier < 1.0 {
        ctx.error(&at("retry_on_failure/multiplier"), "must be at least 1");
    }
    if !(0.0..=1.0).contains(&r.randomization_factor) {
        ctx.error(
            &at("retry_on_failure/randomization_factor"),
            "must be between 0 and 1",
        );
    }
    if r.enabled && r.initial_interval > r.max_interval {
        ctx.error(
            &at("retry_on_failure/initial_interval"),
            "must not exceed max_interval",
        );
    }
}

/// Checks a `host:port` listen address (the host may be empty or a bracketed IPv6 address).
fn check_endpoint(ctx: &mut Ctx, endpoint: &str, pointer: &str) {
    let ok = endpoint.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok() && !host.contains(char::is_whitespace)
    });
    if !ok {
        ctx.error(
            pointer,
            format!("`{endpoint}` is not a `host:port` address"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths() {
        assert_eq!(
            dotted("/exporters/awsxray~1x/region"),
            "exporters.awsxray/x.region"
        );
        assert_eq!(
            dotted("/service/pipelines/traces/receivers/1"),
            "service.pipelines.traces.receivers[1]"
        );
        assert_eq!(dotted(""), "");
    }
}
