//! Budgets and retries of a live exchange: pure functions over durations.

use std::time::Duration;

use crate::event::EventType;
use crate::outbox::RetryPlan;

/// Vapi's fixed end-to-end budget of `assistant-request`, whatever the server's timeout says.
pub const ASSISTANT_REQUEST_BUDGET: Duration = Duration::from_millis(7_500);

/// The budget of one exchange (resolving, connecting, every try and wait, the whole body):
/// [`ASSISTANT_REQUEST_BUDGET`] for `assistant-request`, else the server's `timeoutSeconds`
/// (1 to 300, default 20); a shorter `host` deadline (what is left of the host's own) wins.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::event::EventType;
/// use agent_webhooks::live::budget;
/// let s = Duration::from_secs;
/// assert_eq!(budget(EventType::AssistantRequest, s(20), None), Duration::from_millis(7_500));
/// assert_eq!(budget(EventType::ToolCalls, s(20), None), s(20));
/// assert_eq!(budget(EventType::ToolCalls, s(20), Some(s(3))), s(3));
/// assert_eq!(budget(EventType::ToolCalls, s(2), Some(s(3))), s(2));
/// ```
#[must_use]
pub fn budget(event: EventType, server_timeout: Duration, host: Option<Duration>) -> Duration {
    let own = if event == EventType::AssistantRequest {
        ASSISTANT_REQUEST_BUDGET
    } else {
        server_timeout
    };
    host.map_or(own, |h| h.min(own))
}

/// The wait before another try, or `None`: only with a retry plan that has a retry left
/// (`tries` were sent), only for a failure worth retrying, and only when the time `left`
/// after the wait can hold another try as long as the last one (`last_try`, at least 1 ms).
pub(crate) fn next_try(
    plan: Option<&RetryPlan>,
    tries: u32,
    retryable: bool,
    left: Duration,
    last_try: Duration,
) -> Option<Duration> {
    if !retryable {
        return None;
    }
    let index = usize::try_from(tries).ok()?.checked_sub(1)?;
    let delay = *plan?.delays().get(index)?;
    let needed = delay.checked_add(last_try.max(Duration::from_millis(1)))?;
    (needed <= left).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cascade::Server;

    fn plan(retries: u8, delay_s: u64) -> RetryPlan {
        let v = serde_json::json!({"url": "https://x.example.com", "backoffPlan": {
            "type": "fixed", "maxRetries": retries, "baseDelaySeconds": delay_s}});
        Server::from_value(v).unwrap().retry_plan().unwrap().clone()
    }

    #[test]
    fn retries_need_a_plan_a_retry_left_and_time_for_another_try() {
        let s = Duration::from_secs;
        let p = plan(2, 1);
        assert_eq!(
            next_try(None, 1, true, s(20), s(1)),
            None,
            "no plan, no retry"
        );
        assert_eq!(next_try(Some(&p), 1, false, s(20), s(1)), None);
        assert_eq!(next_try(Some(&p), 1, true, s(20), s(1)), Some(s(1)));
        assert_eq!(next_try(Some(&p), 2, true, s(20), s(1)), Some(s(1)));
        assert_eq!(
            next_try(Some(&p), 3, true, s(20), s(1)),
            None,
            "plan used up"
        );
        assert_eq!(
            next_try(Some(&p), 1, true, s(2), s(1)),
            Some(s(1)),
            "just fits"
        );
        assert_eq!(
            next_try(Some(&p), 1, true, s(2), s(2)),
            None,
            "does not fit"
        );
    }
}
