//! Noticing that the terminal has gone away, without relying on SIGHUP.
//!
//! When a pseudo-terminal closes, the kernel sends SIGHUP to the session leader only. A TUI
//! started under something that ignores it (`sh -c 'trap "" HUP; casefile'`, a wrapper that
//! does not forward it, a lost race at start-up) is never told, and crossterm's input reader
//! then spins on the dead terminal, which reads as end-of-file forever, without reporting it
//! (crossterm issue #793). On a bastion that is a core burnt until someone kills it, and a
//! capture that never finalises. So the TUI also polls its terminal for `POLLHUP`.
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, OwnedFd};

/// The terminal the TUI draws on, opened once so it can be checked after it hangs up.
#[derive(Debug)]
pub struct TerminalWatch {
    tty: Option<OwnedFd>,
}

impl TerminalWatch {
    /// Watches the controlling terminal (`/dev/tty`), else standard input when it is one.
    pub fn open() -> TerminalWatch {
        let tty = std::fs::File::open("/dev/tty")
            .map(OwnedFd::from)
            .ok()
            .or_else(|| {
                let stdin = std::io::stdin();
                nix::unistd::isatty(stdin.as_fd())
                    .unwrap_or(false)
                    .then(|| stdin.as_fd().try_clone_to_owned().ok())
                    .flatten()
            });
        TerminalWatch { tty }
    }

    /// A watch of `fd` (tests).
    pub fn of(fd: OwnedFd) -> TerminalWatch {
        TerminalWatch { tty: Some(fd) }
    }

    /// True once the terminal has hung up. Never blocks; false when there is nothing to watch.
    pub fn hung_up(&self) -> bool {
        let Some(tty) = &self.tty else {
            return false;
        };
        let mut fds = [PollFd::new(tty.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLNVAL)),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-terminal whose other end closes reads as hung up; an open one does not.
    #[test]
    fn a_closed_pseudo_terminal_is_seen_as_hung_up() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let watch = TerminalWatch::of(pty.slave);
        assert!(!watch.hung_up(), "the terminal is still open");
        drop(pty.master);
        assert!(watch.hung_up(), "the terminal went away");
    }
}
