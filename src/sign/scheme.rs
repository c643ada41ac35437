//! Receiver-compatible signature schemes: what a runtime that replaces Vapi, ElevenLabs, Retell
//! or Bland must send so that receivers written for those platforms keep verifying, and a
//! verifier for each (for receivers, and for tests of a sender).
//!
//! | [`SchemeKind`] | headers (default names) | signed content | key |
//! |---|---|---|---|
//! | `standard` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` | `id.timestamp.body`, HMAC-SHA256 | `whsec_<base64>` |
//! | `vapi-hmac` | `x-signature: <prefix><hex or base64>`, `x-timestamp: <unix s>` | [`HmacPlan`]'s payload format (`{timestamp}.{body}`) | the secret's bytes (or base64) |
//! | `vapi-signature` | `x-vapi-signature: sha256=<hex>` | the body, HMAC-SHA256 | the secret's bytes |
//! | `elevenlabs` | `elevenlabs-signature: t=<unix s>,v0=<hex>` | `timestamp.body`, HMAC-SHA256 | the secret's bytes (`wsec_...` as is) |
//! | `retell` | `x-retell-signature: v=<unix ms>,d=<hex>` | `body` followed by the timestamp digits, HMAC-SHA256 | the Retell API key's bytes |
//! | `bland` | `x-webhook-signature: <hex>` | the body, HMAC-SHA256 | the secret's bytes |
//!
//! Sources read for each (the crate implements them from these descriptions, with vectors
//! computed independently by `tests/interop/scheme_vectors.py` and checked against each
//! platform's own verifier where one installs, `tests/interop/schemes_check.py`):
//! - Vapi HMAC credential: the `HMACAuthenticationPlan` schema of Vapi's OpenAPI document
//!   (`secretKey`, `algorithm` sha256/sha512/sha1, `signatureHeader` default `x-signature`,
//!   `timestampHeader` default `x-timestamp`, `signaturePrefix`, `includeTimestamp` default
//!   true, `payloadFormat` with `{body}`, `{timestamp}`, `{method}`, `{url}`, `{svix-id}`,
//!   default `{timestamp}.{body}`, `messageIdHeader`, `signatureEncoding` hex (default) or
//!   base64, `secretIsBase64` default false) and <https://docs.vapi.ai/server-url/server-authentication>.
//!   The unit of the timestamp is not documented; Unix seconds here (as Standard Webhooks and
//!   Svix), milliseconds on request ([`HmacPlanBuilder::timestamp_millis`]).
//! - `x-vapi-signature`: Vapi's doc samples (custom knowledge base) compare it with `sha256=`
//!   plus the hex HMAC-SHA256 of the body.
//! - ElevenLabs: the post-call webhook docs (`ElevenLabs-Signature: t=timestamp,v0=hash`, the
//!   hex HMAC-SHA256 of `timestamp.request_body`) and `construct_event` of the `elevenlabs`
//!   Python SDK (`src/elevenlabs/webhooks_custom.py`: 30-minute tolerance).
//! - Retell: `src/lib/webhook_auth.ts` of `retell-sdk` (npm) and
//!   `src/retell/lib/webhook_auth.py` of `retell-sdk` (PyPI): `v=<Date.now()>,d=<hex
//!   HMAC-SHA256(api key, body + timestamp)>`, five-minute tolerance either way.
//! - Bland: <https://docs.bland.ai/tutorials/webhook-signing> (`X-Webhook-Signature`, the hex
//!   HMAC-SHA256 of the body with the account's signing secret; no timestamp).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::{LENIENT, SignError, Signer, Verifier, VerifyError};

/// `x-signature`: the default signature header of Vapi's HMAC credential.
pub const X_SIGNATURE: HeaderName = HeaderName::from_static("x-signature");
/// `x-timestamp`: the default timestamp header of Vapi's HMAC credential.
pub const X_TIMESTAMP: HeaderName = HeaderName::from_static("x-timestamp");
/// `x-vapi-signature`: `sha256=` and the hex HMAC-SHA256 of the body.
pub const X_VAPI_SIGNATURE: HeaderName = HeaderName::from_static("x-vapi-signature");
/// `elevenlabs-signature`: `t=<unix s>,v0=<hex>`.
pub const ELEVENLABS_SIGNATURE: HeaderName = HeaderName::from_static("elevenlabs-signature");
/// `x-retell-signature`: `v=<unix ms>,d=<hex>`.
pub const X_RETELL_SIGNATURE: HeaderName = HeaderName::from_static("x-retell-signature");
/// `x-webhook-signature`: Bland's hex HMAC-SHA256 of the body.
pub const X_WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("x-webhook-signature");

/// ElevenLabs' tolerance (its SDK's `construct_event`).
pub const ELEVENLABS_TOLERANCE: Duration = Duration::from_secs(30 * 60);
/// Retell's tolerance (its SDKs' `verify`).
pub const RETELL_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The hash of an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA1 (only where a receiver insists).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl FromStr for Algorithm {
    type Err = SignError;
    /// `sha1`, `sha256` or `sha512` (Vapi's names).
    fn from_str(s: &str) -> Result<Self, SignError> {
        match s {
            "sha1" => Ok(Algorithm::Sha1),
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            other => Err(SignError::UnknownAlgorithm(
                other.escape_debug().to_string(),
            )),
        }
    }
}

/// How a signature's bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// Lowercase hex (verifiers accept either case).
    Hex,
    /// Standard base64 with padding.
    Base64,
}

impl FromStr for Encoding {
    type Err = SignError;
    /// `hex` or `base64`.
    fn from_str(s: &str) -> Result<Self, SignError> {
        match s {
            "hex" => Ok(Encoding::Hex),
            "base64" => Ok(Encoding::Base64),
            other => Err(SignError::UnknownEncoding(other.escape_debug().to_string())),
        }
    }
}

/// An HMAC key. `Debug` never shows it.
#[derive(Clone)]
struct Key(Box<[u8]>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Key {
    fn new(bytes: &[u8]) -> Result<Key, SignError> {
        if bytes.is_empty() {
            return Err(SignError::EmptySecret);
        }
        Ok(Key(bytes.into()))
    }

    fn mac(&self, algorithm: Algorithm, parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
                return Vec::new();
            };
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match algorithm {
            Algorithm::Sha1 => run::<Hmac<Sha1>>(&self.0, parts),
            Algorithm::Sha256 => run::<Hmac<Sha256>>(&self.0, parts),
            Algorithm::Sha512 => run::<Hmac<Sha512>>(&self.0, parts),
        }
    }

    /// Constant-time comparison of `tag` with the MAC of `parts`.
    fn verify(&self, algorithm: Algorithm, parts: &[&[u8]], tag: &[u8]) -> bool {
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
                return false;
            };
            for part in parts {
                mac.update(part);
            }
            mac.verify_slice(tag).is_ok()
        }
        match algorithm {
            Algorithm::Sha1 => run::<Hmac<Sha1>>(&self.0, parts, tag),
            Algorithm::Sha256 => run::<Hmac<Sha256>>(&self.0, parts, tag),
            Algorithm::Sha512 => run::<Hmac<Sha512>>(&self.0, parts, tag),
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends `bytes` as lower-case hex (also the outbox's ids).
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

fn encode(encoding: Encoding, tag: &[u8]) -> String {
    match encoding {
        Encoding::Hex => to_hex(tag),
        Encoding::Base64 => STANDARD.encode(tag),
    }
}

fn decode(encoding: Encoding, text: &str) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => from_hex(text),
        Encoding::Base64 => STANDARD.decode(text).ok(),
    }
}

/// What one attempt signs: the message id (the same on every retry), the attempt's time, the
/// request's method and URL (for payload formats that name them) and the exact body.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Message<'a> {
    /// The message id (`webhook-id`; `{svix-id}` of a payload format).
    pub id: &'a str,
    /// The attempt's time, milliseconds since the Unix epoch; each scheme writes it in its
    /// own unit (Retell milliseconds, the others seconds).
    pub unix_millis: u64,
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The full request URL.
    pub url: &'a str,
    /// The body, byte-exact.
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// A POST of `body` as message `id` at `unix_millis`, to `url`.
    #[must_use]
    pub fn new(id: &'a str, unix_millis: u64, url: &'a str, body: &'a [u8]) -> Self {
        Message {
            id,
            unix_millis,
            method: "POST",
            url,
            body,
        }
    }

    /// With another HTTP method.
    #[must_use]
    pub fn with_method(mut self, method: &'a str) -> Self {
        self.method = method;
        self
    }
}

/// One slot of an HMAC payload format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Text(String),
    Body,
    Timestamp,
    Method,
    Url,
    Id,
}

fn parse_format(format: &str) -> Result<Vec<Slot>, SignError> {
    let mut slots = Vec::new();
    let mut rest = format;
    let mut text = String::new();
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            return Err(SignError::PayloadFormat(format.escape_debug().to_string()));
        };
        let slot = match &after[1..close] {
            "body" => Slot::Body,
            "timestamp" => Slot::Timestamp,
            "method" => Slot::Method,
            "url" => Slot::Url,
            "svix-id" => Slot::Id,
            _ => return Err(SignError::PayloadFormat(format.escape_debug().to_string())),
        };
        if !text.is_empty() {
            slots.push(Slot::Text(std::mem::take(&mut text)));
        }
        slots.push(slot);
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        slots.push(Slot::Text(text));
    }
    Ok(slots)
}

/// Vapi's HMAC credential (`HMACAuthenticationPlan`): which algorithm, which headers, what is
/// signed and how the signature is written. Build with [`HmacPlan::builder`] or read Vapi's
/// JSON with [`HmacPlan::from_json`]. `Debug` never shows the key.
///
/// ```
/// use agent_webhooks::sign::{HmacPlan, Message, Scheme};
/// let plan = HmacPlan::builder(b"s3cret").build()?; // Vapi's defaults
/// let scheme = Scheme::vapi_hmac(plan);
/// let message = Message::new("msg_1", 1_700_000_000_000, "https://hooks.example.com/", b"{}");
/// let headers = scheme.sign(&message)?;
/// assert_eq!(headers["x-timestamp"], "1700000000");
/// assert_eq!(headers["x-signature"].len(), 64); // hex HMAC-SHA256 of `1700000000.{}`
/// scheme.verify(&headers, &message, 1_700_000_000_000)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HmacPlan {
    key: Key,
    algorithm: Algorithm,
    signature_header: HeaderName,
    timestamp_header: Option<HeaderName>,
    message_id_header: Option<HeaderName>,
    prefix: String,
    format: Vec<Slot>,
    encoding: Encoding,
    millis: bool,
}

/// Builds an [`HmacPlan`]; the settings are checked by [`HmacPlanBuilder::build`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HmacPlanBuilder {
    key: RawKey,
    secret_is_base64: bool,
    algorithm: Result<Algorithm, SignError>,
    signature_header: String,
    timestamp_header: String,
    message_id_header: Option<String>,
    prefix: String,
    include_timestamp: bool,
    format: Option<String>,
    encoding: Result<Encoding, SignError>,
    millis: bool,
}

/// Key bytes not yet checked. `Debug` never shows them.
#[derive(Clone)]
struct RawKey(Vec<u8>);

impl fmt::Debug for RawKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl HmacPlanBuilder {
    /// The algorithm (default `sha256`).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Ok(algorithm);
        self
    }
    /// The algorithm by Vapi's name (`sha1`, `sha256`, `sha512`); checked by `build`.
    pub fn algorithm_name(mut self, name: &str) -> Self {
        self.algorithm = name.parse();
        self
    }
    /// The header that carries the signature (default `x-signature`).
    pub fn signature_header(mut self, name: impl Into<String>) -> Self {
        self.signature_header = name.into();
        self
    }
    /// The header that carries the timestamp (default `x-timestamp`).
    pub fn timestamp_header(mut self, name: impl Into<String>) -> Self {
        self.timestamp_header = name.into();
        self
    }
    /// Also sends the message id in this header (Svix style).
    pub fn message_id_header(mut self, name: impl Into<String>) -> Self {
        self.message_id_header = Some(name.into());
        self
    }
    /// Written before the encoded signature (`sha256=`, GitHub style); default none.
    pub fn signature_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Whether a timestamp is sent and may be signed (default true). Without it the default
    /// payload is the body alone.
    pub fn include_timestamp(mut self, include: bool) -> Self {
        self.include_timestamp = include;
        self
    }
    /// What is signed: `{body}`, `{timestamp}`, `{method}`, `{url}`, `{svix-id}` and literal
    /// text (default `{timestamp}.{body}`, or `{body}` without a timestamp).
    pub fn payload_format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }
    /// How the signature is written (default hex).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = Ok(encoding);
        self
    }
    /// The encoding by Vapi's name (`hex`, `base64`); checked by `build`.
    pub fn encoding_name(mut self, name: &str) -> Self {
        self.encoding = name.parse();
        self
    }
    /// The key given is base64 and is decoded first (Vapi's `secretIsBase64`).
    pub fn secret_is_base64(mut self, yes: bool) -> Self {
        self.secret_is_base64 = yes;
        self
    }
    /// Writes the timestamp in Unix milliseconds instead of seconds.
    pub fn timestamp_millis(mut self, yes: bool) -> Self {
        self.millis = yes;
        self
    }

    /// The plan.
    ///
    /// # Errors
    /// [`SignError::EmptySecret`], [`SignError::SecretNotBase64`],
    /// [`SignError::UnknownAlgorithm`], [`SignError::UnknownEncoding`],
    /// [`SignError::HeaderName`] for a header name that is not one,
    /// [`SignError::PayloadFormat`] for an unknown placeholder, and
    /// [`SignError::TimestampNotSent`] for a format with `{timestamp}` when no timestamp is
    /// sent.
    pub fn build(self) -> Result<HmacPlan, SignError> {
        let key = if self.secret_is_base64 {
            let text = std::str::from_utf8(&self.key.0).map_err(|_| SignError::SecretNotBase64)?;
            LENIENT
                .decode(text.trim())
                .map_err(|_| SignError::SecretNotBase64)?
        } else {
            self.key.0
        };
        let header = |name: &str| {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SignError::HeaderName(name.escape_debug().to_string()))
        };
        let default_format = if self.include_timestamp {
            "{timestamp}.{body}"
        } else {
            "{body}"
        };
        let format = parse_format(self.format.as_deref().unwrap_or(default_format))?;
        if !self.include_timestamp && format.contains(&Slot::Timestamp) {
            return Err(SignError::TimestampNotSent);
        }
        Ok(HmacPlan {
            key: Key::new(&key)?,
            algorithm: self.algorithm?,
            signature_header: header(&self.signature_header)?,
            timestamp_header: if self.include_timestamp {
                Some(header(&self.timestamp_header)?)
            } else {
                None
            },
            message_id_header: self.message_id_header.as_deref().map(header).transpose()?,
            prefix: self.prefix,
            format,
            encoding: self.encoding?,
            millis: self.millis,
        })
    }
}

/// Vapi's `HMACAuthenticationPlan` JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHmacPlan {
    secret_key: String,
    algorithm: String,
    signature_header: Option<String>,
    timestamp_header: Option<String>,
    signature_prefix: Option<String>,
    include_timestamp: Option<bool>,
    payload_format: Option<String>,
    message_id_header: Option<String>,
    signature_encoding: Option<String>,
    secret_is_base64: Option<bool>,
}

impl HmacPlan {
    /// A plan signing with `secret` (its bytes; see [`HmacPlanBuilder::secret_is_base64`]),
    /// Vapi's defaults otherwise: sha256, `x-signature`, `x-timestamp` in Unix seconds, payload
    /// `{timestamp}.{body}`, hex, no prefix.
    pub fn builder(secret: &[u8]) -> HmacPlanBuilder {
        HmacPlanBuilder {
            key: RawKey(secret.to_vec()),
            secret_is_base64: false,
            algorithm: Ok(Algorithm::Sha256),
            signature_header: X_SIGNATURE.as_str().to_owned(),
            timestamp_header: X_TIMESTAMP.as_str().to_owned(),
            message_id_header: None,
            prefix: String::new(),
            include_timestamp: true,
            format: None,
            encoding: Ok(Encoding::Hex),
            millis: false,
        }
    }

    /// Reads Vapi's `HMACAuthenticationPlan` object (`{"type": "hmac", "secretKey": ...,
    /// "algorithm": "sha256", ...}`); absent fields take Vapi's defaults.
    ///
    /// # Errors
    /// [`SignError::PlanJson`] for JSON that is not such an object, or as
    /// [`HmacPlanBuilder::build`].
    pub fn from_json(value: serde_json::Value) -> Result<HmacPlan, SignError> {
        let raw: RawHmacPlan = serde_json::from_value(value)
            .map_err(|e| SignError::PlanJson(redact_serde(&e.to_string())))?;
        let mut b = HmacPlan::builder(raw.secret_key.as_bytes()).algorithm_name(&raw.algorithm);
        if let Some(h) = raw.signature_header {
            b = b.signature_header(h);
        }
        if let Some(h) = raw.timestamp_header {
            b = b.timestamp_header(h);
        }
        if let Some(p) = raw.signature_prefix {
            b = b.signature_prefix(p);
        }
        if let Some(i) = raw.include_timestamp {
            b = b.include_timestamp(i);
        }
        if let Some(f) = raw.payload_format {
            b = b.payload_format(f);
        }
        if let Some(h) = raw.message_id_header {
            b = b.message_id_header(h);
        }
        if let Some(e) = raw.signature_encoding {
            b = b.encoding_name(&e);
        }
        if let Some(s) = raw.secret_is_base64 {
            b = b.secret_is_base64(s);
        }
        b.build()
    }

    /// The header that carries the signature.
    #[must_use]
    pub fn signature_header(&self) -> &HeaderName {
        &self.signature_header
    }

    /// The header that carries the timestamp, if one is sent.
    #[must_use]
    pub fn timestamp_header(&self) -> Option<&HeaderName> {
        self.timestamp_header.as_ref()
    }

    fn stamp(&self, unix_millis: u64) -> String {
        if self.millis {
            unix_millis.to_string()
        } else {
            (unix_millis / 1000).to_string()
        }
    }

    fn parts<'a>(&'a self, m: &Message<'a>, stamp: &'a str) -> Vec<&'a [u8]> {
        self.format
            .iter()
            .map(|slot| match slot {
                Slot::Text(t) => t.as_bytes(),
                Slot::Body => m.body,
                Slot::Timestamp => stamp.as_bytes(),
                Slot::Method => m.method.as_bytes(),
                Slot::Url => m.url.as_bytes(),
                Slot::Id => m.id.as_bytes(),
            })
            .collect()
    }

    fn sign(&self, m: &Message<'_>) -> Result<HeaderMap, SignError> {
        let stamp = self.stamp(m.unix_millis);
        let tag = self.key.mac(self.algorithm, &self.parts(m, &stamp));
        let mut headers = HeaderMap::new();
        let value = format!("{}{}", self.prefix, encode(self.encoding, &tag));
        headers.insert(
            self.signature_header.clone(),
            HeaderValue::from_str(&value).map_err(|_| SignError::PrefixNotHeaderText)?,
        );
        if let Some(name) = &self.timestamp_header {
            headers.insert(
                name.clone(),
                HeaderValue::from(stamp.parse::<u64>().unwrap_or(0)),
            );
        }
        if let Some(name) = &self.message_id_header {
            let id = HeaderValue::from_str(m.id)
                .map_err(|_| SignError::InvalidId(m.id.escape_debug().to_string()))?;
            headers.insert(name.clone(), id);
        }
        Ok(headers)
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        m: &Message<'_>,
        now_millis: u64,
        tolerance: Duration,
    ) -> Result<(), VerifyError> {
        let value = text(headers, &self.signature_header)?;
        let stamp = match &self.timestamp_header {
            Some(name) => {
                let stamp = text(headers, name)?.to_owned();
                let at = digits(&stamp).ok_or(VerifyError::BadTimestamp)?;
                let at_millis = if self.millis {
                    at
                } else {
                    at.saturating_mul(1000)
                };
                within(at_millis, now_millis, tolerance)?;
                stamp
            }
            None => String::new(),
        };
        let id;
        let m = match &self.message_id_header {
            Some(name) => {
                id = text(headers, name)?.to_owned();
                Message { id: &id, ..*m }
            }
            None => *m,
        };
        let encoded = value
            .strip_prefix(self.prefix.as_str())
            .ok_or_else(|| malformed(&self.signature_header, "the signature prefix is missing"))?;
        let tag = decode(self.encoding, encoded)
            .ok_or_else(|| malformed(&self.signature_header, "not hex or base64 as configured"))?;
        if self
            .key
            .verify(self.algorithm, &self.parts(&m, &stamp), &tag)
        {
            Ok(())
        } else {
            Err(VerifyError::Mismatch("hmac"))
        }
    }
}

fn redact_serde(message: &str) -> String {
    // serde's messages name fields and types, never the values of strings; keep them short.
    message.chars().take(200).collect()
}

fn text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, VerifyError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| VerifyError::Missing(name.as_str().to_owned()))
}

fn malformed(name: &HeaderName, problem: &'static str) -> VerifyError {
    VerifyError::Malformed {
        header: name.as_str().to_owned(),
        problem,
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The tolerance check in milliseconds, reported in whole seconds; both bounds inclusive.
fn within(at_millis: u64, now_millis: u64, tolerance: Duration) -> Result<(), VerifyError> {
    let tol = u64::try_from(tolerance.as_millis()).unwrap_or(u64::MAX);
    if at_millis < now_millis.saturating_sub(tol) {
        return Err(VerifyError::TooOld {
            age: (now_millis - at_millis) / 1000,
            tolerance: tolerance.as_secs(),
        });
    }
    if at_millis > now_millis.saturating_add(tol) {
        return Err(VerifyError::TooNew {
            ahead: (at_millis - now_millis) / 1000,
            tolerance: tolerance.as_secs(),
        });
    }
    Ok(())
}

/// The name of a signature scheme, as `webhookctl --scheme` and configs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemeKind {
    /// Standard Webhooks (the default).
    Standard,
    /// Vapi's HMAC credential.
    VapiHmac,
    /// `x-vapi-signature: sha256=<hex>`.
    VapiSignature,
    /// `elevenlabs-signature: t=...,v0=...`.
    ElevenLabs,
    /// `x-retell-signature: v=...,d=...`.
    Retell,
    /// Bland's `x-webhook-signature`.
    Bland,
}

impl SchemeKind {
    /// Every scheme.
    pub const ALL: [SchemeKind; 6] = [
        SchemeKind::Standard,
        SchemeKind::VapiHmac,
        SchemeKind::VapiSignature,
        SchemeKind::ElevenLabs,
        SchemeKind::Retell,
        SchemeKind::Bland,
    ];

    /// The name: `standard`, `vapi-hmac`, `vapi-signature`, `elevenlabs`, `retell`, `bland`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SchemeKind::Standard => "standard",
            SchemeKind::VapiHmac => "vapi-hmac",
            SchemeKind::VapiSignature => "vapi-signature",
            SchemeKind::ElevenLabs => "elevenlabs",
            SchemeKind::Retell => "retell",
            SchemeKind::Bland => "bland",
        }
    }

    /// Whether the scheme's timestamp is in milliseconds (Retell) rather than seconds.
    #[must_use]
    pub fn timestamp_in_millis(self) -> bool {
        self == SchemeKind::Retell
    }
}

impl fmt::Display for SchemeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemeKind {
    type Err = SignError;
    fn from_str(s: &str) -> Result<Self, SignError> {
        SchemeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| SignError::UnknownScheme(s.escape_debug().to_string()))
    }
}

#[derive(Debug, Clone)]
enum Inner {
    Standard(Signer, Verifier),
    Hmac(HmacPlan),
    ElevenLabs(Key),
    Retell(Key),
}

/// A signature scheme with its key: signs each attempt ([`Scheme::sign`] gives the headers to
/// send) and verifies what a receiver got ([`Scheme::verify`]). Chosen per server; the
/// dispatcher signs every attempt with it ([`Sign`](crate::outbox::Sign) is implemented).
/// `Debug` never shows the key.
///
/// ```
/// use agent_webhooks::sign::{Message, Scheme};
/// let retell = Scheme::retell(b"key_123")?;
/// let message = Message::new("msg_1", 1_700_000_000_123, "https://hooks.example.com/", b"{}");
/// let headers = retell.sign(&message)?;
/// assert!(headers["x-retell-signature"].to_str()?.starts_with("v=1700000000123,d="));
/// retell.verify(&headers, &message, 1_700_000_000_123)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Scheme {
    inner: Inner,
    tolerance: Duration,
}

impl Scheme {
    /// Standard Webhooks with `signer`'s secrets (verifying accepts any of them).
    #[must_use]
    pub fn standard(signer: Signer) -> Scheme {
        let mut secrets = signer.secrets.iter().cloned();
        let verifier = match secrets.next() {
            Some(first) => secrets.fold(Verifier::new(first), Verifier::with_secret),
            None => Verifier {
                secrets: Vec::new(),
                tolerance: super::DEFAULT_TOLERANCE.as_secs(),
            },
        };
        Scheme {
            inner: Inner::Standard(signer, verifier),
            tolerance: super::DEFAULT_TOLERANCE,
        }
    }

    /// Vapi's HMAC credential; a tolerance of 300 s where a timestamp is sent.
    #[must_use]
    pub fn vapi_hmac(plan: HmacPlan) -> Scheme {
        Scheme {
            inner: Inner::Hmac(plan),
            tolerance: super::DEFAULT_TOLERANCE,
        }
    }

    /// `x-vapi-signature: sha256=<hex HMAC-SHA256 of the body>`.
    ///
    /// # Errors
    /// [`SignError::EmptySecret`].
    pub fn vapi_signature(secret: &[u8]) -> Result<Scheme, SignError> {
        let plan = HmacPlan::builder(secret)
            .signature_header(X_VAPI_SIGNATURE.as_str())
            .signature_prefix("sha256=")
            .include_timestamp(false)
            .build()?;
        Ok(Scheme::vapi_hmac(plan))
    }

    /// ElevenLabs: `elevenlabs-signature: t=<unix s>,v0=<hex HMAC-SHA256 of t.body>`, the
    /// secret's bytes as the key (`wsec_...` as shown); 30-minute tolerance.
    ///
    /// # Errors
    /// [`SignError::EmptySecret`].
    pub fn elevenlabs(secret: &[u8]) -> Result<Scheme, SignError> {
        Ok(Scheme {
            inner: Inner::ElevenLabs(Key::new(secret)?),
            tolerance: ELEVENLABS_TOLERANCE,
        })
    }

    /// Retell: `x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256 of body + ms>`, keyed with
    /// the Retell API key; 5-minute tolerance.
    ///
    /// # Errors
    /// [`SignError::EmptySecret`].
    pub fn retell(api_key: &[u8]) -> Result<Scheme, SignError> {
        Ok(Scheme {
            inner: Inner::Retell(Key::new(api_key)?),
            tolerance: RETELL_TOLERANCE,
        })
    }

    /// Bland: `x-webhook-signature: <hex HMAC-SHA256 of the body>`, no timestamp.
    ///
    /// # Errors
    /// [`SignError::EmptySecret`].
    pub fn bland(secret: &[u8]) -> Result<Scheme, SignError> {
        let plan = HmacPlan::builder(secret)
            .signature_header(X_WEBHOOK_SIGNATURE.as_str())
            .include_timestamp(false)
            .build()?;
        Ok(Scheme::vapi_hmac(plan))
    }

    /// The scheme `kind` keyed with `secret` as an operator types it: `whsec_<base64>` for
    /// `standard`, the secret's text for the others (`vapi-hmac` with Vapi's defaults).
    ///
    /// # Errors
    /// [`SignError::EmptySecret`], [`SignError::SecretNotBase64`].
    pub fn from_secret(kind: SchemeKind, secret: &str) -> Result<Scheme, SignError> {
        let bytes = secret.as_bytes();
        match kind {
            SchemeKind::Standard => Ok(Scheme::standard(Signer::new(secret.parse()?))),
            SchemeKind::VapiHmac => Ok(Scheme::vapi_hmac(HmacPlan::builder(bytes).build()?)),
            SchemeKind::VapiSignature => Scheme::vapi_signature(bytes),
            SchemeKind::ElevenLabs => Scheme::elevenlabs(bytes),
            SchemeKind::Retell => Scheme::retell(bytes),
            SchemeKind::Bland => Scheme::bland(bytes),
        }
    }

    /// With another tolerance for the timestamp (whole milliseconds; bounds inclusive).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Scheme {
        self.tolerance = tolerance;
        if let Inner::Standard(_, verifier) = &mut self.inner {
            verifier.tolerance = tolerance.as_secs();
        }
        self
    }

    /// The headers to send with `message`. For `standard`, `webhook-id`, `webhook-timestamp`
    /// and `webhook-signature`.
    ///
    /// # Errors
    /// [`SignError::InvalidId`] for a message id that cannot be sent,
    /// [`SignError::PrefixNotHeaderText`] for a Vapi signature prefix that cannot be a header.
    pub fn sign(&self, message: &Message<'_>) -> Result<HeaderMap, SignError> {
        let seconds = message.unix_millis / 1000;
        let mut headers = HeaderMap::new();
        match &self.inner {
            Inner::Standard(signer, _) => {
                signer
                    .headers(message.id, seconds, message.body)?
                    .apply(&mut headers);
            }
            Inner::Hmac(plan) => return plan.sign(message),
            Inner::ElevenLabs(key) => {
                let t = seconds.to_string();
                let tag = key.mac(Algorithm::Sha256, &[t.as_bytes(), b".", message.body]);
                let value = format!("t={t},v0={}", to_hex(&tag));
                headers.insert(ELEVENLABS_SIGNATURE, header_text(&value));
            }
            Inner::Retell(key) => {
                let v = message.unix_millis.to_string();
                let tag = key.mac(Algorithm::Sha256, &[message.body, v.as_bytes()]);
                let value = format!("v={v},d={}", to_hex(&tag));
                headers.insert(X_RETELL_SIGNATURE, header_text(&value));
            }
        }
        Ok(headers)
    }

    /// Checks the headers a receiver got for `message` (its body, method and URL; the id
    /// and time are read from the headers) at `now_millis`. Comparisons are constant-time.
    ///
    /// # Errors
    /// [`VerifyError::Missing`] / [`VerifyError::MissingHeader`] for a header that is not
    /// there, [`VerifyError::Malformed`] for one not in the scheme's form,
    /// [`VerifyError::BadTimestamp`], [`VerifyError::TooOld`], [`VerifyError::TooNew`],
    /// [`VerifyError::NoMatch`] (standard), [`VerifyError::Mismatch`].
    pub fn verify(
        &self,
        headers: &HeaderMap,
        message: &Message<'_>,
        now_millis: u64,
    ) -> Result<(), VerifyError> {
        match &self.inner {
            Inner::Standard(_, verifier) => {
                verifier.verify_headers(headers, message.body, now_millis / 1000)
            }
            Inner::Hmac(plan) => plan.verify(headers, message, now_millis, self.tolerance),
            Inner::ElevenLabs(key) => {
                let value = text(headers, &ELEVENLABS_SIGNATURE)?;
                let mut t = None;
                let mut v0 = Vec::new();
                for part in value.split(',') {
                    if let Some(x) = part.strip_prefix("t=") {
                        t = Some(x);
                    } else if let Some(x) = part.strip_prefix("v0=") {
                        v0.push(x);
                    }
                }
                let (Some(t), false) = (t, v0.is_empty()) else {
                    return Err(malformed(
                        &ELEVENLABS_SIGNATURE,
                        "expected t=<unix s>,v0=<hex>",
                    ));
                };
                let at = digits(t).ok_or(VerifyError::BadTimestamp)?;
                within(at.saturating_mul(1000), now_millis, self.tolerance)?;
                let parts: [&[u8]; 3] = [t.as_bytes(), b".", message.body];
                let ok = v0
                    .iter()
                    .filter_map(|hex| from_hex(hex))
                    .any(|tag| key.verify(Algorithm::Sha256, &parts, &tag));
                if ok {
                    Ok(())
                } else {
                    Err(VerifyError::Mismatch("elevenlabs"))
                }
            }
            Inner::Retell(key) => {
                let value = text(headers, &X_RETELL_SIGNATURE)?;
                let (v, d) = value
                    .strip_prefix("v=")
                    .and_then(|rest| rest.split_once(",d="))
                    .ok_or_else(|| {
                        malformed(&X_RETELL_SIGNATURE, "expected v=<unix ms>,d=<hex>")
                    })?;
                let at = digits(v).ok_or(VerifyError::BadTimestamp)?;
                within(at, now_millis, self.tolerance)?;
                let tag =
                    from_hex(d).ok_or_else(|| malformed(&X_RETELL_SIGNATURE, "d= is not hex"))?;
                if key.verify(Algorithm::Sha256, &[message.body, v.as_bytes()], &tag) {
                    Ok(())
                } else {
                    Err(VerifyError::Mismatch("retell"))
                }
            }
        }
    }
}

fn header_text(value: &str) -> HeaderValue {
    // `t=`, `v=`, digits, `,` and hex only: always a valid header value.
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn formats_parse() {
        assert_eq!(
            parse_format("{timestamp}.{body}").unwrap(),
            vec![Slot::Timestamp, Slot::Text(".".into()), Slot::Body]
        );
        assert!(matches!(
            parse_format("{nope}"),
            Err(SignError::PayloadFormat(_))
        ));
        assert!(matches!(
            parse_format("{body"),
            Err(SignError::PayloadFormat(_))
        ));
    }

    #[test]
    fn debug_hides_keys() {
        let shown = format!(
            "{:?} {:?} {:?}",
            Scheme::retell(b"key_SECRET").unwrap(),
            Scheme::elevenlabs(b"wsec_SECRET").unwrap(),
            HmacPlan::builder(b"SECRET").build().unwrap()
        );
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
