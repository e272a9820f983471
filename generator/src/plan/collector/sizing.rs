//! The collector's memory and concurrency settings, derived from the container's memory limit and
//! the expected rate (`docs/generator.md`, "Sizing", gives the formulas and the measurements behind
//! them).
//!
//! With `L` the container's memory limit in MiB:
//! * the exporter's `sending_queue` is byte-sized, `L / 5` MiB (every queued and in-flight batch
//!   holds its bytes until its export ends, so this bounds the queue's memory directly);
//! * `memory_limiter` refuses data above its soft limit, `limit_mib - spike_limit_mib`, with
//!   `limit_mib = 80 % of L` and `spike_limit_mib = 20 % of L`: data is refused (and counted) at
//!   60 % of `L`, and the remaining 40 % is headroom for what the limiter cannot see between two
//!   checks (decoded OTLP requests, encoded export requests in flight, allocator slack);
//! * the worst case the limiter has to stop is the queue full (`L / 5`, plus about 15 % for each
//!   document's bookkeeping and the encoded requests in flight) plus the OTLP receivers' decoded
//!   budget (`L / 4`, the collector's own default) plus about 24 MiB of runtime: at most 56 % of a
//!   256 MiB limit, under the soft limit;
//! * calls in flight (`num_consumers`) carry the expected rate `R` with calls that take up to
//!   `CALL_SECONDS` at `B` segments per call: `ceil(R * CALL_SECONDS / B)`, at least 10 (the
//!   exporter's default) and at most 256.

use serde::Serialize;

use crate::blueprint::model::Collector;
use crate::blueprint::rules::mem_bytes;

/// The duration of one export call the concurrency is sized for, in milliseconds: twice a slow
/// `PutTraceSegments` call, so a slowing API does not back the queue up at the expected rate.
pub const CALL_MILLIS: u64 = 500;

/// The fewest calls in flight (the exporter's default).
pub const MIN_CONSUMERS: u32 = 10;

/// The most calls in flight.
pub const MAX_CONSUMERS: u32 = 256;

/// The sizes of one collector container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingPlan {
    /// The container's memory limit, in MiB.
    pub memory_limit_mib: u64,
    /// `memory_limiter.limit_mib`: 80 % of the limit.
    pub memory_limiter_limit_mib: u64,
    /// `memory_limiter.spike_limit_mib`: 20 % of the limit.
    pub memory_limiter_spike_limit_mib: u64,
    /// `sending_queue.queue_size` with `sizer: bytes`: a fifth of the limit.
    pub queue_size_bytes: u64,
    /// `sending_queue.num_consumers`: calls in flight.
    pub num_consumers: u32,
    /// The expected segments per second per pod the concurrency is sized for.
    pub expected_segments_per_second: u32,
}

impl SizingPlan {
    /// The sizes of the collector `col`, which validation has checked (its memory limit parses).
    pub fn new(col: &Collector) -> SizingPlan {
        let limit = mem_bytes(&col.resources.limits.memory).unwrap_or(512 << 20);
        let mib = limit >> 20;
        let rate = u64::from(col.expected_segments_per_second);
        let per_call = u64::from(col.batch.send_batch_max_size.max(1));
        let consumers = (rate * CALL_MILLIS).div_ceil(per_call * 1000);
        SizingPlan {
            memory_limit_mib: mib,
            memory_limiter_limit_mib: mib * 80 / 100,
            memory_limiter_spike_limit_mib: mib * 20 / 100,
            queue_size_bytes: (mib / 5) << 20,
            num_consumers: u32::try_from(consumers)
                .unwrap_or(MAX_CONSUMERS)
                .clamp(MIN_CONSUMERS, MAX_CONSUMERS),
            expected_segments_per_second: col.expected_segments_per_second,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector(memory: &str, rate: u32) -> Collector {
        let mut col: Collector = serde_json::from_value(serde_json::json!({
            "namespace": "t", "service_account": "c",
        }))
        .unwrap();
        col.resources.limits.memory = memory.to_owned();
        col.expected_segments_per_second = rate;
        col
    }

    #[test]
    fn sizes_follow_the_memory_limit_and_the_rate() {
        let s = SizingPlan::new(&collector("512Mi", 2000));
        assert_eq!(s.memory_limit_mib, 512);
        assert_eq!(s.memory_limiter_limit_mib, 409);
        assert_eq!(s.memory_limiter_spike_limit_mib, 102);
        assert_eq!(s.queue_size_bytes, 102 << 20);
        assert_eq!(s.num_consumers, 20);
        let s = SizingPlan::new(&collector("256Mi", 100));
        assert_eq!(s.queue_size_bytes, 51 << 20);
        assert_eq!(s.num_consumers, MIN_CONSUMERS);
        let s = SizingPlan::new(&collector("1Gi", 1_000_000));
        assert_eq!(s.num_consumers, MAX_CONSUMERS);
        assert_eq!(s.queue_size_bytes, 204 << 20);
    }

    #[test]
    fn the_worst_case_stays_under_the_soft_limit() {
        for memory in ["256Mi", "300Mi", "512Mi", "1Gi", "4Gi"] {
            let s = SizingPlan::new(&collector(memory, 2000));
            let soft = s.memory_limiter_limit_mib - s.memory_limiter_spike_limit_mib;
            let queue_mib = (s.queue_size_bytes >> 20) * 115 / 100;
            let worst = 24 + queue_mib + s.memory_limit_mib / 4;
            assert!(worst <= soft, "{memory}: {worst} MiB > {soft} MiB");
            assert!(s.memory_limiter_limit_mib < s.memory_limit_mib);
        }
    }
}
