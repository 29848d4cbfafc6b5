//! Writing Dockerfile text: stages, RUN chains, exec form and quoting.

/// A Dockerfile being written.
#[derive(Default)]
pub(crate) struct Doc {
    out: String,
}

impl Doc {
    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// A raw instruction line.
    pub(crate) fn ins(&mut self, line: impl AsRef<str>) {
        self.out.push_str(line.as_ref());
        self.out.push('\n');
    }

    /// `# ` comment lines, one per line of `text`.
    pub(crate) fn comment(&mut self, text: &str) {
        for line in text.lines() {
            if line.is_empty() {
                self.out.push_str("#\n");
            } else {
                self.out.push_str("# ");
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
    }

    /// Starts a stage. Its first instruction is a LABEL naming the stage, so
    /// no two stages start alike: the legacy builder can otherwise reuse
    /// another stage's cache and break this one's cache chain.
    pub(crate) fn stage(&mut self, from: &str, name: &str, why: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.comment(why);
        self.ins(format!("FROM {from} AS {name}"));
        self.ins(format!("LABEL lockship.stage=\"{name}\""));
    }

    /// `RUN` with mounts and `&&`-chained commands; nothing when `cmds` is empty.
    pub(crate) fn run(&mut self, mounts: &[String], cmds: &[String]) {
        if cmds.is_empty() {
            return;
        }
        let mut line = String::from("RUN ");
        for m in mounts {
            line.push_str(m);
            line.push_str(" \\\n    ");
        }
        line.push_str(&cmds.join(" \\\n    && "));
        self.ins(line);
    }

    /// `ENV` with one `KEY=value` per line; nothing when empty.
    pub(crate) fn env(&mut self, vars: &[(String, String)]) {
        if vars.is_empty() {
            return;
        }
        let parts: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.ins(format!("ENV {}", parts.join(" \\\n    ")));
    }
}

/// A JSON array: the exec form of ENTRYPOINT and CMD.
pub(crate) fn exec_form(args: &[String]) -> String {
    serde_json::to_string(args).unwrap_or_else(|_| "[]".to_string())
}

/// A double-quoted Dockerfile value, with no variable expansion.
pub(crate) fn quote(value: &str) -> String {
    let mut s = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// A word for a POSIX shell: bare when safe, single-quoted otherwise.
pub(crate) fn sh(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `KEY=value` pairs written with owned strings.
pub(crate) fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b$c"), r#""a\"b\$c""#);
        assert_eq!(sh("uv==0.9.5"), "uv==0.9.5");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(
            exec_form(&["uvicorn".into(), "a:b".into()]),
            r#"["uvicorn","a:b"]"#
        );
    }
}
