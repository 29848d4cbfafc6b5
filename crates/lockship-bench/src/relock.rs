//! Re-locking a requirements file by hand: the newest final release of a
//! package with a pure-Python wheel, pinned with every file's hash.

/// One file an index lists: `(filename, sha256, yanked)`.
pub type ListedFile<'a> = (&'a str, Option<&'a str>, bool);

fn version_of(package: &str, filename: &str) -> Option<(Vec<u64>, String)> {
    let stem = filename.get(..package.len())?;
    if !stem.eq_ignore_ascii_case(&package.replace('-', "_")) && !stem.eq_ignore_ascii_case(package)
    {
        return None;
    }
    let rest = filename.get(package.len() + 1..)?;
    let v = rest
        .split('-')
        .next()?
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".zip");
    let parts: Option<Vec<u64>> = v.split('.').map(|p| p.parse().ok()).collect();
    Some((parts?, v.to_string()))
}

/// The newest final (all-numeric) version with an unyanked `py3` pure-Python
/// wheel, and the hashes of every file of that version.
pub fn newest_pure_release(
    package: &str,
    files: &[ListedFile<'_>],
) -> Option<(String, Vec<String>)> {
    let best = files
        .iter()
        .filter(|(f, _, yanked)| !yanked && f.ends_with("-none-any.whl") && f.contains("py3"))
        .filter_map(|(f, _, _)| version_of(package, f))
        .max()?;
    let hashes: Vec<String> = files
        .iter()
        .filter(|(f, _, _)| version_of(package, f).is_some_and(|v| v.1 == best.1))
        .filter_map(|(_, h, _)| h.map(str::to_string))
        .collect();
    (!hashes.is_empty()).then_some((best.1, hashes))
}

/// `name==version \` and one `--hash=sha256:…` line per hash, as pip-compile writes them.
pub fn pinned_requirement(package: &str, version: &str, hashes: &[String]) -> String {
    let mut out = format!("{package}=={version}");
    for h in hashes {
        out.push_str(&format!(" \\\n    --hash=sha256:{h}"));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_final_pure_release_with_all_its_hashes() {
        let files: Vec<ListedFile> = vec![
            ("six-1.16.0-py2.py3-none-any.whl", Some("a"), false),
            ("six-1.17.0-py2.py3-none-any.whl", Some("b"), false),
            ("six-1.17.0.tar.gz", Some("c"), false),
            ("six-1.18.0-py2.py3-none-any.whl", Some("d"), true),
            ("six-2.0.0rc1-py3-none-any.whl", Some("e"), false),
            ("sixer-9.0.0-py3-none-any.whl", Some("f"), false),
        ];
        let (version, hashes) = newest_pure_release("six", &files).unwrap();
        assert_eq!(version, "1.17.0");
        assert_eq!(hashes, ["b", "c"]);
        assert_eq!(
            pinned_requirement("six", &version, &hashes),
            "six==1.17.0 \\\n    --hash=sha256:b \\\n    --hash=sha256:c\n"
        );
    }

    #[test]
    fn no_pure_wheel_or_no_hash_is_none() {
        let files: Vec<ListedFile> = vec![("x-1.0-cp311-cp311-linux_x86_64.whl", Some("a"), false)];
        assert!(newest_pure_release("x", &files).is_none());
        let files: Vec<ListedFile> = vec![("x-1.0-py3-none-any.whl", None, false)];
        assert!(newest_pure_release("x", &files).is_none());
    }
}
