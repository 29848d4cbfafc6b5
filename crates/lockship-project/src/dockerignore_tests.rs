use std::path::Path;

use super::*;

fn rules(text: &str) -> Dockerignore {
    parse(Path::new(".dockerignore"), text).unwrap()
}

/// `(the .dockerignore, a path, whether it is left out)`, one semantic per
/// group; the expectations are what `docker build` does.
const CASES: &[(&str, &str, bool)] = &[
    // A plain name matches at the top only, and a directory takes its contents.
    ("tests", "tests", true),
    ("tests", "tests/test_app.py", true),
    ("tests", "src/tests/test_app.py", false),
    ("tests", "testsuite", false),
    // `*` stays within one component.
    ("*.log", "debug.log", true),
    ("*.log", "logs/debug.log", false),
    ("*/*.log", "logs/debug.log", true),
    ("*/*.log", "a/b/debug.log", false),
    (".env*", ".env", true),
    (".env*", ".env.production", true),
    (".env*", "config/.env", false),
    ("config/*.json", "config/prod.secret.json", true),
    ("config/*.json", "config/sub/x.json", false),
    ("config/*.json", "config.json", false),
    ("a*b", "a/b", false),
    ("*", "anything", true),
    ("*", "dir/file", true),
    // `?` is one character, never `/`.
    ("file?.txt", "file1.txt", true),
    ("file?.txt", "file10.txt", false),
    ("a?b", "a/b", false),
    // `**` spans directories, including none.
    ("**/*.pyc", "x.pyc", true),
    ("**/*.pyc", "src/app/__pycache__/x.pyc", true),
    ("**/__pycache__", "a/b/__pycache__/x.pyc", true),
    ("**/.env", ".env", true),
    ("**/.env", "deploy/.env", true),
    ("**/.env", "deploy/my.env", false),
    ("a/**/b", "a/b", true),
    ("a/**/b", "a/x/y/b", true),
    ("a/**/b", "a/xb", false),
    ("a/**", "a/x", true),
    ("a/**", "a/x/y", true),
    ("a/**", "ab", false),
    ("**", "anything/at/all", true),
    ("**foo", "barfoo", true),
    ("**/doc/**", "src/doc/x.md", true),
    // Character classes: ranges, `^` negation; `!` is a member, as in Go.
    ("[a-c].txt", "b.txt", true),
    ("[a-c].txt", "d.txt", false),
    ("[^a-c].txt", "d.txt", true),
    ("[^a-c].txt", "a.txt", false),
    ("[!a].txt", "!.txt", true),
    ("[!a].txt", "b.txt", false),
    ("v[0-9][0-9]", "v42", true),
    ("v[0-9][0-9]", "v4x", false),
    ("[\\]]x", "]x", true),
    ("[a\\-z]", "-", true),
    ("[a\\-z]", "m", false),
    // Escapes make a wildcard literal.
    ("\\*.txt", "*.txt", true),
    ("\\*.txt", "a.txt", false),
    ("a\\?", "a?", true),
    ("a\\?", "ab", false),
    // Regex characters are literal.
    ("a.b", "a.b", true),
    ("a.b", "axb", false),
    ("(x)+", "(x)+", true),
    ("a$", "a$", true),
    // Leading `/` and `./` go, paths are cleaned, a trailing `/` is dropped.
    ("/secret", "secret", true),
    ("/secret", "sub/secret", false),
    ("./build/", "build/x.o", true),
    ("a//b/../c", "a/c", true),
    ("  spaced  ", "spaced", true),
    ("", "x", false),
    // Comments start at column 0; `\#` and ` #` are patterns.
    ("# note", "# note", false),
    (" #x", "#x", true),
    ("\\#x", "#x", true),
    // The last rule that matches wins.
    ("*.md\n!README.md", "README.md", false),
    ("*.md\n!README.md", "CHANGES.md", true),
    ("!README.md\n*.md", "README.md", true),
    ("*.md\n!README.md\nREADME.md", "README.md", true),
    // Exceptions put files back inside left-out directories.
    ("docs\n!docs/keep.md", "docs/keep.md", false),
    ("docs\n!docs/keep.md", "docs/drop.md", true),
    ("docs\n!docs/sub", "docs/sub/a/b.md", false),
    ("**\n!src/**\nsrc/**/*.pyc", "src/app/main.py", false),
    ("**\n!src/**\nsrc/**/*.pyc", "src/app/x.pyc", true),
    ("**\n!src/**\nsrc/**/*.pyc", "setup.cfg", true),
    // A pattern naming a parent directory leaves out all below it.
    ("a/b", "a/b/c/d/e.txt", true),
    ("a/*/c", "a/x/c/d.txt", true),
    ("a/*/c", "a/x/y/c", false),
    // The path itself is cleaned too; the context root is never left out.
    ("x", "./x", true),
    ("x", "y/../x", true),
    ("*", ".", false),
    ("/", "anything", false),
];

#[test]
fn pattern_table() {
    let mut failures = Vec::new();
    for (text, path, want) in CASES {
        let got = rules(text).is_excluded(path);
        if got != *want {
            failures.push(format!("{text:?} on {path:?}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_patterns_name_the_line() {
    for (text, reason) in [
        ("ok\n!", "exception"),
        ("!/", "exception"),
        ("[abc", "never closed"),
        ("[]", "out of place"),
        ("[-a]", "out of place"),
        ("[a-]", "out of place"),
        ("[z-a]", "reversed"),
        ("trailing\\", "escapes nothing"),
    ] {
        let err = parse(Path::new("proj/.dockerignore"), text).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(reason), "{text:?}: {message}");
        assert!(message.contains("proj/.dockerignore"), "{message}");
        assert!(err.hint().is_some());
    }
    let err = parse(Path::new(".dockerignore"), "a\n\n[x").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Invalid pattern `[x` at line 3 of `.dockerignore`"),
        "{err}"
    );
}

#[test]
fn rules_are_read_as_docker_reads_them() {
    let r = rules("\u{feff}# comment\n\n  /a/./b/  \n! keep\r\n");
    let seen: Vec<(&str, bool, usize)> = r
        .rules()
        .iter()
        .map(|r| (r.pattern.as_str(), r.exception, r.line))
        .collect();
    assert_eq!(seen, [("a/b", false, 3), ("keep", true, 4)]);
}

#[test]
fn clean_is_go_path_clean() {
    for (input, want) in [
        ("", "."),
        (".", "."),
        ("./a/", "a"),
        ("a//b", "a/b"),
        ("a/../..", ".."),
        ("../../x", "../../x"),
        ("/../x", "/x"),
        ("/", "/"),
        ("a/b/../../c", "c"),
    ] {
        assert_eq!(clean(input), want, "{input:?}");
    }
}

#[test]
fn exceptions_that_name_a_path() {
    let r = rules("*.pem\n!certs/ca.pem\n!*\n!deploy/*.key\n!.ssh");
    assert!(r.names("certs/ca.pem"));
    assert!(r.names("deploy/signing.key"));
    assert!(r.names(".ssh"));
    // `!*` puts back everything, but names nothing.
    assert!(!r.names("server.pem"));
    assert!(!r.names(".ssh/id_ed25519"));
}

#[test]
fn reinclusion_below_a_directory() {
    let r = rules("node_modules\ndocs\n!docs/keep.md\n");
    assert!(r.may_reinclude_below("docs"));
    assert!(!r.may_reinclude_below("node_modules"));
    assert!(!r.may_reinclude_below("src"));
    let r = rules("*\n!**/*.py\n");
    assert!(r.may_reinclude_below("anything/deep"));
    let r = rules("*\n!src/*/keep\n");
    assert!(r.may_reinclude_below("src/app"));
    assert!(!r.may_reinclude_below("lib/app"));
    assert!(!rules("a\n").may_reinclude_below("a"));
}

#[test]
fn secret_patterns_cover_the_usual_files() {
    let secrets =
        Dockerignore::from_patterns(Path::new("<secrets>"), SECRET_PATTERNS.iter().copied())
            .unwrap();
    for path in [
        ".env",
        ".env.production",
        "deploy/.env.local",
        ".ssh/id_ed25519",
        ".aws/credentials",
        ".npmrc",
        ".pypirc",
        ".netrc",
        "certs/server.pem",
        "tls.key",
        "id_rsa",
        "keys/id_rsa.pub",
        ".git/config",
    ] {
        assert!(secrets.is_excluded(path), "{path}");
    }
    for path in ["src/app/env.py", "README.md", "keys.py", "src/app/.gitkeep"] {
        assert!(!secrets.is_excluded(path), "{path}");
    }
}

#[test]
fn long_and_hostile_inputs_stay_linear() {
    let path = "a/".repeat(2000) + "b";
    let r = rules(&"**/".repeat(200));
    assert!(r.is_excluded(&path));
    let r = rules(&format!("{}b", "*a".repeat(500)));
    assert!(!r.is_excluded(&"a".repeat(3000)));
}
