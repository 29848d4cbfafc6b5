//! A global allocator that caps how much memory one target run may hold.
//!
//! Install it in a binary (the test suite and the stable driver do) with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: lockship_fuzz::CappedAlloc = lockship_fuzz::CappedAlloc;
//! ```
//!
//! While [`with_cap`] runs a closure, the bytes allocated and not yet freed
//! on that thread are counted; going over the cap saves the input being run
//! (see [`set_current_input`]) and aborts the process with a message naming
//! the file. Outside [`with_cap`], and in binaries that do not install the
//! allocator, nothing is counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::PathBuf;

/// The capping allocator (it forwards to the system allocator).
pub struct CappedAlloc;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static CAP: Cell<i64> = const { Cell::new(0) };
    static INPUT: Cell<(*const u8, usize)> = const { Cell::new((std::ptr::null(), 0)) };
    static REPORT: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Runs `f` with at most `cap` bytes of live allocations on this thread.
pub fn with_cap<T>(cap: u64, f: impl FnOnce() -> T) -> T {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            let _ = ARMED.try_with(|a| a.set(false));
        }
    }
    LIVE.with(|l| l.set(0));
    CAP.with(|c| c.set(i64::try_from(cap).unwrap_or(i64::MAX)));
    ARMED.with(|a| a.set(true));
    let _disarm = Disarm;
    f()
}

/// Names the input `with_cap` is running (saved if the cap is hit) and the
/// target it belongs to. The slice must outlive the `with_cap` call.
pub fn set_current_input(target: &'static str, input: &[u8]) {
    INPUT.with(|i| i.set((input.as_ptr(), input.len())));
    REPORT.with(|r| r.set(Some(target)));
}

fn account(delta: i64) -> bool {
    let armed = ARMED.try_with(|a| a.get()).unwrap_or(false);
    if !armed {
        return true;
    }
    let live = LIVE.with(|l| {
        let v = l.get().saturating_add(delta);
        l.set(v);
        v
    });
    if delta > 0 && live > CAP.with(|c| c.get()) {
        // Stop counting; what follows may allocate.
        ARMED.with(|a| a.set(false));
        over_cap(live);
        return false;
    }
    true
}

fn over_cap(live: i64) {
    let target = REPORT.with(|r| r.get()).unwrap_or("unknown");
    let (ptr, len) = INPUT.with(|i| i.get());
    let saved = if ptr.is_null() {
        None
    } else {
        // SAFETY: `set_current_input` callers keep the slice alive for the
        // whole `with_cap` call, which is where we are.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        crate::harness::save_artifact(target, "oom", input)
    };
    let saved = saved.unwrap_or_else(|| PathBuf::from("(not saved)"));
    let _ = writeln!(
        std::io::stderr(),
        "lockship-fuzz: target `{target}` held {live} bytes, over its cap; input saved to {}",
        saved.display()
    );
}

// SAFETY: every call is forwarded to `System` unchanged; a refused
// allocation returns null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !account(layout.size() as i64) {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !account(layout.size() as i64) {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-(layout.size() as i64));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !account(new_size as i64 - layout.size() as i64) {
            return std::ptr::null_mut();
        }
        System.realloc(ptr, layout, new_size)
    }
}
