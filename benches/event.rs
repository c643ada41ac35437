//! Server-event hot paths, each against its floor in one run:
//! - envelope serialization vs `serde_json::to_vec` of an equivalent plain struct (goal <= 1.1x);
//! - signing a 1 KB body vs the bare HMAC-SHA256 of the same content (goal <= 1.2x).
//!
//! Criterion reports each side; a short interleaved timing loop afterwards prints the ratios
//! (medians of alternating batches, so machine noise hits both sides alike).

use std::hint::black_box;
use std::time::Instant;

use agent_webhooks::event::{Customer, ToolCall, ToolCalls};
use agent_webhooks::{Call, Envelope, Event, EventBody, Profile, Signer, SigningSecret, Timestamp};
use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

const MILLIS: u64 = 1_780_185_600_000;

fn artifact() -> Value {
    json!({"messages": [
        {"role": "system", "message": "You are the front desk of a small restaurant.", "time": 1780185600000u64, "secondsFromStart": 0},
        {"role": "bot", "message": "Hello, how can I help you today?", "time": 1780185601000u64, "secondsFromStart": 1.2},
        {"role": "user", "message": "I'd like to book a table for two at eight.", "time": 1780185605000u64, "secondsFromStart": 5.4},
        {"role": "bot", "message": "Let me check that for you.", "time": 1780185607000u64, "secondsFromStart": 7.1}
    ]})
}

fn tool_with() -> Vec<Value> {
    vec![
        json!({"type": "function", "function": {"name": "book_table",
        "parameters": {"type": "object", "properties": {"party": {"type": "integer"}, "time": {"type": "string"}}}}}),
    ]
}

const ARGS: &str = r#"{"party":2,"time":"20:00","name":"Ada Lovelace"}"#;

fn ours(profile: Profile) -> Envelope {
    let mut body = ToolCalls::new([
        ToolCall::new("call_e5UMNx9R0HazLoe5uvmOOvxk", "book_table", ARGS),
        ToolCall::new(
            "call_Q2wbn8vXcJb4a1C0F2E3h4i5",
            "lookup_customer",
            r#"{"phone":"+15551234567"}"#,
        ),
    ]);
    // The same entries as the plain struct's (as sent, without `toolCall`).
    body.tool_with_tool_call_list = tool_with();
    body.extra.insert("artifact".into(), artifact());
    let mut call = Call::new("call_7f3c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6");
    call.org_id = Some("org_42".into());
    call.call_type = Some("inboundPhoneCall".into());
    let event = Event::new(EventBody::ToolCalls(body))
        .with_timestamp(Timestamp::from_unix_millis(MILLIS).unwrap())
        .with_call(call)
        .with_customer(Customer::new("+15551234567"));
    Envelope::new(event, profile)
}

// The plain struct: the same fields and field types, derived `Serialize`, no envelope logic.
#[derive(Serialize)]
struct PlainEnvelope {
    message: PlainMessage,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlainMessage {
    #[serde(rename = "type")]
    kind: &'static str,
    tool_call_list: Vec<PlainToolCall>,
    tool_with_tool_call_list: Vec<Value>,
    artifact: Value,
    timestamp: u64,
    call: PlainCall,
    customer: PlainCustomer,
}

#[derive(Serialize)]
struct PlainToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    function: PlainFunction,
}

#[derive(Serialize)]
struct PlainFunction {
    name: String,
    arguments: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlainCall {
    id: String,
    org_id: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize)]
struct PlainCustomer {
    number: String,
}

fn plain() -> PlainEnvelope {
    let call = |id: &str, name: &str, args: &str| PlainToolCall {
        id: id.into(),
        kind: "function".into(),
        function: PlainFunction {
            name: name.into(),
            arguments: args.into(),
        },
    };
    PlainEnvelope {
        message: PlainMessage {
            kind: "tool-calls",
            tool_call_list: vec![
                call("call_e5UMNx9R0HazLoe5uvmOOvxk", "book_table", ARGS),
                call(
                    "call_Q2wbn8vXcJb4a1C0F2E3h4i5",
                    "lookup_customer",
                    r#"{"phone":"+15551234567"}"#,
                ),
            ],
            tool_with_tool_call_list: tool_with(),
            artifact: artifact(),
            timestamp: MILLIS,
            call: PlainCall {
                id: "call_7f3c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6".into(),
                org_id: "org_42".into(),
                kind: "inboundPhoneCall".into(),
            },
            customer: PlainCustomer {
                number: "+15551234567".into(),
            },
        },
    }
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: u64 = 1_614_265_330;

fn bare_hmac(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(ID.as_bytes());
    mac.update(b".");
    mac.update(TS.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Median ns/op of `a` and `b`, timed in alternating batches.
fn interleaved(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    const ROUNDS: usize = 31;
    const BATCH: u32 = 2_000;
    let mut ta = Vec::with_capacity(ROUNDS);
    let mut tb = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..BATCH {
            a();
        }
        ta.push(t.elapsed().as_nanos() as f64 / f64::from(BATCH));
        let t = Instant::now();
        for _ in 0..BATCH {
            b();
        }
        tb.push(t.elapsed().as_nanos() as f64 / f64::from(BATCH));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb))
}

fn main() {
    let vapi = ours(Profile::Vapi);
    let default = ours(Profile::Default);
    let floor = plain();
    let floor_bytes = serde_json::to_vec(&floor).unwrap();
    let a: Value = serde_json::from_slice(&vapi.to_vec()).unwrap();
    let b: Value = serde_json::from_slice(&floor_bytes).unwrap();
    assert_eq!(a, b, "the plain struct must serialize to the same JSON");
    println!("envelope: {} bytes", floor_bytes.len());

    let key_bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&SECRET["whsec_".len()..])
            .unwrap()
    };
    let signer = Signer::new(SECRET.parse::<SigningSecret>().unwrap());
    let body: Vec<u8> = (0..1024).map(|i| b"abcdefghij{}:,\""[i % 15]).collect();

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("envelope");
        g.bench_function("ours_to_vec_vapi_profile", |bch| {
            bch.iter(|| black_box(&vapi).to_vec())
        });
        g.bench_function("ours_to_vec_default_profile", |bch| {
            bch.iter(|| black_box(&default).to_vec())
        });
        g.bench_function("plain_struct_serde_json_to_vec", |bch| {
            bch.iter(|| serde_json::to_vec(black_box(&floor)).unwrap())
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("sign_1kb");
        g.bench_function("ours_signer_sign", |bch| {
            bch.iter(|| signer.sign(ID, TS, black_box(&body)).unwrap())
        });
        g.bench_function("bare_hmac_sha256", |bch| {
            bch.iter(|| bare_hmac(black_box(&key_bytes), black_box(&body)))
        });
        g.finish();
    }
    c.final_summary();

    let (o, p) = interleaved(
        || drop(black_box(black_box(&vapi).to_vec())),
        || drop(black_box(serde_json::to_vec(black_box(&floor)).unwrap())),
    );
    println!(
        "envelope (vapi profile) {o:.0} ns vs plain struct to_vec {p:.0} ns: ratio = {:.2} (goal <= 1.10)",
        o / p
    );
    let (o, p) = interleaved(
        || drop(black_box(black_box(&default).to_vec())),
        || drop(black_box(serde_json::to_vec(black_box(&floor)).unwrap())),
    );
    println!(
        "envelope (default profile, RFC 3339 formatted) {o:.0} ns vs plain struct to_vec {p:.0} ns: ratio = {:.2}",
        o / p
    );
    let (o, p) = interleaved(
        || drop(black_box(black_box(&vapi).to_vec())),
        || {
            let mut out = Vec::with_capacity(2048);
            serde_json::to_writer(&mut out, black_box(&floor)).unwrap();
            drop(black_box(out));
        },
    );
    println!(
        "envelope (vapi profile) {o:.0} ns vs plain struct presized to_writer {p:.0} ns: ratio = {:.2} (same buffer strategy)",
        o / p
    );
    let (o, p) = interleaved(
        || drop(black_box(signer.sign(ID, TS, black_box(&body)).unwrap())),
        || {
            black_box(bare_hmac(black_box(&key_bytes), black_box(&body)));
        },
    );
    println!(
        "sign 1 KB {o:.0} ns vs bare HMAC-SHA256 {p:.0} ns: ratio = {:.2} (goal <= 1.20)",
        o / p
    );
}
