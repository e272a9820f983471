//! What a component's config provides to the generic config code, and the helpers it uses.
//!
//! * [`Component`]: a config struct with contrib's keys (serde, unknown keys refused), its type
//!   name (`TYPE`) and its own checks ([`Component::validate`], through a [`Checker`] that locates
//!   every message under the component's key).
//! * [`ExtensionRef`]: a typed reference to an extension (`auth.authenticator`,
//!   `sending_queue.storage`), resolved once when the config is loaded: it must name an extension
//!   of the right type that `service.extensions` starts. Built components read the resolved
//!   extension config with [`ExtensionRef::get`]; nothing looks it up by name at start-up.
//! * [`AsAny`]: lets a type-erased config (`dyn ReceiverConfig`, ...) be read back as its type.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::id::ComponentId;
use super::located::Ctx;

/// Reads a type-erased value back as its own type.
pub trait AsAny: Any + Send + Sync {
    /// `self` as [`Any`].
    fn as_any(&self) -> &dyn Any;
    /// `self` as a shared [`Any`], to downcast an `Arc`.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: Any + Send + Sync> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// A component's config: contrib's keys, its type name and its own checks.
pub trait Component: DeserializeOwned + fmt::Debug + Send + Sync + 'static {
    /// The component type, as written in the config (`awsxray`, `batch`, ...).
    const TYPE: &'static str;

    /// Checks settings beyond their types; reports through `c`, located under the component.
    fn validate(&self, c: &mut Checker<'_, '_>) {
        let _ = c;
    }
}

/// Reports located problems of one component.
pub struct Checker<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    pointer: String,
}

impl<'c, 'a> Checker<'c, 'a> {
    /// A checker for the component at `pointer` (e.g. `/exporters/awsxray`).
    pub fn new(ctx: &'c mut Ctx<'a>, pointer: &str) -> Checker<'c, 'a> {
        Checker {
            ctx,
            pointer: pointer.to_owned(),
        }
    }

    /// The pointer of `key` (`a/b`, already escaped) under the component; `""` is the component.
    pub fn at(&self, key: &str) -> String {
        if key.is_empty() {
            self.pointer.clone()
        } else {
            format!("{}/{key}", self.pointer)
        }
    }

    /// Reports an error at `key` (see [`Checker::at`]).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        let pointer = self.at(key);
        self.ctx.error(&pointer, message);
    }

    /// Types the component's settings (null meaning all defaults), reporting a located error.
    pub fn typed<T: DeserializeOwned>(&mut self, value: &Value) -> Option<T> {
        let pointer = self.pointer.clone();
        self.ctx.typed(value, &pointer)
    }

    /// Checks a `host:port` listen address (the host may be empty or a bracketed IPv6 address).
    pub fn endpoint(&mut self, key: &str, endpoint: &str) {
        let ok = endpoint.rsplit_once(':').is_some_and(|(host, port)| {
            port.parse::<u16>().is_ok() && !host.contains(char::is_whitespace)
        });
        if !ok {
            self.error(key, format!("`{endpoint}` is not a `host:port` address"));
        }
    }
}

/// Types and checks one component's settings (the registry's parse functions call this).
pub fn parse<T: Component>(value: &Value, c: &mut Checker<'_, '_>) -> Option<T> {
    let config: T = c.typed(value)?;
    config.validate(c);
    Some(config)
}

/// A reference from one component's config to an extension of type `K` (by its id).
pub struct ExtensionRef<K> {
    /// The id as written.
    name: String,
    /// The extension, once resolved.
    resolved: Option<(ComponentId, Arc<K>)>,
    kind: PhantomData<K>,
}

impl<K> ExtensionRef<K> {
    /// The id as written in the config.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<K: Component> ExtensionRef<K> {
    /// The referenced extension's id and config; the loaded config resolved every reference.
    pub fn get(&self) -> Result<(&ComponentId, &K), UnresolvedRef> {
        self.resolved
            .as_ref()
            .map(|(id, k)| (id, &**k))
            .ok_or_else(|| UnresolvedRef {
                name: self.name.clone(),
                kind: K::TYPE,
            })
    }
}

/// An [`ExtensionRef`] read before the config was validated (a bug, reported rather than a panic).
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{name}` was not resolved to a `{kind}` extension")]
pub struct UnresolvedRef {
    pub name: String,
    pub kind: &'static str,
}

/// Resolution of a reference, whatever the extension type (see [`ExtensionRef`]).
pub trait Resolve {
    /// Resolves the reference against the defined extensions and the ids the service starts;
    /// on failure, the message to report at the reference.
    fn resolve(
        &mut self,
        extensions: &BTreeMap<ComponentId, Arc<dyn Any + Send + Sync>>,
        started: &[ComponentId],
    ) -> Result<(), ReferenceError>;
}

/// Why an extension reference does not resolve.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// The name is not an extension of the expected type defined in `extensions`.
    #[error("`{name}` is not a `{kind}` extension defined in `extensions`")]
    NotDefined { name: String, kind: &'static str },
    /// The extension is defined but the service does not start it.
    #[error("extension `{name}` is not listed in `service.extensions`")]
    NotListed { name: String },
}

impl<K: Component> Resolve for ExtensionRef<K> {
    fn resolve(
        &mut self,
        extensions: &BTreeMap<ComponentId, Arc<dyn Any + Send + Sync>>,
        started: &[ComponentId],
    ) -> Result<(), ReferenceError> {
        let name = &self.name;
        let not_defined = || ReferenceError::NotDefined {
            name: name.clone(),
            kind: K::TYPE,
        };
        let id: ComponentId = name.parse().map_err(|_| not_defined())?;
        let config = extensions
            .get(&id)
            .cloned()
            .and_then(|c| c.downcast::<K>().ok())
            .ok_or_else(not_defined)?;
        let listed = started.contains(&id);
        // Resolved even when not listed, so the checks that read it still run.
        self.resolved = Some((id, config));
        if !listed {
            return Err(ReferenceError::NotListed { name: name.clone() });
        }
        Ok(())
    }
}

impl<K> Default for ExtensionRef<K> {
    fn default() -> Self {
        ExtensionRef {
            name: String::new(),
            resolved: None,
            kind: PhantomData,
        }
    }
}

impl<K> Clone for ExtensionRef<K> {
    fn clone(&self) -> Self {
        ExtensionRef {
            name: self.name.clone(),
            resolved: self.resolved.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for ExtensionRef<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtensionRef({:?})", self.name)
    }
}

impl<K> PartialEq for ExtensionRef<K> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<'de, K> Deserialize<'de> for ExtensionRef<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ExtensionRef {
            name: String::deserialize(deserializer)?,
            resolved: None,
            kind: PhantomData,
        })
    }
}

/// A boxed future, the return type of the component traits' asynchronous steps.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
