//! Builds tiny ELF fixtures with the host C compiler and a small base root
//! file system from the host's own glibc.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TRIPLET_DIR: &str = "usr/lib/x86_64-linux-gnu";

/// A scratch directory for sources and stub libraries.
pub struct Cc {
    pub work: tempfile::TempDir,
}

impl Cc {
    pub fn new() -> Cc {
        match Command::new("cc").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "these tests build ELF fixtures with the host C compiler: `cc` must be on PATH \
                 (on Debian: apt-get install gcc)"
            ),
        }
        Cc {
            work: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], src: &str, out: &Path) {
        let name = format!(
            "src{}.c",
            std::fs::read_dir(self.work.path()).unwrap().count()
        );
        let src_path = self.work.path().join(name);
        std::fs::write(&src_path, src).unwrap();
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let output = Command::new("cc")
            .args(args)
            .arg("-o")
            .arg(out)
            .arg(&src_path)
            .output()
            .expect("cc runs");
        assert!(
            output.status.success(),
            "cc {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A shared library with a `DT_SONAME`, linked against `links` (paths of
    /// other libraries) with extra linker flags.
    pub fn shared(&self, out: &Path, soname: &str, links: &[&Path], flags: &[&str]) {
        let symbol = soname.replace(['.', '-'], "_");
        let src = format!("int {symbol}_fn(void) {{ return 7; }}\n");
        let mut args = vec![
            "-shared".to_string(),
            "-fPIC".to_string(),
            format!("-Wl,-soname,{soname}"),
        ];
        args.extend(flags.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_linked(&args, &src, out, links);
    }

    /// A program linked against `links` with extra linker flags.
    pub fn exe(&self, out: &Path, links: &[&Path], flags: &[&str]) {
        self.run_linked(flags, "int main(void) { return 0; }\n", out, links);
    }

    fn run_linked(&self, args: &[&str], src: &str, out: &Path, links: &[&Path]) {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        // Keep every listed library as DT_NEEDED even if no symbol is used.
        all.push("-Wl,--no-as-needed".to_string());
        let src_name = format!(
            "src{}.c",
            std::fs::read_dir(self.work.path()).unwrap().count()
        );
        let src_path = self.work.path().join(src_name);
        std::fs::write(&src_path, src).unwrap();
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let output = Command::new("cc")
            .args(&all)
            .arg("-o")
            .arg(out)
            .arg(&src_path)
            .args(links)
            .output()
            .expect("cc runs");
        assert!(
            output.status.success(),
            "cc {all:?} {links:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A static program without a dynamic section.
    pub fn static_exe(&self, out: &Path) {
        self.run(
            &["-static", "-nostdlib", "-nostartfiles"],
            "void _start(void) { for (;;) {} }\n",
            out,
        );
    }

    /// A stub library in the scratch directory (to link against, then lose).
    pub fn stub(&self, soname: &str) -> PathBuf {
        let path = self.work.path().join("stubs").join(soname);
        self.shared(&path, soname, &[], &[]);
        path
    }
}

fn first_existing(candidates: &[&str]) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("the host has none of {candidates:?}; these tests need amd64 glibc")
        })
}

/// A merged-/usr base root file system: the host's libc and loader, `/lib`
/// and `/lib64` as symlinks, the loader linked with an absolute target.
pub fn base_rootfs(root: &Path) {
    let dir = root.join(TRIPLET_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(root.join("usr/lib64")).unwrap();
    let libc = first_existing(&[
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ]);
    let ld = first_existing(&[
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/lib64/ld-linux-x86-64.so.2",
    ]);
    std::fs::copy(libc, dir.join("libc.so.6")).unwrap();
    std::fs::copy(ld, dir.join("ld-linux-x86-64.so.2")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        root.join("usr/lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
}

pub fn symlink(target: &str, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}
