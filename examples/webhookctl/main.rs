//! `webhookctl`: a small operator tool over the public API of agent-webhooks.
//!
//! Its interface is stable; tests and users script against it. Run `webhookctl --help`.

mod args;
mod cascade;
mod check_url;
mod events;
mod render;
mod request;
mod sign;

use std::process::ExitCode;

const HELP: &str = "\
webhookctl: operator tool for agent-webhooks

USAGE:
    webhookctl <COMMAND> [OPTIONS]

COMMANDS:
    check-url [--model] [--allow-host H]... [--dev] [--allow-private]
        Reads URLs on stdin, one per line, and prints for each, in order, exactly one line:
        `allow`, or `deny <reason>` (`deny parse: <message>` for a line that is not a URL).
        Exits 0 whatever the verdicts. Default: production policy, operator-configured URLs.
          --model          judge the URLs as model-provided: the host must be in the allowlist
          --allow-host H   add H to the allowlist (exact host, or *.example.com); repeatable
          --dev            development mode (needed for --allow-private)
          --allow-private  open private networks (RFC 1918, 100.64/10, fc00::/7, .internal ...);
                           refused without --dev

    render --tool FILE --vars FILE [--agent-kind phone|web|chat]
        Compiles the webhook tool in FILE for the agent kind (default phone), renders it with
        the variables in the vars FILE and prints the prepared request as one JSON object:
        {\"method\", \"url\", \"headers\" (secret values redacted), \"body\" (JSON or null),
         \"dropped_headers\"}.
        The vars file is a JSON object, every field optional:
        {\"caller_phone\": \"+15551234567\", \"call_sid\": \"CA...\", \"agent_id\": \"...\",
         \"tenant_id\": \"...\", \"assistant_id\": \"...\", \"phone_number_id\": \"...\",
         \"call_id\": \"...\", \"args\": {tool-call arguments}, \"secrets\": {\"NAME\": \"value\"}}
        Templates reach them as {{caller_phone}}, {{args.NAME}} and {{secrets.NAME}}.

    sign --secret S [--secret OLD]... --id ID --timestamp TS
        Reads the body from stdin (byte-exact) and prints the Standard Webhooks
        `webhook-signature` value: `v1,<base64 HMAC-SHA256 of ID.TS.BODY>` per secret,
        space-separated (several secrets: rotation, newest first). S is `whsec_<base64>`.

    verify --secret S [--secret OLD]... --id ID --timestamp TS --signature SIG [--now TS]
        Reads the body from stdin and checks SIG (a `webhook-signature` value) against it:
        exit 0 when one `v1` entry matches one secret and TS is within 300 s of --now
        (default: this machine's clock); exit 1 with the reason otherwise.

    sign --scheme standard|vapi-hmac|vapi-signature|elevenlabs|retell|bland --secret S
         [--timestamp TS] [--id ID]
        Reads the body from stdin (byte-exact) and prints the headers to send, as one JSON
        object with lowercase header names:
          standard        {\"webhook-signature\": \"v1,...\"} (S is whsec_<base64>; --id needed)
          vapi-hmac       {\"x-signature\": hex HMAC-SHA256 of TS.BODY, \"x-timestamp\": TS}
                          (Vapi's HMAC credential with its defaults)
          vapi-signature  {\"x-vapi-signature\": \"sha256=\" + hex HMAC-SHA256 of BODY}
          elevenlabs      {\"elevenlabs-signature\": \"t=TS,v0=\" + hex HMAC-SHA256 of TS.BODY}
          retell          {\"x-retell-signature\": \"v=TS,d=\" + hex HMAC-SHA256 of BODY + TS}
          bland           {\"x-webhook-signature\": hex HMAC-SHA256 of BODY}
        S is the secret's text for every scheme but standard. TS is Unix seconds, except
        for retell (Unix milliseconds, as Retell sends); default: this machine's clock.

    verify --scheme ... --secret S [--timestamp TS] [--id ID] --signature V [--now TS]
        Reads the body from stdin and checks V, the scheme's signature header value (for
        standard: `webhook-signature`, with --id and --timestamp; for vapi-hmac: `x-signature`,
        with --timestamp for `x-timestamp`; for elevenlabs and retell the whole header, its
        timestamp inside). --now is in the scheme's unit (default: this machine's clock).
        Exit 0 when it matches and the timestamp is within the scheme's tolerance
        (standard and vapi-hmac 300 s, elevenlabs 30 min, retell 5 min); exit 1 otherwise.

    events [--profile default|vapi]
        Prints one sample envelope {\"message\": {...}} per event type, one JSON per line.
        The default profile writes timestamps as RFC 3339 (2026-05-31T00:00:00.000Z), the
        vapi profile as epoch milliseconds (1780185600000).

    cascade --config FILE --event TYPE
        FILE holds the surfaces as Vapi-shaped JSON: {\"tool\": {\"server\": {...}},
        \"assistant\": {\"server\", \"serverUrl\", \"serverUrlSecret\", \"serverMessages\", ...},
        \"phoneNumber\": {\"server\", \"serverUrl\", \"serverUrlSecret\"}, \"account\": {\"server\"}}.
        Prints {\"url\": ..., \"level\": ...} for the server that takes events of TYPE, or
        the reason none does (not in serverMessages, no server configured) with exit 1.

    request --cascade FILE --event FILE [--secret whsec_...] [--deadline-ms N] [--dev]
        Sends the request event in the --event FILE (an envelope {\"message\": {...}},
        Vapi-shaped) as the runtime would: the server the cascade FILE resolves for it (for
        tool-calls the called tool's own server in toolWithToolCallList, else the cascade's
        tool surface), signed with --secret (Standard Webhooks) if given, within the event's
        budget (assistant-request 7.5 s, else the server's timeoutSeconds) or --deadline-ms if
        shorter. Prints one JSON line:
        {\"level\", \"url\", \"status\" (number or null), \"latency_ms\",
         \"outcome\": \"answered\" | \"failed\", \"reason\" (null, no_target, refused, timeout,
         connect_error, http_status, invalid_response, too_large), \"response\" (the typed answer
         or null), \"fallback\" (what the runtime would do, or null)}
        and exits 0 when answered, 1 when failed. --dev opens loopback only (a development
        policy) for trying a local server; without it the production policy applies.
        Sending needs the `reqwest` feature (cargo build --example webhookctl --features reqwest).

Every command prints errors on stderr and exits 1; success exits 0.
";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(command) = argv.next() else {
        eprint!("{HELP}");
        return ExitCode::FAILURE;
    };
    let rest: Vec<String> = argv.collect();
    let result = match command.as_str() {
        "-h" | "--help" | "help" => {
            print!("{HELP}");
            Ok(())
        }
        "check-url" => check_url::run(&rest),
        "render" => render::run(&rest),
        "sign" => sign::sign(&rest),
        "verify" => sign::verify(&rest),
        "events" => events::run(&rest),
        "cascade" => cascade::run(&rest),
        "request" => match request::run(&rest) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        other => Err(format!("unknown command `{other}`; see webhookctl --help")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("webhookctl {command}: {message}");
            ExitCode::FAILURE
        }
    }
}
