//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), the legacy
//! shared-secret header, and the receiver-compatible schemes of other platforms ([`Scheme`]:
//! Vapi's HMAC credential and `x-vapi-signature`, ElevenLabs, Retell, Bland).
//!
//! A [`Signer`] signs each attempt under one or more [`SigningSecret`]s (rotation) and gives the
//! three headers ([`WEBHOOK_ID`], [`WEBHOOK_TIMESTAMP`], [`WEBHOOK_SIGNATURE`]); a [`Verifier`]
//! checks them on the receiving side within a tolerance ([`DEFAULT_TOLERANCE`]), the clock passed
//! in. Servers configured with a legacy `secret` get it as [`X_VAPI_SECRET`] instead
//! ([`legacy_secret_header`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use crate::vars::Secret;

mod scheme;
pub(crate) use scheme::push_hex;

pub use scheme::{
    Algorithm, ELEVENLABS_SIGNATURE, ELEVENLABS_TOLERANCE, Encoding, HmacPlan, HmacPlanBuilder,
    Message, RETELL_TOLERANCE, Scheme, SchemeKind, X_RETELL_SIGNATURE, X_SIGNATURE, X_TIMESTAMP,
    X_VAPI_SIGNATURE, X_WEBHOOK_SIGNATURE,
};

type HmacSha256 = Hmac<Sha256>;

/// `webhook-id`: the message id, the same on every retry.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// `webhook-timestamp`: Unix seconds of this attempt.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// `webhook-signature`: `v1,<base64>` entries, space-separated.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
/// `x-vapi-secret`: the legacy shared-secret header of older Vapi receivers.
pub const X_VAPI_SECRET: HeaderName = HeaderName::from_static("x-vapi-secret");
/// How far a verifier lets `webhook-timestamp` stray from its clock by default (what every
/// official Standard Webhooks library uses); the bound is inclusive.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

const SECRET_PREFIX: &str = "whsec_";

/// Secrets as people paste them: padding optional, non-zero trailing bits tolerated (as the
/// official libraries' decoders do).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A Standard Webhooks signing key. `Debug` never shows it.
#[derive(Clone)]
pub struct SigningSecret {
    mac: HmacSha256,
}

impl SigningSecret {
    /// A secret from the raw key bytes.
    ///
    /// # Errors
    /// [`SignError::EmptySecret`] for no bytes.
    pub fn from_bytes(key: &[u8]) -> Result<Self, SignError> {
        if key.is_empty() {
            return Err(SignError::EmptySecret);
        }
        let mac = HmacSha256::new_from_slice(key).map_err(|_| SignError::EmptySecret)?;
        Ok(SigningSecret { mac })
    }
}

impl FromStr for SigningSecret {
    type Err = SignError;

    /// Reads `whsec_<base64>`, or the base64 alone; missing `=` padding is accepted (as the
    /// official libraries do).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b64 = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        if b64.is_empty() {
            return Err(SignError::EmptySecret);
        }
        let key = LENIENT
            .decode(b64)
            .map_err(|_| SignError::SecretNotBase64)?;
        Self::from_bytes(&key)
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// A problem signing, or with a signing secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// An empty secret (or a bare `whsec_`).
    #[error("signing secret is empty")]
    EmptySecret,
    /// A secret that is not base64 after `whsec_`.
    #[error("signing secret is not base64 (expected whsec_<base64>)")]
    SecretNotBase64,
    /// A message id that is empty, longer than 256 bytes, or has a byte outside visible ASCII
    /// or a `.` (the signed content is `id.timestamp.body`).
    #[error("webhook id `{0}` must be 1 to 256 visible ASCII characters without `.`")]
    InvalidId(String),
    /// A legacy shared secret that cannot be a header value.
    #[error("legacy secret is empty or contains a control character")]
    InvalidLegacySecret,
    /// A signature scheme name that is not one of [`SchemeKind::ALL`].
    #[error(
        "unknown signature scheme `{0}` (use standard, vapi-hmac, vapi-signature, elevenlabs, retell or bland)"
    )]
    UnknownScheme(String),
    /// An HMAC algorithm other than `sha1`, `sha256`, `sha512`.
    #[error("unknown HMAC algorithm `{0}` (use sha256, sha512 or sha1)")]
    UnknownAlgorithm(String),
    /// A signature encoding other than `hex`, `base64`.
    #[error("unknown signature encoding `{0}` (use hex or base64)")]
    UnknownEncoding(String),
    /// A configured header name that is not a valid HTTP header name.
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    /// A payload format with an unknown or unclosed placeholder.
    #[error(
        "payload format `{0}`: placeholders are {{body}}, {{timestamp}}, {{method}}, {{url}} and {{svix-id}}"
    )]
    PayloadFormat(String),
    /// A payload format that signs `{timestamp}` while no timestamp is sent.
    #[error("the payload format signs {{timestamp}} but includeTimestamp is false")]
    TimestampNotSent,
    /// A signature prefix that cannot be part of a header value.
    #[error("the signature prefix cannot be part of a header value (control characters?)")]
    PrefixNotHeaderText,
    /// An HMAC plan that is not Vapi's `HMACAuthenticationPlan` JSON.
    #[error("HMAC plan JSON: {0}")]
    PlanJson(String),
}

/// A signature check that failed. Receivers answer all of these with 401 and count them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A `webhook-*` header is missing or not text.
    #[error("header `{0}` is missing")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("webhook-timestamp is not integer Unix seconds")]
    BadTimestamp,
    /// The timestamp is further in the past than the tolerance.
    #[error("webhook-timestamp is {age} s old, more than the {tolerance} s tolerance")]
    TooOld {
        /// Seconds before now.
        age: u64,
        /// The tolerance, seconds.
        tolerance: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("webhook-timestamp is {ahead} s in the future, more than the {tolerance} s tolerance")]
    TooNew {
        /// Seconds after now.
        ahead: u64,
        /// The tolerance, seconds.
        tolerance: u64,
    },
    /// No `v1` signature matches any secret (tampered body, id or timestamp, or a wrong key).
    #[error("no webhook-signature entry matches")]
    NoMatch,
    /// A receiver-compatible scheme's signature does not match (tampered body or timestamp,
    /// or a wrong key).
    #[error("the `{0}` signature does not match (tampered body or timestamp, or a wrong key)")]
    Mismatch(&'static str),
    /// A signature or timestamp header of a receiver-compatible scheme is missing or not text.
    #[error("header `{0}` is missing")]
    Missing(String),
    /// A signature header that is not in its scheme's form.
    #[error("header `{header}`: {problem}")]
    Malformed {
        /// The header.
        header: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

fn check_id(id: &str) -> Result<(), SignError> {
    let ok = (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic() && b != b'.');
    if ok {
        Ok(())
    } else {
        Err(SignError::InvalidId(id.escape_debug().to_string()))
    }
}

fn keyed(secret: &SigningSecret, id: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.mac.clone();
    let mut digits = [0u8; 20];
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(format_u64(timestamp, &mut digits));
    mac.update(b".");
    mac.update(body);
    mac
}

fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Signs deliveries with one or more secrets (newest first).
///
/// Every delivery carries three headers: `webhook-id` (the same on every retry and replay, so
/// receivers can deduplicate), `webhook-timestamp` (integer Unix seconds of this attempt) and
/// `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under each active
/// secret, space-separated, newest first (rotation: receivers holding either key accept).
/// Signing and verifying are pure: the clock is an argument.
///
/// ```
/// use agent_webhooks::{Signer, SigningSecret, Verifier};
/// let secret: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// let signer = Signer::new(secret.clone());
/// let body = br#"{"test": 2432232314}"#;
/// let sig = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)?;
/// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// let verifier = Verifier::new(secret);
/// let now = 1614265330 + 300; // the edge of the default tolerance
/// verifier.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, &sig, body, now)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    secrets: Vec<SigningSecret>,
}

/// The three Standard Webhooks headers of one attempt.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignatureHeaders {
    /// `webhook-id`.
    pub id: HeaderValue,
    /// `webhook-timestamp`.
    pub timestamp: HeaderValue,
    /// `webhook-signature`.
    pub signature: HeaderValue,
}

impl SignatureHeaders {
    /// Sets the three headers on `headers`, replacing earlier values.
    pub fn apply(self, headers: &mut HeaderMap) {
        headers.insert(WEBHOOK_ID, self.id);
        headers.insert(WEBHOOK_TIMESTAMP, self.timestamp);
        headers.insert(WEBHOOK_SIGNATURE, self.signature);
    }
}

impl Signer {
    /// A signer with one secret.
    #[must_use]
    pub fn new(secret: SigningSecret) -> Self {
        Signer {
            secrets: vec![secret],
        }
    }

    /// Also signs with `secret` (rotation: add the old secret after the new one while
    /// receivers move over; each adds one `v1,` entry).
    #[must_use]
    pub fn with_secret(mut self, secret: SigningSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// The `webhook-signature` value for `body` sent as message `id` at `timestamp` (Unix
    /// seconds): `v1,<base64>` per secret, space-separated. The body is signed byte-exact;
    /// send exactly these bytes.
    ///
    /// # Errors
    /// [`SignError::InvalidId`].
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> Result<String, SignError> {
        check_id(id)?;
        let mut out = String::with_capacity(self.secrets.len() * 48);
        for (i, secret) in self.secrets.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str("v1,");
            let tag = keyed(secret, id, timestamp, body).finalize().into_bytes();
            STANDARD.encode_string(tag.as_slice(), &mut out);
        }
        Ok(out)
    }

    /// The three headers for one attempt.
    ///
    /// # Errors
    /// [`SignError::InvalidId`].
    pub fn headers(
        &self,
        id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<SignatureHeaders, SignError> {
        let signature = self.sign(id, timestamp, body)?;
        let text = |s: &str| HeaderValue::from_str(s).map_err(|_| SignError::InvalidId(s.into()));
        Ok(SignatureHeaders {
            id: text(id)?,
            timestamp: HeaderValue::from(timestamp),
            signature: text(&signature)?,
        })
    }
}

/// Checks Standard Webhooks signatures, as a receiver does (and as tests of a sender do).
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<SigningSecret>,
    tolerance: u64,
}

impl Verifier {
    /// A verifier with one secret and the default 300 s tolerance.
    #[must_use]
    pub fn new(secret: SigningSecret) -> Self {
        Verifier {
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE.as_secs(),
        }
    }

    /// Also accepts signatures made with `secret` (rotation).
    #[must_use]
    pub fn with_secret(mut self, secret: SigningSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// With another tolerance (whole seconds; the bound is inclusive).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance.as_secs();
        self
    }

    /// Checks that `signatures` (a `webhook-signature` value) holds a `v1` entry made with one
    /// of the secrets over `id.timestamp.body`, and that `timestamp` is within the tolerance
    /// of `now` (Unix seconds). Entries of other versions or that do not parse are skipped;
    /// the comparison is constant-time.
    ///
    /// # Errors
    /// [`VerifyError::TooOld`], [`VerifyError::TooNew`], [`VerifyError::NoMatch`].
    pub fn verify(
        &self,
        id: &str,
        timestamp: u64,
        signatures: &str,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        if timestamp < now.saturating_sub(self.tolerance) {
            return Err(VerifyError::TooOld {
                age: now - timestamp,
                tolerance: self.tolerance,
            });
        }
        if timestamp > now.saturating_add(self.tolerance) {
            return Err(VerifyError::TooNew {
                ahead: timestamp - now,
                tolerance: self.tolerance,
            });
        }
        let macs: Vec<HmacSha256> = self
            .secrets
            .iter()
            .map(|s| keyed(s, id, timestamp, body))
            .collect();
        for entry in signatures.split(' ') {
            let Some(("v1", b64)) = entry.split_once(',') else {
                continue;
            };
            let mut tag = [0u8; 32];
            if STANDARD.decode_slice(b64, &mut tag) != Ok(32) {
                continue;
            }
            if macs.iter().any(|m| m.clone().verify_slice(&tag).is_ok()) {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatch)
    }

    /// As [`Verifier::verify`], reading `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` from `headers`.
    ///
    /// # Errors
    /// [`VerifyError::MissingHeader`], [`VerifyError::BadTimestamp`], or as
    /// [`Verifier::verify`].
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(VerifyError::MissingHeader(name))
        };
        let id = get("webhook-id")?;
        let ts = get("webhook-timestamp")?;
        let sig = get("webhook-signature")?;
        if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VerifyError::BadTimestamp);
        }
        let ts = ts.parse().map_err(|_| VerifyError::BadTimestamp)?;
        self.verify(id, ts, sig, body, now)
    }
}

/// The legacy shared-secret header (`X-Vapi-Secret: <secret>`) for a server configured with
/// `secret` or `serverUrlSecret`; the value is marked sensitive.
///
/// # Errors
/// [`SignError::InvalidLegacySecret`] when the secret is empty or cannot be a header value.
pub fn legacy_secret_header(secret: &Secret) -> Result<(HeaderName, HeaderValue), SignError> {
    if secret.expose().is_empty() {
        return Err(SignError::InvalidLegacySecret);
    }
    let mut value =
        HeaderValue::from_str(secret.expose()).map_err(|_| SignError::InvalidLegacySecret)?;
    value.set_sensitive(true);
    Ok((X_VAPI_SECRET, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers() {
        let mut buf = [0u8; 20];
        assert_eq!(format_u64(0, &mut buf), b"0");
        assert_eq!(format_u64(1614265330, &mut buf), b"1614265330");
        assert_eq!(format_u64(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn debug_hides_the_key() {
        let s: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let shown = format!("{:?} {:?}", s, Signer::new(s.clone()));
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
