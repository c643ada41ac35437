//! The demo of the main job: a webhook tool compiled once and rendered for a phone call, and
//! the same tool refused for a chat agent at compile time.
//!
//! Run it with `cargo run --example demo`.

use agent_webhooks::{AgentKind, Builtin, Policy, Vars, WebhookTool};

const SEED_TOOL: &str = include_str!("data/lookup_customer.json");

fn section(title: &str) {
    println!("\n== {title}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    section("1. The tool config, as users write it");
    let tool = WebhookTool::from_json(SEED_TOOL)?;
    println!("{}", SEED_TOOL.trim());

    section("2. Compiled once for a phone voice agent, rendered for one call");
    let compiled = tool.compile(AgentKind::PhoneVoice)?;
    let policy = Policy::default(); // production: the strictest guard
    let vars = Vars::new()
        .with(Builtin::CallerPhone, "+15551234567")
        .with(Builtin::CallSid, "CA9f2c0e1d4b")
        .with(Builtin::AgentId, "agt_support");
    let prepared = compiled.prepare(&vars, &policy)?;
    println!("{}", serde_json::to_string_pretty(&prepared.to_json())?);

    section("3. A hostile caller id stays inside its path segment");
    let hostile = vars.clone().with(Builtin::CallerPhone, "../admin?x=1#y");
    println!("{}", compiled.prepare(&hostile, &policy)?.url());

    section("4. The same tool compiled for a chat agent");
    match tool.compile(AgentKind::Chat) {
        Ok(_) => return Err("a chat agent must not compile a tool that needs caller_phone".into()),
        Err(e) => println!("refused at compile time: {e}"),
    }
    Ok(())
}
