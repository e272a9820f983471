//! The collector config: OpenTelemetry collector YAML (`receivers`, `processors`, `exporters`,
//! `extensions`, `connectors`, `service`), read in three steps.
//!
//! 1. Parse: YAML to a JSON value with a source map; `${env:VAR}` expanded (see `yaml`, `expand`).
//! 2. Type: each component's settings into its own config struct (which lives in the component's
//!    folder), chosen by the component type through `crate::registry`. Unknown keys are errors.
//! 3. Validate: each component's own checks (`component::Component::validate`); pipelines refer
//!    to defined, supported components; extension references (`auth.authenticator`,
//!    `sending_queue.storage`) resolve to extensions of the right type that the service starts.
//!
//! Every problem is reported at once, located as `file:line:column: path: message` (see
//! `located`). A message never shows a value that came from `${...}` expansion, only the text the
//! config wrote (`yaml::Redactions`; `Loaded::redactions` does the same for start-up errors).
//!
//! Nothing is skipped silently. Only `traces` pipelines run: a metrics, logs or profiles pipeline,
//! a component type this collector does not have (in any pipeline, in `service.extensions`, or
//! defined and unused) is an error naming it, the pipeline and what to do instead. The explicit
//! opt-in [`LoadOptions::skip_unsupported_pipelines`] (`--skip-unsupported-pipelines`, or
//! `XRAY_COLLECTOR_SKIP_UNSUPPORTED_PIPELINES=true`) turns the errors about what is not a traces
//! pipeline into warnings: those pipelines and the components only they use are skipped, listed
//! in [`Loaded::skipped_pipelines`] (logged at WARN at every start and shown on `/metrics` as
//! `xray_collector_skipped_pipelines`). Unsupported components of a traces pipeline stay errors.
//! Nothing here matches on a component type.

pub mod component;
pub mod duration;
pub mod expand;
pub mod id;
pub mod located;
pub mod service;
pub mod yaml;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use self::component::{AsAny, Checker};
use self::id::{ComponentId, PipelineId, Signal};
use self::service::ServiceConfig;
use crate::exporters::ExporterConfig;
use crate::extensions::ExtensionConfig;
use crate::processors::ProcessorConfig;
use crate::receivers::ReceiverConfig;
use crate::registry::{self, Entry};

use self::located::dotted;
pub use self::located::{ConfigErrors, Ctx, Diagnostic};

/// A validated config: typed components and the `traces` pipelines.
#[derive(Clone, Debug)]
pub struct Config {
    pub receivers: BTreeMap<ComponentId, Arc<dyn ReceiverConfig>>,
    pub processors: BTreeMap<ComponentId, Arc<dyn ProcessorConfig>>,
    pub exporters: BTreeMap<ComponentId, Arc<dyn ExporterConfig>>,
    pub extensions: BTreeMap<ComponentId, Arc<dyn ExtensionConfig>>,
    /// `service`, with only the `traces` pipelines and the supported extensions.
    pub service: ServiceConfig,
}

impl Config {
    /// The receiver `id`'s settings, if it is a `T`.
    pub fn receiver<T: 'static>(&self, id: &str) -> Option<&T> {
        typed(&self.receivers, id)
    }

    /// The processor `id`'s settings, if it is a `T`.
    pub fn processor<T: 'static>(&self, id: &str) -> Option<&T> {
        typed(&self.processors, id)
    }

    /// The exporter `id`'s settings, if it is a `T`.
    pub fn exporter<T: 'static>(&self, id: &str) -> Option<&T> {
        typed(&self.exporters, id)
    }

    /// The extension `id`'s settings, if it is a `T`.
    pub fn extension<T: 'static>(&self, id: &str) -> Option<&T> {
        typed(&self.extensions, id)
    }
}

fn typed<'c, T: 'static, C: AsAny + ?Sized>(
    map: &'c BTreeMap<ComponentId, Arc<C>>,
    id: &str,
) -> Option<&'c T> {
    let id: ComponentId = id.parse().ok()?;
    map.get(&id)?.as_ref().as_any().downcast_ref::<T>()
}

/// How a config is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip (with a warning) the pipelines that are not `traces` pipelines, the components only
    /// they use, and unsupported components no traces pipeline uses, instead of refusing them.
    pub skip_unsupported_pipelines: bool,
}

/// What to use instead of a pipeline of `signal`, which this collector does not run.
pub fn instead(signal: Signal) -> &'static str {
    match signal {
        Signal::Metrics => {
            "for metrics use the blueprint's `spec.metrics` option (Amazon Managed Service for Prometheus managed scraper)"
        }
        Signal::Logs => {
            "ship logs with a log agent (for example Fluent Bit or the CloudWatch agent)"
        }
        Signal::Profiles | Signal::Traces => "remove the pipeline",
    }
}

/// A config that loaded, with the warnings to log (what the opt-in skipped).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
    /// The pipelines skipped on [`LoadOptions::skip_unsupported_pipelines`].
    pub skipped_pipelines: Vec<String>,
    /// The values that came from `${...}` expansion: start-up errors pass through
    /// [`yaml::Redactions::redact`] before they are logged, as config diagnostics do.
    pub redactions: yaml::Redactions,
}

/// Reads and validates a config file, expanding variables from the process environment.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_file_with(path, LoadOptions::default())
}

/// [`load_file`] with options.
pub fn load_file_with(path: &Path, options: LoadOptions) -> Result<Loaded, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![Diagnostic {
            file: file.clone(),
            position: None,
            path: String::new(),
            message: format!("cannot read config: {e}"),
        }])
    })?;
    load_str_with(&text, &file, &|name| std::env::var(name).ok(), options)
}

/// Reads and validates config text; `file` names it in diagnostics.
pub fn load_str(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigErrors> {
    load_str_with(text, file, env, LoadOptions::default())
}

/// [`load_str`] with options.
pub fn load_str_with(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    options: LoadOptions,
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
    let built = build(&value, &mut ctx, options);
    let mut errors = ctx.errors;
    if errors.is_empty() {
        if let Some((config, skipped_pipelines)) = built {
            let mut warnings = ctx.warnings;
            warnings.sort_by_key(|d| d.position.map(|p| (p.line, p.column)));
            return Ok(Loaded {
                config,
                warnings,
                skipped_pipelines,
                redactions: map.redactions().clone(),
            });
        }
    }
    errors.sort_by_key(|d| d.position.map(|p| (p.line, p.column)));
    errors.dedup();
    Err(ConfigErrors(errors))
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
    supported: Vec<&'static str>,
    defined: BTreeMap<ComponentId, (Value, String)>,
}

impl Section {
    fn read(
        ctx: &mut Ctx,
        name: &'static str,
        supported: Vec<&'static str>,
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

/// Which pipelines use each component (by section name and id), to name them in messages.
type UsedBy = BTreeMap<(&'static str, ComponentId), Vec<PipelineId>>;

/// The five component sections, read.
struct Sections {
    receivers: Section,
    processors: Section,
    exporters: Section,
    extensions: Section,
    connectors: Section,
}

fn build(value: &Value, ctx: &mut Ctx, options: LoadOptions) -> Option<(Config, Vec<String>)> {
    let raw: RawConfig = ctx.typed(value, "")?;
    let sections = Sections {
        receivers: Section::read(
            ctx,
            "receivers",
            registry::names(registry::RECEIVERS),
            raw.receivers,
        ),
        processors: Section::read(
            ctx,
            "processors",
            registry::names(registry::PROCESSORS),
            raw.processors,
        ),
        exporters: Section::read(
            ctx,
            "exporters",
            registry::names(registry::EXPORTERS),
            raw.exporters,
        ),
        extensions: Section::read(
            ctx,
            "extensions",
            registry::names(registry::EXTENSIONS),
            raw.extensions,
        ),
        connectors: Section::read(ctx, "connectors", Vec::new(), raw.connectors),
    };

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
    let skip = options.skip_unsupported_pipelines;
    let (used_by, trace_pipelines) = check_pipelines(ctx, &service, &sections, skip);
    report_unsupported(ctx, &sections, &used_by, &service.extensions, skip);
    let skipped: Vec<String> = service
        .pipelines
        .keys()
        .filter(|p| p.signal() != Signal::Traces)
        .map(|p| p.to_string())
        .collect();
    let started = check_service_extensions(ctx, &service, &sections.extensions);
    let extensions = type_section(ctx, &sections.extensions, registry::EXTENSIONS);
    let extensions: BTreeMap<ComponentId, Arc<dyn ExtensionConfig>> = extensions
        .into_iter()
        .map(|(id, c)| (id, Arc::from(c)))
        .collect();
    let mut exporters = type_section(ctx, &sections.exporters, registry::EXPORTERS);
    resolve_references(
        ctx,
        &mut exporters,
        &sections.exporters,
        &extensions,
        &service.extensions,
    );
    check_telemetry(ctx, &service);

    service.pipelines = trace_pipelines;
    service.extensions = started;
    let config = Config {
        receivers: arcs(type_section(ctx, &sections.receivers, registry::RECEIVERS)),
        processors: arcs(type_section(
            ctx,
            &sections.processors,
            registry::PROCESSORS,
        )),
        exporters: arcs(exporters),
        extensions,
        service,
    };
    Some((config, skipped))
}

fn arcs<C: ?Sized>(map: BTreeMap<ComponentId, Box<C>>) -> BTreeMap<ComponentId, Arc<C>> {
    map.into_iter().map(|(id, c)| (id, Arc::from(c))).collect()
}

/// Checks every pipeline's lists against the sections; returns which pipelines use each
/// component and the `traces` pipelines. The others are errors, or with `skip` warnings.
fn check_pipelines(
    ctx: &mut Ctx,
    service: &ServiceConfig,
    sections: &Sections,
    skip: bool,
) -> (UsedBy, BTreeMap<PipelineId, service::PipelineConfig>) {
    let Sections {
        receivers,
        processors,
        exporters,
        connectors,
        ..
    } = sections;
    let mut used_by: BTreeMap<(&'static str, ComponentId), Vec<PipelineId>> = BTreeMap::new();
    let mut trace_pipelines = BTreeMap::new();
    for (pid, pipeline) in &service.pipelines {
        let ppointer = format!(
            "/service/pipelines/{}",
            yaml::escape_token(&pid.to_string())
        );
        let is_traces = pid.signal() == Signal::Traces;
        let lists: [(&str, &Vec<ComponentId>, [&Section; 2]); 3] = [
            ("receivers", &pipeline.receivers, [receivers, connectors]),
            ("processors", &pipeline.processors, [processors, processors]),
            ("exporters", &pipeline.exporters, [exporters, connectors]),
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
                    if is_traces || !skip {
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
        } else if skip {
            ctx.warn(
                &ppointer,
                format!(
                    "pipeline `{pid}` is skipped (--skip-unsupported-pipelines): xray-collector runs `traces` pipelines only; {}",
                    instead(pid.signal())
                ),
            );
        } else {
            ctx.error(
                &ppointer,
                format!(
                    "pipeline `{pid}` cannot run: xray-collector runs `traces` pipelines only; {}; or remove the pipeline, or start with --skip-unsupported-pipelines to skip it (logged at every start, listed on /metrics as xray_collector_skipped_pipelines)",
                    instead(pid.signal())
                ),
            );
        }
    }

    (used_by, trace_pipelines)
}

/// Unsupported components: an error when a traces pipeline uses them; otherwise an error too,
/// unless `skip` (the opt-in) turns it into a warning.
fn report_unsupported(
    ctx: &mut Ctx,
    sections: &Sections,
    used_by: &UsedBy,
    service_extensions: &[ComponentId],
    skip: bool,
) {
    let Sections {
        receivers,
        processors,
        exporters,
        extensions,
        connectors,
    } = sections;
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
                let names: Vec<String> = pipelines.iter().map(|p| format!("`{p}`")).collect();
                let listed = section.name == "extensions" && service_extensions.contains(id);
                let usage = match (pipelines.is_empty(), skip) {
                    (true, true) if listed => "it is not started".to_owned(),
                    (true, true) => "it is not used by any pipeline".to_owned(),
                    (true, false) if listed => {
                        "it cannot be started; remove it from `service.extensions` and `extensions`"
                            .to_owned()
                    }
                    (true, false) => "it is not used by any pipeline; remove it".to_owned(),
                    (false, true) => format!(
                        "it is used only by pipeline {}, which is skipped",
                        names.join(", ")
                    ),
                    (false, false) => format!(
                        "it is used by pipeline {}, which cannot run",
                        names.join(", ")
                    ),
                };
                let message = format!(
                    "{} type `{}` is not supported; {usage}",
                    section.singular(),
                    id.kind()
                );
                if skip {
                    ctx.warn(pointer, message);
                } else {
                    ctx.error(pointer, message);
                }
            }
        }
    }
}

/// Types and checks every supported component of a section through the registry.
fn type_section<C: ?Sized>(
    ctx: &mut Ctx,
    section: &Section,
    entries: &[Entry<C>],
) -> BTreeMap<ComponentId, Box<C>> {
    let mut typed = BTreeMap::new();
    for (id, (value, pointer)) in &section.defined {
        let Some(entry) = registry::find(entries, id.kind()) else {
            continue;
        };
        if let Some(config) = (entry.parse)(value, &mut Checker::new(ctx, pointer)) {
            typed.insert(id.clone(), config);
        }
    }
    typed
}

/// Resolves every exporter's extension references (`auth.authenticator`,
/// `sending_queue.storage`): each must name a defined extension of the right type that
/// `service.extensions` starts. Then the checks that need them resolved.
fn resolve_references(
    ctx: &mut Ctx,
    exporters: &mut BTreeMap<ComponentId, Box<dyn ExporterConfig>>,
    section: &Section,
    extensions: &BTreeMap<ComponentId, Arc<dyn ExtensionConfig>>,
    started: &[ComponentId],
) {
    let any: BTreeMap<ComponentId, Arc<dyn Any + Send + Sync>> = extensions
        .iter()
        .map(|(id, c)| (id.clone(), c.clone().into_any()))
        .collect();
    for (id, config) in exporters.iter_mut() {
        let pointer = &section.defined[id].1;
        for (key, reference) in config.references() {
            if let Err(error) = reference.resolve(&any, started) {
                ctx.error(&format!("{pointer}/{key}"), error.to_string());
            }
        }
        config.validate_resolved(&mut Checker::new(ctx, pointer));
    }
}

/// Service extensions must be defined; unsupported ones were warned about. Returns the ids to
/// start.
fn check_service_extensions(
    ctx: &mut Ctx,
    service: &ServiceConfig,
    extensions: &Section,
) -> Vec<ComponentId> {
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

    started
}

/// `service.telemetry`: log level and encoding, metrics level and address.
fn check_telemetry(ctx: &mut Ctx, service: &ServiceConfig) {
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
        Checker::new(ctx, "/service/telemetry/metrics").endpoint("address", address);
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
