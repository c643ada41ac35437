//! Routing that survives a restart: a job records *which* surfaces of its tenant it belongs
//! to ([`Route`]: assistant, phone number, tool, account, by id, stored as the job's
//! [`TargetRef`]), never a URL; at every attempt a [`Directory`] the host implements answers
//! with the current config of each surface, and [`DirectoryTargets`] resolves the cascade from
//! it.
//!
//! - **Retries and replays use the current config**: a changed server URL, timeout, credential
//!   or `backoffPlan` takes effect on the next attempt.
//! - **A deleted surface is a clear skip reason**: a job whose assistant or phone number no
//!   longer exists is skipped with "assistant `asst_1` of tenant `acme` no longer exists", not
//!   sent to another level.
//! - **Nothing to re-register after a restart**: a new process with the store and the
//!   directory delivers every pending job.
//! - **Credentials per tenant**: a server's `credentialId` is applied through the
//!   [`CredentialResolver`] given to [`DirectoryTargets::with_credentials`].
//!
//! Directories shipped: [`MemoryDirectory`] and [`TenantConfigs`] (its webhook targets named
//! `assistant:<id>`, `phoneNumber:<id>`, `tool:<id>`, `account`), also behind a
//! [`RwLock`] for a configuration that changes.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use agent_webhooks::TenantId;
//! use agent_webhooks::directory::{DirectoryTargets, MemoryDirectory, Route, Surface};
//!
//! let acme = TenantId::new("acme")?;
//! let directory = Arc::new(MemoryDirectory::new());
//! directory.insert(&acme, Surface::Assistant, "asst_1",
//!     serde_json::json!({"server": {"url": "https://hooks.acme.example/vapi"}}))?;
//! let route = Route::new().assistant("asst_1")?;
//! assert_eq!(route.to_target_ref()?.as_str(), "assistant:asst_1"); // what the job stores
//!
//! let targets = DirectoryTargets::new(directory.clone());
//! let target = targets.target(&acme, &route, "status-update").await?;
//! assert_eq!(target.url().as_str(), "https://hooks.acme.example/vapi");
//!
//! directory.remove(&acme, Surface::Assistant, "asst_1");
//! let skipped = targets.target(&acme, &route, "status-update").await.unwrap_err();
//! assert_eq!(skipped.0, "assistant `asst_1` of tenant `acme` no longer exists");
//! # Ok(()) }
//! # let mut f = std::pin::pin!(demo());
//! # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! # let std::task::Poll::Ready(r) = f.as_mut().poll(&mut cx) else { panic!() }; r.unwrap();
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::cascade::{Cascade, CascadeError, ServerAuth};
use crate::credential::CredentialResolver;
use crate::event::Envelope;
use crate::outbox::{Job, OutboxError, Sign, Target, TargetRef, TargetResolver, Unresolved};
use crate::tenant::{Scope, TenantConfigs, TenantId};

/// The longest surface id accepted, in bytes.
pub const MAX_SURFACE_ID_LEN: usize = 120;

/// A configurable surface of a call (the cascade's levels, by object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Surface {
    /// The function tool being called (`tool-calls` only).
    Tool,
    /// The assistant.
    Assistant,
    /// The phone number.
    PhoneNumber,
    /// The tenant's account (Vapi's org); one per tenant unless named.
    Account,
}

impl Surface {
    /// Every surface, most specific first.
    pub const ALL: [Surface; 4] = [
        Surface::Tool,
        Surface::Assistant,
        Surface::PhoneNumber,
        Surface::Account,
    ];

    /// The name in a route and in Vapi-shaped JSON: `tool`, `assistant`, `phoneNumber`,
    /// `account`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Tool => "tool",
            Surface::Assistant => "assistant",
            Surface::PhoneNumber => "phoneNumber",
            Surface::Account => "account",
        }
    }

    fn parse(name: &str) -> Option<Surface> {
        match name {
            "tool" => Some(Surface::Tool),
            "assistant" => Some(Surface::Assistant),
            "phoneNumber" | "phone-number" | "phone_number" => Some(Surface::PhoneNumber),
            "account" | "org" => Some(Surface::Account),
            _ => None,
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Surface::PhoneNumber => "phone number",
            other => other.as_str(),
        })
    }
}

/// What a job needs to find its target later: the ids of its call's surfaces. Stored as the
/// job's [`TargetRef`] (`assistant:asst_1 phoneNumber:pn_1`), so no schema changes and every
/// store keeps it across restarts; `assistant:asst_1`, the form jobs used before, reads as a
/// route with an assistant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[must_use]
pub struct Route {
    ids: [Option<String>; 4],
}

fn check_id(surface: Surface, id: &str) -> Result<(), OutboxError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SURFACE_ID_LEN
        && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(OutboxError::Invalid {
            what: "surface id",
            problem: format!(
                "the {surface} id must be 1 to {MAX_SURFACE_ID_LEN} bytes without spaces or control characters"
            ),
        })
    }
}

impl Route {
    /// No surfaces: only the tenant's account.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `surface`'s id.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] for an empty id, one longer than [`MAX_SURFACE_ID_LEN`] or
    /// with whitespace or control characters.
    pub fn with(mut self, surface: Surface, id: &str) -> Result<Self, OutboxError> {
        check_id(surface, id)?;
        self.ids[surface as usize] = Some(id.to_owned());
        Ok(self)
    }

    /// With the assistant's id.
    ///
    /// # Errors
    /// As [`Route::with`].
    pub fn assistant(self, id: &str) -> Result<Self, OutboxError> {
        self.with(Surface::Assistant, id)
    }

    /// With the phone number's id.
    ///
    /// # Errors
    /// As [`Route::with`].
    pub fn phone_number(self, id: &str) -> Result<Self, OutboxError> {
        self.with(Surface::PhoneNumber, id)
    }

    /// With the tool's id.
    ///
    /// # Errors
    /// As [`Route::with`].
    pub fn tool(self, id: &str) -> Result<Self, OutboxError> {
        self.with(Surface::Tool, id)
    }

    /// With a named account (without one, the tenant's account).
    ///
    /// # Errors
    /// As [`Route::with`].
    pub fn account(self, id: &str) -> Result<Self, OutboxError> {
        self.with(Surface::Account, id)
    }

    /// The id of `surface`, if the route names one.
    #[must_use]
    pub fn id(&self, surface: Surface) -> Option<&str> {
        self.ids[surface as usize].as_deref()
    }

    /// The route as a job's target reference: `surface:id` pairs, space-separated, most
    /// specific first (`account` alone for an empty route).
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] when it is longer than a target reference may be.
    pub fn to_target_ref(&self) -> Result<TargetRef, OutboxError> {
        let mut text = String::new();
        for surface in Surface::ALL {
            if let Some(id) = self.id(surface) {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(surface.as_str());
                text.push(':');
                text.push_str(id);
            }
        }
        if text.is_empty() {
            text.push_str("account");
        }
        TargetRef::new(&text)
    }

    /// Reads a job's target reference.
    ///
    /// # Errors
    /// [`Unresolved`] naming the part that is not `surface:id` (or `account`).
    pub fn from_target_ref(target: &TargetRef) -> Result<Route, Unresolved> {
        let mut route = Route::new();
        for part in target.as_str().split(' ').filter(|p| !p.is_empty()) {
            if part == "account" {
                continue;
            }
            let parsed = part
                .split_once(':')
                .and_then(|(name, id)| Some((Surface::parse(name)?, id)));
            let Some((surface, id)) = parsed else {
                return Err(Unresolved(format!(
                    "target reference `{target}` is not a route: `{part}` is not surface:id \
                     (tool, assistant, phoneNumber, account)"
                )));
            };
            route = route
                .with(surface, id)
                .map_err(|e| Unresolved(format!("target reference `{target}`: {e}")))?;
        }
        Ok(route)
    }
}

/// Why the directory could not answer (the host's store failed); the attempt is skipped with
/// this reason and can be requeued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("directory lookup failed: {0}")]
pub struct DirectoryError(pub String);

/// The host's configuration of its tenants' surfaces, asked at every attempt.
#[async_trait]
pub trait Directory: Send + Sync + fmt::Debug {
    /// The current config of `surface` `id` of `tenant` as Vapi-shaped JSON (an assistant,
    /// phone-number or tool object with its `server`, or the account's `{"server": ...}`);
    /// `id` is `None` for the tenant's own account. `None` when it does not exist (deleted).
    /// Another tenant's surface does not exist.
    ///
    /// # Errors
    /// [`DirectoryError`] when the lookup itself failed.
    async fn surface(
        &self,
        tenant: &TenantId,
        surface: Surface,
        id: Option<&str>,
    ) -> Result<Option<Value>, DirectoryError>;
}

/// An in-memory [`Directory`]: per tenant, surfaces by id, checked when inserted.
#[derive(Default)]
pub struct MemoryDirectory {
    map: RwLock<HashMap<(TenantId, Surface, String), Value>>,
}

impl MemoryDirectory {
    /// An empty directory.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) a surface's config; the next attempt uses it. For the tenant's own
    /// account use the id `""`.
    ///
    /// # Errors
    /// The [`CascadeError`] of a config that cannot be read (a bad URL, timeout, header, ...).
    pub fn insert(
        &self,
        tenant: &TenantId,
        surface: Surface,
        id: &str,
        config: Value,
    ) -> Result<(), CascadeError> {
        let mut probe = Map::new();
        probe.insert(surface.as_str().to_owned(), config.clone());
        Cascade::from_value(Value::Object(probe))?;
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((tenant.clone(), surface, id.to_owned()), config);
        Ok(())
    }

    /// Deletes a surface; jobs routed to it are skipped from then on. Whether it existed.
    pub fn remove(&self, tenant: &TenantId, surface: Surface, id: &str) -> bool {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(tenant.clone(), surface, id.to_owned()))
            .is_some()
    }
}

impl fmt::Debug for MemoryDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("MemoryDirectory")
            .field("surfaces", &n)
            .finish()
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn surface(
        &self,
        tenant: &TenantId,
        surface: Surface,
        id: Option<&str>,
    ) -> Result<Option<Value>, DirectoryError> {
        Ok(self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(tenant.clone(), surface, id.unwrap_or("").to_owned()))
            .cloned())
    }
}

fn from_configs(
    configs: &TenantConfigs,
    tenant: &TenantId,
    surface: Surface,
    id: Option<&str>,
) -> Option<Value> {
    let config = configs.get(&Scope::tenant(tenant.clone()), tenant)?;
    let name = match id {
        Some(id) => format!("{}:{id}", surface.as_str()),
        None => surface.as_str().to_owned(),
    };
    let url = config.webhook_target(&name)?;
    Some(serde_json::json!({"server": {"url": url.as_str()}}))
}

/// A tenant's webhook targets as surfaces: the target named `assistant:<id>`,
/// `phoneNumber:<id>`, `tool:<id>` or `account` (`account:<id>` for a named one) is that
/// surface's server URL. Looked up in the tenant's own scope only.
#[async_trait]
impl Directory for TenantConfigs {
    async fn surface(
        &self,
        tenant: &TenantId,
        surface: Surface,
        id: Option<&str>,
    ) -> Result<Option<Value>, DirectoryError> {
        Ok(from_configs(self, tenant, surface, id))
    }
}

/// As for [`TenantConfigs`], read at every attempt, so configuration changes apply to the
/// next attempt.
#[async_trait]
impl Directory for RwLock<TenantConfigs> {
    async fn surface(
        &self,
        tenant: &TenantId,
        surface: Surface,
        id: Option<&str>,
    ) -> Result<Option<Value>, DirectoryError> {
        let configs = self.read().unwrap_or_else(PoisonError::into_inner);
        Ok(from_configs(&configs, tenant, surface, id))
    }
}

/// The surfaces a cascade was read from, and the cascade.
type ParsedCascade = (Arc<Map<String, Value>>, Arc<Cascade>);

/// How many routes' cascades [`DirectoryTargets`] keeps read; past it, it starts again.
const MAX_PARSED: usize = 4096;

/// A [`TargetResolver`] over a [`Directory`]: each attempt reads the job's route, asks the
/// directory for the current config of each surface, resolves the cascade for the event,
/// applies the server's credential and signs with the tenant's signer.
pub struct DirectoryTargets {
    directory: Arc<dyn Directory>,
    parsed: Mutex<HashMap<(TenantId, Route), ParsedCascade>>,
    credentials: Option<Arc<CredentialResolver>>,
    signer: Option<Arc<dyn Sign>>,
    tenant_signers: HashMap<TenantId, Arc<dyn Sign>>,
}

impl fmt::Debug for DirectoryTargets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryTargets")
            .field("directory", &self.directory)
            .field("credentials", &self.credentials.is_some())
            .field("signed", &self.signer.is_some())
            .field("tenant_signers", &self.tenant_signers.len())
            .finish()
    }
}

impl DirectoryTargets {
    /// Targets from `directory`, unsigned, with no credentials (a server with a
    /// `credentialId` is then skipped, saying so).
    #[must_use]
    pub fn new(directory: Arc<dyn Directory>) -> Self {
        DirectoryTargets {
            directory,
            parsed: Mutex::default(),
            credentials: None,
            signer: None,
            tenant_signers: HashMap::new(),
        }
    }

    /// Applies servers' credentials through `credentials`.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Arc<CredentialResolver>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Signs every tenant's attempts with `signer` (Standard Webhooks by default), unless
    /// the tenant has its own.
    #[must_use]
    pub fn with_signer(mut self, signer: Arc<dyn Sign>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Signs `tenant`'s attempts with `signer`.
    #[must_use]
    pub fn with_tenant_signer(mut self, tenant: TenantId, signer: Arc<dyn Sign>) -> Self {
        self.tenant_signers.insert(tenant, signer);
        self
    }

    /// The directory.
    #[must_use]
    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    /// The cascade of `route` now: each surface it names, and the tenant's account. The
    /// surfaces are asked for at every call; the cascade read from them is reused while they
    /// are unchanged (reading it is most of a resolution's time).
    ///
    /// # Errors
    /// [`Unresolved`] when a named surface no longer exists, the directory failed, or a
    /// stored config cannot be read.
    pub async fn cascade(
        &self,
        tenant: &TenantId,
        route: &Route,
    ) -> Result<Arc<Cascade>, Unresolved> {
        let mut object = Map::new();
        for surface in Surface::ALL {
            let id = route.id(surface);
            if id.is_none() && surface != Surface::Account {
                continue;
            }
            let config = self
                .directory
                .surface(tenant, surface, id)
                .await
                .map_err(|e| Unresolved(e.to_string()))?;
            match (config, id) {
                (Some(config), _) => {
                    object.insert(surface.as_str().to_owned(), config);
                }
                (None, Some(id)) => {
                    return Err(Unresolved(format!(
                        "{surface} `{id}` of tenant `{tenant}` no longer exists"
                    )));
                }
                // The tenant has no account-level server: fine, the other levels decide.
                (None, None) => {}
            }
        }
        let key = (tenant.clone(), route.clone());
        let cached = self
            .parsed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some((seen, cascade)) = cached {
            if *seen == object {
                return Ok(cascade);
            }
        }
        let cascade = Arc::new(Cascade::from_value(Value::Object(object.clone())).map_err(
            |e| {
                Unresolved(format!(
                    "the stored configuration of tenant `{tenant}`: {e}"
                ))
            },
        )?);
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if parsed.len() >= MAX_PARSED {
            parsed.clear();
        }
        parsed.insert(key, (Arc::new(object), cascade.clone()));
        Ok(cascade)
    }

    /// The current target of an event of `event_type` for `route` of `tenant` (the live path
    /// asks this way; jobs through [`TargetResolver::resolve`]).
    ///
    /// # Errors
    /// [`Unresolved`] with the reason: a deleted surface, no server for the event, a
    /// credential that could not be applied.
    pub async fn target(
        &self,
        tenant: &TenantId,
        route: &Route,
        event_type: &str,
    ) -> Result<Target, Unresolved> {
        let cascade = self.cascade(tenant, route).await?;
        let resolved = cascade
            .resolve(event_type)
            .map_err(|e| Unresolved(e.to_string()))?;
        self.finish(tenant, resolved).await
    }

    async fn finish(
        &self,
        tenant: &TenantId,
        resolved: crate::cascade::Resolved<'_>,
    ) -> Result<Target, Unresolved> {
        let level = resolved.level;
        let credential = match resolved.server.auth() {
            ServerAuth::Credential(id) => Some(id.clone()),
            _ => None,
        };
        let mut target = Target::from_resolved(resolved).map_err(|e| Unresolved(e.to_string()))?;
        if let Some(id) = credential {
            let Some(credentials) = &self.credentials else {
                return Err(Unresolved(format!(
                    "the {level} server uses credential `{id}` and no credential resolver is configured"
                )));
            };
            target = credentials
                .apply(tenant, &id, target)
                .await
                .map_err(|e| Unresolved(format!("the {level} server's credential: {e}")))?;
        }
        let signer = self.tenant_signers.get(tenant).or(self.signer.as_ref());
        Ok(match signer {
            Some(signer) => target.signer(signer.clone()),
            None => target,
        })
    }
}

#[async_trait]
impl TargetResolver for DirectoryTargets {
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved> {
        let route = Route::from_target_ref(&job.target)?;
        let cascade = self.cascade(&job.tenant, &route).await?;
        // A final transcript has its own serverMessages name; only the event itself says so.
        let envelope = (job.event_type == "transcript")
            .then(|| Envelope::parse(&job.payload).ok())
            .flatten();
        let resolved = match &envelope {
            Some(envelope) => cascade.resolve_event(envelope.event()),
            None => cascade.resolve(&job.event_type),
        }
        .map_err(|e| Unresolved(e.to_string()))?;
        self.finish(&job.tenant, resolved).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_target_refs() {
        let route = Route::new()
            .assistant("asst_1")
            .unwrap()
            .phone_number("pn:2")
            .unwrap()
            .tool("t3")
            .unwrap();
        let text = route.to_target_ref().unwrap();
        assert_eq!(text.as_str(), "tool:t3 assistant:asst_1 phoneNumber:pn:2");
        assert_eq!(Route::from_target_ref(&text).unwrap(), route);
        let legacy = TargetRef::new("phone-number:pn_9").unwrap();
        assert_eq!(
            Route::from_target_ref(&legacy)
                .unwrap()
                .id(Surface::PhoneNumber),
            Some("pn_9")
        );
        assert_eq!(Route::new().to_target_ref().unwrap().as_str(), "account");
        assert!(Route::from_target_ref(&TargetRef::new("https://x").unwrap()).is_err());
        assert!(Route::new().assistant("a b").is_err());
    }
}
