//! Where log lines go: standard error, through a writer that never fails.
//!
//! Logging must never stop the exporter. When standard error is a closed pipe
//! (`workspace-exporter demo 2>&1 | head -1`), a write fails with `EPIPE`; the
//! tracing subscriber would then report the failure with `eprintln!`, which panics on
//! the same closed pipe, in whatever task was logging (the signal task, before it
//! cancelled the shutdown). [`QuietStderr`] swallows write errors instead: a lost log
//! line is the lesser harm.

use std::io::{self, Write};

/// Writes to any inner writer and reports every write as complete, even when the
/// inner writer failed.
#[derive(Debug)]
pub struct Quiet<W> {
    /// Where the bytes go when they can.
    inner: W,
}

impl<W: Write> Quiet<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Quiet { inner }
    }
}

impl<W: Write> Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A failed write (EPIPE, EBADF, ENOSPC) drops the line.
        Ok(self.inner.write(buf).unwrap_or(buf.len()))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let _ = self.inner.write_all(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.inner.flush();
        Ok(())
    }
}

/// Standard error that never reports a write error; a `MakeWriter` for
/// tracing-subscriber (`.with_writer(QuietStderr)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for QuietStderr {
    type Writer = Quiet<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        Quiet::new(io::stderr())
    }
}

/// Prints one line on standard error, ignoring a closed or broken stream (unlike
/// `eprintln!`, which panics).
pub fn eprint_line(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Prints one line on standard output, ignoring a closed or broken stream (unlike
/// `println!`, which panics).
pub fn print_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone away.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn write_errors_are_swallowed() {
        let mut w = Quiet::new(Broken);
        assert_eq!(w.write(b"line\n").unwrap(), 5);
        w.write_all(b"line\n").unwrap();
        w.flush().unwrap();
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        let (reader, writer) = io::pipe().unwrap();
        drop(reader);
        let mut w = Quiet::new(writer);
        w.write_all(b"nobody reads this\n").unwrap();
        w.flush().unwrap();
    }
}
