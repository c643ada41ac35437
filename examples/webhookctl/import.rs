//! `webhookctl import --from vapi|elevenlabs|retell|bland FILE`

use agent_webhooks::import::{Platform, UnknownPlatform, import};

use crate::args::{Args, read};

pub fn run(raw: &[String]) -> Result<(), String> {
    let usage = || "FILE is required: webhookctl import --from PLATFORM FILE".to_owned();
    let (file, flags) = match raw.split_last() {
        Some((last, rest))
            if !last.starts_with("--") && rest.last().is_none_or(|f| f != "--from") =>
        {
            (last.as_str(), rest)
        }
        _ => return Err(usage()),
    };
    let args = Args::parse(flags, &["from"], &[])?;
    let platform: Platform = args
        .required("from")?
        .parse()
        .map_err(|e: UnknownPlatform| e.to_string())?;
    let config: serde_json::Value =
        serde_json::from_str(&read(file)?).map_err(|e| format!("{file}: not JSON: {e}"))?;
    let imported = import(platform, config).map_err(|e| e.to_string())?;
    for note in &imported.set_aside {
        eprintln!("webhookctl import: note: {note}");
    }
    let json = serde_json::to_string_pretty(&imported.to_json()).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}
