//! Unpacking `.deb` archives safely into a directory.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::DebianError;

/// Top-level directories that merged `/usr` turns into symbolic links into `usr/`.
pub const MERGED_USR_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Options for [`unpack_deb`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Map leading `bin/`, `sbin/`, `lib/`, `lib32/`, `lib64/`, `libx32/` to
    /// `usr/…` like modern Debian's merged `/usr`. Entries that are exactly
    /// one of these top-level names and are symbolic links (the aliases
    /// themselves, shipped by some packages) are skipped: the image builder
    /// creates the aliases. Default: `true`.
    pub merged_usr: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions { merged_usr: true }
    }
}

/// What [`unpack_deb`] found and extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedDeb {
    /// The `Package` field of the control file.
    pub package: String,
    /// The control file's text.
    pub control: String,
    /// The `md5sums` control file, if present (paths as in the archive,
    /// without merged-`/usr` mapping).
    pub md5sums: Option<String>,
    /// The `conffiles` control file's lines.
    pub conffiles: Vec<String>,
    /// The extracted paths as absolute in-image paths (`/usr/bin/python3.11`,
    /// after merged-`/usr` mapping), directories included, sorted. Like
    /// dpkg's `.list` files, the root directory is listed as `/.` when the
    /// archive has an entry for it.
    pub files: Vec<String>,
}

/// Unpacks the data of the `.deb` at `deb` into `dest` (which must exist).
///
/// Regular files (with their mode bits), directories, symbolic links (target
/// unchanged) and hard links (within `dest`) are extracted; device nodes
/// and FIFOs are skipped; ownership and times are not kept. Entries whose path
/// is absolute, contains `..`, or whose parent inside `dest` is a symbolic
/// link are refused with [`DebianError::UnsafePath`], and so are hard links
/// whose target escapes. Existing directories merge; existing files and links
/// are replaced. `filter` gets each in-image path (`/usr/share/doc/x/copyright`)
/// and skips the entry when it returns `false`.
pub fn unpack_deb(
    deb: &Path,
    dest: &Path,
    options: &UnpackOptions,
    filter: &dyn Fn(&str) -> bool,
) -> Result<UnpackedDeb, DebianError> {
    let bad = |reason: String| DebianError::BadDeb {
        deb: deb.to_path_buf(),
        reason,
    };
    let file = fs_err::File::open(deb).map_err(DebianError::io(deb))?;
    let mut archive = ar::Archive::new(std::io::BufReader::new(file));
    let mut saw_binary = false;
    let mut control: Option<(String, Option<String>, Vec<String>)> = None;
    let mut files = None;
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.map_err(|e| bad(format!("not an `ar` archive ({e})")))?;
        let name = String::from_utf8_lossy(entry.header().identifier())
            .trim_end_matches('/')
            .to_string();
        if name == "debian-binary" {
            let mut version = String::new();
            entry
                .read_to_string(&mut version)
                .map_err(|e| bad(format!("cannot read `debian-binary` ({e})")))?;
            if !version.starts_with("2.") {
                return Err(bad(format!(
                    "unsupported format version `{}`",
                    version.trim()
                )));
            }
            saw_binary = true;
        } else if let Some(suffix) = name.strip_prefix("control.tar") {
            if !saw_binary {
                return Err(bad("`debian-binary` is not the first member".to_string()));
            }
            let reader = decoder(suffix, &mut entry).map_err(&bad)?;
            control = Some(read_control(reader).map_err(&bad)?);
        } else if let Some(suffix) = name.strip_prefix("data.tar") {
            if control.is_none() {
                return Err(bad(
                    "the data member comes before the control member".to_string()
                ));
            }
            let reader = decoder(suffix, &mut entry).map_err(&bad)?;
            let mut extractor = Extractor {
                deb,
                dest,
                options,
                filter,
                files: BTreeSet::new(),
                filtered: HashSet::new(),
                dirs_ok: HashSet::new(),
                dir_modes: Vec::new(),
            };
            extractor.run(reader)?;
            files = Some(extractor.files.into_iter().collect::<Vec<_>>());
            break;
        }
        // Other members (`_gpgbuilder` signatures) are ignored.
    }
    let (control, md5sums, conffiles) =
        control.ok_or_else(|| bad("no `control.tar` member".to_string()))?;
    let files = files.ok_or_else(|| bad("no `data.tar` member".to_string()))?;
    let package = control
        .lines()
        .find_map(|l| l.strip_prefix("Package:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad("the control file has no `Package` field".to_string()))?;
    Ok(UnpackedDeb {
        package,
        control,
        md5sums,
        conffiles,
        files,
    })
}

/// Wraps `reader` in the decompressor for a member-name suffix (`.xz`, …).
fn decoder<'a>(suffix: &str, reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>, String> {
    Ok(match suffix {
        "" => Box::new(reader),
        ".gz" => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        ".xz" => Box::new(liblzma::read::XzDecoder::new_multi_decoder(reader)),
        ".zst" => Box::new(
            zstd::stream::read::Decoder::new(reader)
                .map_err(|e| format!("cannot start zstd decoding ({e})"))?,
        ),
        other => return Err(format!("unsupported compression `{other}`")),
    })
}

type ControlFiles = (String, Option<String>, Vec<String>);

fn read_control(reader: impl Read) -> Result<ControlFiles, String> {
    let mut control = None;
    let mut md5sums = None;
    let mut conffiles = Vec::new();
    let mut tar = tar::Archive::new(reader);
    let entries = tar
        .entries()
        .map_err(|e| format!("cannot read `control.tar` ({e})"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("cannot read `control.tar` ({e})"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).to_string();
        let name = path.trim_start_matches("./").to_string();
        if !matches!(name.as_str(), "control" | "md5sums" | "conffiles") {
            continue;
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read `{name}` from `control.tar` ({e})"))?;
        match name.as_str() {
            "control" => control = Some(text),
            "md5sums" => md5sums = Some(text),
            _ => {
                conffiles = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            }
        }
    }
    let control = control.ok_or_else(|| "`control.tar` has no `control` file".to_string())?;
    Ok((control, md5sums, conffiles))
}

/// An entry's path split into components, after removing `./` and mapping
/// merged `/usr`. `None` is the root directory.
fn normalize(raw: &str, merged_usr: bool) -> Result<Option<Vec<String>>, String> {
    let stripped = raw.strip_prefix("./").unwrap_or(raw);
    if stripped.starts_with('/') {
        return Err("the path is absolute".to_string());
    }
    let mut parts = Vec::new();
    for part in stripped.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("the path contains `..`".to_string()),
            p => parts.push(p.to_string()),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    if merged_usr && MERGED_USR_DIRS.contains(&parts[0].as_str()) {
        parts.insert(0, "usr".to_string());
    }
    Ok(Some(parts))
}

fn image_path(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

struct Extractor<'a> {
    deb: &'a Path,
    dest: &'a Path,
    options: &'a UnpackOptions,
    filter: &'a dyn Fn(&str) -> bool,
    files: BTreeSet<String>,
    /// In-image paths skipped by the filter.
    filtered: HashSet<String>,
    /// Relative directories known to be real directories.
    dirs_ok: HashSet<PathBuf>,
    /// Directory modes, applied at the end so that read-only directories
    /// can still be filled.
    dir_modes: Vec<(PathBuf, u32)>,
}

impl Extractor<'_> {
    fn unsafe_path(&self, entry: &str, reason: impl Into<String>) -> DebianError {
        DebianError::UnsafePath {
            deb: self.deb.to_path_buf(),
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn bad(&self, reason: String) -> DebianError {
        DebianError::BadDeb {
            deb: self.deb.to_path_buf(),
            reason,
        }
    }

    fn run(&mut self, reader: impl Read) -> Result<(), DebianError> {
        let mut tar = tar::Archive::new(reader);
        let entries = tar
            .entries()
            .map_err(|e| self.bad(format!("cannot read `data.tar` ({e})")))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.bad(format!("cannot read `data.tar` ({e})")))?;
            self.extract(entry)?;
        }
        for (path, mode) in self.dir_modes.iter().rev() {
            fs_err::set_permissions(path, std::fs::Permissions::from_mode(*mode))
                .map_err(DebianError::io(path))?;
        }
        Ok(())
    }

    fn extract<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), DebianError> {
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| self.bad("an entry's path is not UTF-8".to_string()))?;
        let kind = entry.header().entry_type();
        let mode = entry
            .header()
            .mode()
            .map_err(|e| self.bad(format!("bad mode for `{raw}` ({e})")))?
            & 0o7777;
        let parts = normalize(&raw, self.options.merged_usr)
            .map_err(|reason| self.unsafe_path(&raw, reason))?;
        let Some(parts) = parts else {
            // The root directory itself.
            self.files.insert("/.".to_string());
            return Ok(());
        };
        if self.options.merged_usr
            && parts.len() == 2
            && kind.is_symlink()
            && MERGED_USR_DIRS.contains(&parts[1].as_str())
            && !raw.trim_start_matches("./").starts_with("usr/")
        {
            // The `/bin -> usr/bin` alias itself.
            return Ok(());
        }
        let image = image_path(&parts);
        if !(self.filter)(&image) {
            self.filtered.insert(image);
            return Ok(());
        }
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::GNUSparse | T::Directory | T::Symlink | T::Link => {}
            // Device nodes, FIFOs and anything unknown are skipped.
            _ => return Ok(()),
        }
        self.ensure_parents(&raw, &parts)?;
        let target = parts.iter().fold(self.dest.to_path_buf(), |p, c| p.join(c));
        match kind {
            T::Directory => {
                match std::fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {}
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(self.unsafe_path(&raw, "a symbolic link exists there"))
                    }
                    Ok(_) => {
                        fs_err::remove_file(&target).map_err(DebianError::io(&target))?;
                        fs_err::create_dir(&target).map_err(DebianError::io(&target))?;
                    }
                    Err(_) => fs_err::create_dir(&target).map_err(DebianError::io(&target))?,
                }
                self.dirs_ok.insert(PathBuf::from(parts.join("/")));
                self.dir_modes.push((target, mode));
            }
            T::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                let link = String::from_utf8(link)
                    .map_err(|_| self.bad(format!("the link target of `{raw}` is not UTF-8")))?;
                if link.is_empty() {
                    return Err(self.bad(format!("the symbolic link `{raw}` has no target")));
                }
                self.clear(&raw, &target)?;
                std::os::unix::fs::symlink(&link, &target).map_err(DebianError::io(&target))?;
            }
            T::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                let link = String::from_utf8(link)
                    .map_err(|_| self.bad(format!("the link target of `{raw}` is not UTF-8")))?;
                let link_parts = normalize(&link, self.options.merged_usr)
                    .map_err(|reason| {
                        self.unsafe_path(&raw, format!("hard link target: {reason}"))
                    })?
                    .ok_or_else(|| self.unsafe_path(&raw, "hard link to the root directory"))?;
                if self.filtered.contains(&image_path(&link_parts)) {
                    // The target was filtered out; so is the link.
                    self.filtered.insert(image);
                    return Ok(());
                }
                let source = self.existing_file(&raw, &link_parts)?;
                self.clear(&raw, &target)?;
                fs_err::hard_link(&source, &target).map_err(DebianError::io(&target))?;
            }
            _ => {
                self.clear(&raw, &target)?;
                let mut out = fs_err::File::create(&target).map_err(DebianError::io(&target))?;
                std::io::copy(&mut entry, &mut out)
                    .map_err(|e| self.bad(format!("cannot extract `{raw}` ({e})")))?;
                drop(out);
                fs_err::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                    .map_err(DebianError::io(&target))?;
            }
        }
        self.files.insert(image);
        Ok(())
    }

    /// Makes sure every parent of `parts` is a real directory inside `dest`,
    /// creating missing ones (and listing them).
    fn ensure_parents(&mut self, raw: &str, parts: &[String]) -> Result<(), DebianError> {
        for depth in 1..parts.len() {
            let rel = PathBuf::from(parts[..depth].join("/"));
            if self.dirs_ok.contains(&rel) {
                continue;
            }
            let path = self.dest.join(&rel);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(self.unsafe_path(
                        raw,
                        format!(
                            "its parent `{}` is a symbolic link",
                            image_path(&parts[..depth])
                        ),
                    ))
                }
                Ok(_) => {
                    return Err(self.unsafe_path(
                        raw,
                        format!(
                            "its parent `{}` is not a directory",
                            image_path(&parts[..depth])
                        ),
                    ))
                }
                Err(_) => {
                    fs_err::create_dir(&path).map_err(DebianError::io(&path))?;
                    self.files.insert(image_path(&parts[..depth]));
                }
            }
            self.dirs_ok.insert(rel);
        }
        Ok(())
    }

    /// The path of an already-extracted regular file, reached without
    /// following any symbolic link.
    fn existing_file(&self, raw: &str, parts: &[String]) -> Result<PathBuf, DebianError> {
        let mut path = self.dest.to_path_buf();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let meta = std::fs::symlink_metadata(&path).map_err(|_| {
                self.unsafe_path(
                    raw,
                    format!(
                        "the hard link target `{}` does not exist",
                        image_path(parts)
                    ),
                )
            })?;
            let last = i + 1 == parts.len();
            let ok = if last { meta.is_file() } else { meta.is_dir() };
            if !ok {
                return Err(self.unsafe_path(
                    raw,
                    format!(
                        "the hard link target `{}` is not a regular file inside the image",
                        image_path(parts)
                    ),
                ));
            }
        }
        Ok(path)
    }

    /// Removes a file or link at `target` so it can be replaced; a directory
    /// there is an error.
    fn clear(&self, raw: &str, target: &Path) -> Result<(), DebianError> {
        match std::fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => Err(self.unsafe_path(raw, "a directory exists there")),
            Ok(_) => fs_err::remove_file(target).map_err(DebianError::io(target)),
            Err(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        let n = |s: &str, m: bool| normalize(s, m).map(|o| o.map(|p| image_path(&p)));
        assert_eq!(n("./usr/bin/x", true), Ok(Some("/usr/bin/x".into())));
        assert_eq!(n("./bin/bash", true), Ok(Some("/usr/bin/bash".into())));
        assert_eq!(n("./bin/bash", false), Ok(Some("/bin/bash".into())));
        assert_eq!(n("./lib64/", true), Ok(Some("/usr/lib64".into())));
        assert_eq!(n("./libexec/x", true), Ok(Some("/libexec/x".into())));
        assert_eq!(n("etc//./x/", true), Ok(Some("/etc/x".into())));
        assert_eq!(n("./", true), Ok(None));
        assert!(n("/etc/passwd", true).is_err());
        assert!(n(".//etc/passwd", true).is_err());
        assert!(n("./usr/../../etc", true).is_err());
    }

    #[test]
    fn decoder_rejects_unknown_compression() {
        assert!(decoder(".bz2", &b""[..]).is_err());
        let mut out = String::new();
        decoder("", &b"plain"[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "plain");
    }
}
