//! Rendering a compiled template vs the floor (`format!`) and the obvious alternative (a
//! registered handlebars template), in one run.
//!
//! Goals (issue 2): URL render <= 1.0x `format!` and >= 15x faster than handlebars; a 10-leaf
//! JSON body >= 2.5x faster than a handlebars text render followed by `serde_json` parsing.

use std::hint::black_box;

use agent_webhooks::template::{BodyTemplate, UrlTemplate};
use agent_webhooks::{AgentKind, Builtin, Vars};
use criterion::Criterion;
use handlebars::{Handlebars, no_escape};
use serde_json::{Value, json};

mod support;

const URL: &str = "https://api.example.com/customers/{{caller_phone}}?call={{call_sid}}";
const PHONE: &str = "+15551234567";
const SID: &str = "CA0123456789abcdef0123456789abcdef";

struct Fixture {
    vars: Vars,
    url: UrlTemplate,
    body: BodyTemplate,
    hbs: Handlebars<'static>,
    ctx: Value,
}

fn body_template() -> Value {
    // 10 leaves, 6 slots in 5 strings.
    json!({
        "customer": {"phone": "{{caller_phone}}", "tier": "gold", "vip": false},
        "call": {"sid": "{{call_sid}}", "agent": "agent {{agent_id}} on {{call_id}}"},
        "order": "{{args.order_id}}",
        "note": "caller asks about {{args.topic}}",
        "source": "voice",
        "attempt": 1,
        "tags": ["support", "inbound"]
    })
}

const BODY_TEXT: &str = r#"{"customer":{"phone":"{{caller_phone}}","tier":"gold","vip":false},"call":{"sid":"{{call_sid}}","agent":"agent {{agent_id}} on {{call_id}}"},"order":"{{args.order_id}}","note":"caller asks about {{args.topic}}","source":"voice","attempt":1,"tags":["support","inbound"]}"#;

fn fixture() -> Fixture {
    let vars = Vars::new()
        .with(Builtin::CallerPhone, PHONE)
        .with(Builtin::CallSid, SID)
        .with(Builtin::AgentId, "agt_support_01")
        .with(Builtin::CallId, "call_7f3a9c")
        .with_arg("order_id", "A-10023")
        .with_arg("topic", "a late delivery");
    let mut hbs = Handlebars::new();
    hbs.register_escape_fn(no_escape);
    hbs.register_template_string("url", URL).unwrap();
    hbs.register_template_string("body", BODY_TEXT).unwrap();
    let ctx = json!({
        "caller_phone": PHONE, "call_sid": SID, "agent_id": "agt_support_01",
        "call_id": "call_7f3a9c", "args": {"order_id": "A-10023", "topic": "a late delivery"}
    });
    let url = UrlTemplate::compile(URL, AgentKind::PhoneVoice).unwrap();
    let body = BodyTemplate::compile(&body_template(), AgentKind::PhoneVoice).unwrap();
    // Same output, or the comparison means nothing.
    assert_eq!(url.render(&vars).unwrap(), hbs.render("url", &ctx).unwrap());
    let ours: Value = serde_json::from_slice(&body.render(&vars).unwrap()).unwrap();
    let theirs: Value = serde_json::from_str(&hbs.render("body", &ctx).unwrap()).unwrap();
    assert_eq!(ours, theirs);
    Fixture {
        vars,
        url,
        body,
        hbs,
        ctx,
    }
}

fn main() {
    let f = fixture();
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("url_render");
        g.bench_function("ours_compiled", |b| {
            b.iter(|| f.url.render(black_box(&f.vars)).unwrap())
        });
        g.bench_function("format_macro", |b| {
            b.iter(|| {
                format!(
                    "https://api.example.com/customers/{}?call={}",
                    black_box(PHONE),
                    black_box(SID)
                )
            })
        });
        g.bench_function("handlebars_registered", |b| {
            b.iter(|| f.hbs.render("url", black_box(&f.ctx)).unwrap())
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("body_render");
        g.bench_function("ours_compiled", |b| {
            b.iter(|| f.body.render(black_box(&f.vars)).unwrap())
        });
        g.bench_function("handlebars_text_then_parse", |b| {
            b.iter(|| {
                let text = f.hbs.render("body", black_box(&f.ctx)).unwrap();
                serde_json::from_str::<Value>(&text).unwrap()
            })
        });
        g.finish();
    }
    c.final_summary();

    if support::is_bench_run() {
        let url = support::compare(
            "URL render, 2 slots",
            vec![
                (
                    "ours (compiled UrlTemplate)",
                    Box::new(|| {
                        black_box(f.url.render(black_box(&f.vars)).unwrap());
                    }),
                ),
                (
                    "format! with the same values (floor)",
                    Box::new(|| {
                        black_box(format!(
                            "https://api.example.com/customers/{}?call={}",
                            black_box(PHONE),
                            black_box(SID)
                        ));
                    }),
                ),
                (
                    "handlebars registered render",
                    Box::new(|| {
                        black_box(f.hbs.render("url", black_box(&f.ctx)).unwrap());
                    }),
                ),
            ],
        );
        println!(
            "  ours / format! = {:.2}x (goal <= 1.0x); handlebars / ours = {:.1}x (goal >= 15x)",
            url[0] / url[1],
            url[2] / url[0]
        );
        // Issue 16: a path value with dots, `;` and `%` takes the judged path (decoded, cut at
        // `;`, every rendered segment checked) instead of the plain fast path.
        let judged = UrlTemplate::compile(
            "https://api.example.com/customers/{{args.who}}/orders",
            AgentKind::Chat,
        )
        .unwrap();
        let plain_vars = Vars::new().with_arg("who", "ann-lee-example-com");
        let dotted_vars = Vars::new().with_arg("who", "ann.lee;v=1@example.com%");
        let path = support::compare(
            "URL render, one path value: plain vs judged (dots, `;`, `%`)",
            vec![
                (
                    "ours, plain value (fast path)",
                    Box::new(|| {
                        black_box(judged.render(black_box(&plain_vars)).unwrap());
                    }),
                ),
                (
                    "ours, value with dots, ; and % (judged)",
                    Box::new(|| {
                        black_box(judged.render(black_box(&dotted_vars)).unwrap());
                    }),
                ),
                (
                    "format! with the plain value (floor)",
                    Box::new(|| {
                        black_box(format!(
                            "https://api.example.com/customers/{}/orders",
                            black_box("ann-lee-example-com")
                        ));
                    }),
                ),
            ],
        );
        println!(
            "  judged / plain = {:.2}x; plain / format! = {:.2}x",
            path[1] / path[0],
            path[0] / path[2]
        );
        let body = support::compare(
            "JSON body render, 10 leaves, 6 slots",
            vec![
                (
                    "ours (compiled BodyTemplate)",
                    Box::new(|| {
                        black_box(f.body.render(black_box(&f.vars)).unwrap());
                    }),
                ),
                (
                    "handlebars text render + serde_json parse",
                    Box::new(|| {
                        let text = f.hbs.render("body", black_box(&f.ctx)).unwrap();
                        black_box(serde_json::from_str::<Value>(&text).unwrap());
                    }),
                ),
            ],
        );
        println!(
            "  handlebars+parse / ours = {:.1}x (goal >= 2.5x)",
            body[1] / body[0]
        );
    }
}
