//! The server cascade: a table for every level and rule, Vapi-shaped configs, typed errors.

use std::path::Path;
use std::time::Duration;

use agent_webhooks::cascade::{CascadeProblem, NoTarget, Server, ServerAuth};
use agent_webhooks::outbox::RetryPlan;
use agent_webhooks::{Cascade, Envelope, ErrorKind, Level};

fn url_of(level: Level) -> String {
    format!(
        "https://{}.example.com/hook",
        level.as_str().replace('.', "-").to_lowercase()
    )
}

fn level_named(name: &str) -> Level {
    *Level::ALL
        .iter()
        .find(|l| l.as_str() == name)
        .unwrap_or_else(|| panic!("no level {name}"))
}

#[test]
fn cascade_table() {
    let table = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cascade.tsv"),
    )
    .unwrap();
    let mut rows = 0;
    let mut levels_seen = std::collections::BTreeSet::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let [configured, messages, event, expected] = line.split('\t').collect::<Vec<_>>()[..]
        else {
            panic!("bad row {line:?}")
        };
        let levels: Vec<Level> = match configured {
            "all" => Level::ALL.to_vec(),
            "-" => vec![],
            list => list.split(',').map(level_named).collect(),
        };
        let mut cascade = Cascade::new();
        for &level in &levels {
            cascade = cascade.with_server(level, Server::new(&url_of(level)).unwrap());
        }
        cascade = match messages {
            "default" => cascade,
            "none" => cascade.with_server_messages(Vec::<String>::new()).unwrap(),
            list => cascade.with_server_messages(list.split(',')).unwrap(),
        };
        let got = match cascade.resolve(event) {
            Ok(r) => {
                assert_eq!(r.server.url().as_str(), url_of(r.level), "{line}");
                levels_seen.insert(r.level);
                r.level.as_str().to_owned()
            }
            Err(NoTarget::NotSubscribed { event_type }) => {
                assert_eq!(event_type, event);
                "not-subscribed".to_owned()
            }
            Err(NoTarget::NoServer { event_type, tried }) => {
                assert_eq!(
                    (event_type.as_str(), tried),
                    (event, Cascade::levels_for(event))
                );
                "no-server".to_owned()
            }
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(got, expected, "row: {line}");
        rows += 1;
    }
    assert!(rows >= 50, "{rows} rows");
    assert_eq!(
        levels_seen.len(),
        Level::ALL.len(),
        "a level never won: {levels_seen:?}"
    );
}

#[test]
fn final_transcripts_follow_their_own_subscription() {
    let cascade = Cascade::new()
        .with_server(
            Level::AssistantServer,
            Server::new("https://a.example.com/").unwrap(),
        )
        .with_server_messages([r#"transcript[transcriptType="final"]"#])
        .unwrap();
    let event = |kind: &str| {
        let body = format!(
            r#"{{"message":{{"type":"transcript","role":"user","transcriptType":"{kind}","transcript":"hi"}}}}"#
        );
        Envelope::parse(body.as_bytes()).unwrap().into_event()
    };
    assert_eq!(
        cascade.resolve_event(&event("final")).unwrap().level,
        Level::AssistantServer
    );
    assert!(matches!(
        cascade.resolve_event(&event("partial")),
        Err(NoTarget::NotSubscribed { .. })
    ));
    // `transcript` in the list takes final transcripts too.
    let all = cascade.with_server_messages(["transcript"]).unwrap();
    assert!(all.resolve_event(&event("final")).is_ok());
    assert!(all.resolve_event(&event("partial")).is_ok());
}

const VAPI_CONFIG: &str = r#"{
  "tool": {"name": "lookup", "server": {"url": "https://tools.example.com/lookup", "timeoutSeconds": 5}},
  "assistant": {
    "name": "Receptionist", "model": {"provider": "openai", "model": "gpt-4o"},
    "server": {"url": "https://hooks.example.com/assistant", "timeoutSeconds": 30,
               "headers": {"Authorization": "Bearer abc", "X-Team": "front-desk"},
               "credentialId": "cred_123",
               "backoffPlan": {"type": "exponential", "maxRetries": 3, "baseDelaySeconds": 1,
                               "excludedStatusCodes": [400, 401, 403, 404]},
               "staticIpAddressesEnabled": false},
    "serverUrl": "https://legacy.example.com/assistant", "serverUrlSecret": "legacy-s3cret",
    "serverMessages": ["end-of-call-report", "status-update", "tool-calls", "transcript"],
    "voice": {"provider": "custom-voice", "server": {"url": "https://voice.example.com/tts"}},
    "knowledgeBase": {"provider": "custom-knowledge-base", "server": {"url": "https://kb.example.com/search"}},
    "startSpeakingPlan": {"smartEndpointingPlan": {"provider": "custom-endpointing-model",
                          "server": {"url": "https://turns.example.com/endpoint"}}}
  },
  "phoneNumber": {"number": "+15557654321", "server": {"url": "https://hooks.example.com/phone", "secret": "phone-secret"},
                  "serverUrl": "", "serverUrlSecret": ""},
  "org": {"server": {"url": "https://hooks.example.com/account"}}
}"#;

#[test]
fn vapi_shaped_config_loads_every_surface() {
    let c = Cascade::from_json(VAPI_CONFIG).unwrap();
    let url = |l: Level| c.server(l).map(|s| s.url().as_str().to_owned());
    assert_eq!(
        url(Level::Tool).as_deref(),
        Some("https://tools.example.com/lookup")
    );
    assert_eq!(
        url(Level::AssistantServerUrl).as_deref(),
        Some("https://legacy.example.com/assistant")
    );
    assert_eq!(
        url(Level::PhoneNumberServerUrl),
        None,
        "an empty serverUrl is not configured"
    );
    assert_eq!(
        url(Level::Account).as_deref(),
        Some("https://hooks.example.com/account")
    );
    assert_eq!(
        url(Level::AssistantVoice).as_deref(),
        Some("https://voice.example.com/tts")
    );
    assert_eq!(
        url(Level::AssistantKnowledgeBase).as_deref(),
        Some("https://kb.example.com/search")
    );
    assert_eq!(
        url(Level::AssistantEndpointing).as_deref(),
        Some("https://turns.example.com/endpoint")
    );

    let tool = c.server(Level::Tool).unwrap();
    assert_eq!(
        (tool.timeout_seconds(), tool.timeout()),
        (5, Duration::from_secs(5))
    );
    assert_eq!(tool.retry_plan(), None);

    let a = c.server(Level::AssistantServer).unwrap();
    assert_eq!(a.timeout_seconds(), 30);
    assert_eq!(a.auth(), &ServerAuth::Credential("cred_123".into()));
    assert_eq!(a.headers()["x-team"], "front-desk");
    assert!(a.headers()["authorization"].is_sensitive());
    // The server's backoffPlan is the same RetryPlan the outbox's JSON reader gives.
    let plan = a.retry_plan().unwrap();
    assert_eq!(plan.delays(), [1, 2, 4].map(Duration::from_secs));
    assert_eq!(plan.jitter(), 0.0);
    assert_eq!(plan.excluded_status_codes(), [400, 401, 403, 404]);
    assert_eq!(
        Some(plan),
        RetryPlan::from_backoff_json(
            r#"{"type":"exponential","maxRetries":3,"baseDelaySeconds":1,"excludedStatusCodes":[404,403,401,400]}"#
        )
        .ok()
        .as_ref()
    );
    assert!(plan.retries_status(500) && plan.retries_status(429));
    assert!(!plan.retries_status(404) && !plan.retries_status(204));
    assert!(
        !plan.retries_status(410),
        "410 Gone stops, as in the outbox"
    );

    let legacy = c.server(Level::AssistantServerUrl).unwrap();
    assert!(matches!(legacy.auth(), ServerAuth::LegacySecret(s) if s.expose() == "legacy-s3cret"));
    assert_eq!(legacy.timeout_seconds(), 20);
    let phone = c.server(Level::PhoneNumberServer).unwrap();
    assert!(matches!(phone.auth(), ServerAuth::LegacySecret(s) if s.expose() == "phone-secret"));

    // Secrets never reach Debug.
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("legacy-s3cret") && !shown.contains("phone-secret"),
        "{shown}"
    );
    assert!(!shown.contains("Bearer abc"), "{shown}");

    // The serverMessages list applies.
    assert_eq!(c.resolve("tool-calls").unwrap().level, Level::Tool);
    assert_eq!(
        c.resolve("transcript").unwrap().level,
        Level::AssistantServer
    );
    assert!(c.resolve("conversation-update").is_err());
    assert_eq!(
        c.resolve("assistant-request").unwrap().level,
        Level::PhoneNumberServer
    );
}

#[test]
fn fixed_backoff_and_defaults() {
    let s = Server::from_value(serde_json::json!({
        "url": "http://127.0.0.1:8080/hook",
        "backoffPlan": {"maxRetries": 2, "baseDelaySeconds": 0.5}
    }))
    .unwrap();
    let plan = s.retry_plan().unwrap();
    assert_eq!(
        plan.delays(),
        [Duration::from_millis(500); 2],
        "fixed by default"
    );
    assert!(
        plan.retries_status(400),
        "without excludedStatusCodes every non-2xx retries"
    );
    assert_eq!(s.auth(), &ServerAuth::None);
    assert_eq!(
        Server::new("https://x.example.com/")
            .unwrap()
            .timeout_seconds(),
        20
    );
    assert!(
        Server::new("https://x.example.com/")
            .unwrap()
            .with_timeout_seconds(301)
            .is_err()
    );
    assert_eq!(
        Server::new("https://x.example.com/")
            .unwrap()
            .with_timeout_seconds(300)
            .unwrap()
            .timeout_seconds(),
        300
    );
}

#[test]
fn bad_configs_name_the_field() {
    let err = |json: &str| Cascade::from_json(json).unwrap_err();
    let case = |json: &str, field: &str, check: fn(&CascadeProblem) -> bool| {
        let e = err(json);
        assert_eq!(e.field(), field, "{json}: {e}");
        assert!(check(e.problem()), "{json}: {:?}", e.problem());
        assert!(e.to_string().contains(field));
    };
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","timeoutSeconds":0}}}"#,
        "assistant.server.timeoutSeconds",
        |p| matches!(p, CascadeProblem::Timeout(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","timeoutSeconds":301}}}"#,
        "assistant.server.timeoutSeconds",
        |p| matches!(p, CascadeProblem::Timeout(_)),
    );
    case(
        r#"{"tool":{"server":{"url":"https://a.example.com","timeoutSeconds":2.5}}}"#,
        "tool.server.timeoutSeconds",
        |p| matches!(p, CascadeProblem::Timeout(_)),
    );
    case(
        r#"{"account":{"server":{"url":"ftp://a.example.com"}}}"#,
        "account.server.url",
        |p| matches!(p, CascadeProblem::Url(_)),
    );
    case(
        r#"{"account":{"server":{"url":"https://user:pw@a.example.com"}}}"#,
        "account.server.url",
        |p| matches!(p, CascadeProblem::Url(_)),
    );
    case(
        r#"{"account":{"server":{"url":"not a url"}}}"#,
        "account.server.url",
        |p| matches!(p, CascadeProblem::Url(_)),
    );
    case(
        r#"{"account":{"server":{"timeoutSeconds":20}}}"#,
        "account.server.url",
        |p| *p == CascadeProblem::MissingUrl,
    );
    case(
        r#"{"phoneNumber":{"serverUrl":"gopher://x"}}"#,
        "phoneNumber.serverUrl",
        |p| matches!(p, CascadeProblem::Url(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","headers":{"Host":"evil"}}}}"#,
        "assistant.server.headers.Host",
        |p| matches!(p, CascadeProblem::ForbiddenHeader(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","headers":{"Bad Name":"x"}}}}"#,
        "assistant.server.headers.Bad Name",
        |p| matches!(p, CascadeProblem::HeaderName(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","headers":{"X-A":"a\r\nb"}}}}"#,
        "assistant.server.headers.X-A",
        |p| *p == CascadeProblem::HeaderValue,
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","credentialId":"c","secret":"s"}}}"#,
        "assistant.server.secret",
        |p| *p == CascadeProblem::CredentialAndSecret,
    );
    case(
        r#"{"assistant":{"serverUrl":"https://a.example.com","serverUrlSecret":"a\nb"}}"#,
        "assistant.serverUrlSecret",
        |p| *p == CascadeProblem::HeaderValue,
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","backoffPlan":{"maxRetries":11,"baseDelaySeconds":1}}}}"#,
        "assistant.server.backoffPlan.maxRetries",
        |p| matches!(p, CascadeProblem::MaxRetries(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","backoffPlan":{"maxRetries":1,"baseDelaySeconds":10.5}}}}"#,
        "assistant.server.backoffPlan.baseDelaySeconds",
        |p| matches!(p, CascadeProblem::BaseDelay(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","backoffPlan":{"maxRetries":1,"baseDelaySeconds":1,"excludedStatusCodes":[404,99]}}}}"#,
        "assistant.server.backoffPlan.excludedStatusCodes[1]",
        |p| matches!(p, CascadeProblem::StatusCode(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":"https://a.example.com","backoffPlan":{"type":"linear","maxRetries":1,"baseDelaySeconds":1}}}}"#,
        "assistant.server.backoffPlan.type",
        |p| matches!(p, CascadeProblem::Invalid(_)),
    );
    case(
        r#"{"assistant":{"serverMessages":["status-update","transcripts"]}}"#,
        "assistant.serverMessages[1]",
        |p| matches!(p, CascadeProblem::UnknownServerMessage(_)),
    );
    case(
        r#"{"assistant":{"server":{"url":5}}}"#,
        "assistant.server.url",
        |p| matches!(p, CascadeProblem::Invalid(_)),
    );
    case("[]", "", |p| matches!(p, CascadeProblem::Invalid(_)));

    let crate_error: agent_webhooks::Error = err("{").into();
    assert_eq!(crate_error.kind(), ErrorKind::Cascade);
    assert!(crate_error.as_cascade().is_some());
}

#[test]
fn no_target_messages_say_what_was_tried() {
    let e = Cascade::new().resolve("voice-request").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no server for `voice-request`: none configured at assistant.voice.server"
    );
    let e = Cascade::new().resolve("transcript").unwrap_err();
    assert_eq!(
        e.to_string(),
        "`transcript` is not in the assistant's serverMessages"
    );
}
