//! An append-only log of X-Ray document batches on local disk: the storage under a persistent
//! `sending_queue` (`sending_queue.storage` naming a `file_storage` extension).
//!
//! The directory holds segment files `<first sequence number, 20 digits>.log` and one `ack` file.
//! A segment is a run of records, each
//! `[payload length: u32 LE][CRC32 of sequence and payload: u32 LE][sequence: u64 LE][payload]`,
//! where the payload is the batch's documents, each `[length: u32 LE][bytes]`. Sequence numbers
//! grow by one per batch, so within a segment they are consecutive. The `ack` file holds the
//! lowest sequence number not yet acknowledged and its CRC32
//! (`[sequence: u64 LE][CRC32 of "ack" and sequence: u32 LE]`), replaced by
//! write-to-temporary-then-rename, so it is always either the old or the new value.
//!
//! Acknowledgements may arrive out of order (several senders are in flight); the persisted point
//! only moves over a contiguous run of acknowledged batches, so a restart replays every batch not
//! known to be delivered, and possibly a few that were (at-least-once delivery). The log keeps
//! the set of sequence numbers on disk and not yet acknowledged, so its memory and its start-up
//! work follow what is on disk, never the sequence numbers (gaps cost nothing).
//!
//! Recovery ([`DiskLog::open`], `recover.rs`):
//! - an `ack` file that is missing while segments exist, or of the wrong length, or failing its
//!   CRC, is distrusted: every batch on disk is replayed ([`Recovered::ack_reset`]);
//! - each segment is scanned as a stream (one record and a read-ahead in memory) into an index of
//!   valid records; a record cut short or failing its CRC is skipped and the scan resynchronises
//!   on the next valid record (whole, CRC-checked, with a sequence number that continues the
//!   segment's), so one bad byte loses one record, not the rest of the segment. What is skipped
//!   is reported in bytes and, where the record's framing survives, in records; a torn or
//!   corrupt tail is cut off the file (so it is reported once);
//! - the batches are then read back one at a time through [`Replay`], so memory holds the
//!   sending queue's bound plus one batch however large the backlog on disk.
//!
//! A failed append (`ENOSPC`, `EFBIG`, an IO error) truncates the segment back to its last whole
//! record; if even that fails, the segment is closed and the next batch starts a new one, so a
//! torn record never sits in front of later batches.
//!
//! Durability: a `write` that has returned survives a `kill -9` (the page cache belongs to the
//! kernel); only a machine crash can lose it. With `fsync: true` (the `file_storage` setting)
//! each append is followed by `fdatasync` of the segment and each move of the acknowledged point
//! by `fdatasync` of the `ack` file before its rename, at a cost per batch; by default neither
//! is synced. All of this is blocking file IO: the sending queue calls it from
//! `tokio::task::spawn_blocking`, never on the async runtime's threads.

mod recover;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

pub use self::recover::Replay;
use self::recover::{AckFile, encode_ack, read_ack, scan_segment};
/// Why the `ack` file was not trusted at start-up: the `reason` label of
/// `exporter_storage_ack_resets`.
pub use crate::telemetry::AckResetReason;

/// Bytes before the payload in each record.
const HEADER: usize = 16;

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The log would exceed its disk bound.
    #[error("the disk queue is full ({used} of {max} bytes used)")]
    Full { used: u64, max: u64 },
    /// The file system refused the write.
    #[error("writing the disk queue: {0}")]
    Io(#[from] io::Error),
}

/// What opening the log found.
pub struct Recovered {
    /// Batches not acknowledged before the restart, read back on demand, oldest first.
    pub replay: Replay,
    /// Bytes of torn or corrupt records skipped.
    pub truncated_bytes: u64,
    /// Records (X-Ray documents for the awsxray exporter) in the skipped bytes, where their
    /// framing survived to count them.
    pub lost_records: u64,
    /// Set when the `ack` file was distrusted and every batch on disk is replayed.
    pub ack_reset: Option<AckResetReason>,
}

/// The log. Not shared between threads by itself: callers wrap it in a mutex.
pub struct DiskLog {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    fsync: bool,
    /// First sequence number of each segment, with its size in bytes.
    segments: BTreeMap<u64, u64>,
    /// The last segment, open for appending (`None` until the next append opens a new one).
    current: Option<File>,
    next_seq: u64,
    /// Sequence numbers on disk and not yet acknowledged.
    pending: BTreeSet<u64>,
    /// The acknowledged point last written to the `ack` file.
    low: u64,
    /// Test hook: bytes the "file system" still takes before failing a write with `ENOSPC`.
    #[cfg(test)]
    space: Option<u64>,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.log"))
}

fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn encode_docs(docs: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(docs.iter().map(|d| d.len() + 4).sum());
    for d in docs {
        out.extend_from_slice(&(d.len() as u32).to_le_bytes());
        out.extend_from_slice(d);
    }
    out
}

/// The documents a payload frames, or `None` if its framing is broken.
fn count_docs(mut payload: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    while !payload.is_empty() {
        let len = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        payload = payload.get(4..)?.get(len..)?;
        n = n.checked_add(1)?;
    }
    Some(n)
}

fn decode_docs(mut payload: &[u8]) -> Option<Vec<Bytes>> {
    let mut docs = Vec::new();
    while !payload.is_empty() {
        let len = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        let body = payload.get(4..)?.get(..len)?;
        docs.push(Bytes::copy_from_slice(body));
        payload = &payload[4 + len..];
    }
    Some(docs)
}

impl DiskLog {
    /// Opens (or creates) the log in `dir`, bounded to `max_bytes` of segment files, and returns
    /// the batches to send again. Cost: one streaming pass over the segment files; memory: an
    /// index entry per batch on disk.
    pub fn open(dir: &Path, max_bytes: u64, fsync: bool) -> io::Result<(DiskLog, Recovered)> {
        fs::create_dir_all(dir)?;
        let ack = read_ack(dir)?;
        let mut firsts = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(first) = name
                .strip_suffix(".log")
                .and_then(|s| s.parse::<u64>().ok())
            {
                firsts.push(first);
            }
        }
        firsts.sort_unstable();
        let (low, ack_reset) = match ack {
            AckFile::Valid(low) => (low, None),
            AckFile::Missing if firsts.is_empty() => (0, None),
            AckFile::Missing => (0, Some(AckResetReason::Missing)),
            AckFile::Invalid => (0, Some(AckResetReason::Invalid)),
        };
        let mut truncated_bytes = 0;
        let mut lost_records = 0;
        let mut segments = BTreeMap::new();
        let mut index = VecDeque::new();
        let mut pending = BTreeSet::new();
        let mut next_seq = low;
        for first in firsts {
            let path = segment_path(dir, first);
            let scanned = scan_segment(&path, first)?;
            truncated_bytes += scanned.skipped_bytes;
            lost_records += scanned.lost_records;
            if let Some(last) = scanned.records.last() {
                next_seq = next_seq.max(last.seq + 1);
            }
            let kept: Vec<_> = scanned
                .records
                .into_iter()
                .filter(|r| r.seq >= low)
                .collect();
            if kept.is_empty() {
                // Fully acknowledged, empty or unreadable: nothing to keep.
                fs::remove_file(&path)?;
                continue;
            }
            // A torn or corrupt tail is cut off, so that it is reported once.
            let mut size = scanned.file_len;
            if scanned.valid_end < size {
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(scanned.valid_end)?;
                size = scanned.valid_end;
            }
            segments.insert(first, size);
            for r in kept {
                pending.insert(r.seq);
                index.push_back((first, r));
            }
        }
        let mut log = DiskLog {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 * 1024, 64 * 1024 * 1024),
            fsync,
            segments,
            current: None,
            next_seq,
            pending,
            low: u64::MAX,
            #[cfg(test)]
            space: None,
        };
        // Always write the acknowledged point, so that a missing `ack` file later means damage.
        log.advance()?;
        let recovered = Recovered {
            replay: Replay::new(dir.to_owned(), index),
            truncated_bytes,
            lost_records,
            ack_reset,
        };
        Ok((log, recovered))
    }

    /// Bytes of segment files on disk.
    pub fn used_bytes(&self) -> u64 {
        self.segments.values().sum()
    }

    /// Appends a batch and returns its sequence number, or refuses it when the disk bound would
    /// be exceeded. A failed write leaves no torn record in front of later ones.
    pub fn append(&mut self, docs: &[Bytes]) -> Result<u64, AppendError> {
        let payload = encode_docs(docs);
        let size = (HEADER + payload.len()) as u64;
        let used = self.used_bytes();
        if used + size > self.max_bytes {
            return Err(AppendError::Full {
                used,
                max: self.max_bytes,
            });
        }
        let seq = self.next_seq;
        let rotate = match self.segments.last_key_value() {
            Some((_, &len)) => self.current.is_none() || len + size > self.segment_bytes,
            None => true,
        };
        if rotate {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&self.dir, seq))?;
            self.segments.insert(seq, file.metadata()?.len());
            self.current = Some(file);
        }
        let mut record = Vec::with_capacity(size as usize);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(seq, &payload).to_le_bytes());
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&payload);
        let whole = self.segments.values().next_back().copied().unwrap_or(0);
        if let Err(error) = self.write_record(&record) {
            self.undo_write(whole);
            return Err(error.into());
        }
        if let Some((_, len)) = self.segments.iter_mut().next_back() {
            *len += size;
        }
        self.pending.insert(seq);
        self.next_seq += 1;
        Ok(seq)
    }

    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let file = self
            .current
            .as_mut()
            .ok_or_else(|| io::Error::other("no segment open"))?;
        #[cfg(test)]
        if let Some(space) = self.space.as_mut() {
            if record.len() as u64 > *space {
                let part = *space as usize;
                *space = 0;
                file.write_all(&record[..part])?;
                return Err(io::Error::from_raw_os_error(28));
            }
            *space -= record.len() as u64;
        }
        file.write_all(record)?;
        if self.fsync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// After a failed write: cut the segment back to its last whole record (`whole` bytes). If
    /// that fails too, close the segment (the next append starts a new one) and retire the
    /// sequence number, so the torn bytes are never followed by records in the same file.
    fn undo_write(&mut self, whole: u64) {
        let cut = self
            .current
            .as_ref()
            .map(|f| f.set_len(whole).and_then(|()| f.metadata()))
            .and_then(Result::ok)
            .is_some_and(|m| m.len() == whole);
        if !cut {
            tracing::warn!(dir = %self.dir.display(), "Cannot cut a failed write off the disk queue; the next batch starts a new segment.");
            self.current = None;
            if let Some(path) = self
                .segments
                .keys()
                .next_back()
                .map(|f| segment_path(&self.dir, *f))
            {
                if let (Ok(m), Some((_, len))) =
                    (fs::metadata(path), self.segments.iter_mut().next_back())
                {
                    *len = m.len();
                }
            }
            self.next_seq += 1;
        }
    }

    /// Records that batch `seq` was delivered (or failed for good); persists the acknowledged
    /// point and deletes segments that are fully acknowledged.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        if self.pending.remove(&seq) {
            self.advance()?;
        }
        Ok(())
    }

    fn advance(&mut self) -> io::Result<()> {
        let low = self.pending.first().copied().unwrap_or(self.next_seq);
        if low == self.low {
            return Ok(());
        }
        let tmp = self.dir.join("ack.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&encode_ack(low))?;
        if self.fsync {
            f.sync_data()?;
        }
        fs::rename(&tmp, self.dir.join("ack"))?;
        self.low = low;
        // A segment is done when the next one starts at or below `low` (or, for the last one,
        // when every appended batch is acknowledged).
        let firsts: Vec<u64> = self.segments.keys().copied().collect();
        for (i, first) in firsts.iter().enumerate() {
            let end = firsts.get(i + 1).copied().unwrap_or(self.next_seq);
            if end > low {
                break;
            }
            if i + 1 == firsts.len() {
                self.current = None;
            }
            fs::remove_file(segment_path(&self.dir, *first))?;
            self.segments.remove(first);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
