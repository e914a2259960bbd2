//! A connection whose writes give up when the client stops reading.
//!
//! hyper has a timeout for reading request headers but none for writing: a client that
//! sends (pipelined) requests and never reads keeps its connection, a file descriptor
//! and a task for as long as it likes. [`WriteTimeout`] wraps the socket (under TLS,
//! when there is TLS) and fails a write, flush or shutdown that has made no progress
//! for the configured time, so hyper closes the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a write may make no progress before the connection is dropped, unless
/// `--web.write-timeout` says otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// An I/O object whose writes fail with [`io::ErrorKind::TimedOut`] after making no
/// progress for `timeout`; reads pass through.
#[derive(Debug)]
pub struct WriteTimeout<T> {
    /// The socket (or any stream).
    inner: T,
    /// How long a write may stall.
    timeout: Duration,
    /// Armed when a write first returned `Pending`; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteTimeout<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// After the inner write returned `Pending`: `Ready` with the error once the stall
    /// has lasted `timeout`, `Pending` (with a wake-up registered) before.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "write stalled for {}: the client does not read",
                    humantime::format_duration(timeout)
                ),
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Maps the inner poll's outcome: progress disarms the timer, a stall arms it.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match polled {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.poll_stall(cx).map(Err),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A peer that never reads: once the pipe's buffer is full the write fails after
    /// the timeout (paused clock), while a peer that reads lets it finish.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_write_fails_after_the_timeout() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let mut w = WriteTimeout::new(ours, Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let err = w.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));

        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut w = WriteTimeout::new(ours, Duration::from_secs(30));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            theirs.read_to_end(&mut all).await.unwrap();
            all.len()
        });
        w.write_all(&[0u8; 64 * 1024]).await.unwrap();
        w.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap(), 64 * 1024);
    }
}
