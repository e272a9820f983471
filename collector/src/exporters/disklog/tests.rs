use super::*;

fn docs(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{{\"id\":\"{tag}-{i}\"}}")))
        .collect()
}

/// Opens the log and reads back every batch the replay holds.
fn open(dir: &Path, max: u64) -> (DiskLog, Vec<(u64, Vec<Bytes>)>, Recovered) {
    let (log, mut rec) = DiskLog::open(dir, max, false).unwrap();
    let mut batches = Vec::new();
    while let Some(b) = rec.replay.next_batch() {
        batches.push(b.unwrap());
    }
    (log, batches, rec)
}

fn seqs(batches: &[(u64, Vec<Bytes>)]) -> Vec<u64> {
    batches.iter().map(|(s, _)| *s).collect()
}

fn record_len(d: &[Bytes]) -> u64 {
    (HEADER + encode_docs(d).len()) as u64
}

#[test]
fn unacknowledged_batches_come_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, batches, _) = open(dir.path(), 1 << 20);
    assert!(batches.is_empty());
    let a = log.append(&docs("a", 3)).unwrap();
    let b = log.append(&docs("b", 2)).unwrap();
    let c = log.append(&docs("c", 1)).unwrap();
    // Out of order: c is delivered, a and b are not, so nothing can be forgotten yet.
    log.ack(c).unwrap();
    drop(log);
    let (mut log, batches, rec) = open(dir.path(), 1 << 20);
    assert_eq!(seqs(&batches), vec![a, b, c]);
    assert_eq!(batches[0].1, docs("a", 3));
    assert_eq!(rec.ack_reset, None);
    log.ack(a).unwrap();
    drop(log);
    let (log, batches, _) = open(dir.path(), 1 << 20);
    assert_eq!(seqs(&batches), vec![b, c]);
    // New batches continue the numbering.
    assert!(log.next_seq > c);
}

#[test]
fn the_disk_bound_refuses_and_acknowledging_frees_room() {
    let dir = tempfile::tempdir().unwrap();
    let one = record_len(&docs("x", 10));
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
    let (mut log, batches, rec) = open(dir.path(), 1 << 20);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].1, docs("a", 2));
    let lost = record_len(&docs("b", 2)) - 5;
    assert_eq!(rec.truncated_bytes, lost);
    assert_eq!(fs::metadata(&seg).unwrap().len(), record_len(&docs("a", 2)));
    // Writing goes on in a new segment, and the lost sequence number does not hold the
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
    let (_, batches, rec) = open(dir.path(), 1 << 20);
    assert_eq!(batches.len(), 1);
    assert!(rec.truncated_bytes > 0);
    // Garbage of any kind opens without panicking.
    fs::write(segment_path(dir.path(), 0), b"\xff\xff\xff\xff garbage").unwrap();
    let (_, batches, _) = open(dir.path(), 1 << 20);
    assert!(batches.is_empty());
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
    let (_, batches, _) = open(dir.path(), 1 << 20);
    assert!(batches.is_empty());
}

/// Issue 14 item 3: a write the file system refuses part-way (`ENOSPC`, from the injectable
/// `space` limit) leaves no torn record, so later appends are recovered after a restart.
#[test]
fn a_failed_write_is_cut_back_and_later_batches_survive() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
    for i in 0..3 {
        log.append(&docs(&format!("before{i}"), 10)).unwrap();
    }
    // The disk fills half-way through the next record.
    log.space = Some(record_len(&docs("full", 10)) / 2);
    let error = log.append(&docs("full", 10)).unwrap_err();
    assert!(matches!(error, AppendError::Io(ref e) if e.raw_os_error() == Some(28)));
    // Room again: 20 more batches of 10 documents.
    log.space = None;
    for i in 0..20 {
        log.append(&docs(&format!("after{i}"), 10)).unwrap();
    }
    drop(log);
    let (_, batches, rec) = open(dir.path(), 1 << 20);
    let documents: usize = batches.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(documents, 230, "every document of every accepted batch");
    assert_eq!(batches[3].1, docs("after0", 10));
    assert_eq!(batches[22].1, docs("after19", 10));
    assert_eq!(rec.truncated_bytes, 0);
    assert_eq!(rec.lost_records, 0);
}

/// Issue 14 item 4: an `ack` file of 8 bytes of 0xFF (or any damage) is not trusted: everything
/// on disk is replayed, and the reset is reported.
#[test]
fn a_damaged_or_missing_ack_file_replays_everything_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
    let seqs_written: Vec<u64> = (0..5)
        .map(|i| log.append(&docs(&format!("b{i}"), 7)).unwrap())
        .collect();
    log.ack(seqs_written[0]).unwrap();
    log.ack(seqs_written[1]).unwrap();
    drop(log);
    let ack = dir.path().join("ack");
    fs::write(&ack, [0xff; 8]).unwrap();
    let (log, batches, rec) = open(dir.path(), 1 << 20);
    // The segment still holds all five; at-least-once: the two delivered come back too.
    assert_eq!(seqs(&batches), seqs_written);
    let documents: usize = batches.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(documents, 35);
    assert_eq!(rec.ack_reset, Some(AckResetReason::Invalid));
    drop(log);
    // A flipped bit in an otherwise well-formed ack file.
    let mut bytes = fs::read(&ack).unwrap();
    bytes[0] ^= 1;
    fs::write(&ack, &bytes).unwrap();
    let (log, batches, rec) = open(dir.path(), 1 << 20);
    assert_eq!(batches.len(), 5);
    assert_eq!(rec.ack_reset, Some(AckResetReason::Invalid));
    drop(log);
    fs::remove_file(&ack).unwrap();
    let (_, batches, rec) = open(dir.path(), 1 << 20);
    assert_eq!(batches.len(), 5);
    assert_eq!(rec.ack_reset, Some(AckResetReason::Missing));
    // A fresh directory has no ack file and nothing to distrust.
    let fresh = tempfile::tempdir().unwrap();
    let (_, _, rec) = open(fresh.path(), 1 << 20);
    assert_eq!(rec.ack_reset, None);
}

/// Issue 14 item 5: one flipped byte in the middle of a segment loses the one record it is in,
/// counted in documents and bytes; recovery resynchronises on the next record.
#[test]
fn a_flipped_byte_mid_segment_loses_only_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = DiskLog::open(dir.path(), 64 << 20, false).unwrap();
    // 40 batches of 50 documents: 2,000 documents in one segment.
    for i in 0..40 {
        log.append(&docs(&format!("b{i:02}"), 50)).unwrap();
    }
    drop(log);
    let seg = segment_path(dir.path(), 0);
    let mut data = fs::read(&seg).unwrap();
    let one = record_len(&docs("b00", 50));
    // A byte in the payload of batch 10 (all records have the same length).
    let at = (10 * one + HEADER as u64 + 100) as usize;
    data[at] ^= 0x5a;
    fs::write(&seg, &data).unwrap();
    let (_, batches, rec) = open(dir.path(), 64 << 20);
    let documents: usize = batches.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(
        documents, 1950,
        "only the 50 documents of the damaged batch are lost"
    );
    assert_eq!(batches.len(), 39);
    assert!(!seqs(&batches).contains(&10));
    assert_eq!(batches[10].1, docs("b11", 50));
    assert_eq!(rec.lost_records, 50);
    assert_eq!(rec.truncated_bytes, one);

    // A damaged header (its length field) loses the record too, and the scan finds the next
    // record byte by byte.
    let mut data = fs::read(&seg).unwrap();
    let at = (20 * one) as usize;
    data[at + 2] ^= 0x77;
    fs::write(&seg, &data).unwrap();
    let (_, batches, rec) = open(dir.path(), 64 << 20);
    let documents: usize = batches.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(documents, 1900);
    assert_eq!(batches.len(), 38);
    assert_eq!(rec.truncated_bytes, 2 * one);
}

/// Issue 14 item 7: start-up work follows what is on disk, not the sequence numbers: a log at
/// sequence 10^7 without its `ack` file opens at once.
#[test]
fn opening_at_a_high_sequence_number_without_an_ack_file_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let first = 10_000_000u64;
    {
        let (mut log, _) = DiskLog::open(dir.path(), 1 << 20, false).unwrap();
        log.next_seq = first;
        for i in 0..3 {
            log.append(&docs(&format!("b{i}"), 4)).unwrap();
        }
    }
    fs::remove_file(dir.path().join("ack")).unwrap();
    let started = std::time::Instant::now();
    let (mut log, batches, _) = open(dir.path(), 1 << 20);
    let took = started.elapsed();
    eprintln!("opened a log at sequence {first} without an ack file in {took:?}");
    assert_eq!(seqs(&batches), vec![first, first + 1, first + 2]);
    assert!(
        took < std::time::Duration::from_millis(500),
        "opening took {took:?}"
    );
    // Acknowledging the three batches empties the log, however far below them the old point was.
    for s in first..first + 3 {
        log.ack(s).unwrap();
    }
    assert_eq!(log.used_bytes(), 0);
}
