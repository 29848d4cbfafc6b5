//! The one progress display: a bar per download, or nothing with `--quiet`.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress bars on stderr for downloads.
pub struct BarReporter {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    phase: Mutex<Option<ProgressBar>>,
}

impl BarReporter {
    /// Bars on stderr, hidden when `quiet` or when stderr is not a terminal.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        BarReporter {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
            phase: Mutex::new(None),
        }
    }
}

impl lockship_fetch::Reporter for BarReporter {
    fn phase(&self, what: &str) {
        let mut phase = self.phase.lock().unwrap();
        if let Some(bar) = phase.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if !what.is_empty() {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_message(what.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            *phase = Some(bar);
        }
    }

    fn download_start(&self, name: &str, size: Option<u64>) {
        let bar = self.multi.add(ProgressBar::new(size.unwrap_or(0)));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:40!} {bytes:>10}/{total_bytes:<10} {bar:30}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(name.to_string());
        self.bars.lock().unwrap().insert(name.to_string(), bar);
    }

    fn download_progress(&self, name: &str, bytes: u64) {
        if let Some(bar) = self.bars.lock().unwrap().get(name) {
            bar.inc(bytes);
        }
    }

    fn download_done(&self, name: &str, _cached: bool) {
        if let Some(bar) = self.bars.lock().unwrap().remove(name) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}
