//! Header safety: the one list of header names that carry credentials or steer routing.
//!
//! A header whose value a model can influence must not be one of these; the list comes from
//! `shared/reference/sensitive-headers.txt` (RFC 9110, the Fetch standard's forbidden request
//! headers, reqwest's and Go's redirect rules, vendor docs), plus a substring backstop.

/// Exact names (lower case, sorted for binary search).
const SENSITIVE: &[&str] = &[
    "anthropic-api-key",
    "api-key",
    "apikey",
    "authorization",
    "cf-access-client-id",
    "cf-access-client-secret",
    "cf-access-token",
    "connection",
    "content-length",
    "cookie",
    "cookie2",
    "dd-api-key",
    "dd-application-key",
    "deploy-token",
    "expect",
    "fastly-key",
    "forwarded",
    "host",
    "job-token",
    "keep-alive",
    "metadata",
    "metadata-flavor",
    "ocp-apim-subscription-key",
    "openai-organization",
    "openai-project",
    "private-token",
    "proxy-authenticate",
    "proxy-authorization",
    "remote-user",
    "set-cookie",
    "set-cookie2",
    "stripe-signature",
    "svix-signature",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "webhook-signature",
    "www-authenticate",
    "x-access-token",
    "x-algolia-api-key",
    "x-amz-security-token",
    "x-api-key",
    "x-apikey",
    "x-auth-email",
    "x-auth-key",
    "x-auth-request-access-token",
    "x-auth-request-email",
    "x-auth-request-user",
    "x-auth-token",
    "x-auth-user",
    "x-aws-ec2-metadata-token",
    "x-aws-ec2-metadata-token-ttl-seconds",
    "x-consul-token",
    "x-csrf-token",
    "x-figma-token",
    "x-forwarded-access-token",
    "x-forwarded-email",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-user",
    "x-functions-key",
    "x-gitlab-token",
    "x-goog-api-key",
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-goog-iap-jwt-assertion",
    "x-google-metadata-request",
    "x-hasura-admin-secret",
    "x-honeycomb-team",
    "x-http-method",
    "x-http-method-override",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-insert-key",
    "x-license-key",
    "x-method-override",
    "x-ms-token-aad-access-token",
    "x-ms-token-aad-id-token",
    "x-ms-token-aad-refresh-token",
    "x-nomad-token",
    "x-original-url",
    "x-postmark-server-token",
    "x-query-key",
    "x-rapidapi-key",
    "x-real-ip",
    "x-refresh-token",
    "x-remote-user",
    "x-rewrite-url",
    "x-sentry-auth",
    "x-session-id",
    "x-session-token",
    "x-shopify-access-token",
    "x-slack-signature",
    "x-subject-token",
    "x-twilio-signature",
    "x-vault-token",
    "x-xsrf-token",
    "xi-api-key",
];

/// Prefixes whose every header is sensitive.
const SENSITIVE_PREFIXES: &[&str] = &["proxy-", "sec-"];

/// Substrings that mark a name as sensitive when no exact entry matched (the backstop).
const SENSITIVE_SUBSTRINGS: &[&str] = &[
    "auth",
    "token",
    "secret",
    "session",
    "password",
    "passwd",
    "cookie",
    "credential",
    "signature",
    "api-key",
    "apikey",
    "api_key",
];

/// Names the backstop would catch that are needed and harmless.
const NOT_SENSITIVE: &[&str] = &[
    "cache-key",
    "idempotency-key",
    "x-cache-key",
    "x-idempotency-key",
];

/// Headers that frame or route the request; an operator may not configure them either.
const FORBIDDEN: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether a header name carries credentials, identity or routing, so that a value a model can
/// influence must never be sent under it. Case-insensitive.
///
/// ```
/// use agent_webhooks::guard::is_sensitive_header;
/// assert!(is_sensitive_header("Authorization"));
/// assert!(is_sensitive_header("X-Acme-Token"));
/// assert!(!is_sensitive_header("Idempotency-Key"));
/// assert!(!is_sensitive_header("X-Call-ID"));
/// ```
#[must_use]
pub fn is_sensitive_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let name = lower.as_str();
    if SENSITIVE.binary_search(&name).is_ok()
        || SENSITIVE_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        return true;
    }
    if NOT_SENSITIVE.contains(&name) {
        return false;
    }
    SENSITIVE_SUBSTRINGS.iter().any(|s| name.contains(s)) || name.ends_with("-key")
}

/// Whether a header frames or routes the request (`Host`, `Content-Length`,
/// `Transfer-Encoding`, hop-by-hop headers): the HTTP client owns these, no config may set them.
#[must_use]
pub fn is_forbidden_header(name: &str) -> bool {
    FORBIDDEN.contains(&name.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_lower_case_and_unique() {
        assert!(SENSITIVE.windows(2).all(|w| w[0] < w[1]));
        assert!(SENSITIVE.iter().all(|n| *n == n.to_ascii_lowercase()));
    }

    #[test]
    fn every_forbidden_header_is_sensitive() {
        assert!(FORBIDDEN.iter().all(|n| is_sensitive_header(n)));
    }

    #[test]
    fn backstop_and_exceptions() {
        for name in [
            "X-Custom-Auth",
            "x-acme-secret",
            "X-Partner-Key",
            "Sec-Fetch-Mode",
            "Proxy-Foo",
        ] {
            assert!(is_sensitive_header(name), "{name}");
        }
        for name in [
            "Idempotency-Key",
            "X-Idempotency-Key",
            "Content-Type",
            "X-Call-ID",
            "Accept",
        ] {
            assert!(!is_sensitive_header(name), "{name}");
        }
    }
}
