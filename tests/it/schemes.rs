//! Receiver-compatible signature schemes: vectors computed independently by
//! `tests/interop/scheme_vectors.py` (Python's `hmac`), every Vapi HMAC variant, tolerance
//! edges, tampering, and the errors of bad plans.

use std::path::Path;
use std::time::Duration;

use agent_webhooks::http::HeaderMap;
use agent_webhooks::sign::{HmacPlan, Message, Scheme, SchemeKind};
use agent_webhooks::{SignError, Signer, VerifyError};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    scheme: String,
    secret: Option<String>,
    plan: Option<serde_json::Value>,
    message: Msg,
    headers: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Msg {
    id: String,
    unix_millis: u64,
    url: String,
    body: String,
}

fn vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sign-schemes.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn scheme_of(v: &Vector) -> Scheme {
    match &v.plan {
        Some(plan) => Scheme::vapi_hmac(HmacPlan::from_json(plan.clone()).unwrap()),
        None => {
            Scheme::from_secret(v.scheme.parse().unwrap(), v.secret.as_deref().unwrap()).unwrap()
        }
    }
}

fn shown(headers: &HeaderMap) -> std::collections::BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn every_scheme_matches_the_independent_vectors() {
    let all = vectors();
    assert!(all.len() >= 30, "{} vectors", all.len());
    for v in &all {
        let scheme = scheme_of(v);
        let m = &v.message;
        let message = Message::new(&m.id, m.unix_millis, &m.url, m.body.as_bytes());
        let mut headers = scheme.sign(&message).unwrap();
        let mut got = shown(&headers);
        if v.scheme == "standard" {
            // The vectors hold the signature; the id and timestamp headers are the inputs.
            assert_eq!(got.remove("webhook-id").as_deref(), Some(m.id.as_str()));
            got.remove("webhook-timestamp");
        }
        assert_eq!(got, v.headers, "{} {:?}", v.scheme, v.plan);
        scheme.verify(&headers, &message, m.unix_millis).unwrap();

        let tampered = format!("{}!", m.body);
        let other = Message::new(&m.id, m.unix_millis, &m.url, tampered.as_bytes());
        let refused = scheme.verify(&headers, &other, m.unix_millis).unwrap_err();
        assert!(
            matches!(refused, VerifyError::NoMatch | VerifyError::Mismatch(_)),
            "{refused:?}"
        );
        // No signature header at all: a missing-header error, not a panic.
        headers.clear();
        assert!(scheme.verify(&headers, &message, m.unix_millis).is_err());
    }
}

#[test]
fn tolerances_are_each_platforms_and_inclusive() {
    let at = 1_700_000_000_000;
    let body = b"{}";
    let message = Message::new("msg_1", at, "https://h.example.com/", body);
    let cases = [
        (SchemeKind::ElevenLabs, "wsec_x", Duration::from_secs(1800)),
        (SchemeKind::Retell, "key_x", Duration::from_secs(300)),
        (SchemeKind::VapiHmac, "s3cret", Duration::from_secs(300)),
    ];
    for (kind, secret, tolerance) in cases {
        let scheme = Scheme::from_secret(kind, secret).unwrap();
        let headers = scheme.sign(&message).unwrap();
        let edge = u64::try_from(tolerance.as_millis()).unwrap();
        scheme.verify(&headers, &message, at + edge).unwrap();
        scheme.verify(&headers, &message, at - edge).unwrap();
        let late = scheme.verify(&headers, &message, at + edge + 1000);
        assert!(
            matches!(late, Err(VerifyError::TooOld { .. })),
            "{kind}: {late:?}"
        );
        let early = scheme.verify(&headers, &message, at - edge - 1000);
        assert!(
            matches!(early, Err(VerifyError::TooNew { .. })),
            "{kind}: {early:?}"
        );
    }
    // Without a timestamp there is nothing to be late: any time verifies.
    for kind in [SchemeKind::Bland, SchemeKind::VapiSignature] {
        let scheme = Scheme::from_secret(kind, "s3cret").unwrap();
        let headers = scheme.sign(&message).unwrap();
        scheme.verify(&headers, &message, at * 2).unwrap();
    }
}

#[test]
fn malformed_headers_are_typed() {
    let message = Message::new("m", 1_700_000_000_000, "", b"{}");
    let retell = Scheme::retell(b"key").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-retell-signature", "garbage".parse().unwrap());
    assert!(matches!(
        retell.verify(&headers, &message, 1_700_000_000_000),
        Err(VerifyError::Malformed { .. })
    ));
    headers.insert("x-retell-signature", "v=abc,d=00".parse().unwrap());
    assert_eq!(
        retell.verify(&headers, &message, 1_700_000_000_000),
        Err(VerifyError::BadTimestamp)
    );
    let eleven = Scheme::elevenlabs(b"wsec").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("elevenlabs-signature", "v0=00".parse().unwrap());
    assert!(matches!(
        eleven.verify(&headers, &message, 1_700_000_000_000),
        Err(VerifyError::Malformed { .. })
    ));
    assert_eq!(
        eleven.verify(&HeaderMap::new(), &message, 0),
        Err(VerifyError::Missing("elevenlabs-signature".into()))
    );
}

#[test]
fn bad_plans_are_refused_at_build_time() {
    let plan = |v: serde_json::Value| HmacPlan::from_json(v).unwrap_err();
    assert!(matches!(
        plan(serde_json::json!({"secretKey": "k", "algorithm": "md5"})),
        SignError::UnknownAlgorithm(_)
    ));
    assert!(matches!(
        plan(
            serde_json::json!({"secretKey": "k", "algorithm": "sha256", "signatureEncoding": "hex64"})
        ),
        SignError::UnknownEncoding(_)
    ));
    assert!(matches!(
        plan(
            serde_json::json!({"secretKey": "k", "algorithm": "sha256", "payloadFormat": "{nonce}.{body}"})
        ),
        SignError::PayloadFormat(_)
    ));
    assert!(matches!(
        plan(
            serde_json::json!({"secretKey": "k", "algorithm": "sha256", "includeTimestamp": false,
                                "payloadFormat": "{timestamp}.{body}"})
        ),
        SignError::TimestampNotSent
    ));
    assert!(matches!(
        plan(
            serde_json::json!({"secretKey": "k", "algorithm": "sha256", "signatureHeader": "bad header"})
        ),
        SignError::HeaderName(_)
    ));
    assert!(matches!(
        plan(serde_json::json!({"secretKey": "", "algorithm": "sha256"})),
        SignError::EmptySecret
    ));
    assert!(matches!(
        plan(
            serde_json::json!({"secretKey": "!!!", "algorithm": "sha256", "secretIsBase64": true})
        ),
        SignError::SecretNotBase64
    ));
    let e = plan(serde_json::json!({"algorithm": "sha256"}));
    assert!(matches!(e, SignError::PlanJson(_)), "{e:?}");
    assert!(matches!(
        "hmac".parse::<SchemeKind>(),
        Err(SignError::UnknownScheme(_))
    ));
    // Errors never show the key.
    let e = plan(serde_json::json!({"secretKey": "TOPSECRET", "algorithm": "md5"}));
    assert!(!e.to_string().contains("TOPSECRET"));
}

#[test]
fn the_standard_scheme_is_the_signer() {
    let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap());
    let scheme = Scheme::standard(signer.clone());
    let body = br#"{"test": 2432232314}"#;
    let message = Message::new("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330_000, "", body);
    let headers = scheme.sign(&message).unwrap();
    assert_eq!(
        headers["webhook-signature"],
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    assert_eq!(headers["webhook-timestamp"], "1614265330");
}

mod prop {
    use agent_webhooks::directory::Route;
    use agent_webhooks::http::{HeaderMap, HeaderValue};
    use agent_webhooks::outbox::TargetRef;
    use agent_webhooks::sign::{HmacPlan, Message, Scheme, SchemeKind};
    use proptest::prelude::*;

    proptest! {
        // Whatever a sender puts in the headers, verifying answers a typed error, never a panic.
        #[test]
        fn verifying_any_header_value_never_panics(value in "[ -~]{0,120}", ts in "[0-9a-z]{0,24}", now in any::<u64>()) {
            let message = Message::new("msg", 1_700_000_000_000, "", b"{}");
            for kind in SchemeKind::ALL {
                let secret = if kind == SchemeKind::Standard { "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } else { "k" };
                let scheme = Scheme::from_secret(kind, secret).unwrap();
                let mut headers = HeaderMap::new();
                let v = HeaderValue::from_str(&value).unwrap();
                let t = HeaderValue::from_str(&ts).unwrap();
                for name in ["webhook-signature", "x-signature", "x-vapi-signature", "elevenlabs-signature",
                             "x-retell-signature", "x-webhook-signature"] {
                    headers.insert(name, v.clone());
                }
                headers.insert("webhook-id", HeaderValue::from_static("msg"));
                headers.insert("webhook-timestamp", t.clone());
                headers.insert("x-timestamp", t);
                prop_assert!(scheme.verify(&headers, &message, now).is_err());
            }
        }

        #[test]
        fn any_target_ref_or_format_is_read_without_panicking(text in "\\PC{1,200}") {
            if let Ok(target) = TargetRef::new(&text) {
                if let Ok(route) = Route::from_target_ref(&target) {
                    // What reads back writes out again to the same route.
                    let again = Route::from_target_ref(&route.to_target_ref().unwrap()).unwrap();
                    prop_assert_eq!(again, route);
                }
            }
            let _ = HmacPlan::builder(b"k").payload_format(text).build();
        }
    }
}
