//! Standard Webhooks signatures: official vectors, rotation, tolerance edges, tampering.

use std::path::Path;
use std::time::Duration;

use agent_webhooks::http::HeaderMap;
use agent_webhooks::sign::legacy_secret_header;
use agent_webhooks::{ErrorKind, Secret, SignError, Signer, SigningSecret, Verifier, VerifyError};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    note: String,
    secrets: Vec<String>,
    id: String,
    timestamp: u64,
    body: String,
    signature: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/signatures.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn secret(s: &str) -> SigningSecret {
    s.parse().unwrap()
}

const A_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const A_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const A_TS: u64 = 1614265330;
const A_BODY: &[u8] = br#"{"test": 2432232314}"#;
const A_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[test]
fn official_vectors() {
    for v in vectors() {
        let Some(expected) = &v.signature else {
            continue;
        };
        let mut signer = Signer::new(secret(&v.secrets[0]));
        for s in &v.secrets[1..] {
            signer = signer.with_secret(secret(s));
        }
        let got = signer.sign(&v.id, v.timestamp, v.body.as_bytes()).unwrap();
        assert_eq!(&got, expected, "{}", v.note);
        Verifier::new(secret(&v.secrets[0]))
            .verify(&v.id, v.timestamp, expected, v.body.as_bytes(), v.timestamp)
            .unwrap_or_else(|e| panic!("{}: {e}", v.note));
    }
}

#[test]
fn rotation_signs_with_every_secret_and_each_verifies() {
    let v = vectors()
        .into_iter()
        .find(|v| v.signature.is_none())
        .unwrap();
    let (new, old) = (secret(&v.secrets[0]), secret(&v.secrets[1]));
    let header = Signer::new(new.clone())
        .with_secret(old.clone())
        .sign(&v.id, v.timestamp, v.body.as_bytes())
        .unwrap();
    let entries: Vec<&str> = header.split(' ').collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1], A_SIG, "the old secret's entry is vector A");
    let body = v.body.as_bytes();
    for key in [new.clone(), old.clone()] {
        Verifier::new(key)
            .verify(&v.id, v.timestamp, &header, body, v.timestamp)
            .unwrap();
    }
    // A verifier holding both keys accepts either single entry.
    let both = Verifier::new(new).with_secret(old);
    both.verify(&v.id, v.timestamp, entries[0], body, v.timestamp)
        .unwrap();
    both.verify(&v.id, v.timestamp, entries[1], body, v.timestamp)
        .unwrap();
}

#[test]
fn secret_spellings() {
    let signed = |s: &str| Signer::new(secret(s)).sign(A_ID, A_TS, A_BODY).unwrap();
    assert_eq!(signed("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), A_SIG);
    // Unpadded secrets are padded (the python library's test cases).
    let padded = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=";
    assert_eq!(
        signed("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"),
        signed(padded)
    );
    assert_eq!(
        signed("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr"),
        signed("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==")
    );
    assert_eq!(
        "".parse::<SigningSecret>().unwrap_err(),
        SignError::EmptySecret
    );
    assert_eq!(
        "whsec_".parse::<SigningSecret>().unwrap_err(),
        SignError::EmptySecret
    );
    assert_eq!(
        "whsec_!!".parse::<SigningSecret>().unwrap_err(),
        SignError::SecretNotBase64
    );
    assert_eq!(
        SigningSecret::from_bytes(b"").unwrap_err(),
        SignError::EmptySecret
    );
    assert_eq!(
        Signer::new(SigningSecret::from_bytes(b"raw key bytes").unwrap())
            .sign("m", 1, b"")
            .unwrap()
            .len(),
        47
    );
}

#[test]
fn tolerance_edges() {
    let v = Verifier::new(secret(A_SECRET));
    let at = |now: u64| v.verify(A_ID, A_TS, A_SIG, A_BODY, now);
    assert_eq!(at(A_TS + 300), Ok(()));
    assert_eq!(at(A_TS - 300), Ok(()));
    assert_eq!(
        at(A_TS + 301),
        Err(VerifyError::TooOld {
            age: 301,
            tolerance: 300
        })
    );
    assert_eq!(
        at(A_TS - 301),
        Err(VerifyError::TooNew {
            ahead: 301,
            tolerance: 300
        })
    );
    assert_eq!(
        at(0),
        Err(VerifyError::TooNew {
            ahead: A_TS,
            tolerance: 300
        })
    );
    let strict = v.clone().with_tolerance(Duration::from_secs(10));
    assert!(strict.verify(A_ID, A_TS, A_SIG, A_BODY, A_TS + 10).is_ok());
    assert!(strict.verify(A_ID, A_TS, A_SIG, A_BODY, A_TS + 11).is_err());
    assert!(
        v.verify(A_ID, u64::MAX, A_SIG, A_BODY, u64::MAX).is_err(),
        "no overflow panic"
    );
}

#[test]
fn tampering_is_refused() {
    let v = Verifier::new(secret(A_SECRET));
    let no = Err(VerifyError::NoMatch);
    assert_eq!(
        v.verify(A_ID, A_TS, A_SIG, br#"{"test": 2432232315}"#, A_TS),
        no
    );
    assert_eq!(
        v.verify(A_ID, A_TS, A_SIG, br#"{"test": 2432232314} "#, A_TS),
        no
    );
    assert_eq!(
        v.verify("msg_p5jXN8AQM9LWM0D4loKWxJeK", A_TS, A_SIG, A_BODY, A_TS),
        no
    );
    assert_eq!(v.verify(A_ID, A_TS + 1, A_SIG, A_BODY, A_TS), no);
    // The libraries' known-invalid signature, a wrong version, junk and an empty header.
    let wrong = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
    assert_eq!(v.verify(A_ID, A_TS, wrong, A_BODY, A_TS), no);
    assert_eq!(
        v.verify(A_ID, A_TS, &A_SIG.replace("v1,", "v2,"), A_BODY, A_TS),
        no
    );
    assert_eq!(
        v.verify(A_ID, A_TS, "v1a,abc nonsense v1,!!!", A_BODY, A_TS),
        no
    );
    assert_eq!(v.verify(A_ID, A_TS, "", A_BODY, A_TS), no);
    // A different secret.
    let other = Verifier::new(secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"));
    assert_eq!(other.verify(A_ID, A_TS, A_SIG, A_BODY, A_TS), no);
    // A valid entry among decoys still passes.
    let list = format!(
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,{} {A_SIG}",
        &A_SIG[3..]
    );
    assert_eq!(v.verify(A_ID, A_TS, &list, A_BODY, A_TS), Ok(()));
}

#[test]
fn headers_round_trip_and_are_checked() {
    let signer = Signer::new(secret(A_SECRET));
    let mut headers = HeaderMap::new();
    signer
        .headers(A_ID, A_TS, A_BODY)
        .unwrap()
        .apply(&mut headers);
    assert_eq!(headers["webhook-id"], A_ID);
    assert_eq!(headers["webhook-timestamp"], "1614265330");
    assert_eq!(headers["webhook-signature"], A_SIG);
    let v = Verifier::new(secret(A_SECRET));
    assert_eq!(v.verify_headers(&headers, A_BODY, A_TS), Ok(()));
    headers.insert("webhook-timestamp", "1614265330.5".parse().unwrap());
    assert_eq!(
        v.verify_headers(&headers, A_BODY, A_TS),
        Err(VerifyError::BadTimestamp)
    );
    headers.remove("webhook-signature");
    assert_eq!(
        v.verify_headers(&headers, A_BODY, A_TS),
        Err(VerifyError::MissingHeader("webhook-signature"))
    );
}

#[test]
fn ids_that_would_break_the_signed_content_are_refused() {
    let signer = Signer::new(secret(A_SECRET));
    for id in [
        "",
        "msg.1",
        "msg 1",
        "msg\n1",
        "msg\u{e9}",
        &"a".repeat(257),
    ] {
        assert!(
            matches!(signer.sign(id, A_TS, A_BODY), Err(SignError::InvalidId(_))),
            "{id:?}"
        );
    }
    assert!(signer.sign(&"a".repeat(256), A_TS, A_BODY).is_ok());
    let e: agent_webhooks::Error = signer.sign("a.b", 1, b"").unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::Signature);
}

#[test]
fn legacy_shared_secret_header() {
    let (name, value) = legacy_secret_header(&Secret::new("s3cret")).unwrap();
    assert_eq!(name, "x-vapi-secret");
    assert_eq!(value, "s3cret");
    assert!(value.is_sensitive());
    assert!(!format!("{value:?}").contains("s3cret"));
    assert_eq!(
        legacy_secret_header(&Secret::new("")).unwrap_err(),
        SignError::InvalidLegacySecret
    );
    assert_eq!(
        legacy_secret_header(&Secret::new("a\r\nb")).unwrap_err(),
        SignError::InvalidLegacySecret
    );
}

proptest! {
    /// Anything signed verifies with the same key at the same time, and fails once one body
    /// byte changes.
    #[test]
    fn sign_then_verify(
        key in prop::collection::vec(any::<u8>(), 1..64),
        id in "[a-zA-Z0-9_-]{1,40}",
        ts in 0u64..4_000_000_000,
        body in prop::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
    ) {
        let s = SigningSecret::from_bytes(&key).unwrap();
        let sig = Signer::new(s.clone()).sign(&id, ts, &body).unwrap();
        let v = Verifier::new(s);
        prop_assert_eq!(v.verify(&id, ts, &sig, &body, ts), Ok(()));
        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 1;
            prop_assert_eq!(v.verify(&id, ts, &sig, &tampered, ts), Err(VerifyError::NoMatch));
        }
    }

    /// Signature headers and secrets of any text: no panic.
    #[test]
    fn parsing_never_panics(header in ".{0,120}", key in ".{0,60}") {
        let _ = key.parse::<SigningSecret>();
        let v = Verifier::new(secret(A_SECRET));
        let _ = v.verify(A_ID, A_TS, &header, A_BODY, A_TS);
    }
}
