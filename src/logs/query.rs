//! The filters of `GET /logs/webhooks`, parsed from the query string.

use crate::outbox::{
    AttemptQuery, AttemptStatus, Cursor, DEFAULT_PAGE_LIMIT, JobId, JobQuery, JobStatus, Timestamp,
    Trigger,
};
use crate::tenant::TenantId;

/// The largest `limit` the logs API accepts.
pub const MAX_LOGS_LIMIT: usize = 200;

const KNOWN: &[&str] = &[
    "kind",
    "status",
    "event_type",
    "call_id",
    "job_id",
    "since",
    "until",
    "cursor",
    "limit",
    "tenant",
];

/// A filter the logs API cannot use: becomes a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadFilter(pub(crate) String);

/// What a listing asks for.
#[derive(Debug)]
pub(crate) enum Listing {
    Jobs(JobQuery),
    Attempts(AttemptQuery),
}

#[derive(Debug)]
pub(crate) struct ListRequest {
    pub(crate) listing: Listing,
    /// Narrow to this tenant (a super admin's choice; others may name only their own).
    pub(crate) tenant: Option<TenantId>,
}

fn shown(s: &str) -> String {
    s.chars().take(60).flat_map(char::escape_default).collect()
}

fn text(name: &str, value: &str, max: usize) -> Result<String, BadFilter> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(BadFilter(format!(
            "`{name}` must be 1 to {max} bytes without control characters"
        )));
    }
    Ok(value.to_owned())
}

fn time(name: &str, value: &str) -> Result<Timestamp, BadFilter> {
    value
        .parse::<crate::event::Timestamp>()
        .map(|t| Timestamp::from_unix_millis(t.unix_millis()))
        .map_err(|_| {
            BadFilter(format!(
                "`{name}` = `{}` is not a time: use RFC 3339 (2026-01-01T00:00:00Z) or epoch milliseconds",
                shown(value)
            ))
        })
}

/// The decoded parameters of a query string: every one known and given at most once (a typo
/// must not silently widen a listing).
fn params(query: Option<&str>) -> Result<Vec<(String, String)>, BadFilter> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !KNOWN.contains(&k.as_ref()) {
            return Err(BadFilter(format!(
                "unknown filter `{}`: use {}",
                shown(&k),
                KNOWN.join(", ")
            )));
        }
        if seen.iter().any(|(name, _)| *name == k) {
            return Err(BadFilter(format!("filter `{k}` is given twice")));
        }
        seen.push((k.into_owned(), v.into_owned()));
    }
    Ok(seen)
}

/// Parses the query string of a listing. Every parameter at most once; unknown ones are
/// refused.
pub(crate) fn parse(query: Option<&str>) -> Result<ListRequest, BadFilter> {
    let seen = params(query)?;
    let get = |name: &str| {
        seen.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (attempts, trigger) = match get("kind") {
        None | Some("jobs") => (false, None),
        Some("attempts") => (true, None),
        Some("live") => (true, Some(Trigger::Live)),
        Some("tool") => (true, Some(Trigger::Tool)),
        Some(other) => {
            return Err(BadFilter(format!(
                "`kind` = `{}`: use jobs, attempts, live or tool",
                shown(other)
            )));
        }
    };
    let limit = match get("limit") {
        None => DEFAULT_PAGE_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LOGS_LIMIT).contains(&n) => n,
            _ => {
                return Err(BadFilter(format!(
                    "`limit` = `{}`: use a whole number from 1 to {MAX_LOGS_LIMIT}",
                    shown(v)
                )));
            }
        },
    };
    let since = get("since").map(|v| time("since", v)).transpose()?;
    let until = get("until").map(|v| time("until", v)).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(BadFilter("`since` must be before `until`".into()));
        }
    }
    let cursor = get("cursor")
        .map(|v| text("cursor", v, 512))
        .transpose()?
        .map(Cursor::new);
    let event_type = get("event_type")
        .map(|v| text("event_type", v, 128))
        .transpose()?;
    let tenant = get("tenant")
        .map(|v| TenantId::new(v).map_err(|e| BadFilter(format!("`tenant`: {e}"))))
        .transpose()?;
    let listing = if attempts {
        if get("call_id").is_some() {
            return Err(BadFilter(
                "`call_id` filters jobs (kind=jobs); for a call's attempts, list its jobs and then attempts with `job_id`".into(),
            ));
        }
        let mut q = AttemptQuery::new().limit(limit).cursor(cursor);
        q.trigger = trigger;
        if let Some(s) = get("status") {
            let status = s
                .parse::<AttemptStatus>()
                .map_err(|e| BadFilter(format!("`status`: {e}")))?;
            q = q.status(status);
        }
        if let Some(j) = get("job_id") {
            let id = JobId::new(j).map_err(|e| BadFilter(format!("`job_id`: {e}")))?;
            q = q.job(id);
        }
        q.event_type = event_type;
        q.started_since = since;
        q.started_until = until;
        Listing::Attempts(q)
    } else {
        if get("job_id").is_some() {
            return Err(BadFilter(
                "`job_id` filters attempts: add kind=attempts, or get the job by its id".into(),
            ));
        }
        let mut q = JobQuery::new().limit(limit).cursor(cursor);
        if let Some(s) = get("status") {
            let status = s
                .parse::<JobStatus>()
                .map_err(|e| BadFilter(format!("`status`: {e}")))?;
            q = q.status(status);
        }
        if let Some(c) = get("call_id") {
            q = q.call_id(text("call_id", c, 128)?);
        }
        q.event_type = event_type;
        q.created_since = since;
        q.created_until = until;
        Listing::Jobs(q)
    };
    Ok(ListRequest { listing, tenant })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(q: &str) -> JobQuery {
        match parse(Some(q)).unwrap().listing {
            Listing::Jobs(q) => q,
            Listing::Attempts(_) => panic!("attempts"),
        }
    }

    #[test]
    fn defaults_and_filters() {
        let q = jobs("");
        assert_eq!((q.limit, q.status), (DEFAULT_PAGE_LIMIT, None));
        let q = jobs(
            "status=failed&event_type=status-update&call_id=c%201&limit=200&since=2026-01-01T00:00:00Z&until=1767225600001",
        );
        assert_eq!(q.status, Some(JobStatus::Failed));
        assert_eq!(q.call_id.as_deref(), Some("c 1"));
        assert_eq!(q.limit, 200);
        assert_eq!(
            q.created_since,
            Some(Timestamp::from_unix_seconds(1_767_225_600))
        );
        assert_eq!(
            q.created_until,
            Some(Timestamp::from_unix_millis(1_767_225_600_001))
        );
    }

    #[test]
    fn bad_filters_say_what_to_fix() {
        for (q, needle) in [
            ("limit=0", "1 to 200"),
            ("limit=201", "1 to 200"),
            ("limit=x", "1 to 200"),
            ("status=done", "pending"),
            ("kind=attempts&status=pending", "succeeded, failed"),
            ("since=yesterday", "RFC 3339"),
            (
                "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
                "before",
            ),
            ("sort=asc", "unknown filter"),
            ("limit=1&limit=2", "twice"),
            ("kind=both", "jobs, attempts, live or tool"),
            ("kind=attempts&call_id=c", "job_id"),
            ("job_id=msg_1", "kind=attempts"),
            ("tenant=a%20b", "tenant"),
            ("event_type=", "event_type"),
        ] {
            let e = parse(Some(q)).unwrap_err();
            assert!(e.0.contains(needle), "{q}: {}", e.0);
        }
    }
}
