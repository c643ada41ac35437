//! `webhookctl check-url [--model] [--allow-host H]... [--dev] [--allow-private]`

use std::io::{BufRead, Write};

use agent_webhooks::guard::{Origin, Policy, Rejection};

use crate::args::Args;

/// Reads URLs from stdin, one per line, and prints one verdict line per input line.
pub fn run(raw: &[String]) -> Result<(), String> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    run_on(raw, stdin.lock(), std::io::BufWriter::new(stdout.lock()))
}

/// [`run`] over any input and output: the tests drive this.
pub fn run_on(raw: &[String], mut input: impl BufRead, mut out: impl Write) -> Result<(), String> {
    let args = Args::parse(raw, &["allow-host"], &["model", "dev", "allow-private"])?;
    let origin = if args.flag("model") {
        Origin::Model
    } else {
        Origin::Operator
    };
    let mut builder = Policy::builder().allowed_hosts(args.values("allow-host"));
    if args.flag("dev") {
        builder = builder.development();
    }
    if args.flag("allow-private") {
        builder = builder.dangerous().allow_private_networks();
    }
    let policy = builder.build().map_err(|e| e.to_string())?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading stdin: {e}"))?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let verdict = match std::str::from_utf8(&line) {
            Err(_) => "deny parse: the line is not UTF-8".to_owned(),
            Ok(text) => verdict(&policy, text, origin),
        };
        writeln!(out, "{verdict}").map_err(|e| format!("writing stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing stdout: {e}"))
}

/// `allow`, `deny parse: <message>` or `deny <reason>`.
pub fn verdict(policy: &Policy, text: &str, origin: Origin) -> String {
    match policy.parse(text, origin) {
        Ok(_) => "allow".to_owned(),
        Err(Rejection::Parse(e)) => format!("deny parse: {e}"),
        Err(rejection) => format!("deny {rejection}"),
    }
}
