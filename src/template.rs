//! Templates in handlebars syntax, compiled once into segment lists whose slots know their place.
//!
//! Only plain variables are supported: `{{caller_phone}}`, `{{ call_sid }}`, dotted tool-call
//! arguments `{{args.order.id}}` and tenant secrets `{{secrets.crm_key}}`. The source is parsed
//! with handlebars' own parser, so syntax and error positions are exactly handlebars'; helpers,
//! blocks, partials and triple-stash are refused at compile time. Rendering fills a pre-split
//! segment list and escapes each value for its place (URL path segment, query value, header
//! value, JSON string, whole JSON value); it never calls the handlebars renderer.

use std::borrow::Cow;
use std::fmt;

use handlebars::template::{Parameter, TemplateElement};
use handlebars::{Path, PathSeg};
use serde_json::Value;

use crate::vars::{AgentKind, Builtin, Vars};

/// A table of the bytes to percent-encode: every control, space, non-ASCII byte, and `extra`.
const fn encode_table(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b < 0x20 || b >= 0x7f || b == b' ' as usize;
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// Bytes percent-encoded in a URL path slot: everything that could end the segment, start the
/// query or fragment (also `\`, a slash for http URLs), be read as an escape (`%`), or start
/// servlet path parameters (`;`).
static PATH_SEGMENT: [bool; 256] = encode_table(b"\"#%/;<>?[\\]^`{|}");

/// How many rounds of percent-decoding a path value is judged after: a proxy that decodes
/// once, a framework that decodes again, and more.
const DECODE_ROUNDS: usize = 4;

/// `bytes` with every `%XX` escape decoded once.
fn percent_decode_once(bytes: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// `bytes` percent-decoded until nothing changes, at most [`DECODE_ROUNDS`] times.
fn percent_decode_all(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut current = Cow::Borrowed(bytes);
    for _ in 0..DECODE_ROUNDS {
        if !current.contains(&b'%') {
            break;
        }
        let next = percent_decode_once(&current);
        if next.as_slice() == current.as_ref() {
            break;
        }
        current = Cow::Owned(next);
    }
    current
}

/// Characters that some server normalises into `/` or `\` (NFKC of the fullwidth and
/// division forms).
const SLASH_LIKE: &[char] = &['/', '\\', '\u{ff0f}', '\u{ff3c}', '\u{2215}', '\u{2044}'];

/// Characters that some server normalises into `.` (NFKC of the fullwidth and leader forms).
const DOT_LIKE: &[char] = &['.', '\u{ff0e}', '\u{2024}', '\u{fe52}'];

/// What is wrong with one decoded path segment, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentProblem {
    /// Empty, also once its `;` path parameters are cut (`//`, `/;x/`).
    Empty,
    /// Holds `/` or `\\` (or a form that normalises to one) once decoded.
    Separator,
    /// Dots only once its path parameters and trailing spaces are cut (`..;x`, `.. `).
    Dots,
}

/// Judges one path segment as the common server normalisations read it: percent-decoded
/// repeatedly (proxies that decode `%2F`, frameworks that decode twice), cut at the first
/// `;` (servlet path parameters, `..;jsessionid=x`), trailing spaces, tabs and NULs dropped
/// (IIS and old Java), fullwidth dots and slashes as what NFKC makes of them.
fn segment_problem(segment: &str) -> Option<SegmentProblem> {
    let decoded = percent_decode_all(segment.as_bytes());
    let decoded = String::from_utf8_lossy(&decoded);
    if decoded.contains(SLASH_LIKE) {
        return Some(SegmentProblem::Separator);
    }
    let head = decoded.split(';').next().unwrap_or("");
    let head = head.trim_end_matches([' ', '\t', '\0']);
    if head.is_empty() {
        Some(SegmentProblem::Empty)
    } else if head.chars().all(|c| DOT_LIKE.contains(&c)) {
        Some(SegmentProblem::Dots)
    } else {
        None
    }
}

/// Whether a path value can skip [`segment_problem`]: non-empty plain text with no byte any
/// normalisation above acts on.
fn is_plain_path_value(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii() && !matches!(b, b'%' | b'.' | b';' | b'/' | b'\\' | b' ' | b'\t' | 0)
        })
}

/// Bytes percent-encoded in a URL query slot: what could end the value or the pair (`&`, `;`,
/// `=`, `#`), be decoded as a space (`+`) or as an escape (`%`).
static QUERY_VALUE: [bool; 256] = encode_table(b"\"#%&'+;<=>[\\]^`{|}");

/// Appends `value` to `out`, percent-encoding the bytes `table` marks; runs of safe bytes are
/// copied whole.
fn push_encoded(out: &mut String, value: &str, table: &[bool; 256]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if !value.bytes().any(|b| table[usize::from(b)]) {
        out.push_str(value);
        return;
    }
    let mut safe_from = 0;
    for (i, c) in value.char_indices() {
        if c.is_ascii() && !table[c as usize] {
            continue;
        }
        out.push_str(&value[safe_from..i]);
        let mut utf8 = [0u8; 4];
        for &b in c.encode_utf8(&mut utf8).as_bytes() {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        safe_from = i + c.len_utf8();
    }
    out.push_str(&value[safe_from..]);
}

/// `value` with the bytes `table` marks percent-encoded.
fn encoded(value: &str, table: &[bool; 256]) -> String {
    let mut out = String::with_capacity(value.len());
    push_encoded(&mut out, value, table);
    out
}

/// Where a template slot sits; it decides how a value is escaped there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Place {
    /// One URL path segment: percent-encoded so it stays one segment (see
    /// [`UrlTemplate`] for what a path value may hold).
    UrlPath,
    /// A URL query key or value: percent-encoded so it stays inside the value.
    UrlQuery,
    /// An HTTP header value: control characters are a render error, never stripped.
    HeaderValue,
    /// Part of a JSON string in the body: serialized by `serde_json`.
    JsonString,
    /// A whole JSON leaf that is exactly one placeholder: takes the variable's JSON type; a
    /// model-provided object or array only where the tool's parameters declare one.
    JsonValue,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::UrlPath => "the URL path",
            Place::UrlQuery => "the URL query",
            Place::HeaderValue => "a header value",
            Place::JsonString | Place::JsonValue => "the body",
        })
    }
}

/// Why a template does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// Handlebars' parser refused the source.
    #[error("template syntax: {message}")]
    Syntax {
        /// The parser's message, with the position.
        message: String,
    },
    /// A helper call such as `{{upper name}}`.
    #[error("helper `{name}` is not supported: use a plain variable such as {{{{call_sid}}}}")]
    Helper {
        /// The helper's name.
        name: String,
    },
    /// A block such as `{{#if x}}...{{/if}}`.
    #[error("blocks ({{{{#...}}}}) are not supported: use plain variables")]
    Block,
    /// A triple-stash `{{{x}}}`, which would ask for no escaping.
    #[error("triple-stash {{{{{{...}}}}}} is not supported: every place escapes its values itself")]
    TripleStash,
    /// A partial or decorator such as `{{> name}}`.
    #[error("partials and decorators are not supported")]
    Partial,
    /// An expression that is not a plain variable path: `this`, `../x`, `@index`, a literal.
    #[error("`{expr}` is not a variable: use a name such as call_sid or args.order_id")]
    NotAVariable {
        /// The expression as written.
        expr: String,
    },
    /// A name that no agent has.
    #[error("unknown variable `{name}`")]
    UnknownVariable {
        /// The variable as written.
        name: String,
    },
    /// A runtime variable that agents of this kind do not have (`caller_phone` in a chat agent).
    #[error("variable `{name}` is not available to a {kind}")]
    Unavailable {
        /// The variable.
        name: String,
        /// The agent kind compiled for.
        kind: AgentKind,
    },
    /// A tenant secret outside a header value.
    #[error("secret `{name}` may only be used in a header value, not in {place}")]
    SecretOutsideHeader {
        /// The secret reference as written (`secrets.crm_key`).
        name: String,
        /// Where it was used.
        place: Place,
    },
    /// A variable in the URL's scheme, credentials, host or port.
    #[error(
        "variable `{name}` in the URL's scheme, host or port: only the path and query may vary"
    )]
    VarInAuthority {
        /// The variable.
        name: String,
    },
    /// A variable in the URL fragment, which is never sent.
    #[error("variable `{name}` in the URL fragment, which is never sent")]
    VarInFragment {
        /// The variable.
        name: String,
    },
    /// A placeholder in a JSON object key.
    #[error("placeholder in the body key `{key}`: only values may vary")]
    VarInKey {
        /// The key as written.
        key: String,
    },
    /// The body template nests deeper than [`MAX_JSON_DEPTH`].
    #[error("the body nests deeper than {limit} levels of arrays and objects")]
    TooDeep {
        /// The limit, [`MAX_JSON_DEPTH`].
        limit: usize,
    },
}

/// The deepest nesting of arrays and objects the crate renders, serializes or redacts:
/// deeper JSON built by the host is a typed error ([`RenderError::TooDeep`],
/// [`TemplateError::TooDeep`]) instead of a stack overflow. It is `serde_json`'s own parser
/// limit, so every value parsed from JSON text fits.
pub const MAX_JSON_DEPTH: usize = 128;

/// Drops a value without recursing: serde_json's own drop recurses once per level, which a
/// host-built value thousands of levels deep turns into a stack overflow.
pub(crate) fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Whether `value` nests arrays and objects deeper than `limit` (a scalar is depth 0, `[]`
/// depth 1). Iterative: deep input costs heap, never stack.
pub(crate) fn exceeds_depth(value: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) => {
                if depth > limit {
                    return true;
                }
                stack.extend(items.iter().map(|i| (i, depth + 1)));
            }
            Value::Object(map) => {
                if depth > limit {
                    return true;
                }
                stack.extend(map.values().map(|i| (i, depth + 1)));
            }
            _ => {}
        }
    }
    false
}

/// Why a compiled template could not be rendered for one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The call has no value for a variable, and the tool gives no default.
    #[error("variable `{name}` has no value for this call and the tool sets no default")]
    Missing {
        /// The variable.
        name: String,
    },
    /// An object or array argument where only text fits (URL, header, inside a string).
    #[error("variable `{name}` is an object or array; {place} needs text")]
    NotScalar {
        /// The variable.
        name: String,
        /// Where it was used.
        place: Place,
    },
    /// A header value would carry a byte a header may not carry (CR, LF, NUL, other controls).
    #[error("header `{header}`: value contains {}", describe_byte(*.byte))]
    HeaderValue {
        /// The header name.
        header: String,
        /// The first offending byte.
        byte: u8,
    },
    /// A path value would make a segment `.` or `..` under some server's normalisation
    /// (`..`, `%2e%2e`, `..;jsessionid=x`, `.;`, `.. `), which would move up the path.
    #[error(
        "variable `{name}` would make a URL path segment `.` or `..` (after percent-decoding \
         or cutting `;` path parameters)"
    )]
    DotSegment {
        /// The variable.
        name: String,
    },
    /// A path value is empty (also once `;` path parameters are cut): an empty segment
    /// (`//`) routes elsewhere in some frameworks.
    #[error("variable `{name}` is empty in the URL path, which would make an empty segment `//`")]
    EmptyPathValue {
        /// The variable.
        name: String,
    },
    /// A path value holds `/` or `\` (also percent-encoded, or a fullwidth form): proxies
    /// that decode `%2F` would read more than one segment.
    #[error(
        "variable `{name}` holds `/` or `\\` (also encoded): a URL path value must stay one \
         segment; pass it in the query instead"
    )]
    PathSeparator {
        /// The variable.
        name: String,
    },
    /// A model-provided object or array in a whole-value body leaf whose argument the tool
    /// does not declare as an object or array in its `parameters` schema.
    #[error(
        "variable `{name}` is an object or array, but the tool's parameters do not declare it \
         as one: a model-provided value here must be a string, number, boolean or null"
    )]
    UndeclaredStructure {
        /// The variable.
        name: String,
    },
    /// A value nests deeper than [`MAX_JSON_DEPTH`] levels of arrays and objects.
    #[error("variable `{name}` nests deeper than {limit} levels of arrays and objects")]
    TooDeep {
        /// The variable.
        name: String,
        /// The limit, [`MAX_JSON_DEPTH`].
        limit: usize,
    },
    /// The rendered URL does not parse (a bug if it happens: slots cannot change the URL shape).
    #[error("rendered URL does not parse: {message}")]
    Url {
        /// The parser's message.
        message: String,
    },
}

fn describe_byte(b: u8) -> String {
    match b {
        b'\r' | b'\n' => "CR/LF".to_owned(),
        0 => "NUL".to_owned(),
        b => format!("the control byte 0x{b:02x}"),
    }
}

/// What a placeholder refers to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VarRef {
    Builtin(Builtin),
    Arg(Box<[String]>),
    Secret(Box<str>),
}

/// One placeholder: the variable, its name as written, and the tool's default, if any.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    pub(crate) var: VarRef,
    pub(crate) name: Box<str>,
    default: Option<Box<DefaultValue>>,
}

/// A default value, kept both as JSON (for whole JSON leaves) and as text (everywhere else).
#[derive(Debug, Clone, PartialEq)]
struct DefaultValue {
    json: Value,
    text: Option<String>,
}

/// The defaults a tool gives for variables a call may lack, by variable name.
pub(crate) type Defaults = std::collections::BTreeMap<String, Value>;

/// A parsed template: literal text and placeholders, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Lit(String),
    Slot(Slot),
}

impl Slot {
    pub(crate) fn is_secret(&self) -> bool {
        matches!(self.var, VarRef::Secret(_))
    }

    pub(crate) fn is_model_provided(&self) -> bool {
        matches!(self.var, VarRef::Arg(_))
    }

    /// The value as text for the text places (URL, header, inside a JSON string).
    fn text<'v>(&'v self, vars: &'v Vars, place: Place) -> Result<Cow<'v, str>, RenderError> {
        let found = match &self.var {
            VarRef::Builtin(b) => vars.builtin(*b).map(Cow::Borrowed),
            VarRef::Secret(name) => vars.secret(name).map(|s| Cow::Borrowed(s.expose())),
            VarRef::Arg(path) => match vars.arg_path(path) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
                Some(Value::Bool(b)) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
                Some(Value::Number(n)) => Some(Cow::Owned(n.to_string())),
                Some(Value::Array(_) | Value::Object(_)) => {
                    return Err(RenderError::NotScalar {
                        name: self.name.to_string(),
                        place,
                    });
                }
            },
        };
        match (found, &self.default) {
            (Some(v), _) => Ok(v),
            (None, Some(d)) => match &d.text {
                Some(t) => Ok(Cow::Borrowed(t)),
                None => Err(RenderError::NotScalar {
                    name: self.name.to_string(),
                    place,
                }),
            },
            (None, None) => Err(self.missing()),
        }
    }

    /// Writes the value as one JSON value (a whole leaf). A model-provided object or array
    /// only when `structured` (the tool declares the argument as one).
    fn write_json(
        &self,
        vars: &Vars,
        out: &mut Vec<u8>,
        structured: bool,
    ) -> Result<(), RenderError> {
        let found: Option<&Value> = match &self.var {
            VarRef::Builtin(b) => {
                if let Some(s) = vars.builtin(*b) {
                    write_json_str(out, s);
                    return Ok(());
                }
                None
            }
            VarRef::Arg(path) => vars.arg_path(path),
            // Refused at compile time; render nothing secret even if it got here.
            VarRef::Secret(_) => return Err(self.missing()),
        };
        let value = match (found, &self.default) {
            (Some(Value::Array(_) | Value::Object(_)), _) if !structured => {
                return Err(RenderError::UndeclaredStructure {
                    name: self.name.to_string(),
                });
            }
            (Some(v), _) => v,
            (None, Some(d)) => &d.json,
            (None, None) => return Err(self.missing()),
        };
        if matches!(value, Value::Array(_) | Value::Object(_))
            && exceeds_depth(value, MAX_JSON_DEPTH)
        {
            return Err(RenderError::TooDeep {
                name: self.name.to_string(),
                limit: MAX_JSON_DEPTH,
            });
        }
        serde_json::to_writer(out, value).expect("serializing a JSON value into a Vec cannot fail");
        Ok(())
    }

    fn missing(&self) -> RenderError {
        RenderError::Missing {
            name: self.name.to_string(),
        }
    }
}

pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("serializing a str into a Vec cannot fail");
}

/// Parses `src` with handlebars' parser and resolves every placeholder for `kind`.
pub(crate) fn parse(
    src: &str,
    kind: AgentKind,
    defaults: &Defaults,
) -> Result<Vec<Part>, TemplateError> {
    // Fast path: no placeholder at all (handlebars would also treat `\{{` specially).
    if !src.contains("{{") {
        return Ok(if src.is_empty() {
            Vec::new()
        } else {
            vec![Part::Lit(src.to_owned())]
        });
    }
    let tpl = handlebars::Template::compile(src).map_err(|e| TemplateError::Syntax {
        message: e.to_string(),
    })?;
    let mut parts: Vec<Part> = Vec::with_capacity(tpl.elements.len());
    for element in tpl.elements {
        match element {
            TemplateElement::RawString(s) => match parts.last_mut() {
                Some(Part::Lit(prev)) => prev.push_str(&s),
                _ if s.is_empty() => {}
                _ => parts.push(Part::Lit(s)),
            },
            TemplateElement::Comment(_) => {}
            TemplateElement::Expression(h) => {
                let h = *h;
                match h.name {
                    Parameter::Path(path) if h.params.is_empty() && h.hash.is_empty() => {
                        parts.push(Part::Slot(resolve(&path, kind, defaults)?));
                    }
                    Parameter::Name(name) | Parameter::Path(Path::Relative((_, name))) => {
                        return Err(TemplateError::Helper { name });
                    }
                    Parameter::Path(Path::Local((_, _, raw))) => {
                        return Err(TemplateError::NotAVariable { expr: raw });
                    }
                    other => {
                        return Err(TemplateError::NotAVariable {
                            expr: format!("{other:?}"),
                        });
                    }
                }
            }
            TemplateElement::HtmlExpression(_) => return Err(TemplateError::TripleStash),
            TemplateElement::HelperBlock(_) => return Err(TemplateError::Block),
            // Decorators and partials (and whatever a later handlebars adds).
            _ => return Err(TemplateError::Partial),
        }
    }
    Ok(parts)
}

/// Resolves a variable name (`caller_phone`, `args.x.y`, `secrets.k`) for `kind`.
pub(crate) fn resolve_name(name: &str, kind: AgentKind) -> Result<VarRef, TemplateError> {
    let segs: Vec<&str> = name.split('.').collect();
    resolve_segs(&segs, name, kind)
}

fn resolve(path: &Path, kind: AgentKind, defaults: &Defaults) -> Result<Slot, TemplateError> {
    let (segs, raw) = match path {
        Path::Relative((segs, raw)) => (segs, raw),
        Path::Local((_, _, raw)) => return Err(TemplateError::NotAVariable { expr: raw.clone() }),
    };
    let mut names = Vec::with_capacity(segs.len());
    for seg in segs {
        match seg {
            PathSeg::Named(n) => names.push(n.as_str()),
            _ => return Err(TemplateError::NotAVariable { expr: raw.clone() }),
        }
    }
    let name = names.join(".");
    let var = resolve_segs(&names, &name, kind)?;
    let default = defaults.get(&name).map(|json| {
        let text = match json {
            Value::String(s) => Some(s.clone()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
            other => Some(other.to_string()),
        };
        Box::new(DefaultValue {
            json: json.clone(),
            text,
        })
    });
    Ok(Slot {
        var,
        name: name.into_boxed_str(),
        default,
    })
}

fn resolve_segs(segs: &[&str], name: &str, kind: AgentKind) -> Result<VarRef, TemplateError> {
    let unknown = || TemplateError::UnknownVariable {
        name: name.to_owned(),
    };
    match segs {
        ["args", rest @ ..] if !rest.is_empty() && rest.iter().all(|s| !s.is_empty()) => {
            Ok(VarRef::Arg(rest.iter().map(|s| (*s).to_owned()).collect()))
        }
        ["secrets", secret] if !secret.is_empty() => Ok(VarRef::Secret((*secret).into())),
        [single] => {
            let builtin = Builtin::from_name(single).ok_or_else(unknown)?;
            if builtin.is_available(kind) {
                Ok(VarRef::Builtin(builtin))
            } else {
                Err(TemplateError::Unavailable {
                    name: name.to_owned(),
                    kind,
                })
            }
        }
        _ => Err(unknown()),
    }
}

/// Refuses secrets anywhere but in header values.
fn refuse_secrets(parts: &[Part], place: Place) -> Result<(), TemplateError> {
    for part in parts {
        if let Part::Slot(slot) = part {
            if slot.is_secret() {
                return Err(TemplateError::SecretOutsideHeader {
                    name: slot.name.to_string(),
                    place,
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// URL templates

#[derive(Debug, Clone, PartialEq)]
enum UrlSeg {
    Lit(Box<str>),
    Slot(Slot, Place),
}

/// A URL template: a fixed scheme, host and port, with slots in the path (each encoded as one
/// path segment) and in the query (each encoded as one value).
///
/// # What a path value may hold
/// A value in the path must stay one segment, and not a dot segment, under every common
/// server normalisation, not only under RFC 3986: proxies that decode `%2F`, frameworks that
/// percent-decode twice, servlet containers that cut `;` path parameters (`..;jsessionid=x`
/// is `..` to Tomcat and Jetty), IIS dropping trailing spaces, NFKC turning fullwidth `．`
/// and `／` into `.` and `/`. So a path value, judged after up to four rounds of
/// percent-decoding:
/// - may not be empty, also once cut at its first `;` ([`RenderError::EmptyPathValue`]);
/// - may not hold `/` or `\` in any form ([`RenderError::PathSeparator`]): a value that is a
///   path of its own belongs in the query;
/// - may not be dots only (`.`, `..`, `...`) once cut at its first `;` and stripped of
///   trailing spaces, tabs and NULs ([`RenderError::DotSegment`]); a segment the value makes
///   with the literal text around it is judged the same way.
///
/// Everything else passes and is percent-encoded: controls, space, non-ASCII, `"#%;<>?[\]^`
/// and `` ` `` `{|}`, so `;` is never read as a path parameter and `%` never as an escape.
///
/// ```
/// use agent_webhooks::{AgentKind, Builtin, RenderError, Vars};
/// use agent_webhooks::template::UrlTemplate;
/// let t = UrlTemplate::compile("https://api.example.com/customers/{{caller_phone}}?q={{args.q}}",
///                              AgentKind::PhoneVoice).unwrap();
/// let vars = Vars::new().with(Builtin::CallerPhone, "+1 555;x").with_arg("q", "a=b&c");
/// assert_eq!(t.render(&vars).unwrap(),
///            "https://api.example.com/customers/+1%20555%3Bx?q=a%3Db%26c");
/// for hostile in ["../admin", "..;", ".;jsessionid=1", "%2e%2e", ""] {
///     let vars = Vars::new().with(Builtin::CallerPhone, hostile).with_arg("q", "");
///     assert!(t.render(&vars).is_err(), "{hostile}");
/// }
/// let vars = Vars::new().with(Builtin::CallerPhone, "..;x").with_arg("q", "");
/// assert!(matches!(t.render(&vars), Err(RenderError::DotSegment { .. })));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UrlTemplate {
    segs: Vec<UrlSeg>,
    /// Where the path starts in every rendering (the scheme and authority are literal).
    path_start: usize,
    len_hint: usize,
}

/// The part of a URL a slot falls in, judged from the literal text before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Authority,
    Path,
    Query,
    Fragment,
}

fn region_after(prefix: &str) -> Region {
    let Some(i) = prefix.find("://") else {
        return Region::Authority;
    };
    let rest = &prefix[i + 3..];
    let Some(j) = rest.find(['/', '\\', '?', '#']) else {
        return Region::Authority;
    };
    let after = &rest[j..];
    if after.contains('#') {
        Region::Fragment
    } else if after.contains('?') {
        Region::Query
    } else {
        Region::Path
    }
}

/// The byte offset where the path starts in `url` (after `scheme://authority`), if any.
fn path_offset(url: &str) -> usize {
    match url.find("://") {
        Some(i) => url[i + 3..]
            .find(['/', '\\', '?', '#'])
            .map_or(url.len(), |j| i + 3 + j),
        None => url.len(),
    }
}

impl UrlTemplate {
    /// Compiles a URL template for agents of `kind`.
    ///
    /// # Errors
    /// A [`TemplateError`] for bad syntax, unknown or unavailable variables, secrets, and
    /// variables in the scheme, host, port or fragment.
    pub fn compile(src: &str, kind: AgentKind) -> Result<Self, TemplateError> {
        Self::compile_with(src, kind, &Defaults::new(), &[])
    }

    /// Compiles with tool defaults and extra query pairs (`config.query`) appended in order.
    pub(crate) fn compile_with(
        src: &str,
        kind: AgentKind,
        defaults: &Defaults,
        query: &[(String, Vec<Part>)],
    ) -> Result<Self, TemplateError> {
        let parts = parse(src, kind, defaults)?;
        refuse_secrets(&parts, Place::UrlPath)?;
        let mut segs = Vec::with_capacity(parts.len() + 2 * query.len());
        let mut literal = String::new();
        let mut fragment = String::new();
        for part in parts {
            match part {
                Part::Lit(s) => {
                    let fragment_at = if region_after(&literal) == Region::Fragment {
                        Some(0)
                    } else {
                        // The part of `s` from its first `#` after the authority.
                        let mut probe = literal.clone();
                        s.char_indices().find_map(|(k, c)| {
                            probe.push(c);
                            (c == '#' && region_after(&probe) == Region::Fragment).then_some(k)
                        })
                    };
                    literal.push_str(&s);
                    match fragment_at {
                        Some(k) => {
                            fragment.push_str(&s[k..]);
                            if k > 0 {
                                segs.push(UrlSeg::Lit(s[..k].into()));
                            }
                        }
                        None => segs.push(UrlSeg::Lit(s.into())),
                    }
                }
                Part::Slot(slot) => {
                    let place = match region_after(&literal) {
                        Region::Authority => {
                            return Err(TemplateError::VarInAuthority {
                                name: slot.name.into(),
                            });
                        }
                        Region::Fragment => {
                            return Err(TemplateError::VarInFragment {
                                name: slot.name.into(),
                            });
                        }
                        Region::Path => Place::UrlPath,
                        Region::Query => Place::UrlQuery,
                    };
                    segs.push(UrlSeg::Slot(slot, place));
                }
            }
        }
        if !query.is_empty() {
            let mut has_query = region_after(&literal) == Region::Query
                || literal[path_offset(&literal)..].contains('?');
            for (key, value) in query {
                let sep = if has_query { '&' } else { '?' };
                has_query = true;
                let key = encoded(key, &QUERY_VALUE);
                segs.push(UrlSeg::Lit(format!("{sep}{key}=").into()));
                for part in value {
                    match part {
                        Part::Lit(s) => segs.push(UrlSeg::Lit(encoded(s, &QUERY_VALUE).into())),
                        Part::Slot(slot) => {
                            if slot.is_secret() {
                                return Err(TemplateError::SecretOutsideHeader {
                                    name: slot.name.to_string(),
                                    place: Place::UrlQuery,
                                });
                            }
                            segs.push(UrlSeg::Slot(slot.clone(), Place::UrlQuery));
                        }
                    }
                }
            }
        }
        if !fragment.is_empty() {
            segs.push(UrlSeg::Lit(fragment.into()));
        }
        // Merge neighbouring literals so rendering pushes each once.
        let mut merged: Vec<UrlSeg> = Vec::with_capacity(segs.len());
        for seg in segs {
            match (merged.last_mut(), seg) {
                (Some(UrlSeg::Lit(prev)), UrlSeg::Lit(s)) => {
                    *prev = format!("{prev}{s}").into();
                }
                (_, seg) => merged.push(seg),
            }
        }
        let lit_len: usize = merged
            .iter()
            .map(|s| match s {
                UrlSeg::Lit(l) => l.len(),
                UrlSeg::Slot(..) => 0,
            })
            .sum();
        let slots = merged.len();
        Ok(UrlTemplate {
            segs: merged,
            path_start: path_offset(&literal),
            len_hint: lit_len + 24 * slots,
        })
    }

    /// Renders the URL as a string, each value escaped for its place.
    ///
    /// # Errors
    /// A [`RenderError`] when a value is missing, not text, or would make a path segment `.`
    /// or `..`.
    pub fn render(&self, vars: &Vars) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.len_hint);
        let mut maybe_dot_segment = false;
        for seg in &self.segs {
            match seg {
                UrlSeg::Lit(s) => out.push_str(s),
                UrlSeg::Slot(slot, Place::UrlPath) => {
                    let value = slot.text(vars, Place::UrlPath)?;
                    if !is_plain_path_value(&value) {
                        let name = || slot.name.to_string();
                        match segment_problem(&value) {
                            Some(SegmentProblem::Empty) => {
                                return Err(RenderError::EmptyPathValue { name: name() });
                            }
                            Some(SegmentProblem::Separator) => {
                                return Err(RenderError::PathSeparator { name: name() });
                            }
                            Some(SegmentProblem::Dots) => {
                                return Err(RenderError::DotSegment { name: name() });
                            }
                            None => maybe_dot_segment = true,
                        }
                    }
                    push_encoded(&mut out, &value, &PATH_SEGMENT);
                }
                UrlSeg::Slot(slot, place) => {
                    push_encoded(&mut out, &slot.text(vars, *place)?, &QUERY_VALUE);
                }
            }
        }
        // A plain value cannot complete a dot segment with the literal text around it.
        if maybe_dot_segment {
            if let Some(name) = self.dot_segment_slot(&out) {
                return Err(RenderError::DotSegment { name });
            }
        }
        Ok(out)
    }

    /// Renders and parses the URL once with the `url` crate.
    ///
    /// # Errors
    /// As [`UrlTemplate::render`], plus [`RenderError::Url`] if the result does not parse.
    pub fn render_url(&self, vars: &Vars) -> Result<url::Url, RenderError> {
        let s = self.render(vars)?;
        url::Url::parse(&s).map_err(|e| RenderError::Url {
            message: e.to_string(),
        })
    }

    /// If a path segment of `rendered` is a dot segment, the first path slot's name.
    fn dot_segment_slot(&self, rendered: &str) -> Option<String> {
        if !self.has_dot_segment(rendered) {
            return None;
        }
        self.segs.iter().find_map(|s| match s {
            UrlSeg::Slot(slot, Place::UrlPath) => Some(slot.name.to_string()),
            _ => None,
        })
    }

    /// Whether a path segment of `rendered` reads as `.` or `..` under a common server
    /// normalisation (percent-decoded, `;` path parameters cut, trailing spaces dropped).
    pub(crate) fn has_dot_segment(&self, rendered: &str) -> bool {
        let path = rendered
            .get(self.path_start.min(rendered.len())..)
            .unwrap_or("");
        let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
        path.split(['/', '\\'])
            .any(|seg| segment_problem(seg) == Some(SegmentProblem::Dots))
    }

    /// The names of the variables this template uses, in order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.segs.iter().filter_map(|s| match s {
            UrlSeg::Slot(slot, _) => Some(slot),
            UrlSeg::Lit(_) => None,
        })
    }

    /// Renders with every slot filled by `x`: the URL's shape, for compile-time checks.
    pub(crate) fn sample(&self) -> String {
        self.segs
            .iter()
            .map(|s| match s {
                UrlSeg::Lit(l) => l,
                UrlSeg::Slot(..) => "x",
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Header value templates

/// A header value template: literal text and slots; secrets allowed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeaderTemplate {
    parts: Vec<Part>,
}

impl HeaderTemplate {
    pub(crate) fn new(parts: Vec<Part>) -> Self {
        HeaderTemplate { parts }
    }

    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Renders the value and checks every byte a header may carry.
    pub(crate) fn render(&self, header: &str, vars: &Vars) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Slot(slot) => out.push_str(&slot.text(vars, Place::HeaderValue)?),
            }
        }
        if let Some(&byte) = out
            .as_bytes()
            .iter()
            .find(|&&b| !(b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80))
        {
            return Err(RenderError::HeaderValue {
                header: header.to_owned(),
                byte,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON body templates

#[derive(Debug, Clone, PartialEq)]
enum BodyOp {
    /// Pre-serialized JSON text (punctuation, keys, constant leaves).
    Raw(Box<[u8]>),
    /// A string leaf with slots: rendered, then serialized as one JSON string.
    Str(Vec<Part>),
    /// A leaf that is exactly one placeholder: the variable's own JSON value; `true` when a
    /// model-provided object or array is allowed there (declared by the tool).
    Value(Slot, bool),
}

/// A JSON body template compiled into a flat list of pre-serialized text and slots.
///
/// String leaves are templates, rendered and then serialized by `serde_json`, so quotes,
/// backslashes and control characters stay inside the string. A leaf that is exactly one
/// placeholder takes the variable's JSON type, with one rule for model-provided arguments: a
/// string, number, boolean or null, never an object or array (`{"$gt": 0}`,
/// `{"role": "admin"}`) unless the tool declares the argument as one in its `parameters`
/// schema ([`RenderError::UndeclaredStructure`]). Object keys are literal. Nesting deeper than
/// [`MAX_JSON_DEPTH`] is a [`TemplateError::TooDeep`] or [`RenderError::TooDeep`].
///
/// ```
/// use agent_webhooks::{AgentKind, Vars};
/// use agent_webhooks::template::BodyTemplate;
/// let body = serde_json::json!({"order": "{{args.order}}", "note": "said: {{args.note}}"});
/// let t = BodyTemplate::compile(&body, AgentKind::Chat).unwrap();
/// let vars = Vars::new().with_arg("order", 42).with_arg("note", "\"quoted\"");
/// assert_eq!(t.render(&vars).unwrap(), br#"{"note":"said: \"quoted\"","order":42}"#);
/// let vars = Vars::new().with_arg("order", serde_json::json!({"$gt": 0})).with_arg("note", "");
/// assert!(matches!(t.render(&vars), Err(agent_webhooks::RenderError::UndeclaredStructure { .. })));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BodyTemplate {
    ops: Vec<BodyOp>,
    len_hint: usize,
}

/// The argument paths (`args.filter`, `args.order.items`) a tool declares as objects or arrays.
pub(crate) type Structured = std::collections::BTreeSet<String>;

struct BodyCompiler<'a> {
    kind: AgentKind,
    defaults: &'a Defaults,
    structured: &'a Structured,
    ops: Vec<BodyOp>,
    raw: Vec<u8>,
}

impl BodyCompiler<'_> {
    fn flush(&mut self) {
        if !self.raw.is_empty() {
            let raw = std::mem::take(&mut self.raw);
            self.ops.push(BodyOp::Raw(raw.into_boxed_slice()));
        }
    }

    fn value(&mut self, v: &Value) -> Result<(), TemplateError> {
        match v {
            Value::String(s) => {
                let parts = parse(s, self.kind, self.defaults)?;
                refuse_secrets(&parts, Place::JsonString)?;
                match parts.as_slice() {
                    [] => self.raw.extend_from_slice(b"\"\""),
                    [Part::Lit(lit)] => write_json_str(&mut self.raw, lit),
                    [Part::Slot(slot)] => {
                        self.flush();
                        let structured = self.structured.contains(slot.name.as_ref());
                        self.ops.push(BodyOp::Value(slot.clone(), structured));
                    }
                    _ => {
                        self.flush();
                        self.ops.push(BodyOp::Str(parts));
                    }
                }
            }
            Value::Array(items) => {
                self.raw.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.raw.push(b',');
                    }
                    self.value(item)?;
                }
                self.raw.push(b']');
            }
            Value::Object(map) => {
                self.raw.push(b'{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if key.contains("{{") {
                        return Err(TemplateError::VarInKey { key: key.clone() });
                    }
                    if i > 0 {
                        self.raw.push(b',');
                    }
                    write_json_str(&mut self.raw, key);
                    self.raw.push(b':');
                    self.value(item)?;
                }
                self.raw.push(b'}');
            }
            leaf => {
                serde_json::to_writer(&mut self.raw, leaf).expect("writing into a Vec cannot fail");
            }
        }
        Ok(())
    }
}

impl BodyTemplate {
    /// Compiles a JSON body template for agents of `kind`.
    ///
    /// # Errors
    /// A [`TemplateError`] for bad syntax, unknown or unavailable variables, secrets and
    /// placeholders in object keys.
    pub fn compile(body: &Value, kind: AgentKind) -> Result<Self, TemplateError> {
        Self::compile_with(body, kind, &Defaults::new(), &Structured::new())
    }

    pub(crate) fn compile_with(
        body: &Value,
        kind: AgentKind,
        defaults: &Defaults,
        structured: &Structured,
    ) -> Result<Self, TemplateError> {
        if exceeds_depth(body, MAX_JSON_DEPTH) {
            return Err(TemplateError::TooDeep {
                limit: MAX_JSON_DEPTH,
            });
        }
        let mut c = BodyCompiler {
            kind,
            defaults,
            structured,
            ops: Vec::new(),
            raw: Vec::new(),
        };
        c.value(body)?;
        c.flush();
        let len_hint = c
            .ops
            .iter()
            .map(|op| match op {
                BodyOp::Raw(r) => r.len(),
                BodyOp::Str(_) | BodyOp::Value(..) => 32,
            })
            .sum();
        Ok(BodyTemplate {
            ops: c.ops,
            len_hint,
        })
    }

    pub(crate) fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.ops.iter().flat_map(|op| {
            let (one, many): (Option<&Slot>, &[Part]) = match op {
                BodyOp::Value(s, _) => (Some(s), &[]),
                BodyOp::Str(parts) => (None, parts),
                BodyOp::Raw(_) => (None, &[]),
            };
            one.into_iter().chain(many.iter().filter_map(|p| match p {
                Part::Slot(s) => Some(s),
                Part::Lit(_) => None,
            }))
        })
    }

    /// Renders the body as JSON bytes.
    ///
    /// # Errors
    /// A [`RenderError`] when a value is missing, an object lands inside a string, a
    /// model-provided object or array lands in an undeclared whole-value leaf, or a value
    /// nests deeper than [`MAX_JSON_DEPTH`].
    pub fn render(&self, vars: &Vars) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::with_capacity(self.len_hint);
        let mut scratch = String::new();
        for op in &self.ops {
            match op {
                BodyOp::Raw(raw) => out.extend_from_slice(raw),
                BodyOp::Value(slot, structured) => slot.write_json(vars, &mut out, *structured)?,
                BodyOp::Str(parts) => {
                    scratch.clear();
                    for part in parts {
                        match part {
                            Part::Lit(s) => scratch.push_str(s),
                            Part::Slot(slot) => {
                                scratch.push_str(&slot.text(vars, Place::JsonString)?);
                            }
                        }
                    }
                    write_json_str(&mut out, &scratch);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(src: &str) -> Result<Vec<Part>, TemplateError> {
        parse(src, AgentKind::PhoneVoice, &Defaults::new())
    }

    #[test]
    fn handlebars_syntax_variants_parse_to_slots() {
        for src in ["{{call_sid}}", "{{ call_sid }}", "{{~call_sid~}}"] {
            let parts = phone(src).unwrap();
            assert!(
                matches!(parts.as_slice(), [Part::Slot(s)] if s.var == VarRef::Builtin(Builtin::CallSid)),
                "{src}"
            );
        }
        let parts = phone("a {{args.order.id}} b").unwrap();
        assert!(matches!(&parts[1], Part::Slot(s) if s.name.as_ref() == "args.order.id"));
        assert_eq!(
            phone(r"x \{{call_sid}}").unwrap(),
            vec![Part::Lit("x {{call_sid}}".into())]
        );
    }

    #[test]
    fn unsupported_constructs_are_refused() {
        assert_eq!(
            phone("{{upper call_sid}}"),
            Err(TemplateError::Helper {
                name: "upper".into()
            })
        );
        assert_eq!(phone("{{#if call_sid}}x{{/if}}"), Err(TemplateError::Block));
        assert_eq!(phone("{{{call_sid}}}"), Err(TemplateError::TripleStash));
        assert_eq!(phone("{{> p}}"), Err(TemplateError::Partial));
        assert!(matches!(
            phone("{{@index}}"),
            Err(TemplateError::NotAVariable { .. })
        ));
        for src in ["{{this}}", "{{../call_sid}}", "{{@root.call_sid}}"] {
            assert!(phone(src).is_err(), "{src}: {:?}", phone(src));
        }
        assert!(matches!(
            phone("{{call_sid"),
            Err(TemplateError::Syntax { .. })
        ));
        assert_eq!(
            phone("{{nope}}"),
            Err(TemplateError::UnknownVariable {
                name: "nope".into()
            })
        );
        assert_eq!(
            phone("{{args}}"),
            Err(TemplateError::UnknownVariable {
                name: "args".into()
            })
        );
        assert_eq!(
            phone("{{secrets.a.b}}"),
            Err(TemplateError::UnknownVariable {
                name: "secrets.a.b".into()
            })
        );
    }

    #[test]
    fn regions_follow_the_literal_structure() {
        assert_eq!(region_after("https://"), Region::Authority);
        assert_eq!(region_after("https://h:"), Region::Authority);
        assert_eq!(region_after("https://h/"), Region::Path);
        assert_eq!(region_after("https://h\\"), Region::Path);
        assert_eq!(region_after("https://h/a?"), Region::Query);
        assert_eq!(region_after("https://h?x="), Region::Query);
        assert_eq!(region_after("https://h/a?b#"), Region::Fragment);
        assert_eq!(region_after("{{"), Region::Authority);
        assert_eq!(path_offset("https://h:8080/a?b"), 14);
    }
}
