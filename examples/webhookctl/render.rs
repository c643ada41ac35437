//! `webhookctl render --tool FILE --vars FILE [--agent-kind phone|web|chat]`

use agent_webhooks::{AgentKind, Policy, Vars, WebhookTool};

use crate::args::{Args, read};

pub fn run(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["tool", "vars", "agent-kind"], &[])?;
    let tool = WebhookTool::from_json(&read(args.required("tool")?)?).map_err(|e| e.to_string())?;
    let vars: Vars = serde_json::from_str(&read(args.required("vars")?)?)
        .map_err(|e| format!("vars file: {e}"))?;
    let kind: AgentKind = args
        .value("agent-kind")
        .unwrap_or("phone")
        .parse()
        .map_err(|e: agent_webhooks::UnknownAgentKind| e.to_string())?;
    let compiled = tool.compile(kind).map_err(|e| e.to_string())?;
    let prepared = compiled
        .prepare(&vars, &Policy::default())
        .map_err(|e| e.to_string())?;
    println!("{}", prepared.to_json());
    Ok(())
}
