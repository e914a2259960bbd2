//! The progress bar of `export-connections` on a terminal: bytes written, rate, and
//! percent when the server announced the size. Beside the data flow: the download in
//! [`crate::export`] reports to it through [`Progress`]. Drawn on standard error, and
//! only when both standard output and standard error are terminals and the records do
//! not go to standard output, so pipes and scripts see nothing extra.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::export::{NoProgress, Progress};

/// A progress bar on standard error.
pub struct TerminalProgress {
    /// The bar; hidden until the download starts.
    bar: ProgressBar,
}

impl TerminalProgress {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
        TerminalProgress { bar }
    }
}

impl Progress for TerminalProgress {
    fn started(&self, total: Option<u64>) {
        let template = match total {
            Some(_) => {
                "{bytes} of {total_bytes} ({percent}%) at {bytes_per_sec}, {elapsed} [{wide_bar}]"
            }
            None => "{bytes} at {bytes_per_sec}, {elapsed} {spinner}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        if let Some(total) = total {
            self.bar.set_length(total);
        }
        self.bar.enable_steady_tick(Duration::from_millis(250));
    }

    fn advanced(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn finished(&self) {
        self.bar.finish_and_clear();
    }
}

/// The progress report for a download to `to_stdout` or a file: a bar when a person
/// is watching a terminal, nothing otherwise.
pub fn for_download(to_stdout: bool) -> Box<dyn Progress> {
    let watched = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    if watched && !to_stdout {
        Box::new(TerminalProgress::new())
    } else {
        Box::new(NoProgress)
    }
}
