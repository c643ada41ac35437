//! A small flag parser: `--name value` pairs, repeatable flags and switches.

/// Parsed flags of one subcommand.
pub struct Args {
    pairs: Vec<(String, Option<String>)>,
}

impl Args {
    /// Parses `raw`; `switches` are the flags that take no value.
    pub fn parse(raw: &[String], with_value: &[&str], switches: &[&str]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut it = raw.iter();
        while let Some(flag) = it.next() {
            let name = flag.trim_start_matches("--");
            if switches.contains(&name) && flag.starts_with("--") {
                pairs.push((name.to_owned(), None));
            } else if with_value.contains(&name) && flag.starts_with("--") {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                pairs.push((name.to_owned(), Some(value.clone())));
            } else {
                return Err(format!(
                    "unexpected argument `{flag}`; see webhookctl --help"
                ));
            }
        }
        Ok(Args { pairs })
    }

    /// The last value of a flag.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The value of a flag that must be present.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.value(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// Every value of a repeatable flag.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// Whether a switch was given.
    pub fn flag(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }
}

/// Reads a file to a string, naming it in the error.
pub fn read(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}
