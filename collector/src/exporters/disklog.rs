//! An append-only log of X-Ray document batches on local disk: the storage under a persistent
//! `sending_queue` (`sending_queue.storage` naming a `file_storage` extension).
//!
//! The directory holds segment files `<first sequence number, 20 digits>.log` and one `ack` file.
//! A segment is a run of records, each
//! `[payload length: u32 LE][CRC32 of sequence and payload: u32 LE][sequence: u64 LE][payload]`,
//! where the payload is the batch's documents, each `[length: u32 LE][bytes]`. Sequence numbers
//! grow by one per batch. The `ack` file holds the lowest sequence number not yet acknowledged,
//! replaced by write-to-temporary-then-rename, so it is always either the old or the new value.
//!
//! Acknowledgements may arrive out of order (several senders are in flight); the persisted point
//! only moves over a contiguous run of acknowledged batches, so a restart replays every batch not
//! known to be delivered, and possibly a few that were (at-least-once delivery).
//!
//! On opening, a record cut short or failing its CRC (a `kill -9` or a crash in the middle of a
//! write) ends its segment: the file is truncated there and the lost bytes are reported, never a
//! panic. A `write` that has returned survives a `kill -9` (the page cache belongs to the kernel);
//! only a machine crash can lose it, which `fsync` guards against at a cost per batch.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

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
#[derive(Debug, Default)]
pub struct Recovered {
    /// Batches not acknowledged before the restart, oldest first.
    pub batches: Vec<(u64, Vec<Bytes>)>,
    /// Bytes cut off torn or corrupt records.
    pub truncated_bytes: u64,
}

/// The log. Not shared between threads by itself: callers wrap it in a mutex.
pub struct DiskLog {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    fsync: bool,
    /// First sequence number of each segment, with its size in bytes.
    segments: BTreeMap<u64, u64>,
    current: Option<File>,
    next_seq: u64,
    /// Lowest sequence number not acknowledged (everything below is).
    low: u64,
    /// Acknowledged sequence numbers above `low`.
    acked: BTreeSet<u64>,
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

fn decode_docs(mut payload: &[u8]) -> Option<Vec<Bytes>> {
    let mut docs = Vec::new();
    while !payload.is_empty() {
        let len = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        let body = payload.get(4..4 + len)?;
        docs.push(Bytes::copy_from_slice(body));
        payload = &payload[4 + len..];
    }
    Some(docs)
}

/// Reads one segment's valid records; returns them and the length of the valid prefix.
fn read_segment(data: &[u8]) -> (Vec<(u64, Vec<Bytes>)>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while data.len() - at >= HEADER {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap_or_default());
        let seq = u64::from_le_bytes(data[at + 8..at + 16].try_into().unwrap_or_default());
        let Some(payload) = data.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if checksum(seq, payload) != crc {
            break;
        }
        let Some(docs) = decode_docs(payload) else {
            break;
        };
        records.push((seq, docs));
        at += HEADER + len;
    }
    (records, at)
}

impl DiskLog {
    /// Opens (or creates) the log in `dir`, bounded to `max_bytes` of segment files, and returns
    /// the batches to send again.
    pub fn open(dir: &Path, max_bytes: u64, fsync: bool) -> io::Result<(DiskLog, Recovered)> {
        fs::create_dir_all(dir)?;
        let low = match fs::read(dir.join("ack")) {
            Ok(b) if b.len() == 8 => u64::from_le_bytes(b.try_into().unwrap_or_default()),
            Ok(_) => 0,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
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
        let mut recovered = Recovered::default();
        let mut segments = BTreeMap::new();
        let mut next_seq = low;
        for first in firsts {
            let path = segment_path(dir, first);
            let mut data = Vec::new();
            File::open(&path)?.read_to_end(&mut data)?;
            let (records, valid) = read_segment(&data);
            if valid < data.len() {
                recovered.truncated_bytes += (data.len() - valid) as u64;
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(valid as u64)?;
            }
            let last = records.last().map(|(s, _)| *s);
            if last.is_none_or(|l| l < low) {
                // Fully acknowledged (or empty): nothing to keep.
                fs::remove_file(&path)?;
                continue;
            }
            segments.insert(first, valid as u64);
            for (seq, docs) in records {
                next_seq = next_seq.max(seq + 1);
                if seq >= low {
                    recovered.batches.push((seq, docs));
                }
            }
        }
        // Sequence numbers lost to truncation count as acknowledged, so they cannot hold the
        // acknowledged point back.
        let present: BTreeSet<u64> = recovered.batches.iter().map(|(s, _)| *s).collect();
        let acked = (low..next_seq).filter(|s| !present.contains(s)).collect();
        let mut log = DiskLog {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 * 1024, 64 * 1024 * 1024),
            fsync,
            segments,
            current: None,
            next_seq,
            low,
            acked,
        };
        log.advance()?;
        Ok((log, recovered))
    }

    /// Bytes of segment files on disk.
    pub fn used_bytes(&self) -> u64 {
        self.segments.values().sum()
    }

    /// Appends a batch and returns its sequence number, or refuses it when the disk bound would
    /// be exceeded.
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
            self.segments.insert(seq, 0);
            self.current = Some(file);
        }
        let mut record = Vec::with_capacity(size as usize);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(seq, &payload).to_le_bytes());
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&payload);
        let file = self
            .current
            .as_mut()
            .ok_or_else(|| io::Error::other("no segment"))?;
        file.write_all(&record)?;
        if self.fsync {
            file.sync_data()?;
        }
        if let Some((_, len)) = self.segments.iter_mut().next_back() {
            *len += size;
        }
        self.next_seq += 1;
        Ok(seq)
    }

    /// Records that batch `seq` was delivered; persists the acknowledged point and deletes
    /// segments that are fully acknowledged.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        if seq >= self.low {
            self.acked.insert(seq);
        }
        self.advance()
    }

    fn advance(&mut self) -> io::Result<()> {
        let before = self.low;
        while self.acked.remove(&self.low) {
            self.low += 1;
        }
        if self.low == before {
            return Ok(());
        }
        let tmp = self.dir.join("ack.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&self.low.to_le_bytes())?;
        if self.fsync {
            f.sync_data()?;
        }
        fs::rename(&tmp, self.dir.join("ack"))?;
        // A segment is done when the next one starts at or below `low` (or, for the last one,
        // when every appended batch is acknowledged).
        let firsts: Vec<u64> = self.segments.keys().copied().collect();
        for (i, first) in firsts.iter().enumerate() {
            let end = firsts.get(i + 1).copied().unwrap_or(self.next_seq);
            if end > self.low {
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
mod tests {
    use super::*;

    fn docs(tag: &str, n: usize) -> Vec<Bytes> {
        (0..n)
            .map(|i| Bytes::from(format!("{{\"id\":\"{tag}-{i}\"}}")))
            .collect()
    }

    #[test]
    fn unacknowledged_batches_come_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        assert!(rec.batches.is_empty());
        let a = log.append(&docs("a", 3)).unwrap();
        let b = log.append(&docs("b", 2)).unwrap();
        let c = log.append(&docs("c", 1)).unwrap();
        // Out of order: c is delivered, a and b are not, so nothing can be forgotten yet.
        log.ack(c).unwrap();
        drop(log);
        let (mut log, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        let seqs: Vec<u64> = rec.batches.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![a, b, c]);
        assert_eq!(rec.batches[0].1, docs("a", 3));
        log.ack(a).unwrap();
        drop(log);
        let (log, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        let seqs: Vec<u64> = rec.batches.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![b, c]);
        // New batches continue the numbering.
        assert!(log.next_seq > c);
    }

    #[test]
    fn the_disk_bound_refuses_and_acknowledging_frees_room() {
        let dir = tempfile::tempdir().unwrap();
        let one = (HEADER + encode_docs(&docs("x", 10)).len()) as u64;
        let (mut log, _) = DiskLog::open(dir.path(), one * 3, false).unwrap();
        let s: Vec<u64> = (0..3)
            .map(|_| log.append(&docs("x", 10)).unwrap())
            .collect();
        assert!(matches!(
            log.append(&docs("x", 10)),
            Err(AppendError::Full { .. })
        ));
        for seq in s {
            log.ack(seq).unwrap();
        }
        assert_eq!(log.used_bytes(), 0);
        log.append(&docs("x", 10)).unwrap();
    }

    #[test]
    fn a_torn_tail_is_truncated_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        log.append(&docs("a", 2)).unwrap();
        log.append(&docs("b", 2)).unwrap();
        drop(log);
        let seg = segment_path(dir.path(), 0);
        let full = fs::metadata(&seg).unwrap().len();
        // Cut the last record in the middle, as a kill -9 during a write would.
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(full - 5)
            .unwrap();
        let (mut log, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        assert_eq!(rec.batches.len(), 1);
        assert_eq!(rec.batches[0].1, docs("a", 2));
        let lost = (HEADER + encode_docs(&docs("b", 2)).len()) as u64 - 5;
        assert_eq!(rec.truncated_bytes, lost);
        // Writing goes on after the valid prefix, and the lost sequence number does not hold the
        // acknowledged point back.
        let c = log.append(&docs("c", 1)).unwrap();
        log.ack(0).unwrap();
        log.ack(c).unwrap();
        assert_eq!(log.used_bytes(), 0);
    }

    #[test]
    fn a_corrupt_record_is_cut_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        log.append(&docs("a", 2)).unwrap();
        log.append(&docs("b", 2)).unwrap();
        drop(log);
        let seg = segment_path(dir.path(), 0);
        let mut data = fs::read(&seg).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        fs::write(&seg, &data).unwrap();
        let (_, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        assert_eq!(rec.batches.len(), 1);
        assert!(rec.truncated_bytes > 0);
        // Garbage of any kind opens without panicking.
        fs::write(&seg, b"\xff\xff\xff\xff garbage").unwrap();
        let (_, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        assert!(rec.batches.is_empty());
    }

    #[test]
    fn segments_rotate_and_are_deleted_once_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = DiskLog::open(dir.path(), 1 << 20, true).unwrap();
        let big = vec![Bytes::from(vec![b'x'; 60 * 1024])];
        let seqs: Vec<u64> = (0..6).map(|_| log.append(&big).unwrap()).collect();
        let files = || {
            fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".log")
                })
                .count()
        };
        assert_eq!(files(), 3, "two 60 KiB batches per 128 KiB segment");
        for s in &seqs[..4] {
            log.ack(*s).unwrap();
        }
        assert_eq!(files(), 1);
        for s in &seqs[4..] {
            log.ack(*s).unwrap();
        }
        assert_eq!(files(), 0);
        drop(log);
        let (_, rec) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        assert!(rec.batches.is_empty());
    }
}
