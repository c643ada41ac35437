//! The small Liquid subset Vapi users write in tool URLs, headers and bodies.
//!
//! An output `{{ subject | filter: arg, arg | ... }}` whose subject is a variable, or the
//! clock (`now`, or the string `"now"` / `"today"` as LiquidJS writes it). Filters: `default`,
//! `downcase`, `upcase`, `capitalize`, `strip`, `append`, `prepend` and `date` (strftime over
//! the clock the host passes in through [`Vars::with_now`](crate::Vars::with_now), UTC only).
//! Everything else, every tag (`{% if %}`, `{% assign %}`, ...) included, is refused at compile
//! time with its name. Filters run on the raw value; the place's escaping (URL segment, query
//! value, header check, JSON string) runs after them, so no filter can undo it.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::event::Timestamp;
use crate::template::TemplateError;
use crate::vars::Vars;

/// The filters this subset knows, for error messages.
pub(crate) const SUPPORTED: &str =
    "default, downcase, upcase, capitalize, strip, append, prepend and date";

/// One filter of a chain, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// `default: "x"`: the value when the variable is missing, empty or false.
    Default(Box<str>),
    Downcase,
    Upcase,
    Capitalize,
    Strip,
    Append(Box<str>),
    Prepend(Box<str>),
    /// `date: "%Y-%m-%d"`: the clock, formatted.
    Date(Box<[DateItem]>),
}

/// A value moving through a filter chain.
pub(crate) enum Val<'v> {
    Missing,
    Text(Cow<'v, str>),
    Time(Timestamp),
}

/// Runs `filters` over `value`.
pub(crate) fn apply<'v>(filters: &[Filter], mut value: Val<'v>) -> Val<'v> {
    for filter in filters {
        value = match (filter, value) {
            (Filter::Default(d), Val::Missing) => Val::Text(Cow::Owned(d.to_string())),
            (Filter::Default(d), Val::Text(t)) if t.is_empty() || t == "false" => {
                Val::Text(Cow::Owned(d.to_string()))
            }
            (Filter::Date(items), Val::Time(t)) => Val::Text(Cow::Owned(format_date(items, t))),
            (_, Val::Missing) => Val::Missing,
            (Filter::Default(_), v) => v,
            (f, Val::Time(t)) => Val::Text(Cow::Owned(text_filter(f, &t.to_string()))),
            (f, Val::Text(t)) => Val::Text(Cow::Owned(text_filter(f, &t))),
        };
    }
    value
}

fn text_filter(filter: &Filter, s: &str) -> String {
    match filter {
        Filter::Downcase => s.to_lowercase(),
        Filter::Upcase => s.to_uppercase(),
        Filter::Capitalize => {
            let mut chars = s.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
        Filter::Strip => s.trim().to_owned(),
        Filter::Append(a) => format!("{s}{a}"),
        Filter::Prepend(p) => format!("{p}{s}"),
        // Compile time makes `date` follow the clock; `default` is handled by the caller.
        Filter::Default(_) | Filter::Date(_) => s.to_owned(),
    }
}

/// What a `{{ ... }}` output refers to before filters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Subject {
    /// A variable path as written (`customer.number`, `args.id`).
    Var(String),
    /// The clock: `now`, `"now"`, `"today"`.
    Clock,
}

/// One `{{ ... }}` output: its subject and the filters as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Output {
    pub(crate) subject: Subject,
    /// The text after the subject, from the first `|` on (empty when there are no filters).
    pub(crate) filter_text: String,
    pub(crate) filters: Vec<Filter>,
}

/// A piece of a Liquid source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Lit(String),
    Output(Output),
}

/// Whether `src` needs this parser: a filter, a quoted subject or a tag.
pub(crate) fn is_liquid(src: &str) -> bool {
    if src.contains("{%") {
        return true;
    }
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        let inner = &rest[start + 2..];
        let end = inner.find("}}").unwrap_or(inner.len());
        let expr = inner[..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if expr.contains('|') || expr.starts_with('"') || expr.starts_with('\'') {
            return true;
        }
        rest = &inner[end..];
    }
    false
}

/// Splits a source into literal text and outputs; refuses tags and unknown filters.
pub(crate) fn split(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = src;
    loop {
        let next_out = rest.find("{{");
        let next_tag = rest.find("{%");
        let start = match (next_out, next_tag) {
            (None, None) => break,
            (Some(o), Some(t)) if t < o => return Err(tag_error(&rest[t..])),
            (None, Some(t)) => return Err(tag_error(&rest[t..])),
            (Some(o), _) => o,
        };
        lit.push_str(&rest[..start]);
        let inner = &rest[start + 2..];
        let end = find_close(inner).ok_or_else(|| syntax("`{{` without a closing `}}`"))?;
        let raw = &inner[..end];
        let raw = raw.strip_prefix('-').unwrap_or(raw);
        let expr = raw.strip_suffix('-').unwrap_or(raw);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        pieces.push(Piece::Output(output(expr.trim())?));
        rest = &inner[end + 2..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

/// The offset of the `}}` closing an output, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b @ (b'"' | b'\'')) => quote = Some(b),
            (None, b'}') if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            (None, _) => {}
        }
        i += 1;
    }
    None
}

fn tag_error(at: &str) -> TemplateError {
    let body = at[2..].trim_start_matches('-').trim_start();
    let name: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    TemplateError::LiquidTag {
        name: if name.is_empty() { "?".into() } else { name },
    }
}

fn syntax(message: &str) -> TemplateError {
    TemplateError::Syntax {
        message: message.to_owned(),
    }
}

/// A lexical token of an output expression.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Pipe,
    Colon,
    Comma,
}

fn lex(expr: &str) -> Result<Vec<Tok>, TemplateError> {
    let mut toks = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '|' => toks.push(Tok::Pipe),
            ':' => toks.push(Tok::Colon),
            ',' => toks.push(Tok::Comma),
            '"' | '\'' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err(syntax("unterminated string in `{{ ... }}`")),
                    }
                }
                toks.push(Tok::Str(s));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                toks.push(Tok::Num(expr[i..end].to_owned()));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphanumeric() || matches!(d, '_' | '.' | '-' | '/' | '[' | ']') {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                toks.push(Tok::Word(expr[i..end].to_owned()));
            }
            other => {
                return Err(syntax(&format!(
                    "unexpected `{other}` in `{{{{ {expr} }}}}`"
                )));
            }
        }
    }
    Ok(toks)
}

/// Parses one output expression: `subject (| filter (: arg (, arg)*)?)*`.
fn output(expr: &str) -> Result<Output, TemplateError> {
    let toks = lex(expr)?;
    let mut it = toks.into_iter().peekable();
    let subject = match it.next() {
        Some(Tok::Word(w)) if w == "now" || w == "today" => Subject::Clock,
        Some(Tok::Word(w)) => Subject::Var(w),
        Some(Tok::Str(s)) if s == "now" || s == "today" => Subject::Clock,
        Some(Tok::Str(s)) => {
            return Err(TemplateError::NotAVariable {
                expr: format!("\"{s}\""),
            });
        }
        _ => return Err(syntax(&format!("`{{{{ {expr} }}}}` has no variable"))),
    };
    let filter_text = expr
        .find('|')
        .map(|i| expr[i..].to_owned())
        .unwrap_or_default();
    let mut filters = Vec::new();
    while let Some(tok) = it.next() {
        if tok != Tok::Pipe {
            return Err(syntax(&format!("expected `|` in `{{{{ {expr} }}}}`")));
        }
        let Some(Tok::Word(name)) = it.next() else {
            return Err(syntax(&format!(
                "a filter name after `|` in `{{{{ {expr} }}}}`"
            )));
        };
        let mut args = Vec::new();
        if it.peek() == Some(&Tok::Colon) {
            it.next();
            loop {
                match it.next() {
                    Some(Tok::Str(s) | Tok::Num(s)) => args.push(s),
                    Some(Tok::Word(w)) => {
                        return Err(TemplateError::FilterArgument {
                            filter: name,
                            message: format!("`{w}`: only literal arguments are supported"),
                        });
                    }
                    _ => return Err(syntax(&format!("a filter argument in `{{{{ {expr} }}}}`"))),
                }
                if it.peek() == Some(&Tok::Comma) {
                    it.next();
                } else {
                    break;
                }
            }
        }
        filters.push(filter(name, args, &subject)?);
    }
    Ok(Output {
        subject,
        filter_text,
        filters,
    })
}

fn filter(name: String, args: Vec<String>, subject: &Subject) -> Result<Filter, TemplateError> {
    let arity = |n: std::ops::RangeInclusive<usize>| {
        if n.contains(&args.len()) {
            Ok(())
        } else {
            Err(TemplateError::FilterArgument {
                filter: name.clone(),
                message: format!(
                    "takes {} argument(s), got {}",
                    if n.start() == n.end() {
                        n.start().to_string()
                    } else {
                        format!("{} to {}", n.start(), n.end())
                    },
                    args.len()
                ),
            })
        }
    };
    let one = |args: &[String]| args[0].clone().into_boxed_str();
    Ok(match name.as_str() {
        "default" => {
            arity(1..=1)?;
            Filter::Default(one(&args))
        }
        "downcase" => arity(0..=0).map(|()| Filter::Downcase)?,
        "upcase" => arity(0..=0).map(|()| Filter::Upcase)?,
        "capitalize" => arity(0..=0).map(|()| Filter::Capitalize)?,
        "strip" => arity(0..=0).map(|()| Filter::Strip)?,
        "append" => {
            arity(1..=1)?;
            Filter::Append(one(&args))
        }
        "prepend" => {
            arity(1..=1)?;
            Filter::Prepend(one(&args))
        }
        "date" => {
            arity(1..=2)?;
            if *subject != Subject::Clock {
                return Err(TemplateError::FilterArgument {
                    filter: name,
                    message: "formats only the clock (`now`); other values are text here".into(),
                });
            }
            if let Some(zone) = args.get(1) {
                if !matches!(zone.as_str(), "UTC" | "Etc/UTC" | "Z" | "GMT") {
                    return Err(TemplateError::FilterArgument {
                        filter: name,
                        message: format!(
                            "time zone `{zone}` is not supported: the clock here is UTC only"
                        ),
                    });
                }
            }
            Filter::Date(compile_date(&args[0]).map_err(|message| {
                TemplateError::FilterArgument {
                    filter: "date".into(),
                    message,
                }
            })?)
        }
        _ => return Err(TemplateError::Filter { name }),
    })
}

// ---------------------------------------------------------------------------------------------
// strftime over a UTC instant

/// One piece of a compiled `date` format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DateItem {
    Lit(Box<str>),
    /// A conversion (`Y`, `m`, ...) and whether `-` asked for no padding.
    Conv(char, bool),
}

fn compile_date(fmt: &str) -> Result<Box<[DateItem]>, String> {
    let mut items = Vec::new();
    let mut lit = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        let mut conv = chars.next().ok_or("a format ends with a lone `%`")?;
        let unpadded = conv == '-';
        if unpadded {
            conv = chars.next().ok_or("a format ends with `%-`")?;
        }
        if conv == '%' {
            lit.push('%');
            continue;
        }
        if !"YmdHIMSLpPAaBbyjeFTszZuwkl".contains(conv) {
            return Err(format!("`%{conv}` is not a supported date conversion"));
        }
        if !lit.is_empty() {
            items.push(DateItem::Lit(std::mem::take(&mut lit).into_boxed_str()));
        }
        items.push(DateItem::Conv(conv, unpadded));
    }
    if !lit.is_empty() {
        items.push(DateItem::Lit(lit.into_boxed_str()));
    }
    Ok(items.into_boxed_slice())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (y, m as u32, d as u32)
}

#[allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a Timestamp is at most 9999-12-31, far inside i64 and the u32 fields"
)]
fn format_date(items: &[DateItem], t: Timestamp) -> String {
    let millis = t.unix_millis() as i64;
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil(days);
    let (hour, minute, second) = (sod / 3600, sod / 60 % 60, sod % 60);
    let weekday = days.rem_euclid(7) as usize; // 0 = Thursday (1970-01-01)
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let yday = days - days_before_year(year) + 1;
    let mut out = String::new();
    for item in items {
        let (conv, unpadded) = match item {
            DateItem::Lit(l) => {
                out.push_str(l);
                continue;
            }
            DateItem::Conv(c, u) => (*c, *u),
        };
        let num = |out: &mut String, n: i64, width: usize| {
            if unpadded {
                let _ = write!(out, "{n}");
            } else {
                let _ = write!(out, "{n:0width$}");
            }
        };
        match conv {
            'Y' => num(&mut out, year, 4),
            'y' => num(&mut out, year % 100, 2),
            'm' => num(&mut out, i64::from(month), 2),
            'd' => num(&mut out, i64::from(day), 2),
            'e' => {
                let _ = write!(out, "{day:>2}");
            }
            'j' => num(&mut out, yday, 3),
            'H' => num(&mut out, i64::from(hour), 2),
            'k' => {
                let _ = write!(out, "{hour:>2}");
            }
            'I' => num(&mut out, i64::from(hour12), 2),
            'l' => {
                let _ = write!(out, "{hour12:>2}");
            }
            'M' => num(&mut out, i64::from(minute), 2),
            'S' => num(&mut out, i64::from(second), 2),
            'L' => num(&mut out, millis.rem_euclid(1000), 3),
            'p' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'P' => out.push_str(if hour < 12 { "am" } else { "pm" }),
            'A' => out.push_str(DAYS[weekday]),
            'a' => out.push_str(&DAYS[weekday][..3]),
            'B' => out.push_str(MONTHS[month as usize - 1]),
            'b' => out.push_str(&MONTHS[month as usize - 1][..3]),
            'u' => num(&mut out, ((weekday + 3) % 7 + 1) as i64, 1),
            'w' => num(&mut out, ((weekday + 4) % 7) as i64, 1),
            'F' => {
                let _ = write!(out, "{year:04}-{month:02}-{day:02}");
            }
            'T' => {
                let _ = write!(out, "{hour:02}:{minute:02}:{second:02}");
            }
            's' => num(&mut out, secs, 1),
            'z' => out.push_str("+0000"),
            'Z' => out.push_str("UTC"),
            _ => {}
        }
    }
    out
}

fn days_before_year(year: i64) -> i64 {
    let y = year - 1;
    365 * (y - 1969) + (y / 4 - 1969 / 4) - (y / 100 - 1969 / 100) + (y / 400 - 1969 / 400)
}

/// Rewrites every `{{ ... }}` output of `src` with `map` applied to its variable subject,
/// keeping the filters as written: how an importer turns a platform's names into ours.
/// `map` returns our expression (`caller_phone`, `now | date: "%Y"`).
pub(crate) fn rewrite<E>(
    src: &str,
    mut map: impl FnMut(&str) -> Result<String, E>,
    syntax_error: impl Fn(TemplateError) -> E,
) -> Result<String, E> {
    let pieces = split(src).map_err(&syntax_error)?;
    let mut out = String::with_capacity(src.len());
    for piece in pieces {
        match piece {
            Piece::Lit(l) => out.push_str(&l),
            Piece::Output(o) => {
                let subject = match &o.subject {
                    Subject::Var(name) => map(name)?,
                    Subject::Clock => "now".to_owned(),
                };
                out.push_str("{{ ");
                out.push_str(&subject);
                if !o.filter_text.is_empty() {
                    out.push(' ');
                    out.push_str(&o.filter_text);
                }
                out.push_str(" }}");
            }
        }
    }
    Ok(out)
}

/// The clock reading of `vars`, as a filter-chain value.
pub(crate) fn clock(vars: &Vars) -> Val<'static> {
    vars.now().map_or(Val::Missing, Val::Time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(f: &str, millis: u64) -> String {
        format_date(
            &compile_date(f).unwrap(),
            Timestamp::from_unix_millis(millis).unwrap(),
        )
    }

    #[test]
    fn dates_format_in_utc() {
        // 2026-05-31T00:00:00.000Z is a Sunday.
        let t = 1_780_185_600_000;
        assert_eq!(fmt("%Y-%m-%dT%H:%M:%S.%LZ", t), "2026-05-31T00:00:00.000Z");
        assert_eq!(
            fmt("%A, %B %d, %Y, %I:%M %p", t),
            "Sunday, May 31, 2026, 12:00 AM"
        );
        assert_eq!(
            fmt("%b %-d, %Y %-I:%M %p", t + 13 * 3_600_000 + 5 * 60_000),
            "May 31, 2026 1:05 PM"
        );
        assert_eq!(
            fmt("%a %j %u %w %F %T %z %Z %%", t),
            "Sun 151 7 0 2026-05-31 00:00:00 +0000 UTC %"
        );
        assert_eq!(fmt("%Y-%m-%d", 0), "1970-01-01");
        assert_eq!(fmt("%Y-%m-%d %A", 951_782_400_000), "2000-02-29 Tuesday");
        assert_eq!(fmt("%j", 1_798_675_200_000), "365"); // 2026-12-31
        assert!(compile_date("%Q").is_err());
        assert!(compile_date("%").is_err());
    }

    #[test]
    fn outputs_split_and_tags_are_refused() {
        let p = split(r#"a {{ customer.number | default: "x" }} b {{"now" | date: "%Y", "UTC"}}"#)
            .unwrap();
        assert_eq!(p.len(), 4);
        assert!(
            matches!(&p[1], Piece::Output(o) if o.subject == Subject::Var("customer.number".into())
            && o.filters == vec![Filter::Default("x".into())])
        );
        assert!(matches!(&p[3], Piece::Output(o) if o.subject == Subject::Clock));
        assert_eq!(
            split("{% if x %}y{% endif %}"),
            Err(TemplateError::LiquidTag { name: "if".into() })
        );
        assert_eq!(
            split("{{ x | where: 'a' }}"),
            Err(TemplateError::Filter {
                name: "where".into()
            })
        );
        assert!(matches!(
            split(r#"{{ now | date: "%H", "Europe/London" }}"#),
            Err(TemplateError::FilterArgument { .. })
        ));
        assert!(matches!(
            split("{{ x | date: '%H' }}"),
            Err(TemplateError::FilterArgument { .. })
        ));
        assert!(matches!(split("{{ x "), Err(TemplateError::Syntax { .. })));
    }

    #[test]
    fn filters_chain_left_to_right() {
        let chain = [
            Filter::Default("anon".into()),
            Filter::Upcase,
            Filter::Append("!".into()),
        ];
        let run = |v: Val<'_>| match apply(&chain, v) {
            Val::Text(t) => t.into_owned(),
            _ => panic!("text expected"),
        };
        assert_eq!(run(Val::Missing), "ANON!");
        assert_eq!(run(Val::Text("".into())), "ANON!");
        assert_eq!(run(Val::Text("bob".into())), "BOB!");
        assert!(matches!(
            apply(&[Filter::Upcase], Val::Missing),
            Val::Missing
        ));
    }

    #[test]
    fn rewrite_maps_subjects_and_keeps_filters() {
        let out: Result<String, TemplateError> = rewrite(
            r#"/u/{{ customer.number }}?t={{"now" | date: "%Y"}}&x={{a|upcase}}"#,
            |n| {
                Ok(if n == "customer.number" {
                    "caller_phone".into()
                } else {
                    format!("args.{n}")
                })
            },
            |e| e,
        );
        assert_eq!(
            out.unwrap(),
            r#"/u/{{ caller_phone }}?t={{ now | date: "%Y" }}&x={{ args.a |upcase }}"#
        );
    }
}
