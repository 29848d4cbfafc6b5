//! Running a target over its seeds and mutated inputs, catching panics,
//! hangs and (with [`crate::CappedAlloc`] installed) runaway memory.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Mutator, Target};

/// How long a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// This many mutated inputs (after the seeds).
    Runs(u64),
    /// Mutated inputs until this much time has passed.
    Time(Duration),
}

/// How to fuzz a target.
#[derive(Debug, Clone)]
pub struct Options {
    /// The mutator's seed; the same seed gives the same inputs.
    pub seed: u64,
    /// How long to go on.
    pub budget: Budget,
    /// One input running longer than this is a hang.
    pub hang_after: Duration,
    /// Bytes one input may hold allocated at once (enforced only where
    /// [`crate::CappedAlloc`] is the global allocator).
    pub memory_cap: u64,
}

impl Options {
    /// `runs` mutated inputs from the fixed seed, a 20 s hang limit and a
    /// 512 MiB memory cap.
    pub fn runs(runs: u64) -> Options {
        Options {
            seed: 0x6c6f_636b_7368_6970,
            budget: Budget::Runs(runs),
            hang_after: Duration::from_secs(20),
            memory_cap: 512 * 1024 * 1024,
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Inputs run, seeds included.
    pub inputs: u64,
    /// Seeds among them.
    pub seeds: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// How a target failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// It panicked, with this message.
    Panic(String),
    /// One input ran for longer than the hang limit.
    Hang(Duration),
}

/// A failing input.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The target's name.
    pub target: &'static str,
    /// What went wrong.
    pub kind: FailureKind,
    /// The input.
    pub input: Vec<u8>,
    /// Where the input was saved (see [`artifact_dir`]).
    pub saved: Option<PathBuf>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FailureKind::Panic(message) => {
                write!(f, "target `{}` panicked: {message}", self.target)?
            }
            FailureKind::Hang(t) => write!(
                f,
                "target `{}` ran one input for more than {:.1} s",
                self.target,
                t.as_secs_f64()
            )?,
        }
        let shown: String = self
            .input
            .escape_ascii()
            .to_string()
            .chars()
            .take(400)
            .collect();
        write!(f, "\ninput ({} bytes): b\"{shown}\"", self.input.len())?;
        if let Some(path) = &self.saved {
            write!(
                f,
                "\nsaved to {} (replay: cargo run -p lockship-fuzz -- {} --replay FILE)",
                path.display(),
                self.target
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Where failing inputs are saved: `$LOCKSHIP_FUZZ_ARTIFACTS`, else
/// `lockship-fuzz-artifacts` in the system temporary directory.
pub fn artifact_dir() -> PathBuf {
    std::env::var_os("LOCKSHIP_FUZZ_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("lockship-fuzz-artifacts"))
}

/// Saves a failing input as `<kind>-<target>-<sha256 prefix>`.
pub(crate) fn save_artifact(target: &str, kind: &str, input: &[u8]) -> Option<PathBuf> {
    use sha2::Digest;
    let dir = artifact_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let hash = hex::encode(sha2::Sha256::digest(input));
    let path = dir.join(format!("{kind}-{target}-{}", &hash[..16]));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Runs `target` on one input, as the fuzzing loop does (memory cap
/// included); a panic propagates.
pub fn run_one(target: &'static Target, input: &[u8], memory_cap: u64) {
    crate::alloc::set_current_input(target.name, input);
    crate::alloc::with_cap(memory_cap, || (target.run)(input));
}

/// Runs the seeds, then mutated inputs, until the budget is spent or an
/// input fails. Inputs run on a worker thread with an 8 MiB stack (like a
/// main thread) so that a hang can be reported.
pub fn fuzz(target: &'static Target, options: &Options) -> Result<Stats, Failure> {
    let seeds = target.seeds();
    let seed_count = seeds.len();
    let mut mutator =
        Mutator::new(options.seed, seeds, target.dict, target.max_len).text(target.text);
    let current = Arc::new(Mutex::new(Vec::new()));
    // Milliseconds since `start` at which the running input began, or MAX.
    let started = Arc::new(AtomicU64::new(u64::MAX));
    let start = Instant::now();
    let (done_tx, done_rx) = mpsc::channel();
    let worker = {
        let current = Arc::clone(&current);
        let started = Arc::clone(&started);
        let options = options.clone();
        std::thread::Builder::new()
            .name(format!("fuzz-{}", target.name))
            .stack_size(8 * 1024 * 1024)
            .spawn(move || {
                let mut inputs = 0u64;
                let mut run = |input: Vec<u8>| -> Result<(), Failure> {
                    *current.lock().unwrap_or_else(|e| e.into_inner()) = input.clone();
                    started.store(start.elapsed().as_millis() as u64, Ordering::SeqCst);
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        run_one(target, &input, options.memory_cap)
                    }));
                    started.store(u64::MAX, Ordering::SeqCst);
                    inputs += 1;
                    outcome.map_err(|payload| {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "(a non-string panic)".to_string());
                        Failure {
                            target: target.name,
                            kind: FailureKind::Panic(message),
                            saved: save_artifact(target.name, "crash", &input),
                            input,
                        }
                    })
                };
                let result = (|| {
                    for seed in mutator.seeds().to_vec() {
                        run(seed)?;
                    }
                    let mut runs = 0u64;
                    loop {
                        let more = match options.budget {
                            Budget::Runs(n) => runs < n,
                            Budget::Time(t) => start.elapsed() < t,
                        };
                        if !more {
                            return Ok(());
                        }
                        run(mutator.next_input())?;
                        runs += 1;
                    }
                })();
                let _ = done_tx.send(result.map(|()| inputs));
            })
            .expect("a fuzzing thread")
    };
    loop {
        match done_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(result) => {
                let _ = worker.join();
                return result.map(|inputs| Stats {
                    inputs,
                    seeds: seed_count,
                    elapsed: start.elapsed(),
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The worker died without reporting: a panic outside
                // `catch_unwind` (in a thread the target started).
                let input = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                return Err(Failure {
                    target: target.name,
                    kind: FailureKind::Panic("the fuzzing thread died".to_string()),
                    saved: save_artifact(target.name, "crash", &input),
                    input,
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let began = started.load(Ordering::SeqCst);
                if began == u64::MAX {
                    continue;
                }
                let running = start.elapsed().saturating_sub(Duration::from_millis(began));
                if running > options.hang_after {
                    // The worker is left running; the caller reports and exits.
                    let input = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    return Err(Failure {
                        target: target.name,
                        kind: FailureKind::Hang(running),
                        saved: save_artifact(target.name, "hang", &input),
                        input,
                    });
                }
            }
        }
    }
}
