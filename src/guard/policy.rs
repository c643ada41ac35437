//! The guard policy: what may leave, built once and checked on every URL, address and hop.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::HeaderName;
use ipnet::IpNet;
use url::{Host, Url};

use super::address::{Opens, effective, is_metadata_address, special_block};
use super::header::is_sensitive_header;
use super::name::{HostPattern, check_name, strip_dots};
use super::rejection::{Hatch, PolicyError, Rejection};

/// Who chose a URL, which decides how much it is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// Written by the operator in trusted configuration (a webhook tool's `config.url`, a
    /// server URL): the address and name rules apply.
    Operator,
    /// Chosen by the model (for example an API-request tool whose URL is an argument): the
    /// address and name rules apply, and the host must also be in the policy's host allowlist.
    Model,
}

/// Production (the default) or development.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Every escape hatch is refused at build time.
    #[default]
    Production,
    /// Escape hatches under [`PolicyBuilder::dangerous`] may be set.
    Development,
}

/// The outbound-request policy: built once (from code or the environment), then used to check
/// every URL before a request is built, every address DNS returns before a transport connects,
/// and every redirect hop.
///
/// The rules (production, the default):
/// - **Scheme**: `http` and `https` only, judged after WHATWG parsing (`HTTP://` is http).
/// - **Credentials**: a URL with a non-empty username or password is refused (an empty `@`,
///   which the parser drops, is fine).
/// - **Addresses**: an IP literal in the URL, and every address DNS returns, must be globally
///   reachable by the IANA special-purpose registries (see [`special_block`](super::special_block)).
/// - **Names**: `localhost`, `*.localhost`, and names under `.internal`, `.local`,
///   `.localdomain` and `.home.arpa` are refused, as are the cloud metadata names `metadata` and
///   `metadata.google.internal`; case and trailing dots are ignored. Other names pass and are
///   judged again on their resolved addresses ([`Policy::check_resolved`]).
/// - **Ports**: port 0 is refused; an optional port allowlist ([`PolicyBuilder::allowed_ports`]).
/// - **Origin**: a [`Origin::Model`] URL must also match the allowlist in scheme, host and
///   port (exact hosts and `*.example.com` wildcards, https and 443 unless the entry names
///   others; a wildcard does not match the bare domain, and may not cover a public suffix). An
///   empty allowlist refuses every model-provided URL.
///
/// ```
/// use agent_webhooks::guard::{Origin, Policy, Rejection};
///
/// let policy = Policy::builder().allow_host("*.example.com").build()?;
/// assert!(policy.parse("https://api.example.com/v1", Origin::Model).is_ok());
/// assert_eq!(
///     policy.parse("https://example.com/", Origin::Model),
///     Err(Rejection::HostNotAllowed)
/// );
/// assert!(policy.parse("https://example.com/", Origin::Operator).is_ok());
/// assert_eq!(
///     policy.parse("http://0x7f.1/", Origin::Operator).unwrap_err().code(),
///     "special-address"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Policy {
    mode: Mode,
    allowed_hosts: Vec<HostPattern>,
    allowed_ports: Option<Vec<u16>>,
    private_networks: bool,
    loopback: bool,
    networks: Vec<IpNet>,
}

/// Builds a [`Policy`]; errors wait for [`PolicyBuilder::build`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PolicyBuilder {
    mode: Mode,
    hosts: Vec<String>,
    ports: Option<Vec<u16>>,
    private_networks: bool,
    loopback: bool,
    networks: Vec<IpNet>,
}

/// The escape hatches of a [`PolicyBuilder`], reached through [`PolicyBuilder::dangerous`].
/// Each one re-opens space the guard refuses; production mode refuses every one at build time.
#[derive(Debug)]
#[must_use]
pub struct DangerousPolicyBuilder {
    inner: PolicyBuilder,
}

/// The environment variable that selects the mode: `production` (default) or `development`.
pub const ENV_MODE: &str = "AGENT_WEBHOOKS_GUARD_MODE";
/// The environment variable with the host allowlist for model-provided URLs, comma-separated.
pub const ENV_ALLOWED_HOSTS: &str = "TOOL_API_REQUEST_ALLOWED_HOSTS";
/// The environment variable with the port allowlist, comma-separated (unset: any port but 0).
pub const ENV_ALLOWED_PORTS: &str = "AGENT_WEBHOOKS_GUARD_ALLOWED_PORTS";
/// The environment variable that opens private networks (development only): `true`/`false`.
pub const ENV_ALLOW_PRIVATE_NETWORKS: &str = "AGENT_WEBHOOKS_GUARD_ALLOW_PRIVATE_NETWORKS";
/// The environment variable that opens loopback (development only): `true`/`false`.
pub const ENV_ALLOW_LOOPBACK: &str = "AGENT_WEBHOOKS_GUARD_ALLOW_LOOPBACK";
/// The environment variable naming networks to open (development only), comma-separated CIDRs.
pub const ENV_ALLOWED_NETWORKS: &str = "AGENT_WEBHOOKS_GUARD_ALLOWED_NETWORKS";

fn env_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn env_bool(name: &'static str, value: &str) -> Result<bool, PolicyError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(PolicyError::Env {
            name,
            value: value.to_owned(),
            expected: "true or false",
        }),
    }
}

impl Policy {
    /// A builder, in production mode with an empty host allowlist.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The policy the process environment describes. Variables read (all optional):
    ///
    /// | variable | value | default |
    /// |---|---|---|
    /// | `AGENT_WEBHOOKS_GUARD_MODE` | `production` or `development` | `production` |
    /// | `TOOL_API_REQUEST_ALLOWED_HOSTS` | comma-separated `[scheme://]host[:port]` entries (hosts and `*.domain` wildcards; https and 443 by default) allowed for model-provided URLs | empty: every model-provided URL is refused |
    /// | `AGENT_WEBHOOKS_GUARD_ALLOWED_PORTS` | comma-separated ports | any port but 0 |
    /// | `AGENT_WEBHOOKS_GUARD_ALLOW_PRIVATE_NETWORKS` | `true`/`false` (development only) | `false` |
    /// | `AGENT_WEBHOOKS_GUARD_ALLOW_LOOPBACK` | `true`/`false` (development only) | `false` |
    /// | `AGENT_WEBHOOKS_GUARD_ALLOWED_NETWORKS` | comma-separated CIDRs to open (development only) | none |
    ///
    /// An unset or empty variable takes its default.
    ///
    /// # Errors
    /// [`PolicyError::Env`] for a value that cannot be read, and what [`PolicyBuilder::build`]
    /// returns (a hatch in production mode, a bad allowlist entry).
    pub fn from_env() -> Result<Policy, PolicyError> {
        Policy::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`Policy::from_env`] reading variables through `var` instead of the process environment
    /// (for tests, or a host's own configuration source).
    ///
    /// ```
    /// use agent_webhooks::guard::{Policy, PolicyError};
    ///
    /// let env = |name: &str| match name {
    ///     "TOOL_API_REQUEST_ALLOWED_HOSTS" => Some("api.example.com, *.hooks.example.com".into()),
    ///     _ => None,
    /// };
    /// assert!(Policy::from_env_with(env).is_ok());
    /// let env = |name: &str| match name {
    ///     "AGENT_WEBHOOKS_GUARD_ALLOW_PRIVATE_NETWORKS" => Some("true".into()),
    ///     _ => None,
    /// };
    /// assert!(matches!(
    ///     Policy::from_env_with(env),
    ///     Err(PolicyError::DangerousInProduction { .. })
    /// ));
    /// ```
    ///
    /// # Errors
    /// As [`Policy::from_env`].
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Policy, PolicyError> {
        let mut b = Policy::builder();
        if let Some(v) = var(ENV_MODE) {
            b = match v.trim().to_ascii_lowercase().as_str() {
                "" | "production" => b.mode(Mode::Production),
                "development" => b.mode(Mode::Development),
                _ => {
                    return Err(PolicyError::Env {
                        name: ENV_MODE,
                        value: v,
                        expected: "production or development",
                    });
                }
            };
        }
        if let Some(v) = var(ENV_ALLOWED_HOSTS) {
            b = b.allowed_hosts(env_list(&v));
        }
        if let Some(v) = var(ENV_ALLOWED_PORTS) {
            let ports: Result<Vec<u16>, _> = env_list(&v).map(str::parse::<u16>).collect();
            let ports = ports.map_err(|_| PolicyError::Env {
                name: ENV_ALLOWED_PORTS,
                value: v.clone(),
                expected: "comma-separated ports 1-65535",
            })?;
            if !ports.is_empty() {
                b = b.allowed_ports(ports);
            }
        }
        if let Some(v) = var(ENV_ALLOW_PRIVATE_NETWORKS) {
            if env_bool(ENV_ALLOW_PRIVATE_NETWORKS, &v)? {
                b = b.dangerous().allow_private_networks();
            }
        }
        if let Some(v) = var(ENV_ALLOW_LOOPBACK) {
            if env_bool(ENV_ALLOW_LOOPBACK, &v)? {
                b = b.dangerous().allow_loopback();
            }
        }
        if let Some(v) = var(ENV_ALLOWED_NETWORKS) {
            for net in env_list(&v) {
                let net: IpNet = net.parse().map_err(|_| PolicyError::Env {
                    name: ENV_ALLOWED_NETWORKS,
                    value: v.clone(),
                    expected: "comma-separated CIDRs such as 10.20.0.0/16",
                })?;
                b = b.dangerous().allow_network(net);
            }
        }
        b.build()
    }

    /// The policy's mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// This policy with more entries in its host allowlist for model-provided URLs (the syntax
    /// of [`PolicyBuilder::allow_host`]); everything else is unchanged. A tenant's own hosts
    /// on top of the runtime's, as [`TenantConfig::policy`](crate::tenant::TenantConfig::policy)
    /// does.
    ///
    /// # Errors
    /// [`PolicyError::AllowedHost`] for an entry that is not a host or `*.domain`.
    pub fn with_allowed_hosts<I>(&self, hosts: I) -> Result<Policy, PolicyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut policy = self.clone();
        for host in hosts {
            policy
                .allowed_hosts
                .push(HostPattern::parse(host.as_ref())?);
        }
        Ok(policy)
    }

    /// Parses `input` as a URL (WHATWG, the `url` crate) and checks it: the one call for a URL
    /// given as text. Hand the returned `Url` to the transport; never re-parse the text.
    ///
    /// # Errors
    /// [`Rejection::Parse`] if it is not a URL, else what [`Policy::check_url`] returns.
    #[inline]
    pub fn parse(&self, input: &str, origin: Origin) -> Result<Url, Rejection> {
        let url = Url::parse(input).map_err(Rejection::Parse)?;
        self.check_url(&url, origin)?;
        Ok(url)
    }

    /// Checks a parsed URL: scheme, credentials, host (IP literal or name), host allowlist for
    /// model-provided URLs, port.
    ///
    /// A name that passes here must still be checked on what DNS returns for it
    /// ([`Policy::check_resolved`]) before the transport connects.
    ///
    /// # Errors
    /// The first rule the URL breaks, as a [`Rejection`].
    pub fn check_url(&self, url: &Url, origin: Origin) -> Result<(), Rejection> {
        match url.scheme() {
            "http" | "https" => {}
            _ => return Err(Rejection::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Rejection::Credentials);
        }
        let host = url.host();
        match host {
            None => return Err(Rejection::MissingHost),
            Some(Host::Ipv4(a)) => self.check_ip(IpAddr::V4(a))?,
            Some(Host::Ipv6(a)) => self.check_ip(IpAddr::V6(a))?,
            Some(Host::Domain(d)) => {
                let name = strip_dots(d);
                if name.is_empty() {
                    return Err(Rejection::MissingHost);
                }
                if let Some((rejection, opens)) = check_name(name) {
                    if !self.opens(opens) {
                        return Err(rejection);
                    }
                }
            }
        }
        match (url.port(), &self.allowed_ports) {
            (Some(0), _) => return Err(Rejection::Port { port: 0 }),
            // Without an allowlist any other port is fine, and so is none (the scheme's default).
            (_, None) => {}
            (port, Some(allowed)) => {
                let port = port.or_else(|| url.port_or_known_default()).unwrap_or(0);
                if port == 0 || !allowed.contains(&port) {
                    return Err(Rejection::Port { port });
                }
            }
        }
        if origin == Origin::Model {
            let host = match host {
                Some(Host::Domain(d)) => strip_dots(d),
                _ => url.host_str().unwrap_or(""),
            };
            let port = url.port_or_known_default();
            if !self
                .allowed_hosts
                .iter()
                .any(|p| p.matches(url.scheme(), host, port))
            {
                return Err(Rejection::HostNotAllowed);
            }
        }
        Ok(())
    }

    /// Checks one address: a URL's IP literal, an address DNS returned, or a transport's peer.
    ///
    /// Cloud metadata addresses (`169.254.169.254`, `fd00:ec2::254`, `fd20:ce::254`,
    /// `fd00:c1::a9fe:a9fe`, `100.100.100.200`, `168.63.129.16` and their kin) stay refused
    /// under every hatch, a named network included.
    ///
    /// # Errors
    /// [`Rejection::SpecialAddress`] if the address is in a refused block that no escape
    /// hatch of this policy re-opens; [`Rejection::MetadataAddress`] for a cloud metadata
    /// address inside a block a hatch opens.
    pub fn check_ip(&self, addr: IpAddr) -> Result<(), Rejection> {
        let Some(block) = special_block(addr) else {
            return Ok(());
        };
        let eff = effective(addr);
        let hatch_opens = self.opens(block.opens())
            || self
                .networks
                .iter()
                .any(|n| n.contains(&addr) || n.contains(&eff));
        if hatch_opens {
            // Cloud metadata sits inside blocks the hatches open (`fd00:ec2::254` in
            // unique-local, `100.100.100.200` in shared address space): never re-opened.
            if is_metadata_address(addr) {
                return Err(Rejection::MetadataAddress { address: addr });
            }
            return Ok(());
        }
        Err(Rejection::SpecialAddress {
            address: addr,
            block,
        })
    }

    /// Checks what DNS returned for `url`'s host, before the transport connects: the URL is
    /// checked again, then every address.
    ///
    /// **Strict:** if *any* address is refused, the whole answer is refused, even when others
    /// are allowed. A name that points at both public and private space is what DNS rebinding
    /// and split-horizon tricks look like, and connecting to "the good ones" would depend on
    /// which address a transport happens to try. Resolve again (a fresh lookup) to retry.
    ///
    /// A transport should then connect only to the checked addresses (for reqwest: a
    /// `dns_resolver` that returns them; never `resolve` overrides, and `no_proxy()`).
    ///
    /// # Errors
    /// What [`Policy::check_url`] returns for `url` (with [`Origin::Operator`]: the allowlist
    /// is a prepare-time rule), the first refused address as
    /// [`Rejection::SpecialAddress`], or [`Rejection::NoAddress`] for an empty answer.
    pub fn check_resolved(&self, url: &Url, addrs: &[IpAddr]) -> Result<(), Rejection> {
        self.check_url(url, Origin::Operator)?;
        if addrs.is_empty() {
            return Err(Rejection::NoAddress);
        }
        addrs.iter().try_for_each(|&a| self.check_ip(a))
    }

    /// Checks a redirect hop: `next` (the `Location` joined to the current URL) is checked with
    /// the rules of the first URL's `origin` (a model-provided chain stays bound to the
    /// allowlist), and the hop says whether it leaves the first URL's origin (scheme, host and
    /// port), in which case the sensitive headers must be dropped
    /// ([`RedirectHop::strip_headers`]).
    ///
    /// ```
    /// use agent_webhooks::guard::{Origin, Policy, Rejection};
    /// use agent_webhooks::http::HeaderMap;
    ///
    /// let policy = Policy::default();
    /// let first = policy.parse("https://hooks.example.com/a", Origin::Operator)?;
    /// let next = first.join("https://other.example.net/b")?;
    /// let hop = policy.check_redirect(&first, &next, Origin::Operator)?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("authorization", "Bearer x".parse()?);
    /// headers.insert("x-call-id", "CA1".parse()?);
    /// let mut account = agent_webhooks::http::HeaderValue::from_static("acct_secret");
    /// account.set_sensitive(true); // a value that carries a secret, under any name
    /// headers.insert("x-partner-account", account);
    /// assert_eq!(hop.strip_headers(&mut headers), ["authorization", "x-partner-account"]);
    /// assert_eq!(headers.len(), 1);
    ///
    /// let next = first.join("http://169.254.169.254/")?;
    /// assert!(matches!(
    ///     policy.check_redirect(&first, &next, Origin::Operator),
    ///     Err(Rejection::SpecialAddress { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// What [`Policy::check_url`] returns for `next`.
    pub fn check_redirect(
        &self,
        first: &Url,
        next: &Url,
        origin: Origin,
    ) -> Result<RedirectHop, Rejection> {
        self.check_url(next, origin)?;
        Ok(RedirectHop {
            cross_origin: first.origin() != next.origin(),
        })
    }

    fn opens(&self, opens: Opens) -> bool {
        match opens {
            Opens::None => false,
            Opens::Private => self.private_networks,
            Opens::Loopback => self.loopback,
        }
    }
}

/// The verdict on an allowed redirect hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RedirectHop {
    cross_origin: bool,
}

impl RedirectHop {
    /// Whether the hop leaves the first URL's origin (scheme, host or port differ).
    #[must_use]
    pub fn is_cross_origin(&self) -> bool {
        self.cross_origin
    }

    /// The headers of `headers` to drop before following the hop: on a cross-origin hop, every
    /// header whose name is sensitive ([`is_sensitive_header`](super::is_sensitive_header)) and
    /// every header with a value marked sensitive ([`HeaderValue::is_sensitive`], which
    /// [`CompiledTool::prepare`](crate::tool::CompiledTool::prepare) sets on every value that
    /// carries a tenant secret, whatever the header's name); none on a same-origin hop.
    ///
    /// [`HeaderValue::is_sensitive`]: http::HeaderValue::is_sensitive
    #[must_use]
    pub fn headers_to_drop(&self, headers: &HeaderMap) -> Vec<HeaderName> {
        if !self.cross_origin {
            return Vec::new();
        }
        let mut drop: Vec<HeaderName> = Vec::new();
        for (name, value) in headers {
            if (value.is_sensitive() || is_sensitive_header(name.as_str())) && !drop.contains(name)
            {
                drop.push(name.clone());
            }
        }
        drop
    }

    /// Removes [`RedirectHop::headers_to_drop`] from `headers` and returns their names.
    pub fn strip_headers(&self, headers: &mut HeaderMap) -> Vec<HeaderName> {
        let drop = self.headers_to_drop(headers);
        for name in &drop {
            headers.remove(name);
        }
        drop
    }
}

impl PolicyBuilder {
    /// Sets the mode (production by default).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Development mode: the escape hatches under [`PolicyBuilder::dangerous`] may be set.
    pub fn development(self) -> Self {
        self.mode(Mode::Development)
    }

    /// Adds an entry to the allowlist for model-provided URLs, `[scheme://]host[:port]`: a
    /// host (`api.example.com`, `203.0.113.7`, `[2001:db8::1]`) or a wildcard
    /// `*.example.com`, which matches names under the domain but not the domain itself, with
    /// an optional scheme (`http` or `https`, default `https`) and port (default the
    /// scheme's: 443, or 80 for `http`). A model-provided URL must match an entry's scheme,
    /// host and port. Case and trailing dots are ignored.
    ///
    /// A wildcard over a public suffix (`*.com`, `*.co.uk`, `*.github.io`, or an unknown
    /// top-level domain), judged by the Public Suffix List, is a
    /// [`PolicyError::AllowedHost`] at build time.
    ///
    /// ```
    /// use agent_webhooks::guard::{Origin, Policy, PolicyError, Rejection};
    /// let policy = Policy::builder()
    ///     .allow_host("api.example.com")
    ///     .allow_host("http://legacy.example.com:8080")
    ///     .build()?;
    /// assert!(policy.parse("https://api.example.com/v1", Origin::Model).is_ok());
    /// assert_eq!(policy.parse("http://api.example.com/v1", Origin::Model), Err(Rejection::HostNotAllowed));
    /// assert_eq!(policy.parse("https://api.example.com:8443/", Origin::Model), Err(Rejection::HostNotAllowed));
    /// assert!(policy.parse("http://legacy.example.com:8080/", Origin::Model).is_ok());
    /// assert!(matches!(
    ///     Policy::builder().allow_host("*.co.uk").build(),
    ///     Err(PolicyError::AllowedHost { .. })
    /// ));
    /// # Ok::<(), PolicyError>(())
    /// ```
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into());
        self
    }

    /// Adds every entry of `hosts` to the host allowlist (see [`PolicyBuilder::allow_host`]).
    pub fn allowed_hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Restricts requests to these ports (a URL without a port uses its scheme's default, 80
    /// or 443). Without this call any port but 0 is allowed.
    pub fn allowed_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.ports.get_or_insert_with(Vec::new).extend(ports);
        self
    }

    /// The escape hatches. Each call re-opens refused space; a production policy refuses them
    /// with [`PolicyError::DangerousInProduction`].
    ///
    /// ```
    /// use agent_webhooks::guard::{Origin, Policy, PolicyError};
    ///
    /// let dev = Policy::builder().development().dangerous().allow_loopback().build()?;
    /// assert!(dev.parse("http://127.0.0.1:8080/hook", Origin::Operator).is_ok());
    ///
    /// let err = Policy::builder().dangerous().allow_private_networks().build().unwrap_err();
    /// assert!(matches!(err, PolicyError::DangerousInProduction { .. }));
    /// # Ok::<(), PolicyError>(())
    /// ```
    pub fn dangerous(self) -> DangerousPolicyBuilder {
        DangerousPolicyBuilder { inner: self }
    }

    /// Builds the policy.
    ///
    /// # Errors
    /// [`PolicyError::DangerousInProduction`] for an escape hatch in production mode,
    /// [`PolicyError::AllowedHost`] for an allowlist entry that is not a host or `*.domain`,
    /// [`PolicyError::PortZero`] for port 0 in the port allowlist.
    pub fn build(self) -> Result<Policy, PolicyError> {
        if self.mode == Mode::Production {
            let hatch = if self.private_networks {
                Some(Hatch::PrivateNetworks)
            } else if self.loopback {
                Some(Hatch::Loopback)
            } else {
                self.networks.first().map(|n| Hatch::Network(*n))
            };
            if let Some(hatch) = hatch {
                return Err(PolicyError::DangerousInProduction { hatch });
            }
        }
        let allowed_hosts = self
            .hosts
            .iter()
            .map(|h| HostPattern::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(ports) = &self.ports {
            if ports.contains(&0) {
                return Err(PolicyError::PortZero);
            }
        }
        Ok(Policy {
            mode: self.mode,
            allowed_hosts,
            allowed_ports: self.ports,
            private_networks: self.private_networks,
            loopback: self.loopback,
            networks: self.networks.iter().map(IpNet::trunc).collect(),
        })
    }
}

impl DangerousPolicyBuilder {
    /// Opens private networks: RFC 1918, shared address space (100.64.0.0/10), unique-local
    /// IPv6 (`fc00::/7`), and names under `.internal`, `.local`, `.localdomain`, `.home.arpa`.
    /// Loopback, link-local and cloud metadata stay refused, also the metadata addresses
    /// inside the opened blocks (`100.100.100.200`, `fd00:ec2::254`, `fd20:ce::254`,
    /// `fd00:c1::a9fe:a9fe`): [`Rejection::MetadataAddress`].
    pub fn allow_private_networks(mut self) -> PolicyBuilder {
        self.inner.private_networks = true;
        self.inner
    }

    /// Opens loopback (127.0.0.0/8, `::1`) and `localhost`, `*.localhost`: for tests against a
    /// local server.
    pub fn allow_loopback(mut self) -> PolicyBuilder {
        self.inner.loopback = true;
        self.inner
    }

    /// Opens one named network, such as a staging network `10.20.0.0/16`: addresses in it are
    /// allowed whatever block they are in, except cloud metadata addresses
    /// ([`Rejection::MetadataAddress`]), which no hatch opens.
    pub fn allow_network(mut self, net: IpNet) -> PolicyBuilder {
        self.inner.networks.push(net);
        self.inner
    }
}
