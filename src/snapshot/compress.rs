//! Compression for snapshot archives: `.tar.gz` (the default) and `.tar.zst`.
//!
//! gzip is compressed in parallel: the tar stream is cut into [`GZ_CHUNK`] pieces and each
//! piece becomes a complete gzip member, compressed on a worker thread while the packing thread
//! reads, scans and tars the next one. Concatenated members are one valid gzip file (RFC 1952
//! §2.2): `gzip -d`, `tar -xzf` and [`flate2::read::MultiGzDecoder`] read them as one stream.
//! Each member loses only the first 32 KiB of history of its piece, so the ratio stays within a
//! fraction of a percent of a single stream. The cut points depend only on the input, so the
//! archive is the same bytes on every machine, whatever its number of cores.
//!
//! zstd (`--format tar.zst`) uses the library's own worker threads.
//!
//! Unpacking tells the two apart by their magic bytes, not by the file name.
use flate2::{Compression, GzBuilder};
use std::{
    collections::VecDeque,
    io::{self, BufRead, Read, Write},
    sync::{Arc, Mutex, mpsc},
    thread::JoinHandle,
};

/// Bytes of tar stream per gzip member.
pub const GZ_CHUNK: usize = 2 << 20;

/// zstd level of `.tar.zst` archives (zstd's own default: about gzip -6's ratio, several
/// times its speed).
pub const ZSTD_LEVEL: i32 = 3;

/// The container and compression of an exported archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `ID.tar.gz`: what every machine can open (`tar -xzf`).
    #[default]
    TarGz,
    /// `ID.tar.zst`: faster and smaller; opened with `tar --zstd -xf` (zstd installed).
    TarZst,
}

impl ArchiveFormat {
    /// File name extension, without the leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::TarZst => "tar.zst",
        }
    }

    /// MIME type for uploads.
    pub fn content_type(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "application/gzip",
            ArchiveFormat::TarZst => "application/zstd",
        }
    }

    /// The format a file name says (`.tar.gz`, `.tgz`, `.tar.zst`, `.tzst`), if any.
    pub fn from_name(name: &str) -> Option<ArchiveFormat> {
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(ArchiveFormat::TarGz)
        } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Some(ArchiveFormat::TarZst)
        } else {
            None
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A decoder for `reader`, chosen by its first bytes; an error when it is neither gzip nor zstd.
pub fn decoder<'a, R: BufRead + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&ZSTD_MAGIC) {
        // zstd's default window limit (128 MiB) bounds the decoder's memory on a hostile frame.
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(reader)?))
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a gzip or zstd file: casefile archives are .tar.gz or .tar.zst",
        ))
    }
}

/// The compressing writer for `format` around `out`; call [`Compressor::finish`] at the end.
pub fn compressor<W: Write>(
    format: ArchiveFormat,
    out: W,
    gzip_level: u32,
) -> io::Result<Compressor<W>> {
    Ok(match format {
        ArchiveFormat::TarGz => Compressor::Gz(ParallelGzWriter::new(
            out,
            Compression::new(gzip_level.min(9)),
            worker_count(),
        )),
        ArchiveFormat::TarZst => {
            let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
            encoder.include_checksum(true)?;
            // Worker mode whatever the core count, so the output does not depend on it.
            encoder.multithread(worker_count() as u32)?;
            Compressor::Zst(encoder)
        }
    })
}

/// Threads compressing beside the packing thread.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

/// One of the archive compressors.
pub enum Compressor<W: Write> {
    Gz(ParallelGzWriter<W>),
    Zst(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    /// Writes what is buffered and the stream's end; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gz(gz) => gz.finish(),
            Compressor::Zst(zst) => zst.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gz(gz) => gz.write(buf),
            Compressor::Zst(zst) => zst.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gz(gz) => gz.flush(),
            Compressor::Zst(zst) => zst.flush(),
        }
    }
}

/// A piece of input and where to send its compressed member.
struct Job {
    input: Vec<u8>,
    reply: mpsc::SyncSender<io::Result<Vec<u8>>>,
}

/// Writes gzip as a series of members compressed on worker threads (see the module comment).
/// Memory is bounded: at most `workers + 2` pieces are in flight (each being compressed, or
/// compressed and waiting for its turn to be written).
pub struct ParallelGzWriter<W: Write> {
    /// `None` only after `finish` took it.
    out: Option<W>,
    piece: Vec<u8>,
    /// Bytes per member ([`GZ_CHUNK`]; smaller in tests).
    chunk: usize,
    jobs: Option<mpsc::SyncSender<Job>>,
    /// Members being compressed, oldest first (the order they are written in).
    pending: VecDeque<mpsc::Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    workers: Vec<JoinHandle<()>>,
    /// True once a member was started, so an empty input still gets one (empty) member.
    started: bool,
}

impl<W: Write> ParallelGzWriter<W> {
    pub fn new(out: W, level: Compression, workers: usize) -> Self {
        Self::with_chunk(out, level, workers, GZ_CHUNK)
    }

    /// [`ParallelGzWriter::new`] with `chunk` bytes of input per member.
    pub fn with_chunk(out: W, level: Compression, workers: usize, chunk: usize) -> Self {
        let (workers, chunk) = (workers.max(1), chunk.max(1));
        let (jobs, queue) = mpsc::sync_channel::<Job>(workers);
        let queue = Arc::new(Mutex::new(queue));
        let handles = (0..workers)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    loop {
                        // The lock is held only to take the next job, not while compressing.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // The receiver is gone only when the writer was dropped mid-pack.
                        let _ = job.reply.send(gzip_member(&job.input, level));
                    }
                })
            })
            .collect();
        ParallelGzWriter {
            out: Some(out),
            piece: Vec::with_capacity(chunk),
            chunk,
            jobs: Some(jobs),
            pending: VecDeque::new(),
            max_pending: workers + 2,
            workers: handles,
            started: false,
        }
    }

    /// Hands the current piece to a worker, first writing out the oldest member when enough
    /// are in flight.
    fn submit(&mut self) -> io::Result<()> {
        while self.pending.len() >= self.max_pending {
            self.write_oldest()?;
        }
        let input = std::mem::replace(&mut self.piece, Vec::with_capacity(self.chunk));
        let (reply, member) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(workers_gone)?;
        jobs.send(Job { input, reply })
            .map_err(|_| workers_gone())?;
        self.pending.push_back(member);
        self.started = true;
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(member) = self.pending.pop_front() {
            let bytes = member.recv().map_err(|_| workers_gone())??;
            self.out()?.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Compresses what is left, writes every member in order, stops the workers and returns
    /// the inner writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.piece.is_empty() || !self.started {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.stop_workers();
        let mut out = self.out.take().ok_or_else(workers_gone)?;
        out.flush()?;
        Ok(out)
    }

    fn stop_workers(&mut self) {
        self.jobs = None;
        self.pending.clear();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }

    fn out(&mut self) -> io::Result<&mut W> {
        self.out.as_mut().ok_or_else(workers_gone)
    }
}

impl<W: Write> Write for ParallelGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.chunk - self.piece.len();
        let n = buf.len().min(room);
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == self.chunk {
            self.submit()?;
        }
        Ok(n)
    }

    /// Members are written whole; a flush writes the finished ones, not a partial piece.
    fn flush(&mut self) -> io::Result<()> {
        self.out()?.flush()
    }
}

impl<W: Write> Drop for ParallelGzWriter<W> {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

fn workers_gone() -> io::Error {
    io::Error::other("a gzip worker thread stopped")
}

/// One complete gzip member (header time 0, so the archive is deterministic).
fn gzip_member(input: &[u8], level: Compression) -> io::Result<Vec<u8>> {
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::with_capacity(input.len() / 2 + 64), level);
    gz.write_all(input)?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parallel_gz(input: &[u8], splits: &[usize], workers: usize, chunk: usize) -> Vec<u8> {
        let mut gz = ParallelGzWriter::with_chunk(Vec::new(), Compression::new(6), workers, chunk);
        let mut rest = input;
        for &split in splits.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let take = split.clamp(1, rest.len());
            gz.write_all(&rest[..take]).expect("write");
            rest = &rest[take..];
        }
        gz.finish().expect("finish")
    }

    fn gunzip_all(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decoder(bytes)
            .expect("gzip")
            .read_to_end(&mut out)
            .expect("decode");
        out
    }

    #[test]
    fn empty_input_is_one_valid_empty_member() {
        let bytes = parallel_gz(b"", &[1], 2, 16);
        assert_eq!(&bytes[..2], &GZIP_MAGIC);
        assert!(gunzip_all(&bytes).is_empty());
    }

    #[test]
    fn several_members_are_read_back_whole_by_gzip() {
        let input: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let bytes = parallel_gz(&input, &[4096], 3, 64 << 10);
        assert_eq!(gunzip_all(&bytes), input);
        // GNU gzip reads every member too (as `tar -xzf` does).
        if let Ok(mut child) = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        {
            let mut stdin = child.stdin.take().expect("stdin");
            let writer = std::thread::spawn(move || stdin.write_all(&bytes));
            let output = child.wait_with_output().expect("gzip");
            writer.join().expect("join").expect("feed gzip");
            assert!(output.status.success());
            assert_eq!(output.stdout, input);
        }
    }

    #[test]
    fn zstd_round_trips_and_garbage_is_refused() {
        let input = b"hello zstd\n".repeat(10_000);
        let mut zst = compressor(ArchiveFormat::TarZst, Vec::new(), 6).expect("zstd");
        zst.write_all(&input).expect("write");
        let bytes = zst.finish().expect("finish");
        assert_eq!(&bytes[..4], &ZSTD_MAGIC);
        let mut out = Vec::new();
        decoder(&bytes[..])
            .expect("zstd")
            .read_to_end(&mut out)
            .expect("decode");
        assert_eq!(out, input);
        let error = decoder(&b"PK\x03\x04 a zip file"[..])
            .err()
            .expect("refused");
        assert!(
            error.to_string().contains("not a gzip or zstd file"),
            "{error}"
        );
    }

    #[test]
    fn zstd_output_does_not_depend_on_the_worker_count() {
        let mut rng = 1u64;
        let input: Vec<u8> = (0..3_000_000)
            .map(|i| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                if i % 3 == 0 {
                    (rng >> 56) as u8
                } else {
                    b'a' + (i % 7) as u8
                }
            })
            .collect();
        let with = |workers: u32| {
            let mut zst = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL).expect("zstd");
            zst.include_checksum(true).expect("checksum");
            zst.multithread(workers).expect("workers");
            zst.write_all(&input).expect("write");
            zst.finish().expect("finish")
        };
        assert_eq!(with(1), with(4));
    }

    #[test]
    fn formats_by_name() {
        assert_eq!(
            ArchiveFormat::from_name("x.tgz"),
            Some(ArchiveFormat::TarGz)
        );
        assert_eq!(
            ArchiveFormat::from_name("x.tar.zst"),
            Some(ArchiveFormat::TarZst)
        );
        assert_eq!(
            ArchiveFormat::from_name("x.tzst"),
            Some(ArchiveFormat::TarZst)
        );
        assert_eq!(ArchiveFormat::from_name("x.zip"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the input, the way it is written and the member size, the bytes read back
        /// are the bytes written, and the archive does not depend on the number of workers.
        #[test]
        fn parallel_gzip_round_trips_and_is_deterministic(
            input in proptest::collection::vec(any::<u8>(), 0..20_000),
            splits in proptest::collection::vec(1usize..5_000, 1..8),
            chunk in 1usize..6_000,
        ) {
            let one = parallel_gz(&input, &splits, 1, chunk);
            let three = parallel_gz(&input, &[7], 3, chunk);
            prop_assert_eq!(gunzip_all(&one), input);
            prop_assert_eq!(one, three);
        }
    }
}
