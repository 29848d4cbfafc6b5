//! Reading the dynamic-linking facts of one ELF file.

use std::io::Read;
use std::path::{Path, PathBuf};

use goblin::container::Ctx;
use goblin::elf::dynamic::{Dynamic, DT_RPATH, DT_RUNPATH};
use goblin::elf::header::{EI_CLASS, ELFCLASS64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::PT_INTERP;
use goblin::elf::{Elf, Header, ProgramHeader};
use goblin::strtab::Strtab;
use serde::Serialize;

/// The four bytes every ELF file starts with.
pub const ELF_MAGIC: [u8; 4] = *b"\x7fELF";

/// What an ELF file is, as far as loading goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElfKind {
    /// A program: `ET_EXEC`, or `ET_DYN` with a program interpreter (PIE).
    Executable,
    /// A shared library or a Python extension module: `ET_DYN` without an interpreter.
    SharedObject,
    /// Anything else (relocatable objects, core files).
    Other,
}

/// The dynamic-linking facts of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElfFile {
    /// The in-image path, absolute (`/usr/lib/x.so`).
    pub path: PathBuf,
    /// `e_machine` (62 is x86-64, 183 AArch64, 40 ARM, 3 i386).
    pub machine: u16,
    /// Whether the file is ELFCLASS64.
    pub class64: bool,
    /// What the file is.
    pub kind: ElfKind,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_NEEDED`, in file order.
    pub needed: Vec<String>,
    /// `DT_RPATH`, split at colons.
    pub rpath: Vec<String>,
    /// `DT_RUNPATH`, split at colons.
    pub runpath: Vec<String>,
    /// `PT_INTERP`, the program interpreter.
    pub interpreter: Option<String>,
}

/// The identity of an ELF file that decides whether it can satisfy another's
/// `DT_NEEDED`: glibc skips candidates of another machine or class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ident {
    pub machine: u16,
    pub class64: bool,
}

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[..4] == ELF_MAGIC
}

/// Whether the host file starts with the ELF magic (reads four bytes).
pub(crate) fn has_elf_magic(host: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(host)?;
    let mut magic = [0u8; 4];
    let mut read = 0;
    while read < 4 {
        match file.read(&mut magic[read..])? {
            0 => return Ok(false),
            n => read += n,
        }
    }
    Ok(magic == ELF_MAGIC)
}

/// Reads just the ELF header of a host file; `None` if it is not a usable ELF.
pub(crate) fn read_ident(host: &Path) -> Option<Ident> {
    let mut file = std::fs::File::open(host).ok()?;
    let mut buf = Vec::with_capacity(64);
    file.by_ref().take(64).read_to_end(&mut buf).ok()?;
    if !is_elf(&buf) || buf.len() < 52 {
        return None;
    }
    // Pad a short (32-bit) header so the parser can read it.
    buf.resize(64, 0);
    let header = Elf::parse_header(&buf).ok()?;
    Some(Ident {
        machine: header.e_machine,
        class64: header.e_ident[EI_CLASS] == ELFCLASS64,
    })
}

/// Parses the dynamic-linking facts of an ELF image in memory.
///
/// Only the header, the program headers, `PT_INTERP` and `PT_DYNAMIC` (with
/// its string table) are read, so section headers and symbol tables that are
/// stripped or odd do not matter.
pub fn parse_elf(path: impl Into<PathBuf>, bytes: &[u8]) -> Result<ElfFile, String> {
    let header: Header = Elf::parse_header(bytes).map_err(|e| e.to_string())?;
    let container = header.container().map_err(|e| e.to_string())?;
    let endian = header.endianness().map_err(|e| e.to_string())?;
    let ctx = Ctx::new(container, endian);
    let phdrs = ProgramHeader::parse(bytes, header.e_phoff as usize, header.e_phnum as usize, ctx)
        .map_err(|e| format!("bad program headers: {e}"))?;

    let mut interpreter = None;
    for ph in &phdrs {
        if ph.p_type == PT_INTERP && ph.p_filesz != 0 {
            let start = ph.p_offset as usize;
            let end = start
                .checked_add(ph.p_filesz as usize)
                .filter(|&end| end <= bytes.len())
                .ok_or_else(|| "PT_INTERP lies outside the file".to_string())?;
            let raw = &bytes[start..end];
            let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
            interpreter = Some(String::from_utf8_lossy(raw).into_owned());
        }
    }

    let mut soname = None;
    let mut needed = Vec::new();
    let mut rpath = Vec::new();
    let mut runpath = Vec::new();
    let dynamic =
        Dynamic::parse(bytes, &phdrs, ctx).map_err(|e| format!("bad dynamic section: {e}"))?;
    if let Some(dynamic) = &dynamic {
        let info = &dynamic.info;
        let strtab = Strtab::parse(bytes, info.strtab, info.strsz, 0)
            .map_err(|e| format!("bad dynamic string table: {e}"))?;
        let get = |offset: u64| -> Result<String, String> {
            strtab
                .get_at(offset as usize)
                .map(str::to_string)
                .ok_or_else(|| format!("dynamic string at offset {offset} is out of range"))
        };
        for entry in &dynamic.dyns {
            match entry.d_tag {
                goblin::elf::dynamic::DT_NEEDED => needed.push(get(entry.d_val)?),
                goblin::elf::dynamic::DT_SONAME => soname = Some(get(entry.d_val)?),
                DT_RPATH => rpath.extend(split_path(&get(entry.d_val)?)),
                DT_RUNPATH => runpath.extend(split_path(&get(entry.d_val)?)),
                _ => {}
            }
        }
    }

    let kind = match header.e_type {
        ET_EXEC => ElfKind::Executable,
        ET_DYN if interpreter.is_some() => ElfKind::Executable,
        ET_DYN => ElfKind::SharedObject,
        _ => ElfKind::Other,
    };
    Ok(ElfFile {
        path: path.into(),
        machine: header.e_machine,
        class64: container.is_big(),
        kind,
        soname,
        needed,
        rpath,
        runpath,
        interpreter,
    })
}

fn split_path(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(':')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl ElfFile {
    pub(crate) fn ident(&self) -> Ident {
        Ident {
            machine: self.machine,
            class64: self.class64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_header_is_an_error_not_a_panic() {
        let bytes = b"\x7fELF\x02\x01\x01\0\0\0";
        assert!(parse_elf("/x", bytes).is_err());
    }

    #[test]
    fn magic_check() {
        assert!(is_elf(b"\x7fELFxyz"));
        assert!(!is_elf(b"\x7fEL"));
        assert!(!is_elf(b"#!/bin/sh"));
    }
}
