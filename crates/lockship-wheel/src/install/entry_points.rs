//! Entry points: parsing `entry_points.txt` and the launcher scripts pip
//! writes for them.

use std::collections::BTreeMap;

/// Parses `[console_scripts]` and `[gui_scripts]` of `entry_points.txt`
/// into (script name, module, attribute path), sorted by name.
pub(super) fn parse_entry_points(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut section = String::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        if section != "console_scripts" && section != "gui_scripts" {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("entry point line `{line}` has no `=`"))?;
        let name = name.trim();
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains(['/', '\\', '\0'])
            || name.contains(char::is_whitespace)
        {
            return Err(format!("entry point name `{name}` is not a safe file name"));
        }
        let value = value.split('[').next().unwrap_or_default().trim();
        let (module, attr) = value
            .split_once(':')
            .ok_or_else(|| format!("entry point `{name} = {value}` has no `module:function`"))?;
        let (module, attr) = (module.trim(), attr.trim());
        if !is_dotted_identifier(module) || !is_dotted_identifier(attr) {
            return Err(format!(
                "entry point `{name} = {value}` is not `module:function`"
            ));
        }
        out.insert(name.to_string(), (module.to_string(), attr.to_string()));
    }
    Ok(out
        .into_iter()
        .map(|(name, (module, attr))| (name, module, attr))
        .collect())
}

fn is_dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// The launcher pip writes for an entry point.
pub(super) fn launcher(python: &str, module: &str, attr: &str) -> String {
    let head = attr.split('.').next().unwrap_or(attr);
    format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attr}())\n"
    )
}
