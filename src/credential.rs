//! Server credentials, Vapi-compatible: a server's `credentialId` is resolved per tenant
//! through [`Credentials`] (the host's lookup; [`MemoryCredentials`] ships) and applied to
//! each attempt by [`CredentialResolver`]:
//!
//! | [`Credential`] | what each attempt carries |
//! |---|---|
//! | [`Credential::Bearer`] | `Authorization: Bearer <token>` (header name and prefix configurable; the legacy `X-Vapi-Secret` is a bearer without prefix) |
//! | [`Credential::Hmac`] | Vapi's HMAC credential ([`HmacPlan`]): signature (and timestamp) headers computed per attempt |
//! | [`Credential::OAuth2`] | `Authorization: Bearer <access token>` from a client-credentials token endpoint, cached until its expiry less a margin |
//! | [`Credential::Signature`] | a receiver-compatible signature scheme ([`Scheme`]: ElevenLabs, Retell, Bland, `x-vapi-signature`) |
//!
//! The token endpoint of an OAuth2 credential is checked by the same guard as every server
//! URL ([`UrlCheck`]), and sent through the same [`Transport`] (which checks every resolved
//! address). A token is fetched once for all the attempts waiting for it; a failed fetch is a
//! refused attempt whose reason names what failed, never a secret.
//!
//! Vapi's credential JSON ([`Credential::from_json`]) is read as `CreateWebhookCredentialDTO`
//! (`{"provider": "webhook", "authenticationPlan": {...}}`) or the plan alone, per the
//! `BearerAuthenticationPlan`, `HMACAuthenticationPlan` and `OAuth2AuthenticationPlan` schemas
//! of Vapi's OpenAPI document and <https://docs.vapi.ai/server-url/server-authentication>.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::lock::Mutex;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use url::Url;

use crate::guard::{Policy, Rejection};
use crate::outbox::{Clock, SystemClock, Target, Timestamp, UrlCheck};
use crate::sign::{HmacPlan, Scheme, SchemeKind, SignError};
use crate::tenant::TenantId;
use crate::transport::{Transport, TransportError};
use crate::vars::Secret;

/// How long before its expiry a cached OAuth2 token is refreshed, by default.
pub const DEFAULT_TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// The token endpoint's timeout, by default.
pub const DEFAULT_TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// A token whose response gives no `expires_in` is kept this long.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The largest token response read, in bytes.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// A bearer token: `headerName: [Bearer ]token` (Vapi's `BearerAuthenticationPlan`).
#[derive(Clone)]
#[non_exhaustive]
pub struct Bearer {
    /// The token.
    pub token: Secret,
    /// The header (default `Authorization`).
    pub header: HeaderName,
    /// Whether `Bearer ` precedes the token (default true).
    pub prefix: bool,
}

impl Bearer {
    /// `Authorization: Bearer <token>`.
    #[must_use]
    pub fn new(token: Secret) -> Bearer {
        Bearer {
            token,
            header: AUTHORIZATION,
            prefix: true,
        }
    }

    /// In another header.
    #[must_use]
    pub fn header(mut self, header: HeaderName) -> Bearer {
        self.header = header;
        self
    }

    /// With or without the `Bearer ` prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: bool) -> Bearer {
        self.prefix = prefix;
        self
    }

    fn value(&self) -> Result<HeaderValue, CredentialError> {
        let text = if self.prefix {
            format!("Bearer {}", self.token.expose())
        } else {
            self.token.expose().to_owned()
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| CredentialError::Invalid {
            problem: "the bearer token cannot be a header value".into(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("header", &self.header)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// OAuth2 client credentials (Vapi's `OAuth2AuthenticationPlan`): a token from `url`,
/// sent as `Authorization: Bearer <access_token>`.
#[derive(Clone)]
#[non_exhaustive]
pub struct OAuth2 {
    /// The token endpoint.
    pub url: Url,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: Secret,
    /// `scope`, if any (space-separated).
    pub scope: Option<String>,
}

impl OAuth2 {
    /// Client credentials for the token endpoint `url`.
    #[must_use]
    pub fn new(url: Url, client_id: impl Into<String>, client_secret: Secret) -> OAuth2 {
        OAuth2 {
            url,
            client_id: client_id.into(),
            client_secret,
            scope: None,
        }
    }

    /// With a scope.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> OAuth2 {
        self.scope = Some(scope.into());
        self
    }
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("url", &self.url.as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A stored server credential. `Debug` never shows a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credential {
    /// A bearer token.
    Bearer(Bearer),
    /// Vapi's HMAC credential.
    Hmac(HmacPlan),
    /// OAuth2 client credentials.
    OAuth2(OAuth2),
    /// A receiver-compatible signature scheme (an extension of this crate: the plan
    /// `{"type": "signature", "scheme": "retell", "secret": "..."}`).
    Signature(Scheme),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCredential {
    authentication_plan: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBearer {
    token: String,
    header_name: Option<String>,
    bearer_prefix_enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOAuth2 {
    url: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawSignature {
    scheme: String,
    secret: String,
}

fn invalid(problem: impl Into<String>) -> CredentialError {
    CredentialError::Invalid {
        problem: problem.into(),
    }
}

fn json_problem(e: &serde_json::Error) -> CredentialError {
    // serde names fields and types, never string values.
    invalid(e.to_string().chars().take(200).collect::<String>())
}

impl Credential {
    /// Reads Vapi's credential JSON: `{"provider": "webhook", "authenticationPlan": {...}}`
    /// or the plan alone, whose `type` is `bearer`, `hmac`, `oauth2` (or this crate's
    /// `signature`).
    ///
    /// ```
    /// use agent_webhooks::credential::Credential;
    /// let c = Credential::from_json(serde_json::json!({
    ///     "provider": "webhook",
    ///     "authenticationPlan": {"type": "bearer", "token": "t0k3n", "headerName": "X-Api-Key",
    ///                            "bearerPrefixEnabled": false}}))?;
    /// assert!(matches!(c, Credential::Bearer(_)));
    /// assert!(!format!("{c:?}").contains("t0k3n"));
    /// # Ok::<(), agent_webhooks::credential::CredentialError>(())
    /// ```
    ///
    /// # Errors
    /// [`CredentialError::Invalid`] naming what is wrong.
    pub fn from_json(value: serde_json::Value) -> Result<Credential, CredentialError> {
        let plan = if value.get("authenticationPlan").is_some() {
            let raw: RawCredential = serde_json::from_value(value).map_err(|e| json_problem(&e))?;
            raw.authentication_plan
        } else {
            value
        };
        let kind = plan
            .get("type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| invalid("authenticationPlan.type is missing"))?
            .to_owned();
        match kind.as_str() {
            "bearer" => {
                let raw: RawBearer = serde_json::from_value(plan).map_err(|e| json_problem(&e))?;
                let mut bearer = Bearer::new(Secret::new(raw.token));
                if let Some(name) = raw.header_name {
                    bearer.header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        invalid(format!(
                            "headerName `{}` is not a header name",
                            name.escape_debug()
                        ))
                    })?;
                }
                bearer.prefix = raw.bearer_prefix_enabled.unwrap_or(true);
                bearer.value()?;
                Ok(Credential::Bearer(bearer))
            }
            "hmac" => Ok(Credential::Hmac(HmacPlan::from_json(plan)?)),
            "oauth2" => {
                let raw: RawOAuth2 = serde_json::from_value(plan).map_err(|e| json_problem(&e))?;
                let url =
                    Url::parse(&raw.url).map_err(|e| invalid(format!("the token url: {e}")))?;
                let mut oauth = OAuth2::new(url, raw.client_id, Secret::new(raw.client_secret));
                oauth.scope = raw.scope;
                Ok(Credential::OAuth2(oauth))
            }
            "signature" => {
                let raw: RawSignature =
                    serde_json::from_value(plan).map_err(|e| json_problem(&e))?;
                let kind: SchemeKind = raw.scheme.parse()?;
                Ok(Credential::Signature(Scheme::from_secret(
                    kind,
                    &raw.secret,
                )?))
            }
            other => Err(invalid(format!(
                "authenticationPlan.type `{}`: use bearer, hmac, oauth2 or signature",
                other.escape_debug()
            ))),
        }
    }
}

/// Why a credential could not be applied; the attempt is refused with this reason. Never
/// holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The tenant has no credential with this id.
    #[error("credential `{id}` not found for this tenant")]
    NotFound {
        /// The credential id.
        id: String,
    },
    /// A credential that cannot be used.
    #[error("credential is invalid: {problem}")]
    Invalid {
        /// What is wrong.
        problem: String,
    },
    /// Its signature settings are invalid.
    #[error("credential signature: {0}")]
    Sign(#[from] SignError),
    /// The guard refused the OAuth2 token endpoint.
    #[error("OAuth2 token endpoint `{url}` refused by the guard: {rejection}")]
    TokenRefused {
        /// The endpoint.
        url: String,
        /// The guard's rejection.
        rejection: Rejection,
    },
    /// The token endpoint could not be reached.
    #[error("OAuth2 token endpoint `{url}`: {error}")]
    TokenTransport {
        /// The endpoint.
        url: String,
        /// The transport's error.
        error: TransportError,
    },
    /// The token endpoint answered with a non-2xx status.
    #[error("OAuth2 token endpoint `{url}` answered {status}")]
    TokenStatus {
        /// The endpoint.
        url: String,
        /// The status.
        status: u16,
    },
    /// The token endpoint's answer has no usable bearer token.
    #[error("OAuth2 token endpoint `{url}`: {problem}")]
    TokenResponse {
        /// The endpoint.
        url: String,
        /// What is wrong with the answer.
        problem: &'static str,
    },
    /// The host's credential lookup failed.
    #[error("credential lookup failed: {0}")]
    Lookup(String),
}

/// The host's credential store: a tenant's credential by id. Another tenant's id is absent.
#[async_trait]
pub trait Credentials: Send + Sync + fmt::Debug {
    /// The credential `id` of `tenant`, if it has one.
    ///
    /// # Errors
    /// [`CredentialError::Lookup`] when the store fails.
    async fn credential(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Credential>, CredentialError>;
}

/// In-memory [`Credentials`], per tenant. `Debug` shows counts only.
#[derive(Default)]
pub struct MemoryCredentials {
    map: RwLock<HashMap<(TenantId, String), Credential>>,
}

impl MemoryCredentials {
    /// No credentials yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores (or replaces) the credential `id` of `tenant`.
    pub fn insert(&self, tenant: TenantId, id: impl Into<String>, credential: Credential) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((tenant, id.into()), credential);
    }

    /// Removes a credential; whether there was one.
    pub fn remove(&self, tenant: &TenantId, id: &str) -> bool {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(tenant.clone(), id.to_owned()))
            .is_some()
    }
}

impl fmt::Debug for MemoryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("MemoryCredentials")
            .field("credentials", &n)
            .finish()
    }
}

#[async_trait]
impl Credentials for MemoryCredentials {
    async fn credential(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Credential>, CredentialError> {
        Ok(self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(tenant.clone(), id.to_owned()))
            .cloned())
    }
}

#[derive(Clone)]
struct Token {
    value: HeaderValue,
    refresh_at: Timestamp,
}

#[derive(Default)]
struct TokenSlot {
    /// Bumped by every fetch, successful or not: a waiter that sees it moved takes that
    /// fetch's outcome instead of fetching again.
    fetches: AtomicU64,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    token: Option<Token>,
    failure: Option<CredentialError>,
}

/// Applies credentials to targets: looks each up per tenant, adds the bearer header, the HMAC
/// or scheme signer, or a cached OAuth2 access token (fetching one when needed, once for all
/// waiters).
pub struct CredentialResolver {
    credentials: Arc<dyn Credentials>,
    transport: Arc<dyn Transport>,
    check: Arc<dyn UrlCheck>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    timeout: Duration,
    slots: std::sync::Mutex<HashMap<(TenantId, String), Arc<TokenSlot>>>,
    fetched: AtomicU64,
}

impl fmt::Debug for CredentialResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialResolver")
            .field("credentials", &self.credentials)
            .field("margin", &self.margin)
            .field("timeout", &self.timeout)
            .field("tokens_fetched", &self.fetched.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The answer of a token endpoint (RFC 6749 section 5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<f64>,
}

impl CredentialResolver {
    /// Resolves through `credentials`; OAuth2 token requests go through `transport`, their
    /// URL checked by the production guard ([`Policy::default`]) unless
    /// [`CredentialResolver::url_check`] says otherwise, on the system clock.
    #[must_use]
    pub fn new(credentials: Arc<dyn Credentials>, transport: Arc<dyn Transport>) -> Self {
        CredentialResolver {
            credentials,
            transport,
            check: Arc::new(Policy::default()),
            clock: Arc::new(SystemClock),
            margin: DEFAULT_TOKEN_MARGIN,
            timeout: DEFAULT_TOKEN_TIMEOUT,
            slots: std::sync::Mutex::default(),
            fetched: AtomicU64::new(0),
        }
    }

    /// The guard check for token endpoints (the runtime's one policy).
    #[must_use]
    pub fn url_check(mut self, check: Arc<dyn UrlCheck>) -> Self {
        self.check = check;
        self
    }

    /// The clock token expiry is measured on.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long before expiry a token is refreshed (default 60 s).
    #[must_use]
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The token endpoint's timeout (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many token requests have been sent (for metrics and tests).
    #[must_use]
    pub fn tokens_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// `target` with the credential `id` of `tenant` applied.
    ///
    /// # Errors
    /// [`CredentialError::NotFound`], or why the credential could not be applied (the
    /// attempt is then refused with it).
    pub async fn apply(
        &self,
        tenant: &TenantId,
        id: &str,
        target: Target,
    ) -> Result<Target, CredentialError> {
        let credential = self
            .credentials
            .credential(tenant, id)
            .await?
            .ok_or_else(|| CredentialError::NotFound { id: id.to_owned() })?;
        Ok(match credential {
            Credential::Bearer(bearer) => {
                let mut target = target;
                target
                    .headers
                    .insert(bearer.header.clone(), bearer.value()?);
                target
            }
            Credential::Hmac(plan) => target.credential(Arc::new(Scheme::vapi_hmac(plan))),
            Credential::Signature(scheme) => target.credential(Arc::new(scheme)),
            Credential::OAuth2(oauth) => {
                let value = self.token(tenant, id, &oauth).await?;
                let mut target = target;
                target.headers.insert(AUTHORIZATION, value);
                target
            }
        })
    }

    async fn token(
        &self,
        tenant: &TenantId,
        id: &str,
        oauth: &OAuth2,
    ) -> Result<HeaderValue, CredentialError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots
                .entry((tenant.clone(), id.to_owned()))
                .or_default()
                .clone()
        };
        let seen = slot.fetches.load(Ordering::SeqCst);
        let mut state = slot.state.lock().await;
        let now = self.clock.now();
        if let Some(token) = &state.token {
            if now < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        if slot.fetches.load(Ordering::SeqCst) != seen {
            // Another waiter fetched while we waited, and its token is not usable: share
            // its failure rather than asking the endpoint again.
            if let Some(failure) = &state.failure {
                return Err(failure.clone());
            }
        }
        let result = self.fetch(oauth).await;
        slot.fetches.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(token) => {
                state.failure = None;
                state.token = Some(token.clone());
                Ok(token.value)
            }
            Err(e) => {
                state.token = None;
                state.failure = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(&self, oauth: &OAuth2) -> Result<Token, CredentialError> {
        let url = oauth.url.as_str().to_owned();
        self.check
            .check(&oauth.url)
            .map_err(|rejection| CredentialError::TokenRefused {
                url: url.clone(),
                rejection,
            })?;
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            form.append_pair("client_id", &oauth.client_id);
            form.append_pair("client_secret", oauth.client_secret.expose());
            if let Some(scope) = &oauth.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let uri: http::Uri = url.parse().map_err(|_| CredentialError::Invalid {
            problem: format!("the token url `{url}` is not a request URI"),
        })?;
        let mut request = http::Request::post(uri)
            .body(form.into_bytes())
            .map_err(|_| invalid("the token request cannot be built"))?;
        request.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        let started = self.clock.now();
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let response = self
            .transport
            .send(request, self.timeout)
            .await
            .map_err(|error| CredentialError::TokenTransport {
                url: url.clone(),
                error,
            })?;
        if !response.status().is_success() {
            return Err(CredentialError::TokenStatus {
                url,
                status: response.status().as_u16(),
            });
        }
        let bad = |problem| CredentialError::TokenResponse {
            url: url.clone(),
            problem,
        };
        let body = response.body();
        if body.len() > MAX_TOKEN_RESPONSE {
            return Err(bad("the answer is larger than 64 KiB"));
        }
        let answer: TokenAnswer = serde_json::from_slice(body)
            .map_err(|_| bad("the answer is not JSON with a string access_token"))?;
        if let Some(kind) = &answer.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(bad("token_type is not bearer"));
            }
        }
        let mut value = HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
            .map_err(|_| bad("access_token cannot be a header value"))?;
        if answer.access_token.is_empty() {
            return Err(bad("access_token is empty"));
        }
        value.set_sensitive(true);
        let lifetime = match answer.expires_in {
            Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s.min(1e9)),
            Some(_) => return Err(bad("expires_in is not a number of seconds")),
            None => DEFAULT_TOKEN_LIFETIME,
        };
        // Counted from when the request left: the token may have been issued then.
        let refresh_at = started.saturating_add(lifetime.saturating_sub(self.margin));
        Ok(Token { value, refresh_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let c = Credential::from_json(serde_json::json!({
            "type": "oauth2", "url": "https://auth.example.com/token",
            "clientId": "cid", "clientSecret": "TOPSECRET"
        }))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("TOPSECRET"), "{shown}");
        let c = Credential::from_json(serde_json::json!({
            "type": "signature", "scheme": "retell", "secret": "key_TOPSECRET"
        }))
        .unwrap();
        assert!(!format!("{c:?}").contains("TOPSECRET"));
    }

    #[test]
    fn unknown_types_are_typed_errors() {
        let e = Credential::from_json(serde_json::json!({"type": "aws-iam"})).unwrap_err();
        assert!(matches!(e, CredentialError::Invalid { .. }));
        assert!(e.to_string().contains("aws-iam"));
    }
}
