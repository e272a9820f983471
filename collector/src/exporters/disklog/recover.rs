//! Reading a log back at start-up: the `ack` file, and a streaming scan of every segment that
//! indexes valid records (resynchronising past torn or corrupt ones) without holding the batches;
//! [`Replay`] then reads the indexed batches one at a time.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{HEADER, checksum, count_docs, decode_docs, segment_path};

/// The `ack` file: `[lowest unacknowledged sequence: u64 LE][CRC32 of "ack" and it: u32 LE]`.
pub(super) const ACK_LEN: usize = 12;

pub(super) fn ack_checksum(low: u64) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(b"ack");
    h.update(&low.to_le_bytes());
    h.finalize()
}

pub(super) fn encode_ack(low: u64) -> [u8; ACK_LEN] {
    let mut out = [0; ACK_LEN];
    out[..8].copy_from_slice(&low.to_le_bytes());
    out[8..].copy_from_slice(&ack_checksum(low).to_le_bytes());
    out
}

/// What the `ack` file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckFile {
    Valid(u64),
    Missing,
    /// Wrong length or checksum.
    Invalid,
}

pub(super) fn read_ack(dir: &Path) -> io::Result<AckFile> {
    match std::fs::read(dir.join("ack")) {
        Ok(b) if b.len() == ACK_LEN => {
            let low = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            let crc = u32::from_le_bytes(b[8..].try_into().unwrap_or_default());
            Ok(if crc == ack_checksum(low) {
                AckFile::Valid(low)
            } else {
                AckFile::Invalid
            })
        }
        Ok(_) => Ok(AckFile::Invalid),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(AckFile::Missing),
        Err(e) => Err(e),
    }
}

/// Where one valid record lies.
#[derive(Debug, Clone, Copy)]
pub(super) struct RecordAt {
    pub seq: u64,
    pub offset: u64,
    pub len: u32,
    pub docs: u32,
}

/// What scanning one segment found.
#[derive(Debug, Default)]
pub(super) struct Scanned {
    pub records: Vec<RecordAt>,
    /// Bytes not part of any valid record (torn or corrupt).
    pub skipped_bytes: u64,
    /// Records inside the skipped bytes whose framing was intact enough to count them.
    pub lost_records: u64,
    pub file_len: u64,
    /// The end of the last valid record: bytes after it are a torn or corrupt tail.
    pub valid_end: u64,
}

/// Reads a file through a window that holds at most one record plus a read-ahead.
struct Window {
    file: File,
    len: u64,
    buf: Vec<u8>,
    start: u64,
}

const READ_AHEAD: usize = 256 * 1024;

impl Window {
    /// `n` bytes at `at`, or `None` past the end of the file.
    fn get(&mut self, at: u64, n: usize) -> io::Result<Option<&[u8]>> {
        if at.saturating_add(n as u64) > self.len {
            return Ok(None);
        }
        let in_buf = at >= self.start && at + n as u64 <= self.start + self.buf.len() as u64;
        if !in_buf {
            let want = (n.max(READ_AHEAD) as u64).min(self.len - at) as usize;
            self.buf.clear();
            self.buf.resize(want, 0);
            self.file.seek(SeekFrom::Start(at))?;
            self.file.read_exact(&mut self.buf)?;
            self.start = at;
            if self.buf.capacity() > 2 * want.max(READ_AHEAD) {
                self.buf.shrink_to(want);
            }
        }
        let from = (at - self.start) as usize;
        Ok(Some(&self.buf[from..from + n]))
    }
}

/// The record at `at`, if it is whole, passes its CRC, continues the segment's numbering (its
/// sequence number is in `seqs`: sequence numbers within a segment are consecutive, so one
/// segment cannot hold more than one per [`HEADER`] bytes) and its payload frames documents.
fn record_at(
    w: &mut Window,
    at: u64,
    seqs: std::ops::RangeInclusive<u64>,
) -> io::Result<Option<RecordAt>> {
    let Some(h) = w.get(at, HEADER)? else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(h[0..4].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(h[4..8].try_into().unwrap_or_default());
    let seq = u64::from_le_bytes(h[8..16].try_into().unwrap_or_default());
    if !seqs.contains(&seq) {
        return Ok(None);
    }
    let Some(record) = w.get(at, HEADER + len as usize)? else {
        return Ok(None);
    };
    let payload = &record[HEADER..];
    if checksum(seq, payload) != crc {
        return Ok(None);
    }
    let Some(docs) = count_docs(payload) else {
        return Ok(None);
    };
    Ok(Some(RecordAt {
        seq,
        offset: at,
        len,
        docs,
    }))
}

/// Indexes the valid records of the segment whose first sequence number is `first`. A record
/// that does not check is skipped: when its length field still leads to a valid record, exactly
/// that record is lost (and counted); otherwise the scan moves byte by byte to the next offset
/// holding a valid record with a higher sequence number. Memory: one record and a read-ahead.
pub(super) fn scan_segment(path: &Path, first: u64) -> io::Result<Scanned> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut w = Window {
        file,
        len,
        buf: Vec::new(),
        start: 0,
    };
    let mut out = Scanned {
        file_len: len,
        ..Scanned::default()
    };
    let mut at = 0u64;
    let mut min_seq = first;
    let max_seq = first.saturating_add(len / HEADER as u64);
    while at < len {
        if let Some(r) = record_at(&mut w, at, min_seq..=max_seq)? {
            out.records.push(r);
            min_seq = r.seq + 1;
            at += (HEADER + r.len as usize) as u64;
            out.valid_end = at;
            continue;
        }
        // A bad record at `at`. Its own length field, if plausible, says where the next begins.
        // A record cut off at the end of the file, or followed by a valid one, is counted (in
        // documents when its payload still frames them, otherwise as one).
        let bad = at;
        let mut framed = None;
        if let Some(h) = w.get(at, HEADER)? {
            let claimed = u32::from_le_bytes(h[0..4].try_into().unwrap_or_default());
            let next = at + HEADER as u64 + u64::from(claimed);
            if next == len || (next < len && record_at(&mut w, next, min_seq..=max_seq)?.is_some())
            {
                let payload = w.get(at + HEADER as u64, claimed as usize)?;
                framed = Some((next, payload.and_then(count_docs).unwrap_or(1).max(1)));
            }
        }
        match framed {
            Some((next, docs)) => {
                out.lost_records += u64::from(docs);
                at = next;
            }
            None => {
                at += 1;
                while at < len && record_at(&mut w, at, min_seq..=max_seq)?.is_none() {
                    at += 1;
                }
            }
        }
        out.skipped_bytes += at - bad;
    }
    Ok(out)
}

/// The batches a restart must send again, read from disk one at a time (oldest first), so that
/// memory holds one batch however large the backlog.
pub struct Replay {
    dir: PathBuf,
    /// Segment first sequence number and record location, in log order.
    records: VecDeque<(u64, RecordAt)>,
    open: Option<(u64, File)>,
}

impl Replay {
    pub(super) fn new(dir: PathBuf, records: VecDeque<(u64, RecordAt)>) -> Replay {
        Replay {
            dir,
            records,
            open: None,
        }
    }

    /// Batches still to read.
    pub fn batches(&self) -> usize {
        self.records.len()
    }

    /// Records (documents, for the awsxray exporter) still to read.
    pub fn records(&self) -> u64 {
        self.records.iter().map(|(_, r)| u64::from(r.docs)).sum()
    }

    /// The next batch: its sequence number and records. A record that no longer checks (the
    /// file changed under the collector) is an error naming it; the caller may go on.
    pub fn next_batch(&mut self) -> Option<io::Result<(u64, Vec<Bytes>)>> {
        let (first, r) = self.records.pop_front()?;
        Some(self.read(first, r))
    }

    fn read(&mut self, first: u64, r: RecordAt) -> io::Result<(u64, Vec<Bytes>)> {
        if self.open.as_ref().is_none_or(|(f, _)| *f != first) {
            self.open = Some((first, File::open(segment_path(&self.dir, first))?));
        }
        let Some((_, file)) = self.open.as_mut() else {
            return Err(io::Error::other("no segment open"));
        };
        let mut record = vec![0; HEADER + r.len as usize];
        file.seek(SeekFrom::Start(r.offset))?;
        file.read_exact(&mut record)?;
        let payload = &record[HEADER..];
        let crc = u32::from_le_bytes(record[4..8].try_into().unwrap_or_default());
        let docs = (checksum(r.seq, payload) == crc)
            .then(|| decode_docs(payload))
            .flatten()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "record {} of segment {first} changed on disk since start-up",
                        r.seq
                    ),
                )
            })?;
        Ok((r.seq, docs))
    }
}
