//! Code-context languages (protocol.md §8.5–8.7): name normalisation and the small snippets
//! the server runs in a kernel (environment variables, working directory). Values are escaped
//! as string literals of the target language, unlike the reference server which pastes them
//! verbatim.

use std::fmt;

/// A language a context can run. Only Python has a kernel in the local runtime so far; the
/// others are recognised so their errors can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
}

/// A language name the runtime cannot run (yet).
#[derive(Debug, Clone)]
pub struct UnsupportedLanguage(pub String);

impl fmt::Display for UnsupportedLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "language '{}' is not available in the local sandbox runtime (available: python)",
            self.0
        )
    }
}

/// Normalises a requested language name: empty → `python`, lower-cased and trimmed, `js` →
/// `javascript`, `ts` → `typescript`.
pub fn normalize(name: Option<&str>) -> String {
    let n = name.unwrap_or("").trim().to_lowercase();
    match n.as_str() {
        "" => "python".into(),
        "js" => "javascript".into(),
        "ts" => "typescript".into(),
        _ => n,
    }
}

impl Language {
    pub fn parse(name: Option<&str>) -> Result<Language, UnsupportedLanguage> {
        match normalize(name).as_str() {
            "python" | "python3" => Ok(Language::Python),
            other => Err(UnsupportedLanguage(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
        }
    }

    /// Code that sets `vars` in the kernel's environment.
    pub fn set_env_code(self, vars: &[(String, String)]) -> String {
        match self {
            Language::Python => {
                let items: Vec<String> = vars
                    .iter()
                    .map(|(k, v)| format!("{}: {}", py_str(k), py_str(v)))
                    .collect();
                format!("__import__('os').environ.update({{{}}})", items.join(", "))
            }
        }
    }

    /// Code that puts each key back to `Some(global value)` or removes it (`None`).
    pub fn restore_env_code(self, vars: &[(String, Option<String>)]) -> String {
        match self {
            Language::Python => {
                let set: Vec<String> = vars
                    .iter()
                    .filter_map(|(k, v)| {
                        v.as_ref().map(|v| format!("{}: {}", py_str(k), py_str(v)))
                    })
                    .collect();
                let unset: Vec<String> = vars
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| py_str(k))
                    .collect();
                format!(
                    "(lambda e: (e.update({{{}}}), [e.pop(k, None) for k in [{}]]))(__import__('os').environ)",
                    set.join(", "),
                    unset.join(", ")
                )
            }
        }
    }

    /// Code that changes the working directory.
    pub fn chdir_code(self, dir: &str) -> String {
        match self {
            Language::Python => format!("__import__('os').chdir({})", py_str(dir)),
        }
    }
}

/// A Python string literal for `s`. JSON string syntax is a subset of Python's (`\uXXXX`,
/// `\n`, `\"`, `\\`…), and serde never emits lone surrogates.
fn py_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise() {
        assert_eq!(normalize(None), "python");
        assert_eq!(normalize(Some(" JS ")), "javascript");
        assert_eq!(normalize(Some("ts")), "typescript");
        assert_eq!(Language::parse(Some("Python")).unwrap(), Language::Python);
        let err = Language::parse(Some("r")).unwrap_err();
        assert!(err.to_string().contains("'r'"));
    }

    #[test]
    fn env_values_are_escaped() {
        let code = Language::Python
            .set_env_code(&[("K".into(), "it's \"quoted\" \\ and\nnew line".into())]);
        assert_eq!(
            code,
            r#"__import__('os').environ.update({"K": "it's \"quoted\" \\ and\nnew line"})"#
        );
        let code = Language::Python
            .restore_env_code(&[("A".into(), Some("g".into())), ("B".into(), None)]);
        assert!(code.contains(r#"e.update({"A": "g"})"#), "{code}");
        assert!(code.contains(r#"for k in ["B"]"#), "{code}");
    }
}
