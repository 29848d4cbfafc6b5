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

mod entry_points;
mod record_out;
mod stream;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use self::entry_points::parse_entry_points;
use self::record_out::write_launchers_and_record;
use self::stream::{stream_entry, Bounded, Streamed};
use crate::meta::{check_core_metadata, duplicate_name, find_dist_info};
use crate::record::{parse_record, RecordLine};
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
    let ctx = Ctx {
        wheel: wheel_path,
        venv,
        options,
    };
    let file_name = wheel_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let filename = WheelFilename::parse(file_name)?;
    let file = fs_err::File::open(wheel_path).map_err(|e| ctx.io(e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| ctx.zip_error(e))?;

    let entries = read_entries(&ctx, &mut archive)?;
    check_nothing_under_a_file(&ctx, &entries)?;
    let meta = read_metadata(&ctx, &mut archive, &entries, &filename)?;
    check_record(&ctx, &entries, &meta)?;
    let plan = plan_destinations(&ctx, &entries, &meta, &filename)?;

    // Unpack, verifying each file as it streams; every directory and file
    // is created through `Staging`, which never follows a link.
    fs_err::create_dir_all(&venv.root).map_err(|e| ctx.io(e))?;
    let mut staging = Staging::new(&venv.root);
    let mut installed: Vec<Installed> = Vec::new();
    let mut stripped = StripSummary::default();
    for planned in plan {
        if let Some(file) = unpack_entry(
            &ctx,
            &mut archive,
            &mut staging,
            &meta,
            planned,
            &mut stripped,
        )? {
            installed.push(file);
        }
    }

    let files = write_launchers_and_record(&ctx, &mut staging, installed, &meta)?;
    Ok(InstalledDist {
        name: filename.name.clone(),
        version: filename.version.clone(),
        files,
        stripped,
    })
}

/// The wheel being installed, where, and how; builds the errors that name
/// the wheel.
struct Ctx<'a> {
    wheel: &'a Path,
    venv: &'a VenvLayout,
    options: &'a InstallOptions,
}

impl Ctx<'_> {
    fn metadata_error(&self, reason: String) -> WheelError {
        WheelError::InvalidMetadata {
            wheel: self.wheel.to_path_buf(),
            reason,
        }
    }

    fn inconsistent(&self, entry: &str, reason: String) -> WheelError {
        WheelError::Inconsistent {
            wheel: self.wheel.to_path_buf(),
            entry: entry.to_string(),
            reason,
        }
    }

    fn unsafe_path(&self, entry: &str, reason: String) -> WheelError {
        WheelError::UnsafePath {
            wheel: self.wheel.to_path_buf(),
            entry: entry.to_string(),
            reason,
        }
    }

    fn io(&self, source: io::Error) -> WheelError {
        WheelError::Io {
            path: self.wheel.to_path_buf(),
            source,
        }
    }

    fn zip_error(&self, source: zip::result::ZipError) -> WheelError {
        WheelError::CorruptZip {
            wheel: self.wheel.to_path_buf(),
            source,
        }
    }

    fn refused(&self, entry: &str, refusal: Refused) -> WheelError {
        match refusal {
            Refused::Io(source) => self.io(source),
            other => self.unsafe_path(entry, other.reason()),
        }
    }
}

type Archive = zip::ZipArchive<BufReader<fs_err::File>>;

/// Names and kinds of every entry, all checked before anything is written.
fn read_entries(ctx: &Ctx, archive: &mut Archive) -> Result<BTreeMap<String, Entry>, WheelError> {
    // The zip reader keeps only the last of repeated names, so ask it first.
    if archive.has_duplicate_names() {
        let name = duplicate_name(ctx.wheel, archive.central_directory_start())
            .map_err(|e| ctx.io(e))?
            .unwrap_or_default();
        return Err(ctx.inconsistent(
            &name,
            "the zip directory lists this name more than once".to_string(),
        ));
    }
    // Local headers that name other files than the central directory (what
    // Python's `zipfile`, and so pip, refuses too), overlapping entries.
    archive
        .validate_header_consistency()
        .map_err(|e| ctx.zip_error(e))?;
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|e| ctx.zip_error(e))?;
        let raw_name = entry.name().map_err(|e| ctx.zip_error(e))?.to_string();
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
        let name = clean_entry_name(&raw_name)
            .map_err(|reason| ctx.unsafe_path(&raw_name, reason.into()))?;
        if name.is_empty() {
            continue;
        }
        if let Some(previous) = entries.get(&name) {
            if kind != Kind::Dir || previous.kind != Kind::Dir {
                return Err(ctx.inconsistent(
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
            wheel: ctx.wheel.to_path_buf(),
            entry: largest,
            reason: format!(
                "the wheel's zip headers declare {declared} bytes in all, more than the {MAX_UNPACKED_BYTES} bytes lockship unpacks from one wheel"
            ),
        });
    }
    Ok(entries)
}

/// No entry may live under a path the wheel installs as a file (such as
/// a symlink entry, which becomes a file).
fn check_nothing_under_a_file(
    ctx: &Ctx,
    entries: &BTreeMap<String, Entry>,
) -> Result<(), WheelError> {
    for (name, entry) in entries {
        let mut ancestor = name.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if let Some(Kind::File { link, .. }) = entries.get(parent).map(|e| e.kind) {
                let what = if link {
                    "a symlink entry, which lockship installs as a plain file (as pip does)"
                } else {
                    "a file in this wheel"
                };
                return Err(
                    ctx.unsafe_path(&entry.raw_name, format!("it lies under `{parent}`, {what}"))
                );
            }
            ancestor = parent;
        }
    }
    Ok(())
}

/// What the wheel's `.dist-info` says, checked against the file name.
struct WheelMeta {
    dist_info: String,
    data_dir: String,
    record_name: String,
    /// `RECORD` and its signatures: replaced by the rewritten `RECORD`.
    unrecorded: [String; 3],
    record: HashMap<String, RecordLine>,
    entry_points_name: String,
    entry_points: Vec<(String, String, String)>,
}

/// Reads one metadata file of the archive (at most
/// [`MAX_METADATA_BYTES`]); `None` if the archive lacks it.
fn read_meta(
    ctx: &Ctx,
    archive: &mut Archive,
    entries: &BTreeMap<String, Entry>,
    name: &str,
) -> Result<Option<String>, WheelError> {
    let Some(entry) = entries.get(name) else {
        return Ok(None);
    };
    let mut file = archive
        .by_index(entry.index)
        .map_err(|e| ctx.zip_error(e))?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ctx.zip_error(zip::result::ZipError::Io(e)))?;
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err(WheelError::TooLarge {
            wheel: ctx.wheel.to_path_buf(),
            entry: entry.raw_name.clone(),
            reason: format!("metadata files may hold at most {MAX_METADATA_BYTES} bytes"),
        });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| ctx.inconsistent(&entry.raw_name, "it is not UTF-8 text".to_string()))
}

/// The metadata must agree with the file name.
fn read_metadata(
    ctx: &Ctx,
    archive: &mut Archive,
    entries: &BTreeMap<String, Entry>,
    filename: &WheelFilename,
) -> Result<WheelMeta, WheelError> {
    let dist_info =
        find_dist_info(entries.keys(), filename).map_err(|(entry, reason)| match entry {
            Some(entry) => ctx.inconsistent(&entry, reason),
            None => ctx.metadata_error(reason),
        })?;
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let wheel_name = format!("{dist_info}/WHEEL");
    let wheel_meta = read_meta(ctx, archive, entries, &wheel_name)?
        .ok_or_else(|| ctx.metadata_error(format!("`{wheel_name}` is missing")))?;
    check_wheel_metadata(&wheel_meta).map_err(|e| ctx.metadata_error(e))?;
    let metadata_name = format!("{dist_info}/METADATA");
    let core_metadata = read_meta(ctx, archive, entries, &metadata_name)?
        .ok_or_else(|| ctx.metadata_error(format!("`{metadata_name}` is missing")))?;
    check_core_metadata(&core_metadata, filename)
        .map_err(|reason| ctx.inconsistent(&metadata_name, reason))?;
    let record_name = format!("{dist_info}/RECORD");
    let record_text = read_meta(ctx, archive, entries, &record_name)?
        .ok_or_else(|| ctx.metadata_error(format!("`{record_name}` is missing")))?;
    let record = parse_record(&record_text).map_err(|e| ctx.metadata_error(e))?;
    let entry_points_name = format!("{dist_info}/entry_points.txt");
    let entry_points = match read_meta(ctx, archive, entries, &entry_points_name)? {
        Some(text) => parse_entry_points(&text).map_err(|e| ctx.metadata_error(e))?,
        None => Vec::new(),
    };
    let unrecorded = [
        record_name.clone(),
        format!("{record_name}.jws"),
        format!("{record_name}.p7s"),
    ];
    Ok(WheelMeta {
        dist_info,
        data_dir,
        record_name,
        unrecorded,
        record,
        entry_points_name,
        entry_points,
    })
}

/// RECORD against the archive: every file listed with a hash and with
/// the size its zip header declares; every line present in the archive.
fn check_record(
    ctx: &Ctx,
    entries: &BTreeMap<String, Entry>,
    meta: &WheelMeta,
) -> Result<(), WheelError> {
    let record = &meta.record;
    for (name, entry) in entries {
        if entry.kind == Kind::Dir || meta.unrecorded.contains(name) {
            continue;
        }
        let Some(line) = record.get(name) else {
            return Err(WheelError::RecordIncomplete {
                wheel: ctx.wheel.to_path_buf(),
                entry: entry.raw_name.clone(),
                reason: "is in the archive but not in `RECORD`".to_string(),
            });
        };
        if line.hash.is_none() {
            return Err(WheelError::RecordMismatch {
                wheel: ctx.wheel.to_path_buf(),
                entry: entry.raw_name.clone(),
                reason: "`RECORD` gives no hash".to_string(),
            });
        }
        if let Some(size) = line.size.filter(|s| *s != entry.size) {
            return Err(WheelError::RecordMismatch {
                wheel: ctx.wheel.to_path_buf(),
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
        .find(|k| !k.ends_with('/') && **k != meta.record_name && !entries.contains_key(*k))
    {
        return Err(WheelError::RecordIncomplete {
            wheel: ctx.wheel.to_path_buf(),
            entry: missing.clone(),
            reason: "is listed in `RECORD` but not in the archive".to_string(),
        });
    }
    Ok(())
}

/// One entry to unpack: its cleaned name, the entry, and where it goes.
type Planned<'e> = (&'e String, &'e Entry, String);

/// Destinations: one entry per path, none the virtualenv's own, none in
/// another distribution's metadata.
fn plan_destinations<'e>(
    ctx: &Ctx,
    entries: &'e BTreeMap<String, Entry>,
    meta: &WheelMeta,
    filename: &WheelFilename,
) -> Result<Vec<Planned<'e>>, WheelError> {
    let venv = ctx.venv;
    let site_packages = venv.site_packages();
    let mut plan: Vec<Planned<'e>> = Vec::new();
    let mut destinations: BTreeMap<String, &str> = BTreeMap::new();
    for (name, entry) in entries {
        if meta.unrecorded.contains(name) {
            // The original RECORD (and signatures over it) are replaced by
            // the rewritten RECORD below.
            continue;
        }
        let Some(dest) = map_entry(name, &meta.data_dir, &filename.name, venv)
            .map_err(|e| ctx.metadata_error(e))?
        else {
            continue;
        };
        if venv.owns(&dest) {
            return Err(WheelError::ReplacesVenvFile {
                wheel: ctx.wheel.to_path_buf(),
                entry: entry.raw_name.clone(),
                path: dest,
            });
        }
        if let Some(top) = dest
            .strip_prefix(&format!("{site_packages}/"))
            .and_then(|rest| rest.split('/').next())
        {
            if top != meta.dist_info && (top.ends_with(".dist-info") || top.ends_with(".egg-info"))
            {
                return Err(ctx.inconsistent(
                    &entry.raw_name,
                    format!("it writes into `{top}`, another distribution's metadata"),
                ));
            }
        }
        if entry.kind != Kind::Dir {
            if let Some(other) = destinations.insert(dest.clone(), &entry.raw_name) {
                return Err(ctx.inconsistent(
                    &entry.raw_name,
                    format!("it installs to `{dest}`, as the entry `{other}` does"),
                ));
            }
        }
        plan.push((name, entry, dest));
    }
    for (script, _, _) in &meta.entry_points {
        let path = format!("{}/{script}", venv.bin_dir());
        if venv.owns(&path) {
            return Err(WheelError::ReplacesVenvFile {
                wheel: ctx.wheel.to_path_buf(),
                entry: format!("{} ({script})", meta.entry_points_name),
                path,
            });
        }
    }
    Ok(plan)
}

/// Unpacks one planned entry: a directory is created; a file is streamed,
/// checked against its `RECORD` line and, when it is a shared object the
/// options say to strip, stripped. Returns the file for the new `RECORD`.
fn unpack_entry(
    ctx: &Ctx,
    archive: &mut Archive,
    staging: &mut Staging,
    meta: &WheelMeta,
    (name, entry, dest): Planned<'_>,
    stripped: &mut StripSummary,
) -> Result<Option<Installed>, WheelError> {
    let raw = entry.raw_name.as_str();
    let Kind::File { executable, .. } = entry.kind else {
        staging.dir(&dest).map_err(|r| ctx.refused(raw, r))?;
        return Ok(None);
    };
    let line = &meta.record[name];
    let mut zip_entry = archive
        .by_index(entry.index)
        .map_err(|e| ctx.zip_error(e))?;
    let mut source = io::BufReader::with_capacity(
        64 * 1024,
        Bounded {
            inner: &mut zip_entry,
            left: entry.size,
        },
    );
    let script = name.starts_with(&format!("{}/scripts/", meta.data_dir));
    let out = staging.create(&dest).map_err(|r| ctx.refused(raw, r))?;
    out.set_permissions(std::fs::Permissions::from_mode(mode(executable || script)))
        .map_err(|e| ctx.io(e))?;
    let python = ctx.venv.venv_python();
    let shebang = script.then_some(python.as_str());
    match stream_entry(&mut source, out, line, shebang) {
        Ok((mut hash, mut size)) => {
            if ctx.options.strip && !script && should_strip(name) {
                if let Some(done) = strip_installed(&staging.local(&dest))? {
                    stripped.add(done.before, done.size);
                    (hash, size) = (done.sha256_b64, done.size);
                }
            }
            Ok(Some(Installed {
                in_image: dest,
                hash,
                size,
            }))
        }
        Err(e) => {
            let _ = fs_err::remove_file(staging.local(&dest));
            Err(match e {
                Streamed::Read(e)
                    if e.kind() == io::ErrorKind::FileTooLarge
                        || e.to_string().contains("declared uncompressed size") =>
                {
                    WheelError::TooLarge {
                        wheel: ctx.wheel.to_path_buf(),
                        entry: raw.to_string(),
                        reason: format!(
                            "it decompresses to more than the {} bytes its zip header declares",
                            entry.size
                        ),
                    }
                }
                Streamed::Read(e) => ctx.zip_error(zip::result::ZipError::Io(e)),
                Streamed::Write(e) => ctx.io(e),
                Streamed::Mismatch(reason) => WheelError::RecordMismatch {
                    wheel: ctx.wheel.to_path_buf(),
                    entry: raw.to_string(),
                    reason,
                },
            })
        }
    }
}

fn mode(executable: bool) -> u32 {
    if executable {
        0o755
    } else {
        0o644
    }
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

#[cfg(test)]
mod tests {
    use super::entry_points::parse_entry_points;
    use super::record_out::relative_to;
    use super::stream::rewrite_shebang;
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
