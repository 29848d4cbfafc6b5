//! Tests of the Python scan with the loaders of real packages.

use super::*;

fn scan(src: &str) -> Vec<(u32, u32, String, LoadCall)> {
    scan_source(src)
        .into_iter()
        .map(|l| (l.line, l.group, l.name, l.call))
        .collect()
}

fn names(src: &str) -> Vec<String> {
    scan_source(src).into_iter().map(|l| l.name).collect()
}

#[test]
fn python_magic_loader() {
    // The shape of python-magic's `magic/loader.py` (0.4.27).
    let src = r#"from ctypes.util import find_library
import ctypes

def _lib_candidates_linux():
    """Yield possible libmagic library names on Linux.

    This is necessary because alpine is bad
    """
    yield "libmagic.so.1"

def _lib_candidates_windows():
    prefixes = ("libmagic", "magic1", "cygmagic-1")
    for prefix in prefixes:
        yield "./%s.dll" % (prefix,)
        yield find_library(prefix)

def _lib_candidates():
    yield find_library("magic")

def load_lib():
    for lib in _lib_candidates():
        if lib:
            try:
                return ctypes.CDLL(lib)
            except OSError:
                pass
"#;
    // The Windows candidates (`_lib_candidates_windows`) are not Linux's.
    assert_eq!(
        scan(src),
        vec![
            (9, 2, "libmagic.so.1".into(), LoadCall::Literal),
            (18, 1, "magic".into(), LoadCall::FindLibrary),
        ]
    );
}

#[test]
fn python_magic_0_4_27_platform_branches() {
    // magic/loader.py as python-magic 0.4.27 installs it.
    let src = r#"from ctypes.util import find_library
import ctypes
import sys

def _lib_candidates():

  yield find_library('magic')

  if sys.platform == 'darwin':
    paths = ['/opt/local/lib', '/usr/local/lib']
    for i in paths:
      yield os.path.join(i, 'libmagic.dylib')

  elif sys.platform in ('win32', 'cygwin'):

    prefixes = ['libmagic', 'magic1', 'cygmagic-1', 'libmagic-1', 'msys-magic-1']

    for i in prefixes:
      yield './%s.dll' % (i,)
      yield find_library(i)

  elif sys.platform == 'linux':
    # This is necessary because alpine is bad
    yield 'libmagic.so.1'

def load_lib():
  for lib in _lib_candidates():
    if lib is None:
      continue
    return ctypes.CDLL(lib)
"#;
    assert_eq!(
        scan(src),
        vec![
            (7, 1, "magic".into(), LoadCall::FindLibrary),
            (24, 2, "libmagic.so.1".into(), LoadCall::Literal),
        ]
    );
    // `!=` and `not` keep the block.
    let kept = "import ctypes\nif sys.platform != 'win32':\n    ctypes.CDLL('libkept.so.1')\n";
    assert_eq!(names(kept), ["libkept.so.1"]);
}

#[test]
fn psycopg_pq_loader() {
    // psycopg/pq/_pq_ctypes.py (3.1).
    let src = r#"import ctypes
import ctypes.util
import sys

if sys.platform == "win32":
    libname = ctypes.util.find_library("libpq.dll")
elif sys.platform == "darwin":
    libname = ctypes.util.find_library("libpq.dylib")
else:
    libname = ctypes.util.find_library("pq")
if not libname:
    raise ImportError("libpq library not found")

pq = ctypes.cdll.LoadLibrary(libname)
"#;
    // The find_library result is what LoadLibrary opens: one load, at
    // the line that opens it.
    assert_eq!(scan(src), vec![(14, 2, "pq".into(), LoadCall::FindLibrary)]);
}

#[test]
fn cairocffi_dlopen_wrapper() {
    // cairocffi/__init__.py (1.7).
    let src = r#"import ctypes.util
from ctypes.util import find_library

def dlopen(ffi, library_names, filenames):
    """Try various names for the same library, for different platforms."""
    exceptions = []
    for library_name in library_names:
        library_filename = find_library(library_name)
        if library_filename:
            filenames = (library_filename, *filenames)
    for filename in filenames:
        try:
            return ffi.dlopen(filename)
        except OSError as exception:  # pragma: no cover
            exceptions.append(exception)


cairo = dlopen(
    ffi, ('cairo-2', 'cairo', 'libcairo-2'),
    ('libcairo.so.2', 'libcairo.2.dylib', 'libcairo-2.dll'))
"#;
    assert_eq!(
        scan(src),
        vec![
            (18, 1, "cairo".into(), LoadCall::CffiDlopen),
            (18, 1, "cairo-2".into(), LoadCall::CffiDlopen),
            (18, 1, "libcairo-2".into(), LoadCall::CffiDlopen),
            (18, 1, "libcairo.so.2".into(), LoadCall::CffiDlopen),
        ]
    );
}

#[test]
fn weasyprint_dlopen_wrapper() {
    // weasyprint/text/ffi.py (62).
    let src = r#"import cffi
ffi = cffi.FFI()

def _dlopen(ffi, *names, allow_fail=False):
    """Try various names for the same library, for different platforms."""
    for name in names:
        with suppress(OSError):
            return ffi.dlopen(name, flags)
    if allow_fail:
        return None
    return ffi.dlopen(names[0], flags)  # pragma: no cover

gobject = _dlopen(
    ffi, 'libgobject-2.0-0', 'gobject-2.0-0', 'gobject-2.0',
    'libgobject-2.0.so.0', 'libgobject-2.0.dylib', 'libgobject-2.0-0.dll')
harfbuzz_subset = _dlopen(
    ffi, 'libharfbuzz-subset-0', 'harfbuzz-subset', 'harfbuzz-subset-0.0',
    'libharfbuzz-subset.so.0', 'libharfbuzz-subset.0.dylib',
    'libharfbuzz-subset-0.dll', allow_fail=True)
"#;
    let found = scan(src);
    let gobject: Vec<&str> = found
        .iter()
        .filter(|f| f.0 == 13)
        .map(|f| f.2.as_str())
        .collect();
    assert_eq!(
        gobject,
        [
            "gobject-2.0",
            "gobject-2.0-0",
            "libgobject-2.0-0",
            "libgobject-2.0.so.0"
        ]
    );
    assert!(found.iter().all(|f| f.3 == LoadCall::CffiDlopen));
    // `allow_fail=True`: WeasyPrint works without harfbuzz-subset.
    let optional: Vec<(u32, bool)> = scan_source(src)
        .iter()
        .map(|l| (l.line, l.optional))
        .collect();
    assert!(
        optional.iter().all(|&(line, opt)| opt == (line == 16)),
        "{optional:?}"
    );
    assert!(found
        .iter()
        .any(|f| f.0 == 16 && f.2 == "libharfbuzz-subset.so.0" && f.1 == 2));
}

#[test]
fn pyvips_abi_mode_names_through_variables() {
    // pyvips/__init__.py (2.2) ABI mode.
    let src = r#"    if _is_windows:
        _vips_libname = 'libvips-42.dll'
    elif _is_mac:
        _vips_libname = 'libvips.42.dylib'
    else:
        _vips_libname = 'libvips.so.42'
        _gobject_libname = 'libgobject-2.0.so.0'

    gobject_lib = ffi.dlopen(_gobject_libname)
    vips_lib = ffi.dlopen(_vips_libname)
    other = ffi.dlopen('libfoo-1.dll' if _is_windows else 'libfoo.so.1')
"#;
    assert_eq!(
        scan(src),
        vec![
            (9, 1, "libgobject-2.0.so.0".into(), LoadCall::CffiDlopen),
            (10, 2, "libvips.so.42".into(), LoadCall::CffiDlopen),
            (11, 3, "libfoo.so.1".into(), LoadCall::CffiDlopen),
        ]
    );
}

#[test]
fn direct_calls_comments_and_strings_that_are_not_calls() {
    let src = r#"
import ctypes
# ctypes.CDLL("libcommented.so.1")
doc = """ctypes.CDLL("libindoc.so.9") is how you would do it"""
libc = ctypes.CDLL("libc.so.6")
m = ctypes.cdll.LoadLibrary('libm.so.6')
z = ctypes.cdll.libz
x = ctypes.PyDLL(f"lib{name}.so")
y = ctypes.CDLL(os.path.join(here, "libbundled.so"))
w = ctypes.windll.LoadLibrary("kernel32")
"#;
    let found = scan(src);
    let n: Vec<&str> = found.iter().map(|f| f.2.as_str()).collect();
    assert!(n.contains(&"libc.so.6") && n.contains(&"libm.so.6") && n.contains(&"libz"));
    assert!(!n.contains(&"libcommented.so.1"), "{found:?}");
    assert!(!n.contains(&"kernel32"), "{found:?}");
    // The string inside `os.path.join(...)` is a file next to the
    // module, not a name the loader searches; as a `lib*.so` string of a
    // loading file it is still reported (the issue asks for literals).
    assert!(
        found
            .iter()
            .any(|f| f.2 == "libbundled.so" && f.3 == LoadCall::Literal),
        "{found:?}"
    );
    // A docstring that mentions a call is one string, not a name.
    assert!(!n.iter().any(|s| s.contains("libindoc")), "{found:?}");
}

#[test]
fn files_without_loads_yield_nothing() {
    assert!(scan_source("x = 'libfoo.so.1'\nprint(x)\n").is_empty());
    assert!(scan_source("def dlopen(x):\n    return x\n").is_empty());
}

#[test]
fn hostile_unterminated_and_binary_text_terminates() {
    let mut src = String::from("import ctypes\nctypes.CDLL(\"libok.so.1\")\nx = '''");
    src.push_str(&"(((\\".repeat(10_000));
    let _ = scan_source(&src);
    let _ = scan_source("ctypes.CDLL(");
    let _ = scan_source("ctypes.CDLL(\"");
    let _ = scan_source(")))]]]}}} ctypes.CDLL ( ( ( ");
    let nested = format!(
        "ctypes.CDLL({}'libdeep.so.1'{})",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    assert!(names(&nested).contains(&"libdeep.so.1".to_string()));
}
