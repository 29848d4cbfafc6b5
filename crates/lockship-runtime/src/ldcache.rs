//! `/etc/ld.so.cache`, written by hand.
//!
//! `ctypes.util.find_library` runs `/sbin/ldconfig -p` and reads the cache it
//! prints. Debian makes the cache in a maintainer script, which never runs
//! when lockship unpacks packages, and running `ldconfig -r` needs chroot (root)
//! and a host of the same architecture. The format is small and stable
//! (glibc's "new" format, version 1.1, little-endian), so lockship writes it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::io_err;
use crate::RuntimeError;

const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;
const FLAG_ELF_LIBC6: i32 = 0x0003;

/// The `ldconfig` flag bits that name the architecture.
fn arch_flags(debian_arch: &str) -> i32 {
    lockship_target::by_debian_arch(debian_arch)
        .and_then(|t| t.ld_cache_flags)
        .unwrap_or(0)
}

/// glibc's `_dl_cache_libcmp`: runs of digits compare as numbers.
pub(crate) fn libcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&a[si..i]);
            let nb = trim_zeros(&b[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else if a[i].is_ascii_digit() {
            return Ordering::Greater;
        } else if b[j].is_ascii_digit() {
            return Ordering::Less;
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

/// Scans the library directories of the tree and writes `etc/ld.so.cache`.
/// Returns the number of libraries listed.
pub fn write_ld_so_cache(
    root: &Path,
    debian_arch: &str,
    triplet: &str,
) -> Result<usize, RuntimeError> {
    write_ld_so_cache_layered(&[root], root, debian_arch, triplet)
}

/// Like [`write_ld_so_cache`] for an image of several trees stacked like
/// layers (the first wins, as the upper layer does): lists the libraries of
/// all of them and writes the cache into `out_root`.
pub fn write_ld_so_cache_layered(
    roots: &[&Path],
    out_root: &Path,
    debian_arch: &str,
    triplet: &str,
) -> Result<usize, RuntimeError> {
    write_ld_so_cache_with(roots, out_root, debian_arch, triplet, &[])
}

/// Like [`write_ld_so_cache_layered`], with more in-image library
/// directories (`/opt/python/lib`) listed after the system's, as an
/// `/etc/ld.so.conf.d` entry would add them.
pub fn write_ld_so_cache_with(
    roots: &[&Path],
    out_root: &Path,
    debian_arch: &str,
    triplet: &str,
    extra_dirs: &[String],
) -> Result<usize, RuntimeError> {
    let mut libs: BTreeMap<String, String> = BTreeMap::new();
    let system = [format!("/usr/lib/{triplet}"), "/usr/lib".to_string()];
    for dir in system.iter().chain(extra_dirs) {
        let mut names: BTreeMap<String, &Path> = BTreeMap::new();
        for root in roots {
            let host_dir = root.join(dir.trim_start_matches('/'));
            let Ok(entries) = std::fs::read_dir(&host_dir) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("lib") && name.contains(".so") {
                    names.entry(name).or_insert(root);
                }
            }
        }
        for (name, root) in &names {
            let host_dir = root.join(dir.trim_start_matches('/'));
            // Follow links inside the tree only; read the ELF's SONAME.
            let Some(bytes) = read_in_tree(root, &host_dir.join(name)) else {
                continue;
            };
            let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
                continue;
            };
            if let Some(soname) = elf.soname {
                if names.contains_key(soname) {
                    libs.entry(soname.to_string())
                        .or_insert_with(|| format!("{dir}/{soname}"));
                }
            }
        }
    }
    // ldconfig sorts descending by libcmp, and ld.so's binary search relies on it.
    let mut entries: Vec<(&String, &String)> = libs.iter().collect();
    entries.sort_by(|a, b| libcmp(b.0, a.0));

    let strings_base = HEADER_LEN + entries.len() * ENTRY_LEN;
    let mut strings = Vec::new();
    let mut table = Vec::new();
    for (key, value) in &entries {
        let k = strings_base + strings.len();
        strings.extend_from_slice(key.as_bytes());
        strings.push(0);
        let v = strings_base + strings.len();
        strings.extend_from_slice(value.as_bytes());
        strings.push(0);
        table.extend_from_slice(&(FLAG_ELF_LIBC6 | arch_flags(debian_arch)).to_le_bytes());
        table.extend_from_slice(&(k as u32).to_le_bytes());
        table.extend_from_slice(&(v as u32).to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes()); // osversion
        table.extend_from_slice(&0u64.to_le_bytes()); // hwcap
    }
    let mut out = Vec::with_capacity(strings_base + strings.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.push(2); // flags: little-endian
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&0u32.to_le_bytes()); // no extension section
    out.extend_from_slice(&[0u8; 12]);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(&table);
    out.extend_from_slice(&strings);
    let etc = out_root.join("etc");
    fs_err::create_dir_all(&etc).map_err(io_err("create", &etc))?;
    let dest = etc.join("ld.so.cache");
    fs_err::write(&dest, out).map_err(io_err("write", &dest))?;
    Ok(entries.len())
}

/// Reads a file, resolving symlinks relative to the tree (never the host).
pub(crate) fn read_in_tree(root: &Path, path: &Path) -> Option<Vec<u8>> {
    let mut current = path.to_path_buf();
    for _ in 0..16 {
        let meta = current.symlink_metadata().ok()?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&current).ok()?;
            current = if target.is_absolute() {
                root.join(target.strip_prefix("/").ok()?)
            } else {
                current.parent()?.join(target)
            };
        } else if meta.is_file() {
            return std::fs::read(&current).ok();
        } else {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libcmp_orders_numbers_numerically() {
        assert_eq!(libcmp("libfoo.so.10", "libfoo.so.9"), Ordering::Greater);
        assert_eq!(libcmp("libc.so.6", "libc.so.6"), Ordering::Equal);
        assert_eq!(libcmp("liba.so", "libb.so"), Ordering::Less);
        assert_eq!(libcmp("libz.so.1", "libz.so"), Ordering::Greater);
    }

    #[test]
    fn host_ldconfig_reads_the_cache_back() {
        // The host's libc is an ELF with a SONAME on any glibc amd64 system.
        let host = Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6");
        if !host.exists() {
            eprintln!("skipping: no amd64 glibc on this host");
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(host, dir.join("libc.so.6")).unwrap();
        std::os::unix::fs::symlink("libc.so.6", dir.join("libc-link.so")).unwrap();
        let n = write_ld_so_cache(root.path(), "amd64", "x86_64-linux-gnu").unwrap();
        assert_eq!(n, 1);
        let cache = root.path().join("etc/ld.so.cache");
        let bytes = std::fs::read(&cache).unwrap();
        assert_eq!(&bytes[..20], MAGIC);
        let key = u32::from_le_bytes(bytes[52..56].try_into().unwrap()) as usize;
        assert_eq!(&bytes[key..key + 10], b"libc.so.6\0");
        let out = std::process::Command::new("/sbin/ldconfig")
            .arg("-p")
            .arg("-C")
            .arg(&cache)
            .output()
            .expect("the host has ldconfig");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("libc.so.6 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libc.so.6"),
            "{text}"
        );
    }
}
