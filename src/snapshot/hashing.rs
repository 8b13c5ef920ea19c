//! SHA-256 of a stream output, off the write path once the output is bulky.
//!
//! Hashing costs about as much CPU as writing the bytes (SHA-256 runs at ~1.5 GB/s with the
//! CPU's SHA extensions, slower without), so a 1 GiB stream spent a third of its time here. An
//! output starts hashing inline (most steps print a few KiB, and a thread each for 7,000
//! streams would cost more than it saves); past [`OFFLOAD_AFTER`] bytes its chunks go to a
//! helper thread over a bounded channel, which hashes them while the stream task reads and writes
//! the next ones. The channel holds at most [`IN_FLIGHT`] buffers and the thread hands each back
//! to be reused, so memory stays flat, and a stream that outruns the hash waits for it instead
//! of queueing.
use sha2::{Digest, Sha256};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes hashed inline before an output gets its hashing thread.
pub const OFFLOAD_AFTER: u64 = 8 << 20;
/// Buffers queued for the hashing thread at most.
const IN_FLIGHT: usize = 2;

/// The running hash of one output.
#[derive(Debug)]
pub struct StreamHasher {
    state: State,
    hashed: u64,
}

#[derive(Debug)]
enum State {
    Inline(Sha256),
    Thread {
        work: SyncSender<Vec<u8>>,
        spare: Receiver<Vec<u8>>,
        handle: JoinHandle<Sha256>,
    },
    /// Only between taking the state apart and putting it back.
    Moving,
    /// The hashing thread died: the output is written, but no hash is recorded.
    Lost,
}

impl Default for StreamHasher {
    fn default() -> Self {
        StreamHasher::new()
    }
}

impl StreamHasher {
    pub fn new() -> StreamHasher {
        StreamHasher {
            state: State::Inline(Sha256::new()),
            hashed: 0,
        }
    }

    /// Hashes `buffer` (taking it) and returns an empty buffer to fill next: a recycled one
    /// once hashing runs on its thread, else `buffer` itself, cleared.
    pub fn update(&mut self, mut buffer: Vec<u8>) -> Vec<u8> {
        self.hashed += buffer.len() as u64;
        if let State::Inline(sha) = &mut self.state {
            sha.update(&buffer);
            if self.hashed > OFFLOAD_AFTER {
                self.offload();
            }
            buffer.clear();
            return buffer;
        }
        if let State::Thread { work, spare, .. } = &self.state {
            let capacity = buffer.capacity();
            match work.send(buffer) {
                Ok(()) => {
                    return spare
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(capacity));
                }
                // The thread is gone (it cannot panic on its own; only if the process is
                // going down): finish inline so the hash is still right.
                Err(returned) => {
                    self.join_into_inline();
                    if let State::Inline(sha) = &mut self.state {
                        sha.update(&returned.0);
                    }
                    let mut buffer = returned.0;
                    buffer.clear();
                    return buffer;
                }
            }
        }
        buffer.clear();
        buffer
    }

    /// Moves the running hash to a thread of its own.
    fn offload(&mut self) {
        let State::Inline(sha) = std::mem::replace(&mut self.state, State::Moving) else {
            return;
        };
        let (work, inbox) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, spare) = sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let mut running = sha.clone();
        let spawned = std::thread::Builder::new()
            .name("casefile-hash".into())
            .spawn(move || {
                for mut buffer in inbox {
                    running.update(&buffer);
                    buffer.clear();
                    let _ = give_back.try_send(buffer);
                }
                running
            });
        self.state = match spawned {
            Ok(handle) => State::Thread {
                work,
                spare,
                handle,
            },
            // No thread to be had (a process limit): hashing inline is only slower.
            Err(_) => State::Inline(sha),
        };
    }

    /// Waits for the thread to hash what it was sent and continues inline.
    fn join_into_inline(&mut self) {
        if !matches!(self.state, State::Thread { .. }) {
            return;
        }
        if let State::Thread { work, handle, .. } =
            std::mem::replace(&mut self.state, State::Moving)
        {
            drop(work);
            // A thread that panicked has no hash to give: no hash is recorded, rather than a
            // wrong one.
            self.state = match handle.join() {
                Ok(sha) => State::Inline(sha),
                Err(_) => State::Lost,
            };
        }
    }

    /// Bytes hashed so far (including what the thread still works on).
    pub fn bytes(&self) -> u64 {
        self.hashed
    }

    /// The SHA-256, hex, of everything given to [`StreamHasher::update`]; `None` if it was lost.
    pub fn finish(mut self) -> Option<String> {
        self.join_into_inline();
        match self.state {
            State::Inline(sha) => Some(hex::encode(sha.finalize())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        /// Inline or on its thread, and whatever the chunking, the hash is that of the bytes.
        #[test]
        fn the_hash_is_the_hash_of_the_bytes(sizes in prop::collection::vec(0usize..3 << 20, 1..12), seed: u8) {
            let mut hasher = StreamHasher::new();
            let mut whole = Sha256::new();
            let mut buffer = Vec::new();
            for (i, size) in sizes.iter().enumerate() {
                buffer.extend((0..*size).map(|j| (j as u8).wrapping_mul(31).wrapping_add(seed ^ i as u8)));
                whole.update(&buffer);
                buffer = hasher.update(buffer);
                prop_assert!(buffer.is_empty());
            }
            prop_assert_eq!(hasher.bytes(), sizes.iter().map(|&s| s as u64).sum::<u64>());
            prop_assert_eq!(hasher.finish(), Some(hex::encode(whole.finalize())));
        }
    }

    #[test]
    fn a_bulky_output_is_hashed_on_a_thread() {
        let mut hasher = StreamHasher::new();
        let mut buffer = vec![7u8; 1 << 20];
        for _ in 0..10 {
            buffer.resize(1 << 20, 7);
            buffer = hasher.update(buffer);
        }
        assert!(matches!(hasher.state, State::Thread { .. }));
        let expected = {
            let mut sha = Sha256::new();
            for _ in 0..10 {
                sha.update(vec![7u8; 1 << 20]);
            }
            hex::encode(sha.finalize())
        };
        assert_eq!(hasher.finish(), Some(expected));
    }
}
