//! Code-context languages (docs/protocol.md#languages,
//! docs/protocol.md#context-environment-variables): name normalisation and the small snippets the
//! server runs in a kernel (environment variables). Values are escaped as string literals of the
//! target language, unlike the reference server which pastes them verbatim
//! (docs/declared-differences.md, row 2).
//!
//! A [`Language`] is the normalised name a context was asked for (`python`, `javascript`,
//! `typescript`, `bash`, `r`, `java`, or any installed kernelspec's language) plus the
//! [`Dialect`] its snippets are written in.

use std::fmt;

/// The syntax our snippets must use in a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Python,
    /// JavaScript and TypeScript (Deno's kernel runs both).
    Js,
    Bash,
    R,
    Java,
    /// A kernel we have no snippets for: per-call env vars are refused.
    Other,
}

/// A normalised language name and its dialect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language {
    name: String,
    pub dialect: Dialect,
}

/// A language name no installed kernel serves.
#[derive(Debug, Clone)]
pub struct UnsupportedLanguage {
    pub name: String,
    /// Languages this sandbox can run, for the message.
    pub installed: Vec<String>,
}

impl fmt::Display for UnsupportedLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "language '{}' is not available in this sandbox (installed: {}); more kernels come \
             with `pip install 'e2b[local]'` (javascript/typescript via deno, bash via \
             bash_kernel) or any Jupyter kernelspec installed in the sandbox Python's environment",
            self.name,
            if self.installed.is_empty() {
                "none".to_string()
            } else {
                self.installed.join(", ")
            }
        )
    }
}

/// Normalises a requested language name: empty → `python`, lower-cased and trimmed, `js` →
/// `javascript`, `ts` → `typescript`.
pub fn normalize(name: Option<&str>) -> String {
    let n = name.unwrap_or("").trim().to_lowercase();
    match n.as_str() {
        "" | "python3" => "python".into(),
        "js" => "javascript".into(),
        "ts" => "typescript".into(),
        _ => n,
    }
}

impl Language {
    /// The language called `name` (already normalised) — its dialect comes from the name.
    pub fn named(name: &str) -> Language {
        let dialect = match name {
            "python" => Dialect::Python,
            "javascript" | "typescript" => Dialect::Js,
            "bash" => Dialect::Bash,
            "r" => Dialect::R,
            "java" => Dialect::Java,
            _ => Dialect::Other,
        };
        Language {
            name: name.to_string(),
            dialect,
        }
    }

    pub fn python() -> Language {
        Language::named("python")
    }

    pub fn javascript() -> Language {
        Language::named("javascript")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Code that sets `vars` in the kernel's environment (`None` for a kernel we have no
    /// snippets for).
    pub fn set_env_code(&self, vars: &[(String, String)]) -> Option<String> {
        let each = |f: &dyn Fn(&str, &str) -> String, sep: &str| {
            vars.iter()
                .map(|(k, v)| f(k, v))
                .collect::<Vec<_>>()
                .join(sep)
        };
        Some(match self.dialect {
            Dialect::Python => {
                let items = each(&|k, v| format!("{}: {}", py_str(k), py_str(v)), ", ");
                format!("__import__('os').environ.update({{{items}}})")
            }
            Dialect::Js => each(
                &|k, v| format!("process.env[{}] = {};", js_str(k), js_str(v)),
                "\n",
            ),
            Dialect::Bash => each(
                &|k, v| format!("export {}={}", bash_name(k), bash_str(v)),
                "\n",
            ),
            Dialect::R => {
                let items = each(&|k, v| format!("{} = {}", r_str(k), r_str(v)), ", ");
                format!("invisible(Sys.setenv({items}))")
            }
            Dialect::Java => each(
                &|k, v| format!("System.setProperty({}, {});", java_str(k), java_str(v)),
                "\n",
            ),
            Dialect::Other => return None,
        })
    }

    /// Code that puts each key back to `Some(global value)` or removes it (`None`).
    pub fn restore_env_code(&self, vars: &[(String, Option<String>)]) -> Option<String> {
        let set: Vec<(String, String)> = vars
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        let unset: Vec<&str> = vars
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        let mut parts: Vec<String> = Vec::new();
        if !set.is_empty() {
            parts.push(self.set_env_code(&set)?);
        }
        if !unset.is_empty() {
            let list = |f: &dyn Fn(&str) -> String, sep: &str| {
                unset.iter().map(|k| f(k)).collect::<Vec<_>>().join(sep)
            };
            parts.push(match self.dialect {
                Dialect::Python => format!(
                    "[__import__('os').environ.pop(k, None) for k in [{}]]",
                    list(&|k| py_str(k), ", ")
                ),
                Dialect::Js => list(&|k| format!("delete process.env[{}];", js_str(k)), "\n"),
                Dialect::Bash => format!("unset {}", list(&|k| bash_name(k), " ")),
                Dialect::R => format!("invisible(Sys.unsetenv(c({})))", list(&|k| r_str(k), ", ")),
                Dialect::Java => list(&|k| format!("System.clearProperty({});", java_str(k)), "\n"),
                Dialect::Other => return None,
            });
        }
        Some(parts.join("\n"))
    }
}

/// A Python string literal for `s`. JSON string syntax is a subset of Python's (`\uXXXX`,
/// `\n`, `\"`, `\\`…), and serde never emits lone surrogates.
fn py_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialise")
}

/// A JavaScript/TypeScript string literal: JSON strings are valid JS (ES2019 allows U+2028/9).
fn js_str(s: &str) -> String {
    py_str(s)
}

/// A bash ANSI-C quoted word (`$'…'`): one line whatever the value, so the kernel's prompt
/// detection never sees a continuation line.
fn bash_str(s: &str) -> String {
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A variable name for bash: names that are not valid identifiers cannot be exported by a
/// plain `export`, so they are quoted (bash then reports the invalid name as an error).
fn bash_name(k: &str) -> String {
    let valid = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        k.to_string()
    } else {
        bash_str(k)
    }
}

/// An R string literal.
fn r_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Java string literal. Control characters use octal escapes: a `\uXXXX` escape would be
/// translated before lexing, so `\u000a` would end the literal.
fn java_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &str = "it's \"quoted\" \\ and\nnew line\ttab\x01";

    #[test]
    fn names_normalise() {
        assert_eq!(normalize(None), "python");
        assert_eq!(normalize(Some(" JS ")), "javascript");
        assert_eq!(normalize(Some("ts")), "typescript");
        assert_eq!(normalize(Some("Python3")), "python");
        assert_eq!(normalize(Some("\tR\n")), "r");
        assert_eq!(Language::named("typescript").dialect, Dialect::Js);
        assert_eq!(Language::named("julia").dialect, Dialect::Other);
        let err = UnsupportedLanguage {
            name: "cobol".into(),
            installed: vec!["python".into(), "bash".into()],
        };
        assert!(err.to_string().contains("'cobol'"));
        assert!(err.to_string().contains("installed: python, bash"));
    }

    #[test]
    fn python_values_are_escaped() {
        let code = Language::python()
            .set_env_code(&[("K".into(), NASTY.into())])
            .unwrap();
        assert_eq!(
            code,
            r#"__import__('os').environ.update({"K": "it's \"quoted\" \\ and\nnew line\ttab\u0001"})"#
        );
        let code = Language::python()
            .restore_env_code(&[("A".into(), Some("g".into())), ("B".into(), None)])
            .unwrap();
        assert!(
            code.contains(r#"__import__('os').environ.update({"A": "g"})"#),
            "{code}"
        );
        assert!(code.contains(r#"for k in ["B"]"#), "{code}");
    }

    #[test]
    fn other_dialects_are_escaped() {
        let vars = [("K".to_string(), NASTY.to_string())];
        let js = Language::javascript().set_env_code(&vars).unwrap();
        assert_eq!(
            js,
            r#"process.env["K"] = "it's \"quoted\" \\ and\nnew line\ttab\u0001";"#
        );
        let bash = Language::named("bash").set_env_code(&vars).unwrap();
        assert_eq!(
            bash,
            r#"export K=$'it\'s "quoted" \\ and\nnew line\ttab\x01'"#
        );
        assert!(!bash.contains('\n'));
        let r = Language::named("r").set_env_code(&vars).unwrap();
        assert_eq!(
            r,
            r#"invisible(Sys.setenv("K" = "it's \"quoted\" \\ and\nnew line\ttab\x01"))"#
        );
        let java = Language::named("java").set_env_code(&vars).unwrap();
        assert_eq!(
            java,
            r#"System.setProperty("K", "it's \"quoted\" \\ and\nnew line\ttab\001");"#
        );
        assert!(Language::named("julia").set_env_code(&vars).is_none());
    }

    #[test]
    fn restore_sets_and_unsets() {
        let vars = [("A".to_string(), Some("g".to_string())), ("B".into(), None)];
        let js = Language::javascript().restore_env_code(&vars).unwrap();
        assert_eq!(
            js,
            "process.env[\"A\"] = \"g\";\ndelete process.env[\"B\"];"
        );
        let bash = Language::named("bash").restore_env_code(&vars).unwrap();
        assert_eq!(bash, "export A=$'g'\nunset B");
        let r = Language::named("r").restore_env_code(&vars).unwrap();
        assert!(r.ends_with(r#"invisible(Sys.unsetenv(c("B")))"#), "{r}");
        let java = Language::named("java").restore_env_code(&vars).unwrap();
        assert!(java.ends_with(r#"System.clearProperty("B");"#), "{java}");
    }

    #[test]
    fn bash_names_that_are_not_identifiers_are_quoted() {
        assert_eq!(bash_name("PATH_2"), "PATH_2");
        assert_eq!(bash_name("a;rm -rf /"), "$'a;rm -rf /'");
        assert_eq!(bash_name("1A"), "$'1A'");
    }
}
