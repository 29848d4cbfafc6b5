//! Installing a wheel into a staged virtualenv without pip: unpack, check
//! every file against `RECORD`, map `.data` per the install scheme, rewrite
//! script shebangs, write entry-point launchers and a new `RECORD`.
//!
//! A wheel is outside input, so everything that can be checked without
//! writing is checked first (names, the metadata agreeing with itself,
//! `RECORD` against the archive, sizes, destinations), and every write then
//! goes through [`Staging`], which never follows a symlink.
//!
//! Symlinks: the wheel format has none, and pip (through Python's
//! `zipfile`) installs a zip entry with a symlink mode as a regular file
//! whose content is the link text. lockship does the same, so a wheel can
//! never plant a link (and nothing written later, such as bytecode, can go
//! through one); the file gets the same `RECORD` hash pip would check.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::meta::{check_core_metadata, duplicate_name, find_dist_info};
use crate::record::{csv_field, hash_b64, parse_record, HashingWriter, RecordLine};
use crate::staging::{Refused, Staging};
use crate::strip::{should_strip, strip_installed};
use crate::{StripSummary, VenvLayout, WheelError, WheelFilename};

/// The most bytes one wheel may unpack to, summed over the sizes its zip
/// headers declare (8 GiB; the largest wheels published today unpack to
/// about half of that). A wheel that declares more is refused before
/// anything is written, and no entry is ever decompressed past the size
/// its zip header declares.
pub const MAX_UNPACKED_BYTES: u64 = 8 << 30;

/// The most bytes of one metadata file (`WHEEL`, `METADATA`, `RECORD`,
/// `entry_points.txt`) read into memory.
const MAX_METADATA_BYTES: u64 = 64 << 20;

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
    /// The shared objects stripped of debug sections, and the bytes saved.
    pub stripped: StripSummary,
}

/// How [`install_wheel_with`] installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// Strip debug sections ([`crate::strip_debug`]) from the shared
    /// objects the wheel builds itself ([`crate::should_strip`]: never the
    /// libraries auditwheel grafted into `*.libs/`), with `RECORD` updated.
    /// On by default.
    pub strip: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions { strip: true }
    }
}

/// One installed file, for the new `RECORD`.
struct Installed {
    in_image: String,
    hash: String,
    size: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    /// A regular file; `link` when the zip entry had a symlink mode (it is
    /// installed as a file holding the link text, as pip does).
    File {
        executable: bool,
        link: bool,
    },
}

struct Entry {
    index: usize,
    raw_name: String,
    kind: Kind,
    /// The uncompressed size its zip header declares.
    size: u64,
}

/// Installs the wheel at `wheel_path` into `venv` (staged under its root).
///
/// Refused before anything is written: an entry name that is absolute or
/// contains `..`; a name the archive lists twice; an entry under a path
/// the wheel installs as a file; a `.dist-info` directory or `METADATA`
/// whose name or version differs from the file name's; a file missing from
/// `RECORD` (except `RECORD`, `RECORD.jws`, `RECORD.p7s`) or a `RECORD`
/// line for a file the archive lacks; a `RECORD` size that differs from
/// the zip header's; more than [`MAX_UNPACKED_BYTES`] declared; two entries
/// (or an entry point) landing on one path; and any path the virtualenv
/// itself owns ([`VenvLayout::owns`]) or another distribution's
/// `.dist-info`. While unpacking: a hash or size that differs from
/// `RECORD`, an entry that decompresses past its declared size, and a
/// symlink or non-directory anywhere on the way to a destination.
///
/// After an error the staging tree is incomplete and should be discarded,
/// but nothing outside it has been touched. The same wheel always gives a
/// byte-identical tree.
///
/// With the default [`InstallOptions`]: shared objects are stripped.
pub fn install_wheel(wheel_path: &Path, venv: &VenvLayout) -> Result<InstalledDist, WheelError> {
    install_wheel_with(wheel_path, venv, &InstallOptions::default())
}

/// [`install_wheel`] with `options`. A shared object is stripped only after
/// it matched its `RECORD` line, and the new `RECORD` gives its new hash
/// and size.
pub fn install_wheel_with(
    wheel_path: &Path,
    venv: &VenvLayout,
    options: &InstallOptions,
) -> Result<InstalledDist, WheelError> {
    let wheel = wheel_path.to_path_buf();
    let metadata_error = |reason: String| WheelError::InvalidMetadata {
        wheel: wheel.clone(),
        reason,
    };
    let inconsistent = |entry: &str, reason: String| WheelError::Inconsistent {
        wheel: wheel.clone(),
        entry: entry.to_string(),
        reason,
    };
    let unsafe_path = |entry: &str, reason: String| WheelError::UnsafePath {
        wheel: wheel.clone(),
        entry: entry.to_string(),
        reason,
    };
    let io = |source| WheelError::Io {
        path: wheel.clone(),
        source,
    };
    let zip_error = |source| WheelError::CorruptZip {
        wheel: wheel.clone(),
        source,
    };
    let refused = |entry: &str, refusal: Refused| match refusal {
        Refused::Io(source) => WheelError::Io {
            path: wheel.clone(),
            source,
        },
        other => unsafe_path(entry, other.reason()),
    };
    let file_name = wheel_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let filename = WheelFilename::parse(file_name)?;
    let file = fs_err::File::open(wheel_path).map_err(io)?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;

    // Names and kinds, all checked before anything is written. The zip
    // reader keeps only the last of repeated names, so ask it first.
    if archive.has_duplicate_names() {
        let name = duplicate_name(wheel_path, archive.central_directory_start())
            .map_err(io)?
            .unwrap_or_default();
        return Err(inconsistent(
            &name,
            "the zip directory lists this name more than once".to_string(),
        ));
    }
    // Local headers that name other files than the central directory (what
    // Python's `zipfile`, and so pip, refuses too), overlapping entries.
    archive.validate_header_consistency().map_err(zip_error)?;
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(zip_error)?;
        let raw_name = entry.name().map_err(zip_error)?.to_string();
        let kind = if entry.is_symlink() {
            Kind::File {
                executable: false,
                link: true,
            }
        } else if entry.is_dir() {
            Kind::Dir
        } else {
            Kind::File {
                executable: entry.unix_mode().is_some_and(|m| m & 0o111 != 0),
                link: false,
            }
        };
        let size = if kind == Kind::Dir { 0 } else { entry.size() };
        declared = declared.saturating_add(size);
        let name =
            clean_entry_name(&raw_name).map_err(|reason| unsafe_path(&raw_name, reason.into()))?;
        if name.is_empty() {
            continue;
        }
        if let Some(previous) = entries.get(&name) {
            if kind != Kind::Dir || previous.kind != Kind::Dir {
                return Err(inconsistent(
                    &raw_name,
                    format!(
                        "it names the same path as the entry `{}`",
                        previous.raw_name
                    ),
                ));
            }
        }
        entries.insert(
            name,
            Entry {
                index,
                raw_name,
                kind,
                size,
            },
        );
    }
    if declared > MAX_UNPACKED_BYTES {
        let largest = entries
            .values()
            .max_by_key(|e| e.size)
            .map(|e| e.raw_name.clone())
            .unwrap_or_default();
        return Err(WheelError::TooLarge {
            wheel: wheel.clone(),
            entry: largest,
            reason: format!(
                "the wheel's zip headers declare {declared} bytes in all, more than the {MAX_UNPACKED_BYTES} bytes lockship unpacks from one wheel"
            ),
        });
    }

    // No entry may live under a path the wheel installs as a file (such as
    // a symlink entry, which becomes a file).
    for (name, entry) in &entries {
        let mut ancestor = name.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if let Some(Kind::File { link, .. }) = entries.get(parent).map(|e| e.kind) {
                let what = if link {
                    "a symlink entry, which lockship installs as a plain file (as pip does)"
                } else {
                    "a file in this wheel"
                };
                return Err(unsafe_path(
                    &entry.raw_name,
                    format!("it lies under `{parent}`, {what}"),
                ));
            }
            ancestor = parent;
        }
    }

    // The metadata must agree with the file name.
    let dist_info =
        find_dist_info(entries.keys(), &filename).map_err(|(entry, reason)| match entry {
            Some(entry) => inconsistent(&entry, reason),
            None => metadata_error(reason),
        })?;
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let mut read_meta = |name: &str| -> Result<Option<String>, WheelError> {
        let Some(entry) = entries.get(name) else {
            return Ok(None);
        };
        let mut file = archive.by_index(entry.index).map_err(zip_error)?;
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_METADATA_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| zip_error(zip::result::ZipError::Io(e)))?;
        if bytes.len() as u64 > MAX_METADATA_BYTES {
            return Err(WheelError::TooLarge {
                wheel: wheel.clone(),
                entry: entry.raw_name.clone(),
                reason: format!("metadata files may hold at most {MAX_METADATA_BYTES} bytes"),
            });
        }
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| inconsistent(&entry.raw_name, "it is not UTF-8 text".to_string()))
    };
    let wheel_name = format!("{dist_info}/WHEEL");
    let wheel_meta = read_meta(&wheel_name)?
        .ok_or_else(|| metadata_error(format!("`{wheel_name}` is missing")))?;
    check_wheel_metadata(&wheel_meta).map_err(metadata_error)?;
    let metadata_name = format!("{dist_info}/METADATA");
    let core_metadata = read_meta(&metadata_name)?
        .ok_or_else(|| metadata_error(format!("`{metadata_name}` is missing")))?;
    check_core_metadata(&core_metadata, &filename)
        .map_err(|reason| inconsistent(&metadata_name, reason))?;
    let record_name = format!("{dist_info}/RECORD");
    let record_text = read_meta(&record_name)?
        .ok_or_else(|| metadata_error(format!("`{record_name}` is missing")))?;
    let record = parse_record(&record_text).map_err(metadata_error)?;
    let entry_points_name = format!("{dist_info}/entry_points.txt");
    let entry_points = match read_meta(&entry_points_name)? {
        Some(text) => parse_entry_points(&text).map_err(metadata_error)?,
        None => Vec::new(),
    };

    // RECORD against the archive: every file listed with a hash and with
    // the size its zip header declares; every line present in the archive.
    let unrecorded = [
        record_name.clone(),
        format!("{record_name}.jws"),
        format!("{record_name}.p7s"),
    ];
    for (name, entry) in &entries {
        if entry.kind == Kind::Dir || unrecorded.contains(name) {
            continue;
        }
        let Some(line) = record.get(name) else {
            return Err(WheelError::RecordIncomplete {
                wheel: wheel.clone(),
                entry: entry.raw_name.clone(),
                reason: "is in the archive but not in `RECORD`".to_string(),
            });
        };
        if line.hash.is_none() {
            return Err(WheelError::RecordMismatch {
                wheel: wheel.clone(),
                entry: entry.raw_name.clone(),
                reason: "`RECORD` gives no hash".to_string(),
            });
        }
        if let Some(size) = line.size.filter(|s| *s != entry.size) {
            return Err(WheelError::RecordMismatch {
                wheel: wheel.clone(),
                entry: entry.raw_name.clone(),
                reason: format!(
                    "its zip header declares {} bytes, `RECORD` says {size}",
                    entry.size
                ),
            });
        }
    }
    let listed: BTreeSet<&String> = record.keys().collect();
    if let Some(missing) = listed
        .into_iter()
        .find(|k| !k.ends_with('/') && **k != record_name && !entries.contains_key(*k))
    {
        return Err(WheelError::RecordIncomplete {
            wheel: wheel.clone(),
            entry: missing.clone(),
            reason: "is listed in `RECORD` but not in the archive".to_string(),
        });
    }

    // Destinations: one entry per path, none the virtualenv's own, none in
    // another distribution's metadata.
    let site_packages = venv.site_packages();
    let mut plan: Vec<(&String, &Entry, String)> = Vec::new();
    let mut destinations: BTreeMap<String, &str> = BTreeMap::new();
    for (name, entry) in &entries {
        if unrecorded.contains(name) {
            // The original RECORD (and signatures over it) are replaced by
            // the rewritten RECORD below.
            continue;
        }
        let Some(dest) =
            map_entry(name, &data_dir, &filename.name, venv).map_err(metadata_error)?
        else {
            continue;
        };
        if venv.owns(&dest) {
            return Err(WheelError::ReplacesVenvFile {
                wheel: wheel.clone(),
                entry: entry.raw_name.clone(),
                path: dest,
            });
        }
        if let Some(top) = dest
            .strip_prefix(&format!("{site_packages}/"))
            .and_then(|rest| rest.split('/').next())
        {
            if top != dist_info && (top.ends_with(".dist-info") || top.ends_with(".egg-info")) {
                return Err(inconsistent(
                    &entry.raw_name,
                    format!("it writes into `{top}`, another distribution's metadata"),
                ));
            }
        }
        if entry.kind != Kind::Dir {
            if let Some(other) = destinations.insert(dest.clone(), &entry.raw_name) {
                return Err(inconsistent(
                    &entry.raw_name,
                    format!("it installs to `{dest}`, as the entry `{other}` does"),
                ));
            }
        }
        plan.push((name, entry, dest));
    }
    for (script, _, _) in &entry_points {
        let path = format!("{}/{script}", venv.bin_dir());
        if venv.owns(&path) {
            return Err(WheelError::ReplacesVenvFile {
                wheel: wheel.clone(),
                entry: format!("{entry_points_name} ({script})"),
                path,
            });
        }
    }

    // Unpack, verifying each file as it streams; every directory and file
    // is created through `Staging`, which never follows a link.
    fs_err::create_dir_all(&venv.root).map_err(io)?;
    let mut staging = Staging::new(&venv.root);
    let mut installed: Vec<Installed> = Vec::new();
    let mut stripped = StripSummary::default();
    for (name, entry, dest) in plan {
        let raw = entry.raw_name.as_str();
        let Kind::File { executable, .. } = entry.kind else {
            staging.dir(&dest).map_err(|r| refused(raw, r))?;
            continue;
        };
        let line = &record[name];
        let mismatch = |reason: String| WheelError::RecordMismatch {
            wheel: wheel.clone(),
            entry: raw.to_string(),
            reason,
        };
        let mut zip_entry = archive.by_index(entry.index).map_err(zip_error)?;
        let mut source = io::BufReader::with_capacity(
            64 * 1024,
            Bounded {
                inner: &mut zip_entry,
                left: entry.size,
            },
        );
        let script = name.starts_with(&format!("{data_dir}/scripts/"));
        let out = staging.create(&dest).map_err(|r| refused(raw, r))?;
        out.set_permissions(std::fs::Permissions::from_mode(mode(executable || script)))
            .map_err(io)?;
        let python = venv.venv_python();
        let shebang = script.then_some(python.as_str());
        match stream_entry(&mut source, out, line, shebang) {
            Ok((mut hash, mut size)) => {
                if options.strip && !script && should_strip(name) {
                    if let Some(done) = strip_installed(&staging.local(&dest))? {
                        stripped.add(done.before, done.size);
                        (hash, size) = (done.sha256_b64, done.size);
                    }
                }
                installed.push(Installed {
                    in_image: dest,
                    hash,
                    size,
                })
            }
            Err(e) => {
                let _ = fs_err::remove_file(staging.local(&dest));
                return Err(match e {
                    Streamed::Read(e)
                        if e.kind() == io::ErrorKind::FileTooLarge
                            || e.to_string().contains("declared uncompressed size") =>
                    {
                        WheelError::TooLarge {
                            wheel: wheel.clone(),
                            entry: raw.to_string(),
                            reason: format!(
                                "it decompresses to more than the {} bytes its zip header declares",
                                entry.size
                            ),
                        }
                    }
                    Streamed::Read(e) => zip_error(zip::result::ZipError::Io(e)),
                    Streamed::Write(e) => io(e),
                    Streamed::Mismatch(reason) => mismatch(reason),
                });
            }
        }
    }

    // Entry points, INSTALLER, and the new RECORD.
    let dist_info_dir = format!("{site_packages}/{dist_info}");
    for (script, module, attr) in &entry_points {
        let in_image = format!("{}/{script}", venv.bin_dir());
        let content = launcher(&venv.venv_python(), module, attr);
        let mut out = staging
            .create(&in_image)
            .map_err(|r| refused(&entry_points_name, r))?;
        write_all(&mut out, content.as_bytes(), true).map_err(io)?;
        installed.retain(|i| i.in_image != in_image);
        installed.push(Installed {
            in_image,
            hash: hash_b64(content.as_bytes()),
            size: content.len() as u64,
        });
    }
    let installer = b"lockship\n";
    let installer_path = format!("{dist_info_dir}/INSTALLER");
    let mut out = staging
        .create(&installer_path)
        .map_err(|r| refused(&installer_path, r))?;
    write_all(&mut out, installer, false).map_err(io)?;
    installed.retain(|i| i.in_image != installer_path);
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
    let record_path = format!("{site_packages}/{record_name}");
    let mut out = staging
        .create(&record_path)
        .map_err(|r| refused(&record_name, r))?;
    write_all(&mut out, record_out.as_bytes(), false).map_err(io)?;
    Ok(InstalledDist {
        name: filename.name.clone(),
        version: filename.version.clone(),
        files: lines.into_iter().map(|(path, _)| path).collect(),
        stripped,
    })
}

/// Reads at most `left` bytes from `inner`, then fails if there is more:
/// a zip entry is never decompressed past the size its header declares,
/// whatever the zip reader does.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One more byte would pass the bound: look for it.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "the entry is larger than its declared size",
                )),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Copies `source` into `sink` in chunks.
fn pump(
    source: &mut dyn Read,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), Streamed> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match source.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n]).map_err(Streamed::Write)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Streamed::Read(e)),
        }
    }
}

/// How streaming one entry failed.
enum Streamed {
    Read(io::Error),
    Write(io::Error),
    Mismatch(String),
}

/// Streams one entry from `source` into `out`, checking it against its
/// `RECORD` line; with `shebang`, rewrites a `#!python` first line of the
/// output to that interpreter. Returns the SHA-256 (base64) and size of
/// what was written.
fn stream_entry(
    source: &mut impl BufRead,
    out: std::fs::File,
    line: &RecordLine,
    shebang: Option<&str>,
) -> Result<(String, u64), Streamed> {
    let Some(python) = shebang else {
        let mut writer = HashingWriter::new(io::BufWriter::new(out), line);
        pump(source, &mut |b| writer.write_all(b))?;
        let (digests, size) = writer.finish().map_err(Streamed::Write)?;
        digests.check(line, size).map_err(Streamed::Mismatch)?;
        return Ok((digests.sha256_b64, size));
    };
    let mut head = Vec::new();
    source
        .take(4096)
        .read_until(b'\n', &mut head)
        .map_err(Streamed::Read)?;
    let mut check = HashingWriter::new(io::sink(), line);
    let plain = RecordLine {
        hash: None,
        size: None,
    };
    let mut writer = HashingWriter::new(io::BufWriter::new(out), &plain);
    check.write_all(&head).map_err(Streamed::Write)?;
    writer
        .write_all(&rewrite_shebang(head, python))
        .map_err(Streamed::Write)?;
    pump(source, &mut |b| {
        check.write_all(b)?;
        writer.write_all(b)
    })?;
    let (digests, size) = check.finish().map_err(Streamed::Write)?;
    digests.check(line, size).map_err(Streamed::Mismatch)?;
    let (written, written_size) = writer.finish().map_err(Streamed::Write)?;
    Ok((written.sha256_b64, written_size))
}

fn mode(executable: bool) -> u32 {
    if executable {
        0o755
    } else {
        0o644
    }
}

fn write_all(file: &mut std::fs::File, content: &[u8], executable: bool) -> io::Result<()> {
    file.set_permissions(std::fs::Permissions::from_mode(mode(executable)))?;
    file.write_all(content)?;
    file.flush()
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
    Ok(parts.join("/"))
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

/// Where an entry goes inside the image; `None` for the bare `.data`
/// directories.
fn map_entry(
    name: &str,
    data_dir: &str,
    dist: &str,
    venv: &VenvLayout,
) -> Result<Option<String>, String> {
    let Some(rest) = name.strip_prefix(&format!("{data_dir}/")) else {
        if name == data_dir {
            return Ok(None);
        }
        return Ok(Some(format!("{}/{name}", venv.site_packages())));
    };
    let (category, rel) = rest.split_once('/').unwrap_or((rest, ""));
    let dir = venv
        .scheme_dir(category, dist)
        .ok_or_else(|| format!("unknown `.data` category `{category}`"))?;
    if rel.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("{dir}/{rel}")))
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
