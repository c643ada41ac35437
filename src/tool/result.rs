//! What the model reads after a tool call: a short result, never a panic.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The most bytes of a response body a [`ToolResult`] keeps by default.
pub const DEFAULT_RESULT_LIMIT: usize = 8 * 1024;

/// Why a tool request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolFailure {
    /// The runtime refused to send the request (guard policy, render error); the detail is for
    /// logs, the model is told only that it was refused.
    Refused {
        /// The reason, for logs.
        reason: String,
    },
    /// The call's values do not fit the tool (a missing caller number, CR/LF in a header
    /// value); the detail is for logs.
    Unrenderable {
        /// The reason, for logs.
        reason: String,
    },
    /// No answer within the tool's timeout.
    Timeout(Duration),
    /// The connection failed (DNS, connect, TLS, reset).
    Transport {
        /// The reason, for logs.
        reason: String,
    },
}

impl fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolFailure::Refused { reason } => write!(f, "refused: {reason}"),
            ToolFailure::Unrenderable { reason } => write!(f, "not renderable: {reason}"),
            ToolFailure::Timeout(t) => write!(f, "no answer within {} s", t.as_secs()),
            ToolFailure::Transport { reason } => write!(f, "transport error: {reason}"),
        }
    }
}

/// The outcome of one tool call as the model should see it: on success the response body (JSON
/// compacted, text as is) truncated to a limit; on failure a short sentence the model can speak
/// about. The HTTP status, if there was one, is kept for logs.
///
/// ```
/// use agent_webhooks::{ToolResult, http};
/// let response = http::Response::builder().status(200).body(br#"{ "name": "Ada" }"#.to_vec())?;
/// let result = ToolResult::from_response(&response, 1024);
/// assert_eq!(result.result(), Some(r#"{"name":"Ada"}"#));
/// assert_eq!(
///     result.to_vapi_result("call_1", "lookup_customer"),
///     serde_json::json!({"toolCallId": "call_1", "name": "lookup_customer", "result": "{\"name\":\"Ada\"}"}),
/// );
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    status: Option<u16>,
    result: Option<String>,
    error: Option<String>,
    truncated: bool,
}

impl ToolResult {
    /// The result of a response: 2xx gives its body as the result; any other status gives a
    /// short error sentence with the status only. A failing endpoint's body (stack traces,
    /// echoed keys) never reaches the model; it is recorded for admins.
    #[must_use]
    pub fn from_response(response: &http::Response<Vec<u8>>, limit: usize) -> Self {
        let status = response.status();
        let (text, truncated) = body_text(response.body(), limit);
        if status.is_success() {
            ToolResult {
                status: Some(status.as_u16()),
                result: Some(text),
                error: None,
                truncated,
            }
        } else {
            let error = format!("The tool request failed with HTTP {status}.");
            ToolResult {
                status: Some(status.as_u16()),
                result: None,
                error: Some(error),
                truncated,
            }
        }
    }

    /// The result of a request that got no response.
    #[must_use]
    pub fn from_failure(failure: &ToolFailure) -> Self {
        let error = match failure {
            ToolFailure::Refused { .. } => {
                "The tool request was refused by the runtime's safety policy.".to_owned()
            }
            ToolFailure::Unrenderable { .. } => {
                "The tool could not be called with the details of this call.".to_owned()
            }
            ToolFailure::Timeout(t) => {
                format!("The tool did not answer within {} seconds.", t.as_secs())
            }
            ToolFailure::Transport { .. } => "The tool could not be reached.".to_owned(),
        };
        ToolResult {
            status: None,
            result: None,
            error: Some(error),
            truncated: false,
        }
    }

    /// The HTTP status, if a response came.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The result text on success.
    #[must_use]
    pub fn result(&self) -> Option<&str> {
        self.result.as_deref()
    }

    /// The error sentence on failure.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the call succeeded (a 2xx response).
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.result.is_some()
    }

    /// Whether the body was cut at the limit.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// One entry of Vapi's tool-calls response, `{"toolCallId", "name", "result" | "error"}`.
    #[must_use]
    pub fn to_vapi_result(&self, tool_call_id: &str, name: &str) -> Value {
        let mut entry = serde_json::Map::with_capacity(3);
        entry.insert("toolCallId".into(), tool_call_id.into());
        entry.insert("name".into(), name.into());
        match (&self.result, &self.error) {
            (Some(r), _) => entry.insert("result".into(), r.as_str().into()),
            (None, e) => entry.insert("error".into(), e.as_deref().unwrap_or("").into()),
        };
        Value::Object(entry)
    }
}

/// The body as text for the model: JSON compacted, other text as is (invalid UTF-8 replaced),
/// cut at a character boundary at `limit` bytes with a marker.
fn body_text(body: &[u8], limit: usize) -> (String, bool) {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v.to_string(),
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    if text.len() <= limit {
        return (text, false);
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    (format!("{}… [truncated]", &text[..cut]), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.to_vec())
            .unwrap()
    }

    #[test]
    fn success_bodies_become_results() {
        let r = ToolResult::from_response(&response(200, b"  plain text\n"), 100);
        assert_eq!(
            (r.result(), r.status(), r.is_success()),
            (Some("plain text"), Some(200), true)
        );
        let r = ToolResult::from_response(&response(204, b""), 100);
        assert_eq!(r.result(), Some(""));
    }

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary() {
        let body = "é".repeat(100);
        let r = ToolResult::from_response(&response(200, body.as_bytes()), 9);
        assert_eq!(r.result(), Some("éééé… [truncated]"));
        assert!(r.is_truncated());
        let r = ToolResult::from_response(&response(200, &[0xff, 0xfe, b'a']), 100);
        assert_eq!(r.result(), Some("\u{fffd}\u{fffd}a"));
    }

    #[test]
    fn failures_become_short_sentences() {
        let r = ToolResult::from_response(
            &response(
                401,
                br#"{"error":"bad key sk_live_1","trace":"at app.js:10"}"#,
            ),
            100,
        );
        assert_eq!(
            r.error(),
            Some("The tool request failed with HTTP 401 Unauthorized.")
        );
        assert!(
            !r.error().unwrap().contains("sk_live_1"),
            "the body never reaches the model"
        );
        assert_eq!(
            r.to_vapi_result("c1", "t")["error"],
            Value::from(r.error().unwrap())
        );
        let r = ToolResult::from_failure(&ToolFailure::Timeout(Duration::from_secs(20)));
        assert_eq!(
            r.error(),
            Some("The tool did not answer within 20 seconds.")
        );
        assert_eq!(r.status(), None);
        let r = ToolResult::from_failure(&ToolFailure::Refused {
            reason: "private address 10.0.0.1".into(),
        });
        assert!(
            !r.error().unwrap().contains("10.0.0.1"),
            "the model is not told the detail"
        );
    }
}
