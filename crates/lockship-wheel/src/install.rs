//! Installing a wheel into a staged virtualenv without pip: unpack, check
//! every file against `RECORD`, map `.data` per the install scheme, rewrite
//! script shebangs, write entry-point launchers and a new `RECORD`.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::record::{csv_field, hash_b64, parse_record, verify, HashingWriter};
use crate::venv::replace_symlink;
use crate::{normalize_name, VenvLayout, WheelError, WheelFilename};

/// What [`install_wheel`] installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDist {
    /// The distribution name, as in the wheel file name.
    pub name: String,
    /// The version, as in the wheel file name.
    pub version: String,
    /// Every installed path as written in the new `RECORD` (relative to
    /// site-packages), sorted.
    pub files: Vec<String>,
}

/// One installed file, for the new `RECORD`.
struct Installed {
    in_image: String,
    hash: String,
    size: u64,
}

enum Kind {
    Dir,
    File { executable: bool },
    Symlink,
}

struct Entry {
    index: usize,
    raw_name: String,
    kind: Kind,
}

/// Installs the wheel at `wheel_path` into `venv` (staged under its root).
///
/// The archive is refused, before anything is written, when an entry name is
/// absolute or contains `..`, or when names repeat; while unpacking, when a
/// symlink points outside its install directory, a file is missing from
/// `RECORD` (except `RECORD` itself, `RECORD.jws` and `RECORD.p7s`), a file's
/// hash or size differs from its `RECORD` line, or `RECORD` lists a file the
/// archive lacks. After an error the staging tree is incomplete and should be
/// discarded. The same wheel always gives a byte-identical tree.
pub fn install_wheel(wheel_path: &Path, venv: &VenvLayout) -> Result<InstalledDist, WheelError> {
    let wheel = wheel_path.to_path_buf();
    let metadata_error = |reason: String| WheelError::InvalidMetadata {
        wheel: wheel.clone(),
        reason,
    };
    let file_name = wheel_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let filename = WheelFilename::parse(file_name)?;
    let io = |source| WheelError::Io {
        path: wheel.clone(),
        source,
    };
    let zip_error = |source| WheelError::CorruptZip {
        wheel: wheel.clone(),
        source,
    };
    let file = fs_err::File::open(wheel_path).map_err(io)?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;

    // Pass 1: names and kinds, all checked before anything is written.
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(zip_error)?;
        let raw_name = entry.name().map_err(zip_error)?.to_string();
        let kind = if entry.is_symlink() {
            Kind::Symlink
        } else if entry.is_dir() {
            Kind::Dir
        } else {
            Kind::File {
                executable: entry.unix_mode().is_some_and(|m| m & 0o111 != 0),
            }
        };
        let name = clean_entry_name(&raw_name).map_err(|reason| WheelError::UnsafePath {
            wheel: wheel.clone(),
            entry: raw_name.clone(),
            reason: reason.to_string(),
        })?;
        if name.is_empty() {
            continue;
        }
        if let Some(previous) = entries.insert(
            name.clone(),
            Entry {
                index,
                raw_name,
                kind,
            },
        ) {
            if !matches!(previous.kind, Kind::Dir) {
                return Err(metadata_error(format!("the entry `{name}` appears twice")));
            }
        }
    }

    // No entry may live under another entry that is a symlink: the lexical
    // checks below could not see where it really lands.
    for (name, entry) in &entries {
        let mut ancestor = name.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if entries
                .get(parent)
                .is_some_and(|e| matches!(e.kind, Kind::Symlink))
            {
                return Err(WheelError::UnsafePath {
                    wheel: wheel.clone(),
                    entry: entry.raw_name.clone(),
                    reason: format!("it goes through the symlink `{parent}`"),
                });
            }
            ancestor = parent;
        }
    }
    let dist_info = find_dist_info(&entries, &filename).map_err(metadata_error)?;
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let wheel_meta =
        read_small(&mut archive, &entries, &format!("{dist_info}/WHEEL")).map_err(|e| match e {
            ReadSmall::Missing => metadata_error(format!("`{dist_info}/WHEEL` is missing")),
            ReadSmall::Zip(source) => zip_error(source),
        })?;
    check_wheel_metadata(&wheel_meta).map_err(metadata_error)?;
    let record_name = format!("{dist_info}/RECORD");
    let record_text = read_small(&mut archive, &entries, &record_name).map_err(|e| match e {
        ReadSmall::Missing => metadata_error(format!("`{record_name}` is missing")),
        ReadSmall::Zip(source) => zip_error(source),
    })?;
    let mut record = parse_record(&record_text).map_err(metadata_error)?;

    // Pass 2: unpack, verifying each file as it streams. Every directory
    // written to must resolve inside the staging root, whatever symlinks
    // earlier wheels left there.
    fs_err::create_dir_all(&venv.root).map_err(io)?;
    let root = fs_err::canonicalize(&venv.root).map_err(io)?;
    let mut checked_dirs = std::collections::HashSet::new();
    let site_packages = venv.site_packages();
    let mut installed: Vec<Installed> = Vec::new();
    for (name, entry) in &entries {
        let mapped = map_entry(name, &data_dir, &filename.name, venv).map_err(metadata_error)?;
        let Some((dest, map_root)) = mapped else {
            continue;
        };
        let skip_record = name == &record_name
            || name == &format!("{record_name}.jws")
            || name == &format!("{record_name}.p7s");
        let staged = venv.staged(&dest);
        if matches!(entry.kind, Kind::Dir) {
            record.remove(name);
            fs_err::create_dir_all(&staged).map_err(io)?;
            ensure_inside(&staged, &root, &mut checked_dirs).map_err(|reason| {
                WheelError::UnsafePath {
                    wheel: wheel.clone(),
                    entry: entry.raw_name.clone(),
                    reason,
                }
            })?;
            continue;
        }
        if skip_record {
            record.remove(name);
            // The original RECORD (and signatures over it) are replaced by
            // the rewritten RECORD below.
            continue;
        }
        let Some(line) = record.remove(name) else {
            return Err(WheelError::RecordIncomplete {
                wheel: wheel.clone(),
                entry: entry.raw_name.clone(),
                reason: "is in the archive but not in `RECORD`".to_string(),
            });
        };
        if let Some(parent) = staged.parent() {
            fs_err::create_dir_all(parent).map_err(io)?;
            ensure_inside(parent, &root, &mut checked_dirs).map_err(|reason| {
                WheelError::UnsafePath {
                    wheel: wheel.clone(),
                    entry: entry.raw_name.clone(),
                    reason,
                }
            })?;
        }
        if fs_err::symlink_metadata(&staged).is_ok() {
            fs_err::remove_file(&staged).map_err(io)?;
        }
        let mut zip_entry = archive.by_index(entry.index).map_err(zip_error)?;
        let is_script = dest.starts_with(&format!("{}/", venv.bin_dir()))
            && name.starts_with(&format!("{data_dir}/scripts/"));
        let mismatch = |reason: String| WheelError::RecordMismatch {
            wheel: wheel.clone(),
            entry: entry.raw_name.clone(),
            reason,
        };
        match entry.kind {
            Kind::Symlink => {
                let mut target = Vec::new();
                zip_entry.read_to_end(&mut target).map_err(io)?;
                verify(&line, &target).map_err(mismatch)?;
                let target = String::from_utf8_lossy(&target).into_owned();
                if !symlink_stays_inside(name, &target, &map_root) {
                    return Err(WheelError::UnsafeSymlink {
                        wheel: wheel.clone(),
                        entry: entry.raw_name.clone(),
                        target,
                    });
                }
                replace_symlink(&target, &staged).map_err(io)?;
                installed.push(Installed {
                    in_image: dest,
                    hash: hash_b64(target.as_bytes()),
                    size: target.len() as u64,
                });
            }
            Kind::File { .. } if is_script => {
                let mut content = Vec::new();
                zip_entry.read_to_end(&mut content).map_err(io)?;
                verify(&line, &content).map_err(mismatch)?;
                let content = rewrite_shebang(content, &venv.venv_python());
                write_file(&staged, &content, true).map_err(io)?;
                installed.push(Installed {
                    in_image: dest,
                    hash: hash_b64(&content),
                    size: content.len() as u64,
                });
            }
            Kind::File { executable } => {
                let out = fs_err::File::create(&staged).map_err(io)?;
                let mut writer = HashingWriter::new(io::BufWriter::new(out), &line);
                // Never write more than RECORD announced (plus one byte, to
                // notice the lie): a zip bomb stops here.
                let limit = line.size.map_or(u64::MAX, |s| s.saturating_add(1));
                io::copy(&mut (&mut zip_entry).take(limit), &mut writer).map_err(io)?;
                let (digests, size) = writer.finish().map_err(io)?;
                if let Err(reason) = digests.check(&line, size) {
                    let _ = fs_err::remove_file(&staged);
                    return Err(mismatch(reason));
                }
                set_mode(&staged, executable).map_err(io)?;
                installed.push(Installed {
                    in_image: dest,
                    hash: digests.sha256_b64,
                    size,
                });
            }
            Kind::Dir => {}
        }
    }
    if let Some(missing) = record
        .keys()
        .find(|k| !k.ends_with('/') && *k != &record_name)
    {
        return Err(WheelError::RecordIncomplete {
            wheel: wheel.clone(),
            entry: missing.clone(),
            reason: "is listed in `RECORD` but not in the archive".to_string(),
        });
    }

    // Entry points, INSTALLER, and the new RECORD.
    let dist_info_dir = format!("{site_packages}/{dist_info}");
    let entry_points_path = venv.staged(&format!("{dist_info_dir}/entry_points.txt"));
    if entry_points_path.exists() {
        let text = fs_err::read_to_string(&entry_points_path).map_err(io)?;
        for (script, module, attr) in parse_entry_points(&text).map_err(metadata_error)? {
            let in_image = format!("{}/{script}", venv.bin_dir());
            let content = launcher(&venv.venv_python(), &module, &attr);
            let staged = venv.staged(&in_image);
            fs_err::create_dir_all(venv.staged(&venv.bin_dir())).map_err(io)?;
            if fs_err::symlink_metadata(&staged).is_ok() {
                fs_err::remove_file(&staged).map_err(io)?;
            }
            write_file(&staged, content.as_bytes(), true).map_err(io)?;
            installed.retain(|i| i.in_image != in_image);
            installed.push(Installed {
                in_image,
                hash: hash_b64(content.as_bytes()),
                size: content.len() as u64,
            });
        }
    }
    let installer = b"lockship\n";
    let installer_path = format!("{dist_info_dir}/INSTALLER");
    fs_err::create_dir_all(venv.staged(&dist_info_dir)).map_err(io)?;
    write_file(&venv.staged(&installer_path), installer, false).map_err(io)?;
    installed.push(Installed {
        in_image: installer_path,
        hash: hash_b64(installer),
        size: installer.len() as u64,
    });

    let mut lines: Vec<(String, String)> = installed
        .iter()
        .map(|i| {
            let path = relative_to(&site_packages, &i.in_image);
            let line = format!("{},sha256={},{}", csv_field(&path), i.hash, i.size);
            (path, line)
        })
        .collect();
    lines.push((
        record_name.clone(),
        format!("{},,", csv_field(&record_name)),
    ));
    lines.sort();
    let mut record_out = String::new();
    for (_, line) in &lines {
        record_out.push_str(line);
        record_out.push('\n');
    }
    write_file(
        &venv.staged(&format!("{site_packages}/{record_name}")),
        record_out.as_bytes(),
        false,
    )
    .map_err(io)?;
    Ok(InstalledDist {
        name: filename.name.clone(),
        version: filename.version.clone(),
        files: lines.into_iter().map(|(path, _)| path).collect(),
    })
}

/// Checks that `dir` (which exists) resolves inside `root` (canonical).
fn ensure_inside(
    dir: &Path,
    root: &Path,
    checked: &mut std::collections::HashSet<std::path::PathBuf>,
) -> Result<(), String> {
    if checked.contains(dir) {
        return Ok(());
    }
    let real = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    if !real.starts_with(root) {
        return Err(format!(
            "its directory resolves outside the staging tree, to `{}`",
            real.display()
        ));
    }
    checked.insert(dir.to_path_buf());
    Ok(())
}

/// Checks an archive entry name; returns it without `./` and empty parts.
pub(crate) fn clean_entry_name(raw: &str) -> Result<String, &'static str> {
    if raw.contains('\0') {
        return Err("it contains a NUL byte");
    }
    if raw.contains('\\') {
        return Err("it contains a backslash");
    }
    if raw.starts_with('/') || raw.as_bytes().get(1) == Some(&b':') {
        return Err("it is an absolute path");
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("it climbs out with `..`"),
            other => parts.push(other),
        }
    }
    let mut name = parts.join("/");
    if raw.ends_with('/') && !name.is_empty() {
        name.push('/');
    }
    Ok(name.trim_end_matches('/').to_string())
}

/// The single `.dist-info` directory, which must belong to the wheel's
/// distribution.
fn find_dist_info(
    entries: &BTreeMap<String, Entry>,
    filename: &WheelFilename,
) -> Result<String, String> {
    let mut found: Vec<&str> = entries
        .keys()
        .filter_map(|k| k.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    found.dedup();
    match found.as_slice() {
        [one] => {
            let stem = one.trim_end_matches(".dist-info");
            let name = stem.rsplit_once('-').map(|(n, _)| n).unwrap_or(stem);
            if normalize_name(name) != normalize_name(&filename.name) {
                return Err(format!("`{one}` does not belong to `{}`", filename.name));
            }
            Ok(one.to_string())
        }
        [] => Err("there is no `.dist-info` directory".to_string()),
        many => Err(format!(
            "several `.dist-info` directories: {}",
            many.join(", ")
        )),
    }
}

enum ReadSmall {
    Missing,
    Zip(zip::result::ZipError),
}

fn read_small<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    entries: &BTreeMap<String, Entry>,
    name: &str,
) -> Result<String, ReadSmall> {
    let entry = entries.get(name).ok_or(ReadSmall::Missing)?;
    let mut file = archive.by_index(entry.index).map_err(ReadSmall::Zip)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| ReadSmall::Zip(zip::result::ZipError::Io(e)))?;
    Ok(text)
}

fn check_wheel_metadata(text: &str) -> Result<(), String> {
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Wheel-Version:"))
        .map(str::trim)
        .ok_or("`WHEEL` has no `Wheel-Version`")?;
    if version.split('.').next() != Some("1") {
        return Err(format!("unsupported `Wheel-Version` `{version}`"));
    }
    Ok(())
}

/// Where an entry goes inside the image, and the archive prefix its
/// symlinks must stay under; `None` for the bare `.data` directories.
fn map_entry(
    name: &str,
    data_dir: &str,
    dist: &str,
    venv: &VenvLayout,
) -> Result<Option<(String, String)>, String> {
    let Some(rest) = name.strip_prefix(&format!("{data_dir}/")) else {
        if name == data_dir {
            return Ok(None);
        }
        return Ok(Some((
            format!("{}/{name}", venv.site_packages()),
            String::new(),
        )));
    };
    let (category, rel) = rest.split_once('/').unwrap_or((rest, ""));
    let dir = venv
        .scheme_dir(category, dist)
        .ok_or_else(|| format!("unknown `.data` category `{category}`"))?;
    if rel.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        format!("{dir}/{rel}"),
        format!("{data_dir}/{category}"),
    )))
}

/// Whether `target`, relative to the link `name`, resolves under `root`
/// (an archive prefix; empty for the archive root).
fn symlink_stays_inside(name: &str, target: &str, root: &str) -> bool {
    if target.starts_with('/') || target.contains('\\') || target.contains('\0') {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            other => parts.push(other),
        }
    }
    let resolved = parts.join("/");
    root.is_empty() || resolved == root || resolved.starts_with(&format!("{root}/"))
}

/// Replaces a `#!python` (or `#!pythonw`) first line with `#!{python}`.
fn rewrite_shebang(content: Vec<u8>, python: &str) -> Vec<u8> {
    if !content.starts_with(b"#!python") {
        return content;
    }
    let line_end = content
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(content.len());
    let first = &content[..line_end];
    let rest_of_line = first.strip_prefix(b"#!python").unwrap_or_default();
    let rest_of_line = rest_of_line.strip_prefix(b"w").unwrap_or(rest_of_line);
    if !(rest_of_line.is_empty() || rest_of_line == b"\r" || rest_of_line.starts_with(b" ")) {
        return content;
    }
    let mut out = format!("#!{python}").into_bytes();
    out.extend_from_slice(rest_of_line);
    out.extend_from_slice(&content[line_end..]);
    out
}

fn write_file(path: &Path, content: &[u8], executable: bool) -> io::Result<()> {
    fs_err::write(path, content)?;
    set_mode(path, executable)
}

fn set_mode(path: &Path, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Parses `[console_scripts]` and `[gui_scripts]` of `entry_points.txt`
/// into (script name, module, attribute path), sorted by name.
fn parse_entry_points(text: &str) -> Result<Vec<(String, String, String)>, String> {
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
fn launcher(python: &str, module: &str, attr: &str) -> String {
    let head = attr.split('.').next().unwrap_or(attr);
    format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attr}())\n"
    )
}

/// `to` relative to the directory `from` (both absolute, inside the image).
fn relative_to(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_checked() {
        assert_eq!(clean_entry_name("./a//b/").unwrap(), "a/b");
        assert!(clean_entry_name("a/../../b").is_err());
        assert!(clean_entry_name("/etc/passwd").is_err());
        assert!(clean_entry_name("C:/x").is_err());
        assert!(clean_entry_name("a\\..\\b").is_err());
    }

    #[test]
    fn symlinks_must_stay_under_their_root() {
        assert!(symlink_stays_inside("pkg/a", "b", ""));
        assert!(symlink_stays_inside("pkg/sub/a", "../b", ""));
        assert!(!symlink_stays_inside("pkg/a", "../../etc/passwd", ""));
        assert!(!symlink_stays_inside("pkg/a", "/etc/passwd", ""));
        assert!(!symlink_stays_inside(
            "d.data/scripts/x",
            "../purelib/y",
            "d.data/scripts"
        ));
    }

    #[test]
    fn shebangs_and_paths() {
        assert_eq!(
            rewrite_shebang(b"#!python\nprint(1)\n".to_vec(), "/opt/venv/bin/python"),
            b"#!/opt/venv/bin/python\nprint(1)\n"
        );
        assert_eq!(
            rewrite_shebang(b"#!pythonw -u\r\nx".to_vec(), "/v/bin/python"),
            b"#!/v/bin/python -u\r\nx"
        );
        assert_eq!(
            rewrite_shebang(b"#!python3\n".to_vec(), "/v"),
            b"#!python3\n"
        );
        assert_eq!(
            relative_to("/opt/venv/lib/python3.11/site-packages", "/opt/venv/bin/x"),
            "../../../bin/x"
        );
    }

    #[test]
    fn entry_points_are_validated() {
        let parsed = parse_entry_points(
            "[console_scripts]\nz = pkg.cli:main.run [extra]\na=pkg:main\n[other]\nx = y\n[gui_scripts]\ng = pkg.gui:start\n",
        )
        .unwrap();
        assert_eq!(parsed[0], ("a".into(), "pkg".into(), "main".into()));
        assert_eq!(parsed[2].2, "main.run");
        assert!(parse_entry_points("[console_scripts]\n../x = a:b\n").is_err());
        assert!(parse_entry_points("[console_scripts]\nx = a; rm -rf:b\n").is_err());
        assert!(parse_entry_points("[console_scripts]\nx = a\n").is_err());
    }
}
