//! Output destinations (`oci:`, `oci-archive:`, `docker-archive:`) and writing to them
//! without ever leaving a half-written output behind.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::archive::{plan_index, plan_single, write_dir, write_tar, Plan};
use crate::{Image, OciError};

/// Where an image goes. Parsed from skopeo/podman transport names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Output {
    /// `oci:DIR`: an OCI image layout directory.
    OciDir(PathBuf),
    /// `oci-archive:FILE`: a tar of an OCI image layout.
    OciArchive(PathBuf),
    /// `docker-archive:FILE`: a tar for `docker load` (also an OCI layout, like Docker 25's `docker save`).
    DockerArchive(PathBuf),
}

impl Output {
    /// The directory or file the output is written to.
    pub fn path(&self) -> &Path {
        match self {
            Output::OciDir(p) | Output::OciArchive(p) | Output::DockerArchive(p) => p,
        }
    }

    /// The transport name: `oci`, `oci-archive` or `docker-archive`.
    pub fn transport(&self) -> &'static str {
        match self {
            Output::OciDir(_) => "oci",
            Output::OciArchive(_) => "oci-archive",
            Output::DockerArchive(_) => "docker-archive",
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport(), self.path().display())
    }
}

impl FromStr for Output {
    type Err = OciError;

    /// Parse `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`. Everything after the
    /// first `:` is the path (no `:REF` suffix is recognised).
    fn from_str(input: &str) -> Result<Output, OciError> {
        let invalid = || OciError::InvalidOutput {
            input: input.to_string(),
        };
        let (transport, path) = input.split_once(':').ok_or_else(invalid)?;
        if path.is_empty() {
            return Err(invalid());
        }
        let path = PathBuf::from(path);
        match transport {
            "oci" => Ok(Output::OciDir(path)),
            "oci-archive" => Ok(Output::OciArchive(path)),
            "docker-archive" => Ok(Output::DockerArchive(path)),
            _ => Err(invalid()),
        }
    }
}

/// What [`write_output`] or [`write_index_output`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// Digest of the written image manifest (or image index, for several platforms).
    ///
    /// For docker-archive this can differ from [`Image::digest`]: zstd layers are stored
    /// uncompressed there, which changes the manifest.
    pub digest: String,
    /// The output path.
    pub path: PathBuf,
    /// Bytes written (the archive's size, or the sum of the layout's files).
    pub bytes: u64,
}

/// Write one image to `output`.
///
/// `tag` (like `lockship/python:3.11`; `:latest` is added when no tag part is given) becomes the
/// `org.opencontainers.image.ref.name` annotation in `index.json`, and for docker-archive also
/// `RepoTags` in `manifest.json` and the `io.containerd.image.name` annotation.
///
/// Nothing is half-written: the output is built under a temporary name in the same directory
/// and renamed into place at the end. An existing `oci:` directory is replaced only if it is
/// empty or is itself an OCI layout.
pub fn write_output(
    image: &Image,
    output: &Output,
    tag: Option<&str>,
) -> Result<WriteSummary, OciError> {
    let path = output.path();
    let parent = check_parent(path)?;
    match output {
        Output::OciDir(dir) => {
            let plan = plan_single(image, tag, false, None)?;
            place_dir(&plan, dir, &parent)
        }
        Output::OciArchive(file) => {
            let plan = plan_single(image, tag, false, None)?;
            place_file(&plan, file, &parent, image.created)
        }
        Output::DockerArchive(file) => {
            let scratch = temp_dir_in(&parent, file, "scratch")?;
            let plan = plan_single(image, tag, true, Some(scratch.path()))?;
            place_file(&plan, file, &parent, image.created)
        }
    }
}

/// Write several images (one per platform) as an OCI image index.
///
/// `index.json` points at an image index blob, which lists one manifest per platform. Only
/// `oci:` and `oci-archive:` can hold several platforms; a docker-archive gets exactly one
/// image (a single image is written as by [`write_output`]).
pub fn write_index_output(
    images: &[Image],
    output: &Output,
    tag: Option<&str>,
) -> Result<WriteSummary, OciError> {
    let path = output.path();
    match (images, output) {
        ([], _) => {
            return Err(OciError::NoImages {
                path: path.to_path_buf(),
            })
        }
        ([image], Output::DockerArchive(_)) => return write_output(image, output, tag),
        (_, Output::DockerArchive(_)) => {
            return Err(OciError::DockerArchiveMultiPlatform {
                path: path.to_path_buf(),
                count: images.len(),
            })
        }
        _ => {}
    }
    let parent = check_parent(path)?;
    let plan = plan_index(images, tag, path)?;
    match output {
        Output::OciDir(dir) => place_dir(&plan, dir, &parent),
        Output::OciArchive(file) => {
            let mtime = images.iter().map(|i| i.created).max().unwrap_or(0);
            place_file(&plan, file, &parent, mtime)
        }
        Output::DockerArchive(_) => unreachable!("handled above"),
    }
}

/// The directory that will hold `path`, created (with its parents) when
/// missing, as `docker save -o` users expect of `out/image.tar`.
/// Leftovers of killed writers of `path` are swept away here, before a new
/// write starts.
pub(crate) fn check_parent(path: &Path) -> Result<PathBuf, OciError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = check_parent_dir(parent)?;
    sweep_leftovers(&parent, path);
    Ok(parent)
}

fn check_parent_dir(parent: PathBuf) -> Result<PathBuf, OciError> {
    match std::fs::metadata(&parent) {
        Ok(meta) if meta.is_dir() => Ok(parent),
        Ok(_) => Err(OciError::OutputParentNotDir { path: parent }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir_all(&parent) {
            Ok(()) => Ok(parent),
            Err(e) if e.raw_os_error() == Some(20) => {
                Err(OciError::OutputParentNotDir { path: parent })
            }
            Err(_) => Err(OciError::OutputParentMissing { path: parent }),
        },
        // ENOTDIR: some ancestor is a file.
        Err(e) if e.raw_os_error() == Some(20) => {
            Err(OciError::OutputParentNotDir { path: parent })
        }
        Err(source) => Err(OciError::OutputNotWritable {
            path: parent,
            source,
        }),
    }
}

fn output_name(target: &Path) -> String {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_string())
}

/// Temporary names next to an output carry the writer's process id, so that a
/// later write can tell a dead writer's leftovers from a live one's.
fn temp_prefix(target: &Path, what: &str) -> String {
    let name = output_name(target);
    format!(".{name}.lockship-{what}-{}-", std::process::id())
}

/// How old a leftover must be before it is removed when its writer cannot be
/// identified (no process id in its name, or no `/proc` to look it up in).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes what a killed writer of `target` left in `parent`: the
/// `.NAME.lockship-{tmp,scratch,old}-PID-*` entries whose process is gone.
/// Only direct children of `parent` whose names match are touched; links are
/// removed as links, never followed. Returns the names removed.
pub(crate) fn sweep_leftovers(parent: &Path, target: &Path) -> Vec<String> {
    let prefix = format!(".{}.lockship-", output_name(target));
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((what, rest)) = rest.split_once('-') else {
            continue;
        };
        if !matches!(what, "tmp" | "scratch" | "old") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let writer = rest
            .split_once('-')
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let dead = match writer {
            Some(pid) if pid == std::process::id() => false,
            Some(pid) if Path::new("/proc/self").exists() => {
                !Path::new(&format!("/proc/{pid}")).exists()
            }
            _ => meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > STALE_AFTER),
        };
        if !dead {
            continue;
        }
        let gone = if meta.is_dir() {
            std::fs::remove_dir_all(entry.path())
        } else {
            std::fs::remove_file(entry.path())
        };
        if gone.is_ok() {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

fn temp_dir_in(parent: &Path, target: &Path, what: &str) -> Result<tempfile::TempDir, OciError> {
    tempfile::Builder::new()
        .prefix(&temp_prefix(target, what))
        .tempdir_in(parent)
        .map_err(|source| OciError::OutputNotWritable {
            path: parent.to_path_buf(),
            source,
        })
}

fn place_file(
    plan: &Plan,
    target: &Path,
    parent: &Path,
    mtime: u64,
) -> Result<WriteSummary, OciError> {
    if target.is_dir() {
        return Err(OciError::OutputWrongKind {
            path: target.to_path_buf(),
            expected: "file",
        });
    }
    let temp = tempfile::Builder::new()
        .prefix(&temp_prefix(target, "tmp"))
        .tempfile_in(parent)
        .map_err(|source| OciError::OutputNotWritable {
            path: parent.to_path_buf(),
            source,
        })?;
    let temp_path = temp.path().to_path_buf();
    {
        let mut writer = io::BufWriter::new(temp.as_file());
        write_tar(plan, &mut writer, mtime, &temp_path)?;
        writer.flush().map_err(OciError::io(&temp_path))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(OciError::io(&temp_path))?;
    let bytes = temp
        .as_file()
        .metadata()
        .map_err(OciError::io(&temp_path))?
        .len();
    // Temp files are created 0600; an image archive is meant to be shared like any file.
    set_mode_0644(&temp_path)?;
    temp.persist(target).map_err(|e| OciError::Io {
        path: target.to_path_buf(),
        source: e.error,
    })?;
    Ok(WriteSummary {
        digest: plan.digest.clone(),
        path: target.to_path_buf(),
        bytes,
    })
}

#[cfg(unix)]
fn set_mode_0644(path: &Path) -> Result<(), OciError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(OciError::io(path))
}

#[cfg(not(unix))]
fn set_mode_0644(_path: &Path) -> Result<(), OciError> {
    Ok(())
}

fn place_dir(plan: &Plan, target: &Path, parent: &Path) -> Result<WriteSummary, OciError> {
    let existing = match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => {
            let is_layout = target.join("oci-layout").is_file();
            let is_empty = fs_err::read_dir(target)
                .map_err(OciError::io(target))?
                .next()
                .is_none();
            if !is_layout && !is_empty {
                return Err(OciError::OutputDirNotLayout {
                    path: target.to_path_buf(),
                });
            }
            true
        }
        Ok(_) => {
            return Err(OciError::OutputWrongKind {
                path: target.to_path_buf(),
                expected: "directory",
            })
        }
        Err(_) => false,
    };
    let temp = temp_dir_in(parent, target, "tmp")?;
    let bytes = write_dir(plan, temp.path())?;
    set_dir_mode_0755(temp.path())?;
    if existing {
        // Move the old layout aside first, so that a failed rename can put it back.
        let old = temp_dir_in(parent, target, "old")?;
        let aside = old.path().join("layout");
        fs_err::rename(target, &aside).map_err(OciError::io(target))?;
        if let Err(e) = std::fs::rename(temp.path(), target) {
            let _ = std::fs::rename(&aside, target);
            return Err(OciError::Io {
                path: target.to_path_buf(),
                source: e,
            });
        }
        // `old` (with the previous layout) is removed on drop.
    } else {
        fs_err::rename(temp.path(), target).map_err(OciError::io(target))?;
    }
    // The temp dir now lives at `target`; do not let its guard delete it.
    let _ = temp.keep();
    Ok(WriteSummary {
        digest: plan.digest.clone(),
        path: target.to_path_buf(),
        bytes,
    })
}

#[cfg(unix)]
fn set_dir_mode_0755(path: &Path) -> Result<(), OciError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(OciError::io(path))
}

#[cfg(not(unix))]
fn set_dir_mode_0755(_path: &Path) -> Result<(), OciError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert_eq!(
            "oci:out/layout".parse::<Output>().unwrap(),
            Output::OciDir("out/layout".into())
        );
        assert_eq!(
            "oci-archive:img.tar".parse::<Output>().unwrap(),
            Output::OciArchive("img.tar".into())
        );
        let o: Output = "docker-archive:out/a:b.tar".parse().unwrap();
        assert_eq!(o, Output::DockerArchive("out/a:b.tar".into()));
        assert_eq!(o.to_string(), "docker-archive:out/a:b.tar");
        assert_eq!(o.transport(), "docker-archive");
    }

    #[test]
    fn bad_outputs_list_the_transports_and_hint_an_example() {
        for bad in ["", "out.tar", "oci:", "docker:img.tar", "dir:x", "OCI:x"] {
            let err = bad.parse::<Output>().unwrap_err();
            assert!(matches!(err, OciError::InvalidOutput { .. }), "{bad}");
            let msg = err.to_string();
            for t in ["`oci:DIR`", "`oci-archive:FILE`", "`docker-archive:FILE`"] {
                assert!(msg.contains(t), "{msg}");
            }
            assert!(msg.contains(&format!("`{bad}`")));
            assert!(err.hint().unwrap().contains("--output oci-archive:"));
        }
    }

    #[test]
    fn parent_checks() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            check_parent(Path::new("x.tar")).unwrap(),
            PathBuf::from(".")
        );
        let missing = dir.path().join("nope").join("deeper").join("x.tar");
        assert_eq!(
            check_parent(&missing).unwrap(),
            dir.path().join("nope/deeper")
        );
        assert!(dir.path().join("nope/deeper").is_dir());
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            check_parent(&file.join("x.tar")),
            Err(OciError::OutputParentNotDir { .. })
        ));
        assert!(matches!(
            check_parent(&file.join("sub").join("x.tar")),
            Err(OciError::OutputParentNotDir { .. })
        ));
    }

    /// Issue 12, finding 12: a run killed while writing an output left
    /// `.NAME.lockship-tmp-*` and `-scratch-*` entries that nothing removed.
    #[test]
    fn hostile_killed_writer_leftovers_are_swept_on_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let canary = tempfile::tempdir().unwrap();
        std::fs::write(canary.path().join("keep"), b"canary").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        // A process that has exited: its pid names a dead writer.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let dead_tmp = out.join(format!(".app.tar.lockship-tmp-{dead}-abc"));
        let dead_scratch = out.join(format!(".app.tar.lockship-scratch-{dead}-def"));
        let dead_link = out.join(format!(".app.tar.lockship-old-{dead}-ghi"));
        let live_tmp = out.join(format!(".app.tar.lockship-tmp-{me}-xyz"));
        let other = out.join(format!(".other.tar.lockship-tmp-{dead}-abc"));
        std::fs::write(&dead_tmp, b"half").unwrap();
        std::fs::create_dir(&dead_scratch).unwrap();
        std::fs::write(dead_scratch.join("blob"), b"x").unwrap();
        std::os::unix::fs::symlink(canary.path(), &dead_link).unwrap();
        std::fs::write(&live_tmp, b"busy").unwrap();
        std::fs::write(&other, b"not ours").unwrap();

        let images = tempfile::tempdir().unwrap();
        let image =
            crate::testutil::two_layer_image(images.path(), lockship_layer::Compression::Gzip);
        let target = out.join("app.tar");
        write_output(
            &image,
            &Output::DockerArchive(target.clone()),
            Some("app:1"),
        )
        .unwrap();

        assert!(target.is_file());
        assert!(!dead_tmp.exists(), "a dead writer's temp file stays");
        assert!(!dead_scratch.exists(), "a dead writer's scratch dir stays");
        assert!(
            std::fs::symlink_metadata(&dead_link).is_err(),
            "the link stays"
        );
        assert!(live_tmp.exists(), "a live writer's file was removed");
        assert!(other.exists(), "another output's file was removed");
        assert_eq!(
            std::fs::read(canary.path().join("keep")).unwrap(),
            b"canary"
        );
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }
}
