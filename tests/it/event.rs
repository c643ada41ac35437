//! Server events: fixtures for every type round-trip, required fields, profiles, responses.

use std::path::{Path, PathBuf};

use agent_webhooks::event::{
    AssistantDecision, AssistantRequestResponse, EndpointingResponse, Family,
    KnowledgeBaseResponse, ResponseError, TimestampStyle, ToolCall, ToolCalls, ToolCallsResponse,
    TransferDestinationResponse,
};
use agent_webhooks::{
    Call, CallStatus, Envelope, Event, EventBody, EventError, EventType, Profile, StatusUpdate,
    Timestamp,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(data("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_fixture_round_trips_unchanged() {
    let all = fixtures();
    assert!(all.len() >= 18, "fixtures missing: {}", all.len());
    for (name, bytes) in &all {
        let envelope = Envelope::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let event = envelope.event();
        match name.strip_prefix("other.") {
            Some(_) => assert!(matches!(event.body, EventBody::Other(_)), "{name}"),
            None => assert_eq!(
                event.known_type().map(EventType::as_str),
                Some(name.as_str())
            ),
        }
        let original: Value = serde_json::from_slice(bytes).unwrap();
        let again: Value = serde_json::from_slice(&envelope.to_vec()).unwrap();
        assert_eq!(again, original, "{name} changed in a round trip");
        // A second round is byte-identical to the first.
        assert_eq!(
            Envelope::parse(&envelope.to_vec()).unwrap().to_vec(),
            envelope.to_vec()
        );
    }
}

#[test]
fn every_event_type_has_a_fixture_and_a_family() {
    let names: Vec<String> = fixtures().into_iter().map(|(n, _)| n).collect();
    for t in EventType::ALL {
        assert!(names.iter().any(|n| n == t.as_str()), "no fixture for {t}");
        assert_eq!(EventType::from_name(t.as_str()), Some(t));
    }
    let family = |f: Family| {
        EventType::ALL
            .into_iter()
            .filter(|t| t.family() == f)
            .map(EventType::as_str)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        family(Family::Lifecycle),
        [
            "assistant-request",
            "status-update",
            "end-of-call-report",
            "conversation-update"
        ]
    );
    assert_eq!(
        family(Family::Speech),
        [
            "speech-update",
            "transcript",
            "assistant.speechStarted",
            "user-interrupted"
        ]
    );
    assert_eq!(
        family(Family::Tools),
        [
            "tool-calls",
            "knowledge-base-request",
            "voice-request",
            "call.endpointing.request"
        ]
    );
    assert_eq!(
        family(Family::Telephony),
        [
            "transfer-update",
            "transfer-destination-request",
            "phone-call-control"
        ]
    );
    assert_eq!(EventType::from_name("hang"), None);
}

#[test]
fn typed_fields_are_read() {
    let bytes = std::fs::read(data("events/tool-calls.json")).unwrap();
    let env = Envelope::parse(&bytes).unwrap();
    let EventBody::ToolCalls(calls) = &env.event().body else {
        panic!("not tool-calls")
    };
    assert_eq!(calls.tool_call_list[0].function.name, "lookup_customer");
    assert_eq!(
        calls.tool_call_list[0].function.arguments,
        r#"{"phone":"+15551234567"}"#
    );
    let call = env.event().call.as_ref().unwrap();
    assert_eq!(call.id.as_deref(), Some("call_7f3c2a"));
    assert_eq!(call.extra["status"], "in-progress");
    let ts = env.event().timestamp.unwrap();
    assert_eq!(
        (ts.unix_millis(), ts.style()),
        (1_780_185_600_000, TimestampStyle::Rfc3339)
    );

    let bytes = std::fs::read(data("events/status-update.json")).unwrap();
    let env = Envelope::parse(&bytes).unwrap();
    let ts = env.event().timestamp.unwrap();
    assert_eq!(
        (ts.unix_millis(), ts.style()),
        (1_780_185_600_000, TimestampStyle::EpochMillis)
    );
}

#[test]
fn invalid_envelopes_give_typed_errors() {
    let table = std::fs::read_to_string(data("events_invalid.tsv")).unwrap();
    let mut n = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let [name, expected, body] = line.splitn(3, '\t').collect::<Vec<_>>()[..] else {
            panic!("bad line {line}")
        };
        let err = Envelope::parse(body.as_bytes()).expect_err(name);
        let got = match &err {
            EventError::NotJson(_) => "not-json".to_owned(),
            EventError::NotEnvelope => "not-envelope".to_owned(),
            EventError::MissingType => "missing-type".to_owned(),
            EventError::Field {
                event_type, path, ..
            } => format!("field:{event_type}:{path}"),
            other => panic!("{name}: unexpected {other:?}"),
        };
        assert_eq!(got, expected, "{name}: {err}");
        assert!(!err.to_string().is_empty());
        n += 1;
    }
    assert!(n >= 30);
}

#[test]
fn profiles_differ_only_in_the_timestamp() {
    let event = Event::new(EventBody::StatusUpdate(StatusUpdate::new(
        CallStatus::InProgress,
    )))
    .with_timestamp(Timestamp::from_unix_millis(1_780_185_600_000).unwrap());
    let default = Envelope::new(event.clone(), Profile::Default).to_vec();
    let vapi = Envelope::new(event, Profile::Vapi).to_vec();
    let d: Value = serde_json::from_slice(&default).unwrap();
    let v: Value = serde_json::from_slice(&vapi).unwrap();
    assert_eq!(d["message"]["timestamp"], "2026-05-31T00:00:00.000Z");
    assert_eq!(v["message"]["timestamp"], 1_780_185_600_000u64);
    let strip = |mut x: Value| {
        x["message"].as_object_mut().unwrap().remove("timestamp");
        x
    };
    assert_eq!(strip(d), strip(v));
    // Both parse to the same instant.
    let a = Envelope::parse(&default)
        .unwrap()
        .event()
        .timestamp
        .unwrap();
    let b = Envelope::parse(&vapi).unwrap().event().timestamp.unwrap();
    assert_eq!(a.unix_millis(), b.unix_millis());
    assert_eq!("vapi".parse::<Profile>(), Ok(Profile::Vapi));
    assert!("svix".parse::<Profile>().is_err());
}

/// The typed constructors build Vapi's shape: every call in `toolCallList`, and each tool's
/// config in `toolWithToolCallList` with its call under `toolCall`; it reads back the same.
#[test]
fn tool_calls_built_from_typed_calls_have_vapi_shape() {
    let lookup = ToolCall::new("call_1", "lookup_customer", r#"{"phone":"+15551234567"}"#);
    let book = ToolCall::new("call_2", "book_table", "{}");
    let calls = ToolCalls::with_tools([
        (
            lookup.clone(),
            json!({"type": "function", "function": {"name": "lookup_customer"},
                   "messages": [{"type": "request-failed", "content": "No luck."}]}),
        ),
        (
            book.clone(),
            json!({"type": "function", "function": {"name": "book_table"}}),
        ),
    ]);
    assert_eq!(calls.tool_call_list, [lookup.clone(), book]);
    let env = Envelope::new(
        Event::new(EventBody::ToolCalls(calls.clone())),
        Profile::Vapi,
    );
    let out: Value = serde_json::from_slice(&env.to_vec()).unwrap();
    let message = &out["message"];
    assert_eq!(
        message["toolCallList"][0]["function"]["name"],
        "lookup_customer"
    );
    assert_eq!(
        message["toolWithToolCallList"][1]["toolCall"]["id"],
        "call_2"
    );
    assert_eq!(
        message["toolWithToolCallList"][0]["toolCall"]["function"]["arguments"],
        r#"{"phone":"+15551234567"}"#
    );
    let back = Envelope::parse(&env.to_vec()).unwrap();
    assert_eq!(back.event().body, EventBody::ToolCalls(calls.clone()));

    assert_eq!(
        calls.tool_of("call_1").unwrap()["messages"][0]["content"],
        "No luck."
    );
    assert_eq!(calls.tool_of("call_9"), None);
    // Entries sent without `toolCall` are found by the call's function name.
    let mut bare = ToolCalls::new([lookup]);
    bare.tool_with_tool_call_list = vec![json!({"function": {"name": "lookup_customer"}})];
    assert!(bare.tool_of("call_1").is_some());
    assert!(ToolCalls::new([]).tool_with_tool_call_list.is_empty());
}

#[test]
fn object_arguments_are_read_as_json_text() {
    let body = json!({"message": {"type": "tool-calls", "toolWithToolCallList": [],
        "toolCallList": [{"id": "c1", "function": {"name": "f", "arguments": {"a": 1}}}]}});
    let env = Envelope::parse(body.to_string().as_bytes()).unwrap();
    let EventBody::ToolCalls(calls) = &env.event().body else {
        panic!()
    };
    assert_eq!(calls.tool_call_list[0].function.arguments, r#"{"a":1}"#);
    assert_eq!(calls.tool_call_list[0].call_type, "function");
    // Emitted schema-valid: arguments as a string.
    let out: Value = serde_json::from_slice(&env.to_vec()).unwrap();
    assert_eq!(
        out["message"]["toolCallList"][0]["function"]["arguments"],
        r#"{"a":1}"#
    );
}

#[test]
fn envelope_level_extra_fields_are_kept() {
    let body = br#"{"message":{"type":"hang"},"meta":{"shard":3}}"#;
    assert_eq!(Envelope::parse(body).unwrap().to_vec(), body);
}

#[test]
fn final_transcripts_have_their_subscription_name() {
    let partial = br#"{"message":{"type":"transcript","role":"user","transcriptType":"partial","transcript":"fo"}}"#;
    let fin = br#"{"message":{"type":"transcript","role":"user","transcriptType":"final","transcript":"for two"}}"#;
    assert_eq!(
        Envelope::parse(partial)
            .unwrap()
            .event()
            .subscription_name(),
        "transcript"
    );
    assert_eq!(
        Envelope::parse(fin).unwrap().event().subscription_name(),
        r#"transcript[transcriptType="final"]"#
    );
}

fn request() -> ToolCalls {
    ToolCalls::new([
        ToolCall::new("call_1", "lookup_customer", "{}"),
        ToolCall::new("call_2", "book_table", "{}"),
    ])
}

#[test]
fn tool_call_responses_are_read_leniently() {
    let r = ToolCallsResponse::parse(
        br#"{"results":[{"toolCallId":"call_1","name":"lookup_customer","result":"Ada"},
                        {"toolCallId":"call_2","result":{"booked":true,"at":"20:00"}},
                        {"toolCallId":"call_1","error":["no","luck"],"metadata":{"k":1}}]}"#,
        &request(),
    )
    .unwrap();
    assert_eq!(r.results[0].result.as_deref(), Some("Ada"));
    assert_eq!(r.results[1].name, "book_table");
    assert_eq!(
        r.results[1].result.as_deref(),
        Some(r#"{"at":"20:00","booked":true}"#)
    );
    assert_eq!(r.results[2].error.as_deref(), Some(r#"["no","luck"]"#));
    assert_eq!(r.results[2].extra["metadata"], json!({"k": 1}));
    // Numbers and booleans become their text; null is absent.
    let r = ToolCallsResponse::parse(
        br#"{"results":[{"toolCallId":"call_1","result":42},{"toolCallId":"call_2","result":null}]}"#,
        &request(),
    )
    .unwrap();
    assert_eq!(r.results[0].result.as_deref(), Some("42"));
    assert_eq!(r.results[1].result, None);
    // Serialized back schema-valid.
    let out = serde_json::to_value(&r).unwrap();
    assert_eq!(
        out,
        json!({"results":[{"toolCallId":"call_1","name":"lookup_customer","result":"42"},
                          {"toolCallId":"call_2","name":"book_table"}]})
    );
    // A top-level error without results.
    let r = ToolCallsResponse::parse(br#"{"error":"down"}"#, &request()).unwrap();
    assert_eq!((r.results.len(), r.error.as_deref()), (0, Some("down")));
}

#[test]
fn tool_call_responses_refuse_what_cannot_be_mended() {
    let parse = |b: &str| ToolCallsResponse::parse(b.as_bytes(), &request()).unwrap_err();
    assert!(matches!(parse("ok"), ResponseError::NotJson(_)));
    assert_eq!(parse("{}"), ResponseError::Missing("results".into()));
    assert_eq!(
        parse(r#"{"results":[{"result":"x"}]}"#),
        ResponseError::Missing("results[0].toolCallId".into())
    );
    assert_eq!(
        parse(r#"{"results":[{"toolCallId":"call_9","result":"x"}]}"#),
        ResponseError::UnknownToolCall("call_9".into())
    );
    assert!(matches!(
        parse(r#"{"results":{"toolCallId":"call_1"}}"#),
        ResponseError::Invalid { path, .. } if path == "results"
    ));
    assert!(matches!(
        parse(r#"{"results":[{"toolCallId":"call_1","name":7}]}"#),
        ResponseError::Invalid { path, .. } if path == "results[0].name"
    ));
    assert!(matches!(parse("[1]"), ResponseError::Invalid { .. }));
}

#[test]
fn assistant_request_responses() {
    let d = |b: &str| {
        AssistantRequestResponse::parse(b.as_bytes())
            .map(|r| format!("{:?}", r.decision().unwrap()))
    };
    assert_eq!(
        d(r#"{"assistantId":"asst_1"}"#).unwrap(),
        r#"AssistantId("asst_1")"#
    );
    assert!(
        d(r#"{"assistant":{"name":"x"},"error":"closed"}"#)
            .unwrap()
            .starts_with("Reject")
    );
    assert!(
        d(r#"{"assistantId":"a","destination":{"type":"number"}}"#)
            .unwrap()
            .starts_with("Transfer")
    );
    assert!(d(r#"{"squadId":"sq"}"#).unwrap().starts_with("SquadId"));
    assert!(matches!(
        AssistantRequestResponse::parse(br#"{"workflow":{}}"#)
            .unwrap()
            .decision(),
        Some(AssistantDecision::Workflow(_))
    ));
    assert!(matches!(
        AssistantRequestResponse::parse(br#"{"assistantOverrides":{}}"#),
        Err(ResponseError::NoAnswer {
            event_type: "assistant-request",
            ..
        })
    ));
    assert!(matches!(
        AssistantRequestResponse::parse(br#"{"assistantId":5}"#),
        Err(ResponseError::Invalid { path, .. }) if path == "assistantId"
    ));
}

#[test]
fn transfer_knowledge_and_endpointing_responses() {
    let r = TransferDestinationResponse::parse(
        br#"{"destination":{"type":"number","number":"+15550001111"},"message":{"type":"request-start","message":"Transferring you"}}"#,
    )
    .unwrap();
    assert_eq!(r.message.unwrap()["content"], "Transferring you");
    assert!(TransferDestinationResponse::parse(br#"{"error":"nobody home"}"#).is_ok());
    assert!(matches!(
        TransferDestinationResponse::parse(br#"{"message":{"content":"x"}}"#),
        Err(ResponseError::NoAnswer { .. })
    ));

    let kb = KnowledgeBaseResponse::parse(
        br#"{"documents":[{"content":"Open 9-5","similarity":0.92,"uuid":"d1"}]}"#,
    )
    .unwrap();
    assert_eq!(kb.documents[0].content, "Open 9-5");
    assert!(
        KnowledgeBaseResponse::parse(br#"{"message":{"role":"assistant","content":"x"}}"#).is_ok()
    );
    assert!(matches!(
        KnowledgeBaseResponse::parse(b"{}"),
        Err(ResponseError::NoAnswer { .. })
    ));
    assert!(matches!(
        KnowledgeBaseResponse::parse(br#"{"documents":[{"similarity":1}]}"#),
        Err(ResponseError::Invalid { .. })
    ));

    let e = |b: &str| EndpointingResponse::parse(b.as_bytes()).map(|r| r.timeout_seconds);
    assert_eq!(e(r#"{"timeoutSeconds":1.5}"#), Ok(1.5));
    assert_eq!(e(r#"{"timeoutSeconds":"0.8"}"#), Ok(0.8));
    assert_eq!(
        e("{}"),
        Err(ResponseError::Missing("timeoutSeconds".into()))
    );
    assert!(matches!(
        e(r#"{"timeoutSeconds":-1}"#),
        Err(ResponseError::Invalid { .. })
    ));
    assert!(matches!(
        e(r#"{"timeoutSeconds":"soon"}"#),
        Err(ResponseError::Invalid { .. })
    ));
}

#[test]
fn expected_responses_match_the_catalogue() {
    let answering: Vec<_> = EventType::ALL
        .into_iter()
        .filter(|t| t.expects_response())
        .map(EventType::as_str)
        .collect();
    assert_eq!(
        answering,
        [
            "assistant-request",
            "tool-calls",
            "knowledge-base-request",
            "voice-request",
            "call.endpointing.request",
            "transfer-destination-request"
        ]
    );
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes: parse never panics.
    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Envelope::parse(&bytes);
    }

    /// A valid event of any type plus unknown fields (`x_` names) round-trips unchanged, and
    /// anything that parses serializes back to equal JSON.
    #[test]
    fn unknown_fields_round_trip(
        pick in 0usize..18,
        extra in prop::collection::btree_map("x_[a-zA-Z0-9_]{0,8}", json_value(), 0..6),
        millis in prop::option::of(0u64..=agent_webhooks::event::MAX_UNIX_MILLIS),
        as_number in any::<bool>(),
    ) {
        let (_, bytes) = &fixtures()[pick];
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        let m = v["message"].as_object_mut().unwrap();
        m.extend(extra);
        match millis {
            None => { m.remove("timestamp"); }
            Some(ms) if as_number => { m.insert("timestamp".into(), ms.into()); }
            Some(ms) => {
                let t = Timestamp::from_unix_millis(ms).unwrap().to_string();
                m.insert("timestamp".into(), t.into());
            }
        }
        let env = Envelope::parse(v.to_string().as_bytes()).unwrap();
        let back: Value = serde_json::from_slice(&env.to_vec()).unwrap();
        prop_assert_eq!(back, v);
    }

    /// Random message objects: either a typed error or an equal round trip (for types without
    /// optional typed fields, where `null` has nothing to collapse into).
    #[test]
    fn random_messages_parse_or_fail_cleanly(
        ty in prop_oneof![Just("hang"), Just("assistant-request"), Just("user-interrupted"),
                          Just("transfer-destination-request"), Just("something.new")],
        fields in prop::collection::btree_map("[a-z]{1,8}", json_value(), 0..6),
    ) {
        let mut m: serde_json::Map<String, Value> = fields.into_iter().collect();
        for common in ["timestamp", "call", "customer", "phoneNumber", "assistant"] {
            m.remove(common);
        }
        m.insert("type".into(), ty.into());
        let v = json!({ "message": m });
        let env = Envelope::parse(v.to_string().as_bytes()).unwrap();
        let back: Value = serde_json::from_slice(&env.to_vec()).unwrap();
        prop_assert_eq!(back, v);
    }

    /// Timestamps: format then parse gives the same instant, in both styles.
    #[test]
    fn timestamps_round_trip(ms in 0u64..=agent_webhooks::event::MAX_UNIX_MILLIS) {
        let t = Timestamp::from_unix_millis(ms).unwrap();
        prop_assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        let n = t.with_style(TimestampStyle::EpochMillis);
        let text = serde_json::to_string(&n).unwrap();
        prop_assert_eq!(serde_json::from_str::<Timestamp>(&text).unwrap(), n);
    }

    /// Timestamp text: never panics.
    #[test]
    fn timestamp_text_never_panics(s in ".{0,40}", digits in "[0-9+:TZ.-]{0,32}") {
        let _ = s.parse::<Timestamp>();
        let _ = digits.parse::<Timestamp>();
    }
}

#[test]
fn vapi_profile_requires_the_call_fields_vapi_types_require() {
    use agent_webhooks::event::UserInterrupted;
    let at = Timestamp::from_unix_millis(1_780_185_600_000).unwrap();
    let event = Event::new(EventBody::UserInterrupted(UserInterrupted::new())).with_timestamp(at);
    // No call at all: Vapi's `message.call` is optional.
    assert!(Envelope::try_new(event.clone(), Profile::Vapi).is_ok());
    let cases = [
        (Call::default(), "call.id"),
        (Call::new("c"), "call.orgId"),
        (Call::new("c").with_org_id("o"), "call.createdAt"),
    ];
    for (call, field) in cases {
        let err = Envelope::try_new(event.clone().with_call(call), Profile::Vapi).unwrap_err();
        assert!(
            matches!(&err, EventError::Profile { field: f, profile: Profile::Vapi, .. } if *f == field),
            "{err}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }
    // Without an event timestamp, updatedAt must come from the host.
    let untimed = Event::new(EventBody::UserInterrupted(UserInterrupted::new()))
        .with_call(Call::new("c").with_org_id("o").with_created_at(at));
    let err = Envelope::try_new(untimed.clone(), Profile::Vapi).unwrap_err();
    assert!(err.to_string().contains("call.updatedAt"), "{err}");
    // The default profile requires none of it and fills nothing.
    let plain = Envelope::try_new(untimed, Profile::Default)
        .unwrap()
        .to_vec();
    assert!(!String::from_utf8(plain).unwrap().contains("updatedAt"));

    let full = Call::new("c").with_org_id("o").with_created_at(at);
    let bytes = Envelope::try_new(event.with_call(full), Profile::Vapi)
        .unwrap()
        .to_vec();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    // Vapi's Call types createdAt/updatedAt as ISO strings, the message timestamp as a number.
    assert_eq!(
        v["message"]["call"]["createdAt"],
        "2026-05-31T00:00:00.000Z"
    );
    assert_eq!(
        v["message"]["call"]["updatedAt"],
        "2026-05-31T00:00:00.000Z"
    );
    assert_eq!(v["message"]["timestamp"], 1_780_185_600_000u64);
    // And it reads back.
    let back = Envelope::parse(&bytes).unwrap();
    let call = back.event().call.as_ref().unwrap();
    assert_eq!(
        call.created_at.map(|t| t.unix_millis()),
        Some(1_780_185_600_000)
    );
}

#[test]
fn the_two_timestamps_share_names_and_convert() {
    use agent_webhooks::outbox;
    let wire = agent_webhooks::Timestamp::from_unix_seconds(1_780_185_600).unwrap();
    let clock = outbox::Timestamp::from_unix_seconds(1_780_185_600);
    assert_eq!(wire.as_unix_millis(), clock.as_unix_millis());
    assert_eq!(wire.as_unix_seconds(), clock.as_unix_seconds());
    assert_eq!(wire.to_system_time(), clock.to_system_time());
    assert_eq!(outbox::Timestamp::from(wire), clock);
    assert_eq!(agent_webhooks::Timestamp::try_from(clock).unwrap(), wire);
    let far = outbox::Timestamp::from_unix_millis(u64::MAX);
    assert!(agent_webhooks::Timestamp::try_from(far).is_err());
    assert!(agent_webhooks::Timestamp::from_unix_seconds(u64::MAX).is_err());
}
