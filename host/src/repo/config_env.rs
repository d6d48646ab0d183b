//! The environment's part in reading `feature_store.yaml`: `$VAR`/`${VAR}` expansion, and
//! the variable that replaces the whole file.

/// The environment variable that carries the whole file, base64-encoded.
pub const YAML_BASE64_ENV: &str = "FEATURE_STORE_YAML_BASE64";

/// Expands `$VAR` and `${VAR}` like Python's `os.path.expandvars`: unknown variables and
/// lone `$` signs are left exactly as written.
pub fn expand_vars(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after.find(|c| !is_name(c)).unwrap_or(after.len());
            (&after[..end], end)
        };
        match (!name.is_empty() && name.chars().all(is_name))
            .then(|| lookup(name))
            .flatten()
        {
            Some(value) => {
                out.push_str(&value);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
