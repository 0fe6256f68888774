//! A service's output pipe, read so that the event log can wait for it: bytes are read and
//! turned into events under one lock, so "nothing unread in the pipe and nothing half handled"
//! is a state [`EventLog::settle`](crate::events::EventLog::settle) can observe. Without it an
//! assertion made right after a response could miss the line the service logged before
//! answering, because the reader thread had not been scheduled yet.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::events::Pending;

/// One output pipe's read end.
pub struct Pipe {
    /// `None` once the pipe reached its end (closed under the lock, so the fd is never reused
    /// under a settle's `FIONREAD`).
    file: Mutex<Option<File>>,
    fd: RawFd,
    /// Bytes read and handled so far.
    consumed: AtomicU64,
}

impl Pipe {
    /// Takes over a pipe's read end, making it non-blocking (only this side: the service's
    /// write end keeps its own flags).
    pub fn new(fd: OwnedFd) -> std::io::Result<Pipe> {
        let raw = fd.as_raw_fd();
        // SAFETY: fcntl on an fd we own, with no pointers.
        let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Pipe { file: Mutex::new(Some(File::from(fd))), fd: raw, consumed: AtomicU64::new(0) })
    }

    /// Reads until the pipe's end, handing every chunk to `handle` while the pipe is held.
    pub fn drain(&self, mut handle: impl FnMut(&[u8])) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            wait_readable(self.fd);
            let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            let Some(reading) = file.as_mut() else { return };
            let ended = loop {
                match reading.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => {
                        handle(&buf[..n]);
                        self.consumed.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break true,
                }
            };
            if ended {
                *file = None;
                return;
            }
        }
    }
}

impl Pending for Pipe {
    fn mark(&self) -> Option<u64> {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let open = file.as_ref()?;
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the pointer, which is valid for it.
        let ok = unsafe { libc::ioctl(open.as_raw_fd(), libc::FIONREAD, &mut unread) } == 0;
        (ok && unread > 0).then(|| self.consumed.load(Ordering::SeqCst) + unread as u64)
    }

    fn reached(&self, mark: u64) -> bool {
        self.consumed.load(Ordering::SeqCst) >= mark || self.file.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}

/// Blocks until the fd has data or its writers are gone (or poll fails, which the next read
/// reports).
fn wait_readable(fd: RawFd) {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    while unsafe { libc::poll(&mut poll, 1, -1) } < 0 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::events::EventLog;

    /// A line in the pipe before `settle` is an event after it, however late the reader runs.
    #[test]
    fn settle_waits_for_what_the_pipe_already_holds() {
        let (read, mut write) = std::io::pipe().map(|(r, w)| (OwnedFd::from(r), w)).expect("a pipe");
        let pipe = Arc::new(Pipe::new(read).expect("non-blocking"));
        let log = EventLog::default();
        log.watch(Arc::downgrade(&pipe) as std::sync::Weak<dyn Pending>);
        write.write_all(b"one\ntwo\n").expect("write");
        let (reader, sink) = (pipe.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            // A reader that is late on purpose.
            std::thread::sleep(Duration::from_millis(50));
            reader.drain(|chunk| {
                for line in String::from_utf8_lossy(chunk).lines() {
                    sink.push("svc", "stdout", crate::events::fields([("line", line.into())]));
                }
            });
        });
        log.settle(Duration::from_secs(5));
        assert_eq!(log.next_seq(), 2, "both lines are events once settle returns");
        drop(write);
        thread.join().expect("the reader ends at the pipe's end");
        assert!(pipe.mark().is_none());
    }
}
