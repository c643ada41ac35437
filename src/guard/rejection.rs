//! The typed refusals of the guard, and the errors of building a policy.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::address::SpecialBlock;

/// Why the guard refused a URL, an address or a redirect hop.
///
/// A plain `Copy + Eq` value: tests `assert_eq!` it, operators count it by [`Rejection::code`],
/// and its Display says what was refused and why. It never holds the URL itself (which may carry
/// secrets in its query).
///
/// ```
/// use agent_webhooks::guard::{Origin, Policy, Rejection};
///
/// let policy = Policy::default(); // production, empty allowlist
/// let err = policy.parse("file:///etc/passwd", Origin::Operator).unwrap_err();
/// assert_eq!(err, Rejection::Scheme);
/// assert_eq!(err.code(), "scheme");
/// let err = policy.parse("http://169.254.169.254/latest/meta-data/", Origin::Operator).unwrap_err();
/// assert!(matches!(err, Rejection::SpecialAddress { .. }));
/// assert_eq!(
///     err.to_string(),
///     "address 169.254.169.254 is in 169.254.0.0/16 (Link Local, RFC 3927), \
///      which is not globally reachable"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The text is not a URL (WHATWG parsing, the `url` crate).
    Parse(url::ParseError),
    /// The scheme is not `http` or `https`.
    Scheme,
    /// The URL carries a username or password.
    Credentials,
    /// The URL has no host (or a host of dots only).
    MissingHost,
    /// The port is 0, or not in the policy's port allowlist.
    Port {
        /// The port the request would use (the scheme's default when the URL names none).
        port: u16,
    },
    /// The address (a URL's IP literal, or an address DNS returned) is in a block that is not
    /// globally reachable.
    SpecialAddress {
        /// The refused address, as written or resolved.
        address: IpAddr,
        /// The block that refused it (for IPv4-mapped and NAT64 addresses, the IPv4 block of the
        /// address they carry).
        block: SpecialBlock,
    },
    /// The host name is reserved for local or private networks (`localhost`, `*.localhost`,
    /// `.internal`, `.local`, `.localdomain`, `.home.arpa`).
    LocalName {
        /// The rule that matched, e.g. `".internal"` or `"localhost"`.
        rule: &'static str,
    },
    /// The host name is a well-known cloud metadata service name.
    MetadataName {
        /// The name that matched, e.g. `"metadata.google.internal"`.
        name: &'static str,
    },
    /// A cloud metadata service address (`fd00:ec2::254`, `100.100.100.200`, ...) inside a
    /// block a development hatch opens: no hatch opens metadata.
    MetadataAddress {
        /// The refused address, as written or resolved.
        address: IpAddr,
    },
    /// A model-provided URL whose host is not in the host allowlist.
    HostNotAllowed,
    /// [`Policy::check_resolved`](super::Policy::check_resolved) was given no address.
    NoAddress,
}

impl Rejection {
    /// A short stable code for counting refusals: `parse`, `scheme`, `credentials`,
    /// `missing-host`, `port`, `special-address`, `local-name`, `metadata-name`,
    /// `metadata-address`, `host-not-allowed`, `no-address`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Parse(_) => "parse",
            Rejection::Scheme => "scheme",
            Rejection::Credentials => "credentials",
            Rejection::MissingHost => "missing-host",
            Rejection::Port { .. } => "port",
            Rejection::SpecialAddress { .. } => "special-address",
            Rejection::LocalName { .. } => "local-name",
            Rejection::MetadataName { .. } => "metadata-name",
            Rejection::MetadataAddress { .. } => "metadata-address",
            Rejection::HostNotAllowed => "host-not-allowed",
            Rejection::NoAddress => "no-address",
        }
    }
}

impl Rejection {
    /// The refusal as a tenant may read it: the class of refusal without the address DNS
    /// returned or the URL carried, so a tenant cannot map the runtime's internal network
    /// through its refusals. The runtime's own operators read [`Rejection`]'s Display, which
    /// names the address and its block.
    ///
    /// ```
    /// use agent_webhooks::guard::{Origin, Policy};
    /// let policy = Policy::default();
    /// let url = policy.parse("https://hooks.example.com/", Origin::Operator)?;
    /// let err = policy.check_resolved(&url, &["10.20.30.40".parse()?]).unwrap_err();
    /// assert!(err.to_string().contains("10.20.30.40"));
    /// let shown = err.for_tenant().to_string();
    /// assert_eq!(shown, "the address the name resolved to is in a Private-Use block, \
    ///                    which is not globally reachable");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn for_tenant(&self) -> TenantRejection {
        TenantRejection(*self)
    }
}

/// A [`Rejection`] as a tenant sees it ([`Rejection::for_tenant`]): the class, never an
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantRejection(Rejection);

impl TenantRejection {
    /// The rejection's stable code ([`Rejection::code`]).
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

impl fmt::Display for TenantRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Rejection::SpecialAddress { block, .. } => write!(
                f,
                "the address the name resolved to is in a {} block, which is not globally \
                 reachable",
                block.name()
            ),
            Rejection::MetadataAddress { .. } => {
                f.write_str("the address the name resolved to is a cloud metadata service")
            }
            other => fmt::Display::fmt(&other, f),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Parse(e) => write!(f, "not a URL: {e}"),
            Rejection::Scheme => f.write_str("scheme refused: only http and https may leave"),
            Rejection::Credentials => f.write_str(
                "credentials in the URL refused: send them in a header the operator configures",
            ),
            Rejection::MissingHost => f.write_str("the URL has no host"),
            Rejection::Port { port: 0 } => f.write_str("port 0 refused"),
            Rejection::Port { port } => {
                write!(f, "port {port} refused: not in the allowed ports")
            }
            Rejection::SpecialAddress { address, block } => write!(
                f,
                "address {address} is in {block}, which is not globally reachable"
            ),
            Rejection::LocalName { rule } if rule.starts_with('.') => write!(
                f,
                "host name ends in `{rule}`, a name for local or private networks"
            ),
            Rejection::LocalName { rule } => {
                write!(f, "host name is `{rule}`, a name for the local host")
            }
            Rejection::MetadataName { name } => {
                write!(f, "host name `{name}` is a cloud metadata service")
            }
            Rejection::MetadataAddress { address } => write!(
                f,
                "address {address} is a cloud metadata service, which no development hatch opens"
            ),
            Rejection::HostNotAllowed => f.write_str(
                "host is not in the allowlist for model-provided URLs \
                 (TOOL_API_REQUEST_ALLOWED_HOSTS)",
            ),
            Rejection::NoAddress => f.write_str("the name resolved to no address"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Parse(e) => Some(e),
            _ => None,
        }
    }
}

/// A development escape hatch of a [`Policy`](super::Policy) (see
/// [`PolicyBuilder::dangerous`](super::PolicyBuilder::dangerous)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hatch {
    /// Private networks: RFC 1918, shared address space, unique-local IPv6, and the
    /// private-network names.
    PrivateNetworks,
    /// Loopback addresses and `localhost`.
    Loopback,
    /// A named network.
    Network(IpNet),
}

impl fmt::Display for Hatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hatch::PrivateNetworks => f.write_str("allow_private_networks"),
            Hatch::Loopback => f.write_str("allow_loopback"),
            Hatch::Network(net) => write!(f, "allow_network({net})"),
        }
    }
}

/// Why a [`Policy`](super::Policy) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A development escape hatch was set on a production policy.
    #[error(
        "`{hatch}` is a development escape hatch and production mode refuses it; \
         choose development mode explicitly (AGENT_WEBHOOKS_GUARD_MODE=development) \
         or remove the hatch"
    )]
    DangerousInProduction {
        /// The hatch that was set.
        hatch: Hatch,
    },
    /// An entry of the host allowlist is not a host name, an IP address or `*.domain`.
    #[error("allowed host `{entry}`: {problem}")]
    AllowedHost {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Port 0 was put in the port allowlist; it is always refused.
    #[error("allowed ports: port 0 is always refused, remove it")]
    PortZero,
    /// An environment variable has a value that cannot be read.
    #[error("environment variable {name}=`{value}`: expected {expected}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
}
