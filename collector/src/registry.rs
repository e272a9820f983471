//! The closed lists of component types this collector runs, one per kind: type name -> parse
//! (type and check the config) -> build (through the kind's trait on the parsed config:
//! [`ReceiverConfig::start`], [`ProcessorConfig::build`], [`ExporterConfig::build`],
//! [`ExtensionConfig::start`]). The config loader and the service iterate these lists; nothing
//! else names a component type.
//!
//! Adding a component: its folder (config struct implementing `config::component::Component`
//! and the kind's trait), its `pub mod` line, and one line here.

use serde_json::Value;

use crate::config::component::{self, Checker, Component};
use crate::exporters::{self, ExporterConfig};
use crate::extensions::{self, ExtensionConfig};
use crate::processors::{self, ProcessorConfig};
use crate::receivers::{self, ReceiverConfig};

/// Types and checks one component's raw settings; `None` after reporting a problem.
pub type ParseFn<C> = fn(&Value, &mut Checker<'_, '_>) -> Option<Box<C>>;

/// One component type.
pub struct Entry<C: ?Sized> {
    /// The type name in the config (`awsxray`, `batch`, ...).
    pub type_name: &'static str,
    /// Its parser.
    pub parse: ParseFn<C>,
}

/// Receiver types.
pub static RECEIVERS: &[Entry<dyn ReceiverConfig>] = &[
    receiver::<receivers::awsxray::config::AwsXrayReceiverConfig>(),
    receiver::<receivers::otlp::config::OtlpReceiverConfig>(),
];

/// Processor types.
pub static PROCESSORS: &[Entry<dyn ProcessorConfig>] = &[
    processor::<processors::attributes::config::AttributesConfig>(),
    processor::<processors::batch::config::BatchConfig>(),
    processor::<processors::filter::config::FilterConfig>(),
    processor::<processors::k8sattributes::config::K8sAttributesConfig>(),
    processor::<processors::memory_limiter::config::MemoryLimiterConfig>(),
    processor::<processors::probabilistic_sampler::config::ProbabilisticSamplerConfig>(),
    processor::<processors::resource::config::ResourceConfig>(),
    processor::<processors::resourcedetection::config::ResourceDetectionConfig>(),
];

/// Exporter types.
pub static EXPORTERS: &[Entry<dyn ExporterConfig>] = &[
    exporter::<exporters::awsxray::config::AwsXrayExporterConfig>(),
    exporter::<exporters::debug::config::DebugExporterConfig>(),
    exporter::<exporters::file::config::FileExporterConfig>(),
    exporter::<exporters::otlphttp::config::OtlpHttpExporterConfig>(),
];

/// Extension types.
pub static EXTENSIONS: &[Entry<dyn ExtensionConfig>] = &[
    extension::<extensions::awsproxy::config::AwsProxyConfig>(),
    extension::<extensions::file_storage::config::FileStorageConfig>(),
    extension::<extensions::health_check::config::HealthCheckConfig>(),
    extension::<extensions::sigv4auth::config::SigV4AuthConfig>(),
];

/// The entry of `type_name` in `entries`.
pub fn find<'e, C: ?Sized>(entries: &'e [Entry<C>], type_name: &str) -> Option<&'e Entry<C>> {
    entries.iter().find(|e| e.type_name == type_name)
}

/// The type names of `entries`, in order.
pub fn names<C: ?Sized>(entries: &[Entry<C>]) -> Vec<&'static str> {
    entries.iter().map(|e| e.type_name).collect()
}

const fn receiver<T: Component + ReceiverConfig>() -> Entry<dyn ReceiverConfig> {
    fn parse<T: Component + ReceiverConfig>(
        v: &Value,
        c: &mut Checker<'_, '_>,
    ) -> Option<Box<dyn ReceiverConfig>> {
        component::parse::<T>(v, c).map(|t| Box::new(t) as Box<dyn ReceiverConfig>)
    }
    Entry {
        type_name: T::TYPE,
        parse: parse::<T>,
    }
}

const fn processor<T: Component + ProcessorConfig>() -> Entry<dyn ProcessorConfig> {
    fn parse<T: Component + ProcessorConfig>(
        v: &Value,
        c: &mut Checker<'_, '_>,
    ) -> Option<Box<dyn ProcessorConfig>> {
        component::parse::<T>(v, c).map(|t| Box::new(t) as Box<dyn ProcessorConfig>)
    }
    Entry {
        type_name: T::TYPE,
        parse: parse::<T>,
    }
}

const fn exporter<T: Component + ExporterConfig>() -> Entry<dyn ExporterConfig> {
    fn parse<T: Component + ExporterConfig>(
        v: &Value,
        c: &mut Checker<'_, '_>,
    ) -> Option<Box<dyn ExporterConfig>> {
        component::parse::<T>(v, c).map(|t| Box::new(t) as Box<dyn ExporterConfig>)
    }
    Entry {
        type_name: T::TYPE,
        parse: parse::<T>,
    }
}

const fn extension<T: Component + ExtensionConfig>() -> Entry<dyn ExtensionConfig> {
    fn parse<T: Component + ExtensionConfig>(
        v: &Value,
        c: &mut Checker<'_, '_>,
    ) -> Option<Box<dyn ExtensionConfig>> {
        component::parse::<T>(v, c).map(|t| Box::new(t) as Box<dyn ExtensionConfig>)
    }
    Entry {
        type_name: T::TYPE,
        parse: parse::<T>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_unique_per_kind() {
        for list in [
            names(RECEIVERS),
            names(PROCESSORS),
            names(EXPORTERS),
            names(EXTENSIONS),
        ] {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{list:?}");
        }
    }
}
