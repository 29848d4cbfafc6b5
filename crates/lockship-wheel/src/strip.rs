//! Stripping debug sections from the shared objects a wheel builds itself,
//! with the semantics of `strip --strip-debug`, without running a program.
//!
//! Removed: the non-allocated sections whose names mark them as debugging
//! information (`.debug*`, `.zdebug*`, `.gnu.debuglto_*`, `.line`,
//! `.stab`, `.stabstr`, `.gdb_index`), the relocation sections that apply
//! to them, and the `.symtab` entries defined in them. Everything else is
//! kept: `.symtab`, `.strtab`, `.comment`, notes and `.gnu_debuglink`, as
//! `strip --strip-debug` keeps them.
//!
//! The loaded part of the file is copied byte for byte: everything from
//! offset 0 to the end of the last segment (and of the last allocated
//! section) stays where it is, so the dynamic section, `.dynsym`,
//! `.dynstr`, hash tables, versions, relocations and code are untouched.
//! The only bytes that change there are the ELF header's `e_shoff`,
//! `e_shnum` and `e_shstrndx`, which the loader does not read.
//! Only what follows is rewritten: the kept non-allocated sections, packed
//! again in their original order, and a new section header table. A file
//! whose layout does not allow that (a loaded section numbered after a
//! debug section, section groups, extended section numbering, overlapping
//! sections, a `.symtab` entry size other than the standard one) is left
//! alone, as is any file that is not a shared object (`ET_DYN`).
//!
//! Why `object`'s reader and not its `build::elf::Builder`: the builder
//! reads a whole ELF file into tables and writes it back from them,
//! regenerating `.dynstr`, `.dynsym` (re-sorted for `.gnu.hash`), the hash
//! tables and the version sections. The result is equivalent, but not the
//! same bytes in the loaded segments, and a file with a layout it does not
//! model fails to round-trip. Here the loaded bytes never change, which is
//! what makes stripping a wheel's extension safe; `object` supplies the
//! endian- and class-generic, bounds-checked parsing, and reads a file on
//! disk through [`ReadCache`], so a library of a gigabyte is never read
//! whole into memory. (`goblin`, which `lockship-elf` uses, parses only
//! from a slice in memory.)
//!
//! Every rewritten file is parsed again before it replaces the original; a
//! file that fails that check is an error, never written.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::AddAssign;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, SectionTable, Sym};
use object::read::{ReadCache, ReadRef};
use object::Endianness;

use crate::record::{HashingWriter, RecordLine};
use crate::WheelError;

/// What stripping saved: one installed wheel's, or summed over several
/// with `+=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StripSummary {
    /// The shared objects rewritten.
    pub files: u64,
    /// Their sizes before stripping, summed.
    pub bytes_before: u64,
    /// Their sizes after stripping, summed.
    pub bytes_after: u64,
}

impl StripSummary {
    /// The bytes saved.
    pub fn saved(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }

    pub(crate) fn add(&mut self, before: u64, after: u64) {
        self.files += 1;
        self.bytes_before += before;
        self.bytes_after += after;
    }
}

impl AddAssign for StripSummary {
    fn add_assign(&mut self, other: StripSummary) {
        self.files += other.files;
        self.bytes_before += other.bytes_before;
        self.bytes_after += other.bytes_after;
    }
}

/// Whether the wheel entry `name` (its path inside the archive) is a
/// shared object lockship strips when it installs the wheel: `*.so` and
/// `*.so.*`, except under any directory whose name ends in `.libs`, where
/// auditwheel grafts the libraries it copies from the build machine (those
/// are patched by `patchelf`, and stripping one corrupted numpy's bundled
/// OpenBLAS). The content decides the rest: a file that is not an ELF
/// shared object, or not one [`strip_debug`] understands, is left alone.
pub fn should_strip(name: &str) -> bool {
    let mut parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    let Some(file) = parts.pop() else {
        return false;
    };
    let shared = file.ends_with(".so") || file.contains(".so.");
    shared && !parts.iter().any(|dir| dir.ends_with(".libs"))
}

/// Removes the debug sections of an ELF shared object, as `strip
/// --strip-debug` does (see the module documentation for what is kept).
///
/// Returns `None` when there is nothing to strip, or when `bytes` are not
/// an ELF shared object whose layout this function understands; the file
/// should then be kept as it is. The output depends on the input alone.
///
/// # Errors
///
/// [`WheelError::Strip`] (with an empty path) when the rewritten file
/// fails to parse again: a bug in lockship, never a property of the input.
pub fn strip_debug(bytes: &[u8]) -> Result<Option<Vec<u8>>, WheelError> {
    let Some(plan) = plan(bytes) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(usize::try_from(plan.len).unwrap_or(0));
    for piece in &plan.pieces {
        match piece {
            Piece::Copy { offset, len } => {
                let range = usize::try_from(*offset)
                    .ok()
                    .zip(usize::try_from(*len).ok());
                let Some((start, len)) = range else {
                    return Ok(None);
                };
                out.extend_from_slice(&bytes[start..start + len]);
            }
            Piece::Bytes(b) => out.extend_from_slice(b),
            Piece::Zeros(n) => out.resize(out.len() + *n as usize, 0),
        }
    }
    verify(out.as_slice(), Some(plan.sections)).map_err(|reason| WheelError::Strip {
        path: PathBuf::new(),
        reason,
    })?;
    Ok(Some(out))
}

/// A file rewritten by [`strip_installed`].
pub(crate) struct Stripped {
    pub(crate) sha256_b64: String,
    pub(crate) size: u64,
    pub(crate) before: u64,
}

/// Strips the installed file `local` (created by this install, in a
/// directory already checked to be real): the result goes to a new file
/// beside it, is checked, and replaces it by rename. `None` when it is
/// left alone, including when the temporary name is taken.
pub(crate) fn strip_installed(local: &Path) -> Result<Option<Stripped>, WheelError> {
    let io_err = |source: io::Error| WheelError::Io {
        path: local.to_path_buf(),
        source,
    };
    let file = File::open(local).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    let cache = ReadCache::new(file);
    let Some(plan) = plan(&cache) else {
        return Ok(None);
    };
    let mut source = cache.into_inner();
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = local.with_file_name(format!(".{name}.lockship-strip"));
    let mode = meta.permissions().mode() & 0o777;
    // `create_new` fails on anything already there, a symlink included.
    let out = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
    {
        Ok(out) => out,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    let written = write_plan(&plan, &mut source, out).and_then(|done| {
        fs_err::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        Ok(done)
    });
    let (sha256_b64, size) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = fs_err::remove_file(&tmp);
            return Err(io_err(e));
        }
    };
    let check = File::open(&tmp).map(ReadCache::new);
    let checked = match &check {
        Ok(cache) => verify(cache, Some(plan.sections)),
        Err(e) => Err(e.to_string()),
    };
    if let Err(reason) = checked {
        let _ = fs_err::remove_file(&tmp);
        return Err(WheelError::Strip {
            path: local.to_path_buf(),
            reason,
        });
    }
    fs_err::rename(&tmp, local).map_err(io_err)?;
    Ok(Some(Stripped {
        sha256_b64,
        size,
        before: meta.len(),
    }))
}

/// Writes `plan` from `source` into `out`; returns the SHA-256 (base64)
/// and size written.
fn write_plan(plan: &Plan, source: &mut File, out: File) -> io::Result<(String, u64)> {
    let plain = RecordLine {
        hash: None,
        size: None,
    };
    let mut writer = HashingWriter::new(BufWriter::new(out), &plain);
    for piece in &plan.pieces {
        match piece {
            Piece::Copy { offset, len } => {
                source.seek(SeekFrom::Start(*offset))?;
                let copied = io::copy(&mut Read::by_ref(source).take(*len), &mut writer)?;
                if copied != *len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the shared object changed while it was stripped",
                    ));
                }
            }
            Piece::Bytes(b) => writer.write_all(b)?,
            Piece::Zeros(n) => io::copy(&mut io::repeat(0).take(*n), &mut writer).map(drop)?,
        }
    }
    let (digests, size) = writer.finish()?;
    Ok((digests.sha256_b64, size))
}

/// One run of the output file.
enum Piece {
    /// Bytes of the input, from `offset`.
    Copy { offset: u64, len: u64 },
    /// New bytes (the ELF header, `.symtab`, the section headers).
    Bytes(Vec<u8>),
    /// Alignment padding.
    Zeros(u64),
}

/// The output file, as runs, and its section count (for the check).
struct Plan {
    pieces: Vec<Piece>,
    len: u64,
    sections: usize,
}

fn is_debug_name(name: &[u8]) -> bool {
    [&b".debug"[..], b".zdebug", b".gnu.debuglto_"]
        .iter()
        .any(|p| name.starts_with(p))
        || [&b".line"[..], b".stab", b".stabstr", b".gdb_index"].contains(&name)
}

/// Where the fields lockship rewrites sit, for one ELF class and byte order.
#[derive(Clone, Copy)]
struct Layout {
    is_64: bool,
    big: bool,
}

impl Layout {
    fn word(self) -> usize {
        if self.is_64 {
            8
        } else {
            4
        }
    }
    fn pick(self, at64: usize, at32: usize) -> usize {
        if self.is_64 {
            at64
        } else {
            at32
        }
    }
    fn put(self, buf: &mut [u8], at: usize, width: usize, value: u64) {
        let bytes = if self.big {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        let field = if self.big {
            &bytes[8 - width..]
        } else {
            &bytes[..width]
        };
        buf[at..at + width].copy_from_slice(field);
    }
}

fn plan<'data, R: ReadRef<'data>>(data: R) -> Option<Plan> {
    let ident = data.read_bytes_at(0, 16).ok()?;
    if ident[..4] != elf::ELFMAG || verify(data, None).is_err() {
        return None;
    }
    match ident[4] {
        elf::ELFCLASS64 => plan_elf::<elf::FileHeader64<Endianness>, R>(data),
        elf::ELFCLASS32 => plan_elf::<elf::FileHeader32<Endianness>, R>(data),
        _ => None,
    }
}

fn plan_elf<'data, Elf, R>(data: R) -> Option<Plan>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let file_len = data.len().ok()?;
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let lay = Layout {
        is_64: header.is_type_64(),
        big: endian == Endianness::Big,
    };
    if header.e_type(endian) != elf::ET_DYN
        || header.e_shnum(endian) == 0
        || header.e_shstrndx(endian) >= elf::SHN_LORESERVE
        || header.e_phnum(endian) == elf::PN_XNUM
        || (!lay.is_64 && file_len > u64::from(u32::MAX))
    {
        return None;
    }
    let table = header.sections(endian, data).ok()?;
    let headers: &[Elf::SectionHeader] = table.iter().as_slice();
    let shnum = headers.len();
    let shstrndx = usize::from(header.e_shstrndx(endian));
    let alloc = |s: &Elf::SectionHeader| s.sh_flags(endian).into() & u64::from(elf::SHF_ALLOC) != 0;

    let removed = removals(&table, endian)?;
    let first_removed = removed.iter().position(|r| *r)?;
    if removed.get(shstrndx) != Some(&false) {
        return None;
    }
    // The loaded part refers to sections by index (`st_shndx` in
    // `.dynsym`, `sh_link` of allocated sections): those indices must not
    // move, so no allocated section may come after a removed one.
    if headers[first_removed..].iter().any(alloc) {
        return None;
    }
    let dynsym = table.symbols(endian, data, elf::SHT_DYNSYM).ok()?;
    if dynsym.symbols().iter().any(|sym| {
        let n = sym.st_shndx(endian);
        usize::from(n) >= first_removed && n < elf::SHN_LORESERVE
    }) {
        return None;
    }
    let mut new_index = Vec::with_capacity(shnum);
    let mut kept = 0u32;
    for r in &removed {
        new_index.push(if *r { None } else { Some(kept) });
        kept += u32::from(!*r);
    }

    let header_len = std::mem::size_of::<Elf>() as u64;
    let (prefix_end, tail) = prefix_and_tail(header, &table, data, &removed)?;

    let symtab = headers
        .iter()
        .position(|s| s.sh_type(endian) == elf::SHT_SYMTAB)
        .filter(|i| !removed[*i]);
    let new_symtab = match symtab {
        Some(si) => Some((
            si,
            rewrite_symtab::<Elf, R>(&table, si, data, &removed, &new_index, first_removed, lay)?,
        )),
        None => None,
    };

    let mut pieces = vec![Piece::Copy {
        offset: header_len,
        len: prefix_end - header_len,
    }];
    let mut new_offsets: Vec<Option<u64>> = vec![None; shnum];
    let mut new_sizes: Vec<Option<u64>> = vec![None; shnum];
    let mut cursor = prefix_end;
    for &(offset, i) in &tail {
        let align = headers[i].sh_addralign(endian).into().max(1);
        if !align.is_power_of_two() || align > 1 << 16 {
            return None;
        }
        let at = cursor.next_multiple_of(align);
        if at > cursor {
            pieces.push(Piece::Zeros(at - cursor));
        }
        let size = match &new_symtab {
            Some((si, (bytes, _))) if *si == i => {
                pieces.push(Piece::Bytes(bytes.clone()));
                new_sizes[i] = Some(bytes.len() as u64);
                bytes.len() as u64
            }
            _ => {
                let len = headers[i].sh_size(endian).into();
                pieces.push(Piece::Copy { offset, len });
                len
            }
        };
        new_offsets[i] = Some(at);
        cursor = at + size;
    }
    // A `.symtab` inside the prefix cannot change size there.
    if let Some((si, (bytes, _))) = &new_symtab {
        if new_offsets[*si].is_none() {
            let original =
                data.read_bytes_at(headers[*si].sh_offset(endian).into(), bytes.len() as u64);
            if original.ok() != Some(bytes.as_slice()) {
                return None;
            }
        }
    }
    // Empty and `SHT_NOBITS` sections past the prefix point at its new end.
    for (i, s) in headers.iter().enumerate().skip(1) {
        if !removed[i] && new_offsets[i].is_none() && s.sh_offset(endian).into() >= prefix_end {
            new_offsets[i] = Some(cursor);
        }
    }
    let shoff = cursor.next_multiple_of(lay.word() as u64);
    if shoff > cursor {
        pieces.push(Piece::Zeros(shoff - cursor));
    }

    let symtab_info = new_symtab
        .as_ref()
        .map(|(si, (_, first_global))| (*si, *first_global));
    let shdrs = section_headers::<Elf>(
        headers,
        endian,
        lay,
        &new_index,
        first_removed,
        (&new_offsets, &new_sizes),
        symtab_info,
    )?;
    let mut head = data.read_bytes_at(0, header_len).ok()?.to_vec();
    lay.put(&mut head, lay.pick(0x28, 0x20), lay.word(), shoff);
    lay.put(&mut head, lay.pick(0x3c, 0x30), 2, u64::from(kept));
    lay.put(
        &mut head,
        lay.pick(0x3e, 0x32),
        2,
        u64::from(new_index[shstrndx]?),
    );
    pieces.insert(0, Piece::Bytes(head));
    let len = shoff + shdrs.len() as u64;
    pieces.push(Piece::Bytes(shdrs));
    (len < file_len).then_some(Plan {
        pieces,
        len,
        sections: kept as usize,
    })
}

/// Which sections go: the debug sections, and the relocations that apply
/// to them. `None` for a layout this module does not handle.
fn removals<'data, Elf, R>(
    table: &SectionTable<'data, Elf, R>,
    endian: Endianness,
) -> Option<Vec<bool>>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let headers: &[Elf::SectionHeader] = table.iter().as_slice();
    let shnum = headers.len();
    let alloc = |s: &Elf::SectionHeader| s.sh_flags(endian).into() & u64::from(elf::SHF_ALLOC) != 0;
    let is_reloc =
        |s: &Elf::SectionHeader| matches!(s.sh_type(endian), elf::SHT_REL | elf::SHT_RELA);
    // Section 0 is all zeros unless extended numbering (refused) uses it.
    if object::pod::bytes_of(&headers[0]).iter().any(|b| *b != 0) {
        return None;
    }
    let mut removed = vec![false; shnum];
    for (i, s) in headers.iter().enumerate().skip(1) {
        if matches!(s.sh_type(endian), elf::SHT_GROUP | elf::SHT_SYMTAB_SHNDX) {
            return None;
        }
        let name = table.section_name(endian, s).ok()?;
        removed[i] = !alloc(s) && is_debug_name(name);
    }
    for (i, s) in headers.iter().enumerate().skip(1) {
        let target = s.sh_info(endian) as usize;
        if is_reloc(s) && !alloc(s) && removed.get(target) == Some(&true) {
            removed[i] = true;
        }
    }
    Some(removed)
}

/// The end of the untouched prefix (the headers, every segment, every
/// allocated section), and the kept sections after it that hold bytes, as
/// (offset, index) in file order.
fn prefix_and_tail<'data, Elf, R>(
    header: &Elf,
    table: &SectionTable<'data, Elf, R>,
    data: R,
    removed: &[bool],
) -> Option<(u64, Vec<(u64, usize)>)>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let endian = header.endian().ok()?;
    let file_len = data.len().ok()?;
    let headers: &[Elf::SectionHeader] = table.iter().as_slice();
    let alloc = |s: &Elf::SectionHeader| s.sh_flags(endian).into() & u64::from(elf::SHF_ALLOC) != 0;
    let mut prefix_end = std::mem::size_of::<Elf>() as u64;
    let phoff: u64 = header.e_phoff(endian).into();
    let phdrs = header.program_headers(endian, data).ok()?;
    let phdrs_len = std::mem::size_of_val(phdrs) as u64;
    prefix_end = prefix_end.max(phoff.checked_add(phdrs_len)?);
    for p in phdrs {
        let end = p
            .p_offset(endian)
            .into()
            .checked_add(p.p_filesz(endian).into())?;
        prefix_end = prefix_end.max(end);
    }
    let mut tail: Vec<(u64, usize)> = Vec::new();
    for (i, s) in headers.iter().enumerate().skip(1) {
        let Some((offset, size)) = s.file_range(endian) else {
            continue;
        };
        let end = offset.checked_add(size)?;
        if alloc(s) {
            prefix_end = prefix_end.max(end);
        } else if !removed[i] && size > 0 {
            tail.push((offset, i));
        }
        if end > file_len {
            return None;
        }
    }
    if prefix_end > file_len {
        return None;
    }
    // Kept sections inside the prefix stay where they are; the others are
    // packed again after it, in their order in the file.
    if tail
        .iter()
        .any(|&(_, i)| straddles(headers[i].file_range(endian), prefix_end))
    {
        return None;
    }
    tail.retain(|&(offset, _)| offset >= prefix_end);
    tail.sort_unstable();
    for pair in tail.windows(2) {
        let (offset, size) = headers[pair[0].1].file_range(endian)?;
        if offset + size > pair[1].0 {
            return None;
        }
    }

    Some((prefix_end, tail))
}

/// The new section header table: the kept headers, with new offsets and
/// sizes where they moved, and `sh_link`/`sh_info` renumbered.
fn section_headers<Elf>(
    headers: &[Elf::SectionHeader],
    endian: Endianness,
    lay: Layout,
    new_index: &[Option<u32>],
    first_removed: usize,
    (new_offsets, new_sizes): (&[Option<u64>], &[Option<u64>]),
    symtab: Option<(usize, u32)>,
) -> Option<Vec<u8>>
where
    Elf: FileHeader<Endian = Endianness>,
{
    let is_reloc =
        |s: &Elf::SectionHeader| matches!(s.sh_type(endian), elf::SHT_REL | elf::SHT_RELA);
    let remap = |n: u32| -> Option<u32> {
        match n as usize {
            i if i < first_removed => Some(n),
            i => new_index.get(i).copied().flatten(),
        }
    };
    let mut shdrs = Vec::with_capacity(std::mem::size_of_val(headers));
    for (i, s) in headers.iter().enumerate() {
        if new_index[i].is_none() {
            continue;
        }
        let mut raw = object::pod::bytes_of(s).to_vec();
        if let Some(offset) = new_offsets[i] {
            lay.put(&mut raw, lay.pick(24, 16), lay.word(), offset);
        }
        if let Some(size) = new_sizes[i] {
            lay.put(&mut raw, lay.pick(32, 20), lay.word(), size);
        }
        if i > 0 {
            lay.put(
                &mut raw,
                lay.pick(40, 24),
                4,
                u64::from(remap(s.sh_link(endian))?),
            );
        }
        let info = s.sh_info(endian);
        let info_link = u64::from(elf::SHF_INFO_LINK);
        if let Some((_, first_global)) = symtab.filter(|(si, _)| *si == i) {
            lay.put(&mut raw, lay.pick(44, 28), 4, u64::from(first_global));
        }
        if i > 0 && (is_reloc(s) || s.sh_flags(endian).into() & info_link != 0) {
            lay.put(&mut raw, lay.pick(44, 28), 4, u64::from(remap(info)?));
        }
        shdrs.extend_from_slice(&raw);
    }
    Some(shdrs)
}

/// Whether the range starts before `at` and ends after it.
fn straddles(range: Option<(u64, u64)>, at: u64) -> bool {
    range.is_some_and(|(offset, size)| offset < at && offset.saturating_add(size) > at)
}

/// `.symtab` without the symbols defined in removed sections, and with
/// section indices renumbered; with the new index of its first global
/// symbol (its `sh_info`). `None` when a symbol goes and a relocation
/// section refers to `.symtab`.
fn rewrite_symtab<'data, Elf, R>(
    table: &SectionTable<'data, Elf, R>,
    si: usize,
    data: R,
    removed: &[bool],
    new_index: &[Option<u32>],
    first_removed: usize,
    lay: Layout,
) -> Option<(Vec<u8>, u32)>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let endian = if lay.big {
        Endianness::Big
    } else {
        Endianness::Little
    };
    let section = table.section(object::SectionIndex(si)).ok()?;
    let entsize = std::mem::size_of::<Elf::Sym>();
    if section.sh_entsize(endian).into() != entsize as u64 {
        return None;
    }
    let raw = section.data(endian, data).ok()?;
    let symbols: &[Elf::Sym] = object::pod::slice_from_all_bytes(raw).ok()?;
    let old_first_global = section.sh_info(endian) as usize;
    let mut out = Vec::with_capacity(raw.len());
    let mut first_global = 0u32;
    for (k, (sym, bytes)) in symbols.iter().zip(raw.chunks_exact(entsize)).enumerate() {
        let shndx = sym.st_shndx(endian);
        let index = usize::from(shndx);
        let ordinary = k > 0 && shndx != elf::SHN_UNDEF && shndx < elf::SHN_LORESERVE;
        if ordinary && *removed.get(index)? {
            continue;
        }
        let mut entry = bytes.to_vec();
        if ordinary && index >= first_removed {
            lay.put(&mut entry, lay.pick(6, 14), 2, u64::from(new_index[index]?));
        }
        if k < old_first_global {
            first_global += 1;
        }
        out.extend_from_slice(&entry);
    }
    // Relocations against `.symtab` (`--emit-relocs`) would need their
    // symbol indices renumbered too.
    let dropped = out.len() != raw.len();
    if dropped
        && table.iter().any(|s| {
            matches!(s.sh_type(endian), elf::SHT_REL | elf::SHT_RELA)
                && s.sh_link(endian) as usize == si
        })
    {
        return None;
    }
    Some((out, first_global))
}

/// Parses a file: its headers, every section name and range, `.symtab`
/// and `.dynsym`. For a rewritten file (`sections` given): also its section
/// count, and that no debug section is left.
fn verify<'data, R: ReadRef<'data>>(data: R, sections: Option<usize>) -> Result<(), String> {
    let ident = data
        .read_bytes_at(0, 16)
        .map_err(|_| "the ELF header is cut short".to_string())?;
    match ident[4] {
        elf::ELFCLASS64 => verify_elf::<elf::FileHeader64<Endianness>, R>(data, sections),
        _ => verify_elf::<elf::FileHeader32<Endianness>, R>(data, sections),
    }
}

fn verify_elf<'data, Elf, R>(data: R, sections: Option<usize>) -> Result<(), String>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let e = |what: &str, err: object::read::Error| format!("{what}: {err}");
    let len = data
        .len()
        .map_err(|_| "its length is unknown".to_string())?;
    let header = Elf::parse(data).map_err(|err| e("the ELF header", err))?;
    let endian = header.endian().map_err(|err| e("the byte order", err))?;
    header
        .program_headers(endian, data)
        .map_err(|err| e("the program headers", err))?;
    let table = header
        .sections(endian, data)
        .map_err(|err| e("the section headers", err))?;
    if let Some(expected) = sections.filter(|n| *n != table.len()) {
        return Err(format!("{} sections, {expected} expected", table.len()));
    }
    for s in table.iter() {
        let name = table
            .section_name(endian, s)
            .map_err(|err| e("a section name", err))?;
        let name = String::from_utf8_lossy(name);
        if let Some((offset, size)) = s.file_range(endian) {
            if offset.checked_add(size).is_none_or(|end| end > len) {
                return Err(format!("section `{name}` lies past the end of the file"));
            }
        }
        let alloc = s.sh_flags(endian).into() & u64::from(elf::SHF_ALLOC) != 0;
        if sections.is_some() && !alloc && is_debug_name(name.as_bytes()) {
            return Err(format!("section `{name}` is still there"));
        }
    }
    for kind in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
        table
            .symbols(endian, data, kind)
            .map_err(|err| e("a symbol table", err))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_wheels_own_shared_objects_are_stripped() {
        assert!(should_strip(
            "pkg/_speedups.cpython-311-x86_64-linux-gnu.so"
        ));
        assert!(should_strip("pkg-1.0.data/platlib/pkg/lib/libpkg.so.1.2"));
        assert!(!should_strip(
            "numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so"
        ));
        assert!(!should_strip("pkg/vendored.libs/libfoo.so"));
        assert!(!should_strip(
            "pkg-1.0.data/platlib/Pillow.libs/libjpeg.so.62"
        ));
        assert!(!should_strip("pkg/module.py"));
        assert!(!should_strip("pkg/so/readme.txt"));
        assert!(!should_strip(""));
    }

    #[test]
    fn debug_names() {
        assert!(is_debug_name(b".debug_info"));
        assert!(is_debug_name(b".zdebug_str"));
        assert!(is_debug_name(b".stab"));
        assert!(!is_debug_name(b".gnu_debuglink"));
        assert!(!is_debug_name(b".symtab"));
        assert!(!is_debug_name(b".comment"));
    }

    #[test]
    fn non_elf_and_truncated_input_is_left_alone() {
        assert!(strip_debug(b"").unwrap().is_none());
        assert!(strip_debug(b"\x7fELF").unwrap().is_none());
        assert!(strip_debug(b"#!/bin/sh\necho hi\n").unwrap().is_none());
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(&elf::ELFMAG);
        header[4] = elf::ELFCLASS64;
        header[5] = elf::ELFDATA2LSB;
        header[6] = elf::EV_CURRENT;
        header[16] = elf::ET_DYN as u8;
        assert!(strip_debug(&header).unwrap().is_none());
    }

    #[test]
    fn summaries_add_up() {
        let mut total = StripSummary::default();
        let mut one = StripSummary::default();
        one.add(100, 40);
        total += one;
        total += one;
        assert_eq!(total.files, 2);
        assert_eq!(total.saved(), 120);
    }
}
