//! Checks that a wheel agrees with itself: its file name, its `.dist-info`
//! directory, its `METADATA`, and the names in its zip central directory.

use std::collections::HashSet;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::str::FromStr;

use crate::{normalize_name, WheelFilename};

/// Whether two versions are the same release (PEP 440 equality, so `1.0`
/// is `1.0.0`); versions that do not parse compare after lower-casing and
/// reading `_` as `-`, the escaping wheel file names use.
pub(crate) fn same_version(a: &str, b: &str) -> bool {
    let parse = |v: &str| {
        uv_pep440::Version::from_str(v.trim())
            .or_else(|_| uv_pep440::Version::from_str(&v.trim().replace('_', "-")))
    };
    match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => {
            let plain = |v: &str| v.trim().to_ascii_lowercase().replace('_', "-");
            plain(a) == plain(b)
        }
    }
}

/// The single `.dist-info` directory among the top-level archive names,
/// which must carry the wheel's name and version. On error: the entry to
/// name and what is wrong, and whether it is a contradiction (rather than
/// something missing).
pub(crate) fn find_dist_info<'a>(
    names: impl Iterator<Item = &'a String>,
    filename: &WheelFilename,
) -> Result<String, (Option<String>, String)> {
    let mut found: Vec<&str> = names
        .filter_map(|k| k.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    found.dedup();
    match found.as_slice() {
        [one] => {
            let stem = one.trim_end_matches(".dist-info");
            let Some((name, version)) = stem.rsplit_once('-') else {
                return Err((
                    Some(one.to_string()),
                    "the `.dist-info` directory is not named `{name}-{version}.dist-info`"
                        .to_string(),
                ));
            };
            if normalize_name(name) != normalize_name(&filename.name) {
                return Err((
                    Some(one.to_string()),
                    format!(
                        "the `.dist-info` directory belongs to `{name}`, the file name to `{}`",
                        filename.name
                    ),
                ));
            }
            if !same_version(version, &filename.version) {
                return Err((
                    Some(one.to_string()),
                    format!(
                        "the `.dist-info` directory has version `{version}`, the file name `{}`",
                        filename.version
                    ),
                ));
            }
            Ok(one.to_string())
        }
        [] => Err((None, "there is no `.dist-info` directory".to_string())),
        many => Err((
            None,
            format!("several `.dist-info` directories: {}", many.join(", ")),
        )),
    }
}

/// Checks that `METADATA` (core metadata, RFC 822 headers) names the
/// wheel's project and version.
pub(crate) fn check_core_metadata(text: &str, filename: &WheelFilename) -> Result<(), String> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "name" if name.is_none() => name = Some(value),
            "version" if version.is_none() => version = Some(value),
            _ => {}
        }
    }
    let name = name.ok_or("it has no `Name` field")?;
    let version = version.ok_or("it has no `Version` field")?;
    if normalize_name(name) != normalize_name(&filename.name) {
        return Err(format!(
            "it names the project `{name}`, the file name `{}`",
            filename.name
        ));
    }
    if !same_version(version, &filename.version) {
        return Err(format!(
            "it gives version `{version}`, the file name `{}`",
            filename.version
        ));
    }
    Ok(())
}

/// The first name the zip central directory at `start` lists twice (the
/// zip reader keeps only the last of them, so they are read here from the
/// raw directory).
pub(crate) fn duplicate_name(wheel: &Path, start: u64) -> io::Result<Option<String>> {
    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    let mut file = BufReader::new(fs_err::File::open(wheel)?);
    file.seek(SeekFrom::Start(start))?;
    let mut seen = HashSet::new();
    let mut header = [0u8; 46];
    loop {
        if file.read_exact(&mut header).is_err() || header[..4] != SIGNATURE {
            return Ok(None);
        }
        let field = |at: usize| u64::from(u16::from_le_bytes([header[at], header[at + 1]]));
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let mut name = Vec::new();
        (&mut file).take(name_len).read_to_end(&mut name)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if !seen.insert(name.clone()) {
            return Ok(Some(name));
        }
        io::copy(
            &mut (&mut file).take(extra_len + comment_len),
            &mut io::sink(),
        )?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel(name: &str) -> WheelFilename {
        WheelFilename::parse(name).unwrap()
    }

    #[test]
    fn versions_compare_as_pep_440() {
        assert!(same_version("1.0", "1.0.0"));
        assert!(same_version("1.0_post1", "1.0.post1"));
        assert!(same_version("2.1.0+cpu", "2.1.0+CPU"));
        assert!(!same_version("1.0", "1.1"));
        assert!(same_version("2004d", "2004D"));
    }

    #[test]
    fn dist_info_and_metadata_must_match_the_file_name() {
        let f = wheel("Foo.Bar-1.0-py3-none-any.whl");
        let names = ["foo_bar-1.0.0.dist-info/WHEEL".to_string()];
        assert_eq!(
            find_dist_info(names.iter(), &f).unwrap(),
            "foo_bar-1.0.0.dist-info"
        );
        let names = ["foo_bar-2.0.dist-info/WHEEL".to_string()];
        let (entry, reason) = find_dist_info(names.iter(), &f).unwrap_err();
        assert_eq!(entry.as_deref(), Some("foo_bar-2.0.dist-info"));
        assert!(reason.contains("version `2.0`"), "{reason}");

        assert!(check_core_metadata("Name: foo-bar\nVersion: 1.0\n\nName: x\n", &f).is_ok());
        let err = check_core_metadata("Name: requests\nVersion: 1.0\n", &f).unwrap_err();
        assert!(err.contains("`requests`"), "{err}");
        assert!(check_core_metadata("Name: foo-bar\nVersion: 9\n", &f).is_err());
        assert!(check_core_metadata("Version: 1.0\n", &f).is_err());
    }
}
