//! Retry plans: when a failed attempt is tried again, and when the outbox gives up.
//!
//! Pure: the attempt's outcome, the time and a random number come in as arguments.

use std::time::Duration;

use serde::Deserialize;

use crate::outbox::error::PlanError;
use crate::outbox::model::Timestamp;

/// The most retries a plan may have (Hook0 caps at 24).
pub const MAX_RETRIES: usize = 24;
/// The longest single delay of a schedule: one day.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// The default cap on a honoured `Retry-After`: one hour.
pub const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// When to retry a failed attempt and when to stop.
///
/// - A 2xx is success. Anything else is a failure: 3xx responses are never followed.
/// - **410 Gone** stops retries at once and disables the target (Standard Webhooks'
///   recommendation); the job fails. Enable the target again before requeueing.
/// - A status in the excluded list (Vapi's `excludedStatusCodes`) stops retries; the job fails.
/// - Otherwise, while retries remain, the next attempt comes after the schedule's delay, moved
///   by jitter within `delay x (1 +- ratio)`. On **429 and 503** a `Retry-After` (seconds or an
///   HTTP date) is honoured within bounds: the delay becomes
///   `max(jittered delay, min(retry_after, cap))`, so a hint never makes a retry earlier than
///   planned nor later than the cap (default one hour). Other statuses ignore `Retry-After`.
/// - A transport error (timeout, connection refused) is a failure with no status; it is
///   retried on the schedule.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::outbox::{Decision, RetryPlan};
///
/// // Vapi's backoffPlan: 3 retries, exponential from 1 s, never retry a 404.
/// let plan = RetryPlan::from_backoff_json(
///     r#"{"type":"exponential","maxRetries":3,"baseDelaySeconds":1,"excludedStatusCodes":[404]}"#)?;
/// assert_eq!(plan.delays(), [1, 2, 4].map(Duration::from_secs));
/// assert_eq!(plan.decide(1, Some(500), None, 0.5), Decision::Retry { after: Duration::from_secs(1) });
/// assert_eq!(plan.decide(1, Some(404), None, 0.5), Decision::Excluded);
/// assert_eq!(plan.decide(4, Some(500), None, 0.5), Decision::Exhausted);
/// # Ok::<(), agent_webhooks::outbox::PlanError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPlan {
    delays: Vec<Duration>,
    jitter: f64,
    excluded: Vec<u16>,
    retry_after_cap: Duration,
}

/// What to do after an attempt, by [`RetryPlan::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// A 2xx: the job succeeded.
    Succeeded,
    /// Try again after this delay.
    Retry {
        /// The delay from the end of this attempt.
        after: Duration,
    },
    /// The status is excluded from retries: the job fails now.
    Excluded,
    /// 410 Gone: the job fails and the target is disabled.
    Gone,
    /// No retries left: the job fails.
    Exhausted,
}

impl Default for RetryPlan {
    /// The standard schedule: retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (eight
    /// attempts over about 27.5 hours), jitter plus or minus 20%.
    fn default() -> Self {
        RetryPlan {
            delays: [5, 300, 1800, 7200, 18000, 36000, 36000]
                .map(Duration::from_secs)
                .to_vec(),
            jitter: 0.2,
            excluded: Vec::new(),
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
        }
    }
}

impl RetryPlan {
    /// No retries: one attempt only (Vapi's default when no `backoffPlan` is set).
    #[must_use]
    pub fn none() -> Self {
        RetryPlan {
            delays: Vec::new(),
            jitter: 0.0,
            excluded: Vec::new(),
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
        }
    }

    /// A plan from an explicit schedule: one delay per retry. No jitter unless set.
    pub fn builder() -> RetryPlanBuilder {
        RetryPlanBuilder {
            plan: RetryPlan::none(),
            error: None,
        }
    }

    /// A plan from Vapi's `backoffPlan` JSON (`{"type":"fixed","maxRetries":3,...}`), read
    /// by the same rules as a server config's `backoffPlan` ([`crate::cascade::Server`]).
    ///
    /// - `type`: `fixed` (the default): `maxRetries` retries, each after `baseDelaySeconds`;
    ///   `exponential`: the n-th retry after `baseDelaySeconds x 2^(n-1)`.
    /// - `maxRetries`: a whole number from 0 to 10, default 0 (no retries).
    /// - `baseDelaySeconds`: required, 0 to 10 (fractions allowed).
    /// - `excludedStatusCodes`: statuses never retried, 100 to 599; a 2xx in the list is
    ///   ignored (a 2xx is a success whatever the list says).
    /// - Any other field is ignored: Vapi adds fields to its schema over time
    ///   (`excludedStatusCodes` came after the others), and a config exported later must
    ///   still load.
    ///
    /// No jitter, like Vapi's own.
    ///
    /// # Errors
    /// [`PlanError::Json`] with the field's path when the JSON is malformed or a
    /// `maxRetries` is not a whole number; [`PlanError::TooManyRetries`] for
    /// `maxRetries` above 10, [`PlanError::Delay`] for `baseDelaySeconds` outside 0 to 10,
    /// [`PlanError::ExcludedStatus`] for an excluded status outside 100..=599.
    pub fn from_backoff_json(json: &str) -> Result<Self, PlanError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let raw: BackoffPlanJson = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            PlanError::Json {
                path: if path == "." {
                    String::new()
                } else {
                    format!(".{path}")
                },
                problem: e.into_inner().to_string(),
            }
        })?;
        raw.check().map_err(BackoffFault::into_plan_error)
    }

    /// The delay before each retry, in order.
    #[must_use]
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// The number of retries after the first attempt.
    #[must_use]
    pub fn max_retries(&self) -> usize {
        self.delays.len()
    }

    /// The jitter ratio: each delay lands in `delay x (1 +- ratio)`.
    #[must_use]
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The statuses never retried.
    #[must_use]
    pub fn excluded_status_codes(&self) -> &[u16] {
        &self.excluded
    }

    /// Whether a failure with this status is one the plan retries while retries remain: not a
    /// 2xx (a success), not 410 Gone, not excluded. [`RetryPlan::decide`] says the same and
    /// also counts the retries left.
    #[must_use]
    pub fn retries_status(&self, status: u16) -> bool {
        !matches!(status, 200..=299 | 410) && self.excluded.binary_search(&status).is_err()
    }

    /// The longest `Retry-After` honoured.
    #[must_use]
    pub fn retry_after_cap(&self) -> Duration {
        self.retry_after_cap
    }

    /// What to do after attempt number `attempt` (1 for the first) ended with `status`
    /// (`None` for a transport error).
    ///
    /// `retry_after` is the parsed `Retry-After` of the response, if any (see
    /// [`parse_retry_after`]); it counts only on 429 and 503. `unit` is a random number in
    /// `[0, 1)` that places the jitter; 0.5 means no shift.
    #[must_use]
    pub fn decide(
        &self,
        attempt: u32,
        status: Option<u16>,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Decision {
        match status {
            Some(200..=299) => return Decision::Succeeded,
            Some(410) => return Decision::Gone,
            Some(code) if self.excluded.binary_search(&code).is_ok() => {
                return Decision::Excluded;
            }
            _ => {}
        }
        let index = attempt.saturating_sub(1) as usize;
        let Some(&base) = self.delays.get(index) else {
            return Decision::Exhausted;
        };
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        let mut after = base.mul_f64(factor);
        if let (Some(429 | 503), Some(hint)) = (status, retry_after) {
            after = after.max(hint.min(self.retry_after_cap));
        }
        Decision::Retry { after }
    }
}

/// Builds a [`RetryPlan`]; errors are reported by [`RetryPlanBuilder::build`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryPlanBuilder {
    plan: RetryPlan,
    error: Option<PlanError>,
}

impl RetryPlanBuilder {
    /// One delay per retry, in order (at most [`MAX_RETRIES`], each at most [`MAX_DELAY`]).
    pub fn schedule(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.plan.delays = delays.into_iter().collect();
        self
    }

    /// One delay per retry, in seconds (fractions allowed).
    pub fn schedule_seconds(mut self, seconds: impl IntoIterator<Item = f64>) -> Self {
        let mut delays = Vec::new();
        for s in seconds {
            if !(0.0..=MAX_DELAY.as_secs_f64()).contains(&s) {
                self.error.get_or_insert(PlanError::Delay {
                    what: "schedule delay",
                    got: s,
                    max: MAX_DELAY.as_secs_f64(),
                });
                continue;
            }
            delays.push(Duration::from_secs_f64(s));
        }
        self.plan.delays = delays;
        self
    }

    /// The jitter ratio, 0 to 0.5: each delay lands in `delay x (1 +- ratio)`.
    pub fn jitter(mut self, ratio: f64) -> Self {
        self.plan.jitter = ratio;
        self
    }

    /// Statuses never retried (a non-2xx from 100 to 599).
    pub fn excluded_status_codes(mut self, codes: impl IntoIterator<Item = u16>) -> Self {
        let mut codes: Vec<u16> = codes.into_iter().collect();
        codes.sort_unstable();
        codes.dedup();
        self.plan.excluded = codes;
        self
    }

    /// The longest `Retry-After` honoured on 429 and 503 (at most [`MAX_DELAY`]).
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.plan.retry_after_cap = cap;
        self
    }

    /// The plan.
    ///
    /// # Errors
    /// [`PlanError`] for more than [`MAX_RETRIES`] delays, a delay or cap above [`MAX_DELAY`],
    /// a jitter ratio outside `[0, 0.5]`, or an excluded status that is a 2xx or outside
    /// 100..=599.
    pub fn build(self) -> Result<RetryPlan, PlanError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let plan = self.plan;
        if plan.delays.len() > MAX_RETRIES {
            return Err(PlanError::TooManyRetries {
                got: plan.delays.len() as u64,
                max: MAX_RETRIES as u64,
            });
        }
        for (what, d) in plan
            .delays
            .iter()
            .map(|d| ("schedule delay", d))
            .chain([("retry-after cap", &plan.retry_after_cap)])
        {
            if *d > MAX_DELAY {
                return Err(PlanError::Delay {
                    what,
                    got: d.as_secs_f64(),
                    max: MAX_DELAY.as_secs_f64(),
                });
            }
        }
        if !(0.0..=0.5).contains(&plan.jitter) {
            return Err(PlanError::Jitter(plan.jitter));
        }
        if let Some(&code) = plan
            .excluded
            .iter()
            .find(|&&c| !(100..=599).contains(&c) || (200..=299).contains(&c))
        {
            return Err(PlanError::ExcludedStatus(code));
        }
        Ok(plan)
    }
}

/// Vapi's `backoffPlan` object as JSON: the one reader of that shape, used by
/// [`RetryPlan::from_backoff_json`] and by a server config's `backoffPlan`
/// ([`crate::cascade::Server::from_value`]). Numbers are read as JSON numbers (`3` and `3.0`
/// alike) and checked by [`BackoffPlanJson::check`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackoffPlanJson {
    #[serde(rename = "type", default)]
    kind: BackoffKind,
    #[serde(default)]
    max_retries: f64,
    base_delay_seconds: f64,
    #[serde(default)]
    excluded_status_codes: Vec<f64>,
}

/// `backoffPlan.type`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BackoffKind {
    #[default]
    Fixed,
    Exponential,
}

/// Vapi's limits on `maxRetries` and `baseDelaySeconds`.
const BACKOFF_MAX_RETRIES: f64 = 10.0;
const BACKOFF_MAX_BASE_DELAY: f64 = 10.0;

/// A `backoffPlan` field out of range; each config surface words it in its own error type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BackoffFault {
    /// `maxRetries` is not a whole number from 0 to 10.
    MaxRetries(f64),
    /// `baseDelaySeconds` is outside 0 to 10.
    BaseDelay(f64),
    /// `excludedStatusCodes[index]` is not a status code (a whole number from 100 to 599).
    Status { index: usize, code: f64 },
}

impl BackoffFault {
    /// The field at fault, relative to the `backoffPlan` object (`excludedStatusCodes[1]`).
    pub(crate) fn field(&self) -> String {
        match self {
            BackoffFault::MaxRetries(_) => "maxRetries".to_owned(),
            BackoffFault::BaseDelay(_) => "baseDelaySeconds".to_owned(),
            BackoffFault::Status { index, .. } => format!("excludedStatusCodes[{index}]"),
        }
    }

    fn into_plan_error(self) -> PlanError {
        let whole = |x: f64| x.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(&x);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        match self {
            BackoffFault::MaxRetries(got) if whole(got) => PlanError::TooManyRetries {
                got: got as u64,
                max: BACKOFF_MAX_RETRIES as u64,
            },
            BackoffFault::BaseDelay(got) => PlanError::Delay {
                what: "baseDelaySeconds",
                got,
                max: BACKOFF_MAX_BASE_DELAY,
            },
            BackoffFault::Status { code, .. } if whole(code) => {
                PlanError::ExcludedStatus(code as u16)
            }
            BackoffFault::MaxRetries(got) => PlanError::Json {
                path: ".maxRetries".to_owned(),
                problem: format!("{got} is not a whole number from 0 to 10"),
            },
            BackoffFault::Status { index, code } => PlanError::Json {
                path: format!(".excludedStatusCodes[{index}]"),
                problem: format!("{code} is not an HTTP status code"),
            },
        }
    }
}

impl BackoffPlanJson {
    /// The plan, once every field is in range: `maxRetries` retries, each after the plan's
    /// delay (fixed, or doubling from the base), its excluded statuses never retried (2xx
    /// entries dropped). No jitter.
    pub(crate) fn check(self) -> Result<RetryPlan, BackoffFault> {
        let r = self.max_retries;
        if r.fract() != 0.0 || !(0.0..=BACKOFF_MAX_RETRIES).contains(&r) {
            return Err(BackoffFault::MaxRetries(r));
        }
        let base = self.base_delay_seconds;
        if !(0.0..=BACKOFF_MAX_BASE_DELAY).contains(&base) {
            return Err(BackoffFault::BaseDelay(base));
        }
        let mut excluded = Vec::with_capacity(self.excluded_status_codes.len());
        for (index, code) in self.excluded_status_codes.into_iter().enumerate() {
            if code.fract() != 0.0 || !(100.0..=599.0).contains(&code) {
                return Err(BackoffFault::Status { index, code });
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let code = code as u16;
            // A 2xx is a success whatever the list says.
            if !(200..=299).contains(&code) {
                excluded.push(code);
            }
        }
        excluded.sort_unstable();
        excluded.dedup();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let retries = r as u32;
        let delays = (0..retries)
            .map(|i| match self.kind {
                BackoffKind::Fixed => Duration::from_secs_f64(base),
                BackoffKind::Exponential => Duration::from_secs_f64(base * f64::from(1u32 << i)),
            })
            .collect();
        Ok(RetryPlan {
            delays,
            jitter: 0.0,
            excluded,
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
        })
    }
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an IMF-fixdate HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`) relative to `now`.
///
/// A date in the past gives zero; anything else (`abc`, obsolete date forms) gives `None` and
/// is ignored.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::outbox::{parse_retry_after, Timestamp};
/// let now = Timestamp::from_unix_seconds(1_445_412_470); // 2015-10-21 07:27:50 UTC
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("abc", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = parse_imf_fixdate(value)?;
    Some(Timestamp::from_unix_seconds(at).duration_since(now))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` to Unix seconds.
fn parse_imf_fixdate(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    if !["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&s[..3]) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let day = num(5..7)?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| s.get(8..11) == Some(*m))? as u64
        + 1;
    let year = num(12..16)?;
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    let (hour, minute, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || sec > 60 || year < 1970 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), for years from 1970.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imf_fixdate_matches_known_epochs() {
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_imf_fixdate("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        assert_eq!(parse_imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_imf_fixdate("Sun, 06 Xyz 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn retry_after_in_the_past_is_zero() {
        let now = Timestamp::from_unix_seconds(784_111_800);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
