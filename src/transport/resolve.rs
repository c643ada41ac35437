//! DNS for the reqwest transport: the lookup (system or injected) and the guard around it.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;

use crate::guard::{Policy, Rejection};

/// Looks a host name up: the system resolver ([`SystemResolver`]), or one a host brings (its
/// own DNS client, a test stub). [`GuardedResolver`] checks whatever it answers.
#[async_trait]
pub trait DnsResolver: Send + Sync + fmt::Debug {
    /// The addresses of `name` (a domain, never an IP literal), in the order to try them.
    ///
    /// # Errors
    /// The lookup failed (no such name, no server reachable).
    async fn lookup(&self, name: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, run on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl DnsResolver for SystemResolver {
    async fn lookup(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((name, 0)).await?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}

/// Why [`GuardedResolver`] gave no address for a name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The lookup itself failed.
    #[error("DNS lookup of `{name}` failed")]
    Lookup {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The guard refused the answer (an address in refused space, or no address at all).
    #[error("DNS answer for `{name}` refused: {rejection}")]
    Refused {
        /// The name looked up.
        name: String,
        /// The guard's refusal.
        rejection: Rejection,
    },
}

impl ResolveError {
    /// The guard's refusal, if this is one.
    #[must_use]
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            ResolveError::Refused { rejection, .. } => Some(*rejection),
            ResolveError::Lookup { .. } => None,
        }
    }
}

/// A resolver that checks every address it answers with the guard, so a client connects only
/// to addresses the [`Policy`] allows: the check runs on the very answer the connection uses,
/// which closes DNS rebinding (a name that answered a public address when someone checked it
/// and a private one when the client connects).
///
/// **The rule is [`Policy::check_resolved`]'s, strict:** if *any* address of the answer is
/// refused, the whole answer is refused and nothing is returned (no connection is attempted),
/// even when other addresses would pass; an empty answer is [`Rejection::NoAddress`]. When every
/// address passes, all of them are returned, in the resolver's order.
///
/// It implements reqwest's [`Resolve`](reqwest::dns::Resolve), so it can sit in any reqwest
/// client. It checks addresses only: the URL rules (scheme, names such as `localhost`, ports,
/// IP-literal hosts, which a reqwest resolver never sees) belong to [`Policy::check_url`], which
/// [`ReqwestTransport`](super::ReqwestTransport) runs before every request and redirect hop.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::net::IpAddr;
/// use std::sync::Arc;
/// use agent_webhooks::guard::{Policy, Rejection};
/// use agent_webhooks::transport::{DnsResolver, GuardedResolver, ResolveError};
///
/// #[derive(Debug)]
/// struct Fixed(Vec<IpAddr>);
/// #[async_trait::async_trait]
/// impl DnsResolver for Fixed {
///     async fn lookup(&self, _name: &str) -> std::io::Result<Vec<IpAddr>> {
///         Ok(self.0.clone())
///     }
/// }
///
/// let policy = Arc::new(Policy::default());
/// let public = GuardedResolver::new(policy.clone(), Arc::new(Fixed(vec!["93.184.215.14".parse()?])));
/// assert_eq!(public.resolve_checked("hooks.example.com").await?, ["93.184.215.14".parse::<IpAddr>()?]);
///
/// let mixed = Fixed(vec!["93.184.215.14".parse()?, "10.0.0.7".parse()?]);
/// let mixed = GuardedResolver::new(policy, Arc::new(mixed));
/// let err = mixed.resolve_checked("hooks.example.com").await.unwrap_err();
/// assert!(matches!(err.rejection(), Some(Rejection::SpecialAddress { .. })));
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<Policy>,
    inner: Arc<dyn DnsResolver>,
}

impl GuardedResolver {
    /// Checks what `inner` answers with `policy`.
    #[must_use]
    pub fn new(policy: Arc<Policy>, inner: Arc<dyn DnsResolver>) -> Self {
        GuardedResolver { policy, inner }
    }

    /// Looks `name` up and checks the answer (see the type's docs for the rule).
    ///
    /// # Errors
    /// [`ResolveError::Lookup`] when the lookup fails, [`ResolveError::Refused`] when the guard
    /// refuses the answer.
    pub async fn resolve_checked(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = self
            .inner
            .lookup(name)
            .await
            .map_err(|source| ResolveError::Lookup {
                name: name.to_owned(),
                source,
            })?;
        check_answer(&self.policy, &addrs).map_err(|rejection| ResolveError::Refused {
            name: name.to_owned(),
            rejection,
        })?;
        Ok(addrs)
    }
}

/// [`Policy::check_resolved`]'s address rule without its URL part (a resolver sees only the
/// name; the URL was checked before the request).
pub(crate) fn check_answer(policy: &Policy, addrs: &[IpAddr]) -> Result<(), Rejection> {
    if addrs.is_empty() {
        return Err(Rejection::NoAddress);
    }
    addrs.iter().try_for_each(|&a| policy.check_ip(a))
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.resolve_checked(name.as_str()).await?;
            // Port 0: reqwest puts the URL's port (or the scheme's default) in.
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_rule_is_check_resolved_without_the_url() {
        let url = url::Url::parse("https://hooks.example.com/").unwrap();
        let loopback = Policy::builder()
            .development()
            .dangerous()
            .allow_loopback()
            .build()
            .unwrap();
        let answers: &[&[&str]] = &[
            &[],
            &["93.184.215.14"],
            &["93.184.215.14", "2606:4700:4700::1111"],
            &["93.184.215.14", "10.0.0.7"],
            &["127.0.0.1"],
            &["127.0.0.1", "::1"],
            &["::ffff:127.0.0.1"],
            &["127.0.0.1", "169.254.169.254"],
            &["64:ff9b::a00:1"],
        ];
        for policy in [Policy::default(), loopback] {
            for answer in answers {
                let addrs: Vec<IpAddr> = answer.iter().map(|a| a.parse().unwrap()).collect();
                assert_eq!(
                    check_answer(&policy, &addrs),
                    policy.check_resolved(&url, &addrs),
                    "{answer:?}"
                );
            }
        }
    }
}
