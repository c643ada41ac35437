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
    // Cloudflare Access: the signed identity JWT of the user (developers.cloudflare.com, "Validate JWTs").
    "cf-access-jwt-assertion",
    "cf-access-token",
    // Cloudflare: the client's address as Cloudflare saw it (developers.cloudflare.com, "HTTP request headers").
    "cf-connecting-ip",
    // Cloudflare: the client's IPv6 address (same page).
    "cf-connecting-ipv6",
    // de-facto client-IP header honoured by some frameworks (Rack, Symfony trusted headers).
    "client-ip",
    "connection",
    "content-length",
    "cookie",
    "cookie2",
    "dd-api-key",
    "dd-application-key",
    "deploy-token",
    "expect",
    // Fastly: the client's address (docs.fastly.com, "Fastly-Client-IP").
    "fastly-client-ip",
    "fastly-key",
    "forwarded",
    // Microsoft front ends: tells the origin the client used https (IIS/ARR, OWA).
    "front-end-https",
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
    // Apache mod_headers convention for the forwarded client certificate.
    "ssl-client-cert",
    "stripe-signature",
    "svix-signature",
    "te",
    "trailer",
    "transfer-encoding",
    // Akamai and Cloudflare Enterprise: the client's address (Akamai "True-Client-IP").
    "true-client-ip",
    "upgrade",
    "via",
    "webhook-signature",
    "www-authenticate",
    "x-access-token",
    "x-algolia-api-key",
    "x-amz-security-token",
    "x-api-key",
    "x-apikey",
    // Google App Engine: the client's address.
    "x-appengine-user-ip",
    // Azure App Service / IIS ARR: the client certificate forwarded to the app.
    "x-arr-clientcert",
    // Azure App Service / IIS ARR: says the client used TLS.
    "x-arr-ssl",
    "x-auth-email",
    "x-auth-key",
    "x-auth-request-access-token",
    "x-auth-request-email",
    "x-auth-request-user",
    "x-auth-token",
    "x-auth-user",
    "x-aws-ec2-metadata-token",
    "x-aws-ec2-metadata-token-ttl-seconds",
    // Azure Front Door: the client's address.
    "x-azure-clientip",
    // Azure Front Door: the socket peer's address.
    "x-azure-socketip",
    // client certificate forwarded by a TLS-terminating proxy (GCP load balancers' mTLS headers, Kong).
    "x-client-cert",
    // de-facto client-IP header (Rack, Symfony, many WAFs).
    "x-client-ip",
    // de-facto client-IP header (Rackspace, Rack's trusted headers).
    "x-cluster-client-ip",
    "x-consul-token",
    "x-csrf-token",
    // Envoy: the trusted client address (envoyproxy.io, "HTTP header manipulation").
    "x-envoy-external-address",
    "x-figma-token",
    "x-forwarded-access-token",
    // Envoy XFCC: the client certificate's identity (envoyproxy.io, "x-forwarded-client-cert").
    "x-forwarded-client-cert",
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
    // shared-secret HMAC signature header of many webhook senders (the issue's red-team list).
    "x-hmac",
    "x-honeycomb-team",
    // host override some proxies and frameworks honour (Symfony/Laravel trusted headers).
    "x-host",
    // host override (Microsoft ARR / OWASP host-header cheat sheet).
    "x-http-host-override",
    "x-http-method",
    "x-http-method-override",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-insert-key",
    // WSO2 API Manager: the backend JWT carrying the caller's identity.
    "x-jwt-assertion",
    "x-license-key",
    "x-method-override",
    "x-ms-token-aad-access-token",
    "x-ms-token-aad-id-token",
    "x-ms-token-aad-refresh-token",
    "x-nomad-token",
    "x-original-url",
    // Microsoft Exchange / mail gateways: the client's address.
    "x-originating-ip",
    "x-postmark-server-token",
    "x-query-key",
    "x-rapidapi-key",
    "x-real-ip",
    "x-refresh-token",
    // de-facto client-IP header (OWASP IP-spoofing header lists).
    "x-remote-addr",
    // de-facto client-IP header (OWASP IP-spoofing header lists).
    "x-remote-ip",
    "x-remote-user",
    "x-rewrite-url",
    "x-sentry-auth",
    "x-session-id",
    "x-session-token",
    "x-shopify-access-token",
    "x-slack-signature",
    // nginx/HAProxy conventions: the client certificate (PEM) forwarded upstream.
    "x-ssl-client-cert",
    // nginx/HAProxy conventions: the client certificate's subject.
    "x-ssl-client-dn",
    // nginx/HAProxy conventions: the client certificate's verification result.
    "x-ssl-client-verify",
    "x-subject-token",
    "x-twilio-signature",
    // scheme override honoured by some WSGI servers (Werkzeug ProxyFix kin).
    "x-url-scheme",
    "x-vault-token",
    // Grafana auth proxy: the authenticated user.
    "x-webauth-user",
    "x-xsrf-token",
    "xi-api-key",
];

/// Prefixes whose every header is sensitive.
const SENSITIVE_PREFIXES: &[&str] = &[
    // The Fetch standard's forbidden request headers (MDN, "Forbidden request header").
    "proxy-",
    "sec-",
    // Cloudflare Access service tokens and identity (`Cf-Access-Jwt-Assertion`, `-Client-Id`).
    "cf-access-",
    // Authelia, Authentik and Traefik forward-auth: `Remote-User`, `Remote-Groups`,
    // `Remote-Email`, `Remote-Name` (authelia.com, "Trusted Header SSO").
    "remote-",
    // Pomerium's identity headers (`X-Pomerium-Jwt-Assertion`, `X-Pomerium-Claim-*`).
    "x-pomerium-",
    // AWS ALB authentication: `X-Amzn-Oidc-Data`, `-Accesstoken`, `-Identity`
    // (docs.aws.amazon.com, "Authenticate users using an Application Load Balancer").
    "x-amzn-oidc-",
    // Azure App Service authentication: `X-Ms-Client-Principal`, `-Name`, `-Id`, `-Idp`
    // (learn.microsoft.com, "Work with user identities in Azure App Service").
    "x-ms-client-principal",
    // oauth2-proxy's identity headers (`X-Auth-Request-User`, `-Email`, `-Groups`,
    // `-Preferred-Username`, `-Access-Token`).
    "x-auth-request-",
    // authentik's proxy-provider headers (`X-Authentik-Username`, `-Groups`, `-Jwt`).
    "x-authentik-",
    // Vouch Proxy's identity headers (`X-Vouch-User`, `X-Vouch-Idp-*`).
    "x-vouch-",
    // The `X-Forwarded-*` family set by proxies: client address, host, scheme, port, prefix,
    // URI, server, client certificate, user, email, groups, preferred username (RFC 7239
    // describes their standard form, `Forwarded`; oauth2-proxy, Traefik and nginx set the rest).
    "x-forwarded-",
    // Original-request overrides (`X-Original-URL`, `X-Original-URI`, `X-Original-Host`)
    // that IIS URL Rewrite, nginx auth_request and Symfony honour.
    "x-original-",
    // Envoy's internal routing and trust headers (`X-Envoy-Internal`,
    // `X-Envoy-Original-Path`, `X-Envoy-External-Address`).
    "x-envoy-",
];

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
            "X-Forwarded-Client-Cert",
            "True-Client-IP",
            "CF-Connecting-IP",
            "Fastly-Client-IP",
            "X-Originating-IP",
            "X-Ms-Client-Principal-Name",
            "X-Amzn-Oidc-Data",
            "Cf-Access-Jwt-Assertion",
            "X-Jwt-Assertion",
            "X-Forwarded-Groups",
            "X-Forwarded-Preferred-Username",
            "Remote-Groups",
            "Remote-Email",
            "X-Original-URI",
            "X-Forwarded-Uri",
            "X-Forwarded-Prefix",
            "X-Forwarded-Server",
            "X-Host",
            "X-Hmac",
            "X-Envoy-Original-Path",
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
