//! Response mapping: named values taken out of a tool's JSON answer for the model (Bland's
//! `response` JSONPath map, Retell's `response_variables`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// The most names one tool may extract.
pub const MAX_RESPONSE_VALUES: usize = 32;
/// The most segments one path may have.
pub const MAX_PATH_SEGMENTS: usize = 16;
/// The largest answer a response map reads, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The largest value one name may take, serialized, in bytes.
pub const MAX_VALUE_BYTES: usize = 4 * 1024;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// `.name` or `['name']`; on an array a decimal key is an index (Retell's `data.0.id`).
    Key(String),
    /// `[3]`.
    Index(usize),
}

/// A compiled JSONPath subset: `$`, then `.name`, `['name']` or `[n]` steps. No wildcards,
/// filters, slices or recursive descent: each path names at most one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segs: Vec<Seg>,
}

impl JsonPath {
    /// Parses a path such as `$.data.items[0].id` or `$['user name']`.
    ///
    /// # Errors
    /// A [`ResponseMapError`] naming what is not in the subset.
    pub fn parse(text: &str) -> Result<Self, ResponseMapError> {
        let bad = |why: &str| ResponseMapError::Path {
            path: text.to_owned(),
            reason: why.to_owned(),
        };
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| bad("a path starts with `$`"))?;
        let mut segs = Vec::new();
        let mut s = rest;
        while !s.is_empty() {
            if let Some(after) = s.strip_prefix('.') {
                if after.starts_with('.') {
                    return Err(bad("recursive descent (`..`) is not supported"));
                }
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() || name == "*" {
                    return Err(bad("a step needs a name (no wildcards)"));
                }
                segs.push(Seg::Key(name.to_owned()));
                s = &after[end..];
            } else if let Some(after) = s.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| bad("`[` without `]`"))?;
                let inner = after[..end].trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|i| i.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|i| i.strip_suffix('"')));
                if let Some(name) = quoted {
                    segs.push(Seg::Key(name.to_owned()));
                } else if let Ok(n) = inner.parse::<usize>() {
                    segs.push(Seg::Index(n));
                } else {
                    return Err(bad(&format!(
                        "`[{inner}]`: only an index or a quoted name (no wildcards, filters or slices)"
                    )));
                }
                s = &after[end + 1..];
            } else {
                return Err(bad("expected `.` or `[` after a step"));
            }
            if segs.len() > MAX_PATH_SEGMENTS {
                return Err(bad(&format!("more than {MAX_PATH_SEGMENTS} steps")));
            }
        }
        Ok(JsonPath {
            text: text.to_owned(),
            segs,
        })
    }

    /// The value at this path in `root`, if there is one.
    #[must_use]
    pub fn find<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut v = root;
        for seg in &self.segs {
            v = match (seg, v) {
                (Seg::Key(k), Value::Object(map)) => map.get(k)?,
                (Seg::Key(k), Value::Array(items)) => items.get(k.parse::<usize>().ok()?)?,
                (Seg::Index(i), Value::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(v)
    }

    /// The path as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Names and the paths their values come from, checked once when the tool is read.
///
/// ```
/// use agent_webhooks::tool::ResponseMap;
/// let map = ResponseMap::new(&[("order_status".into(), "$.order.status".into())].into())?;
/// let values = map.extract(br#"{"order": {"status": "shipped", "secret": "x"}}"#)?;
/// assert_eq!(serde_json::Value::Object(values), serde_json::json!({"order_status": "shipped"}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseMap {
    entries: Vec<(String, JsonPath)>,
}

impl ResponseMap {
    /// Compiles a name-to-path map.
    ///
    /// # Errors
    /// A [`ResponseMapError`]: more than [`MAX_RESPONSE_VALUES`] names, a name that is not
    /// 1 to 64 of `a-z A-Z 0-9 _` starting with a letter or `_`, or a path outside the subset.
    pub fn new(map: &BTreeMap<String, String>) -> Result<Self, ResponseMapError> {
        if map.len() > MAX_RESPONSE_VALUES {
            return Err(ResponseMapError::TooMany(map.len()));
        }
        let mut entries = Vec::with_capacity(map.len());
        for (name, path) in map {
            let ok = (1..=64).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(ResponseMapError::Name(name.clone()));
            }
            entries.push((name.clone(), JsonPath::parse(path)?));
        }
        Ok(ResponseMap { entries })
    }

    /// Whether the map names nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names and their paths.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &JsonPath)> {
        self.entries.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// The named values of a JSON answer. A path that finds nothing gives no entry (the
    /// platforms leave the variable unset too).
    ///
    /// # Errors
    /// An [`ExtractError`]: the answer is larger than [`MAX_RESPONSE_BYTES`], is not JSON (or
    /// nests deeper than `serde_json`'s limit of 128), or a value serializes to more than
    /// [`MAX_VALUE_BYTES`].
    pub fn extract(&self, body: &[u8]) -> Result<Map<String, Value>, ExtractError> {
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(ExtractError::TooLarge(body.len()));
        }
        let root: Value =
            serde_json::from_slice(body).map_err(|e| ExtractError::NotJson(e.to_string()))?;
        let mut out = Map::new();
        for (name, path) in &self.entries {
            if let Some(v) = path.find(&root) {
                let size = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
                if size > MAX_VALUE_BYTES {
                    return Err(ExtractError::ValueTooLarge {
                        name: name.clone(),
                        bytes: size,
                    });
                }
                out.insert(name.clone(), v.clone());
            }
        }
        Ok(out)
    }
}

/// A response map that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseMapError {
    /// More names than [`MAX_RESPONSE_VALUES`].
    #[error("{0} response values: at most {MAX_RESPONSE_VALUES}")]
    TooMany(usize),
    /// A name that is not an identifier.
    #[error(
        "`{0}` is not a response value name: use 1 to 64 letters, digits or `_`, not starting with a digit"
    )]
    Name(String),
    /// A path outside the JSONPath subset.
    #[error("response path `{path}`: {reason}")]
    Path {
        /// The path as written.
        path: String,
        /// What is not supported.
        reason: String,
    },
}

/// Why named values could not be taken out of an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The answer is larger than [`MAX_RESPONSE_BYTES`].
    #[error("the answer has {0} bytes; response mapping reads at most {MAX_RESPONSE_BYTES}")]
    TooLarge(usize),
    /// The answer is not JSON (or nests too deep).
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    /// A value is larger than [`MAX_VALUE_BYTES`].
    #[error("response value `{name}` has {bytes} bytes; at most {MAX_VALUE_BYTES}")]
    ValueTooLarge {
        /// The name.
        name: String,
        /// Its serialized size.
        bytes: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_within_the_subset() {
        let p = JsonPath::parse("$.data['user name'].items[1].id").unwrap();
        let v = serde_json::json!({"data": {"user name": {"items": [{}, {"id": 7}]}}});
        assert_eq!(p.find(&v), Some(&Value::from(7)));
        assert_eq!(JsonPath::parse("$").unwrap().find(&v), Some(&v));
        let retell_style = JsonPath::parse("$.data.0.id").unwrap();
        assert_eq!(
            retell_style.find(&serde_json::json!({"data": [{"id": "a"}]})),
            Some(&Value::from("a"))
        );
        for bad in [
            "a.b",
            "$..a",
            "$.a[*]",
            "$.a[?(@.x)]",
            "$.a[0:2]",
            "$.",
            "$a",
            "$.a[",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
        let deep = format!("${}", ".a".repeat(MAX_PATH_SEGMENTS + 1));
        assert!(JsonPath::parse(&deep).is_err());
    }

    #[test]
    fn extraction_has_limits() {
        let map = ResponseMap::new(&[("v".into(), "$.v".into())].into()).unwrap();
        assert_eq!(map.extract(b"{}").unwrap(), Map::new());
        assert!(matches!(
            map.extract(b"nope"),
            Err(ExtractError::NotJson(_))
        ));
        let big = format!(r#"{{"v": "{}"}}"#, "x".repeat(MAX_VALUE_BYTES));
        assert!(matches!(
            map.extract(big.as_bytes()),
            Err(ExtractError::ValueTooLarge { .. })
        ));
        let huge = vec![b' '; MAX_RESPONSE_BYTES + 1];
        assert!(matches!(map.extract(&huge), Err(ExtractError::TooLarge(_))));
        let too_many: BTreeMap<String, String> = (0..=MAX_RESPONSE_VALUES)
            .map(|i| (format!("v{i}"), "$.v".to_owned()))
            .collect();
        assert!(matches!(
            ResponseMap::new(&too_many),
            Err(ResponseMapError::TooMany(_))
        ));
        assert!(matches!(
            ResponseMap::new(&[("1x".into(), "$".into())].into()),
            Err(ResponseMapError::Name(_))
        ));
    }
}
