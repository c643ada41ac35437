//! Retry plans: decisions by status (vector file), Vapi backoffPlan, jitter bounds, errors.

use std::time::Duration;

use agent_webhooks::outbox::{Decision, PlanError, RetryPlan, Timestamp, parse_retry_after};
use proptest::prelude::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn decisions_by_status_match_the_vector_file() {
    let plan = RetryPlan::builder()
        .schedule([secs(5)])
        .excluded_status_codes([400, 401, 403, 404])
        .build()
        .unwrap();
    let data = include_str!("../../data/retry_decisions.tsv");
    let mut rows = 0;
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [status, retry_after, decision, delay] = cols[..] else {
            panic!("bad row: {line}");
        };
        let status = (status != "transport").then(|| status.parse::<u16>().unwrap());
        let retry_after = (retry_after != "-").then(|| secs(retry_after.parse().unwrap()));
        let want = match decision {
            "succeeded" => Decision::Succeeded,
            "retry" => Decision::Retry {
                after: secs(delay.parse().unwrap()),
            },
            "excluded" => Decision::Excluded,
            "gone" => Decision::Gone,
            other => panic!("unknown decision {other}"),
        };
        assert_eq!(plan.decide(1, status, retry_after, 0.5), want, "{line}");
        // After the last retry every failure is final.
        if matches!(want, Decision::Retry { .. }) {
            assert_eq!(
                plan.decide(2, status, retry_after, 0.5),
                Decision::Exhausted,
                "{line}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, 35);
}

#[test]
fn vapi_backoff_plans() {
    let fixed =
        RetryPlan::from_backoff_json(r#"{"type":"fixed","maxRetries":3,"baseDelaySeconds":1.5}"#)
            .unwrap();
    assert_eq!(fixed.delays(), [Duration::from_millis(1500); 3]);
    let exp = RetryPlan::from_backoff_json(
        r#"{"type":"exponential","maxRetries":10,"baseDelaySeconds":10}"#,
    )
    .unwrap();
    assert_eq!(exp.delays().first(), Some(&secs(10)));
    assert_eq!(exp.delays().last(), Some(&secs(5120)));
    let default_type =
        RetryPlan::from_backoff_json(r#"{"maxRetries":2,"baseDelaySeconds":0}"#).unwrap();
    assert_eq!(default_type.delays(), [Duration::ZERO; 2]);
    let none = RetryPlan::from_backoff_json(r#"{"baseDelaySeconds":1}"#).unwrap();
    assert_eq!(none.max_retries(), 0);
    assert_eq!(none.decide(1, Some(500), None, 0.5), Decision::Exhausted);
    // Numbers as JavaScript writes them; a 2xx in the excluded list is dropped (a success).
    let js = RetryPlan::from_backoff_json(
        r#"{"maxRetries":2.0,"baseDelaySeconds":1,"excludedStatusCodes":[404.0,200,404]}"#,
    )
    .unwrap();
    assert_eq!(js.delays(), [secs(1); 2]);
    assert_eq!(js.excluded_status_codes(), [404]);
}

/// One reader for Vapi's `backoffPlan`: the outbox's JSON and a server config's field give
/// the same plan, and refuse the same things.
#[test]
fn backoff_json_and_server_config_read_alike() {
    use agent_webhooks::cascade::Server;
    let server_plan = |plan: &str| {
        let json = format!(r#"{{"url":"https://a.example.com","backoffPlan":{plan}}}"#);
        Server::from_value(serde_json::from_str(&json).unwrap())
            .map(|s| s.retry_plan().cloned().unwrap())
            .map_err(|e| e.field().to_owned())
    };
    for ok in [
        r#"{"type":"exponential","maxRetries":4,"baseDelaySeconds":0.5,"excludedStatusCodes":[404,200]}"#,
        r#"{"maxRetries":3,"baseDelaySeconds":2}"#,
        r#"{"baseDelaySeconds":1}"#,
        // A field this build does not know (Vapi adds fields over time) is ignored.
        r#"{"maxRetries":2,"baseDelaySeconds":1,"jitterPercent":10}"#,
    ] {
        assert_eq!(
            server_plan(ok).unwrap(),
            RetryPlan::from_backoff_json(ok).unwrap(),
            "{ok}"
        );
    }
    for (bad, field) in [
        (
            r#"{"maxRetries":11,"baseDelaySeconds":1}"#,
            "backoffPlan.maxRetries",
        ),
        (
            r#"{"maxRetries":2.5,"baseDelaySeconds":1}"#,
            "backoffPlan.maxRetries",
        ),
        (
            r#"{"maxRetries":-1,"baseDelaySeconds":1}"#,
            "backoffPlan.maxRetries",
        ),
        (
            r#"{"maxRetries":1,"baseDelaySeconds":11}"#,
            "backoffPlan.baseDelaySeconds",
        ),
        (r#"{"maxRetries":1}"#, "backoffPlan"),
        (
            r#"{"maxRetries":1,"baseDelaySeconds":1,"excludedStatusCodes":[404,4.5]}"#,
            "backoffPlan.excludedStatusCodes[1]",
        ),
        (
            r#"{"type":"linear","baseDelaySeconds":1}"#,
            "backoffPlan.type",
        ),
    ] {
        assert!(RetryPlan::from_backoff_json(bad).is_err(), "{bad}");
        assert_eq!(server_plan(bad).unwrap_err(), field, "{bad}");
    }
    let PlanError::Json { path, .. } =
        RetryPlan::from_backoff_json(r#"{"maxRetries":2.5,"baseDelaySeconds":1}"#).unwrap_err()
    else {
        panic!("expected a JSON error");
    };
    assert_eq!(path, ".maxRetries");
}

#[test]
fn impossible_backoff_plans_are_build_errors() {
    let cases: [(&str, PlanError); 5] = [
        (
            r#"{"maxRetries":11,"baseDelaySeconds":1}"#,
            PlanError::TooManyRetries { got: 11, max: 10 },
        ),
        (
            r#"{"maxRetries":1,"baseDelaySeconds":-1}"#,
            PlanError::Delay {
                what: "baseDelaySeconds",
                got: -1.0,
                max: 10.0,
            },
        ),
        (
            r#"{"maxRetries":1,"baseDelaySeconds":10.5}"#,
            PlanError::Delay {
                what: "baseDelaySeconds",
                got: 10.5,
                max: 10.0,
            },
        ),
        (
            r#"{"maxRetries":1,"baseDelaySeconds":1,"excludedStatusCodes":[99]}"#,
            PlanError::ExcludedStatus(99),
        ),
        (
            r#"{"maxRetries":1,"baseDelaySeconds":1,"excludedStatusCodes":[600]}"#,
            PlanError::ExcludedStatus(600),
        ),
    ];
    for (json, want) in cases {
        assert_eq!(
            RetryPlan::from_backoff_json(json).unwrap_err(),
            want,
            "{json}"
        );
    }
    let PlanError::Json { path, problem } =
        RetryPlan::from_backoff_json(r#"{"type":"linear","baseDelaySeconds":1}"#).unwrap_err()
    else {
        panic!("expected a JSON error");
    };
    assert_eq!(path, ".type");
    assert!(problem.contains("linear"), "{problem}");
    let err = RetryPlan::from_backoff_json(r#"{"maxRetries":3}"#).unwrap_err();
    assert!(err.to_string().contains("baseDelaySeconds"), "{err}");
}

#[test]
fn impossible_schedules_are_build_errors() {
    assert_eq!(
        RetryPlan::builder().jitter(0.6).build().unwrap_err(),
        PlanError::Jitter(0.6)
    );
    assert!(matches!(
        RetryPlan::builder().jitter(f64::NAN).build().unwrap_err(),
        PlanError::Jitter(_)
    ));
    assert_eq!(
        RetryPlan::builder()
            .schedule_seconds([5.0, -1.0])
            .build()
            .unwrap_err(),
        PlanError::Delay {
            what: "schedule delay",
            got: -1.0,
            max: 86400.0
        }
    );
    assert!(matches!(
        RetryPlan::builder()
            .schedule_seconds([f64::NAN])
            .build()
            .unwrap_err(),
        PlanError::Delay { .. }
    ));
    assert_eq!(
        RetryPlan::builder()
            .schedule(vec![secs(1); 25])
            .build()
            .unwrap_err(),
        PlanError::TooManyRetries { got: 25, max: 24 }
    );
    assert!(matches!(
        RetryPlan::builder()
            .schedule([secs(86401)])
            .build()
            .unwrap_err(),
        PlanError::Delay { .. }
    ));
    assert!(matches!(
        RetryPlan::builder()
            .retry_after_cap(secs(86401))
            .build()
            .unwrap_err(),
        PlanError::Delay { .. }
    ));
    let default = RetryPlan::default();
    assert_eq!(
        default
            .delays()
            .iter()
            .map(Duration::as_secs)
            .collect::<Vec<_>>(),
        [5, 300, 1800, 7200, 18000, 36000, 36000]
    );
}

#[test]
fn jitter_stays_in_bounds_and_centred() {
    use agent_webhooks::outbox::{Random, SeededRandom};
    let plan = RetryPlan::builder()
        .schedule([secs(300)])
        .jitter(0.2)
        .build()
        .unwrap();
    let random = SeededRandom::new(99);
    let mut sum = 0.0;
    for _ in 0..10_000 {
        let Decision::Retry { after } = plan.decide(1, Some(500), None, random.next_unit()) else {
            panic!("expected a retry");
        };
        assert!(after >= secs(240) && after <= secs(360), "{after:?}");
        sum += after.as_secs_f64();
    }
    let mean = sum / 10_000.0;
    assert!((mean - 300.0).abs() < 3.0, "mean {mean}");
}

proptest! {
    #[test]
    fn retry_after_parsing_never_panics(s in "\\PC{0,40}", now in 0u64..4_000_000_000_000) {
        let _ = parse_retry_after(&s, Timestamp::from_unix_millis(now));
    }

    #[test]
    fn delays_are_bounded_for_any_input(
        attempt in 0u32..40, status in proptest::option::of(0u16..1000),
        hint in proptest::option::of(0u64..1_000_000), unit in proptest::num::f64::ANY,
    ) {
        let plan = RetryPlan::builder().schedule([secs(5), secs(300)]).jitter(0.5).build().unwrap();
        if let Decision::Retry { after } = plan.decide(attempt, status, hint.map(secs), unit) {
            prop_assert!(after <= secs(3600).max(secs(450)));
        }
    }

    #[test]
    fn backoff_json_never_panics(s in "\\PC{0,80}") {
        let _ = RetryPlan::from_backoff_json(&s);
    }
}
