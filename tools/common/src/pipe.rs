//! The pipes between stages. Linux gives a pipe 64 KiB, less than one flush of a busy
//! stage: records carry their document along, and llm-call lets the records of 200 ms
//! gather before it writes them. Such a flush went through a 64 KiB pipe in several
//! rounds, each one more wake-up of the writer and of the reader. Both ends widen the pipe
//! to the reader's buffer, so a flush usually goes in one write and one read.
//!
//! The kernel counts a user's pipe memory: by default 64 MiB of it before new pipes get
//! only two pages. A generate-all has 38 pipes, 9.5 MiB at this size, so half a dozen of
//! them side by side still leave other programs' pipes alone.

use std::os::fd::AsFd;

/// The pipe size asked for: the reader's buffer (`input`), so one read can take it all.
pub const PIPE_BYTES: usize = crate::input::BUF_SIZE;

/// Widens `fd` to [`PIPE_BYTES`] when it is a smaller pipe. Anything else is left alone,
/// and so is a pipe the kernel will not widen (the user's pipe quota is spent, or the
/// system's pipe-max-size is smaller): it works as it is, only with more wake-ups.
pub fn widen(fd: impl AsFd) {
    if let Ok(size) = rustix::pipe::fcntl_getpipe_size(&fd)
        && size < PIPE_BYTES
    {
        let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_widened_and_a_file_left_alone() {
        let (reader, writer) = std::io::pipe().expect("pipe");
        widen(&writer);
        assert_eq!(
            rustix::pipe::fcntl_getpipe_size(&reader).expect("size"),
            PIPE_BYTES
        );
        let file = tempfile::tempfile().expect("file");
        widen(&file);
        assert!(rustix::pipe::fcntl_getpipe_size(&file).is_err());
    }
}
