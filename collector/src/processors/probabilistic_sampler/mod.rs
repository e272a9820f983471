//! The `probabilistic_sampler` processor in contrib's `hash_seed` mode: an item is kept when
//! the 32-bit FNV-1a hash of the seed (4 bytes, little-endian) followed by its 16-byte trace id,
//! masked to 14 bits, is below `sampling_percentage` x 16384 / 100. The decision depends on the
//! trace id and seed only, so every span of a trace (in any collector with the same seed) agrees.
//!
//! An X-Ray document's trace id `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy` is read from the ids the
//! receiver checked (no parse) and hashed as the same 16 bytes the translator gives its OTLP
//! spans (`translate::from_xray::trace_id_bytes`), so the X-Ray and the OTLP halves of one trace
//! get the same decision. Items without a readable trace id are dropped when `fail_closed`
//! (default) and kept otherwise. Items not kept are counted as
//! `processor_dropped_items{reason="sampled"}`.

pub mod config;

use std::sync::Arc;

use self::config::ProbabilisticSamplerConfig;
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::telemetry::ProcessorDrop;
use crate::traces::{Refused, Traces};
use crate::translate::from_xray::trace_id_bytes;

impl ProcessorConfig for ProbabilisticSamplerConfig {
    fn build(&self, _ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        Ok(Processor::Inline(Arc::new(Sampler::new(
            self.sampling_percentage,
            self.hash_seed,
            self.fail_closed,
        ))))
    }
}

const BUCKETS: u32 = 0x4000;

/// The sampler.
pub struct Sampler {
    threshold: u32,
    seed: u32,
    fail_closed: bool,
}

impl Sampler {
    pub fn new(percentage: f64, seed: u32, fail_closed: bool) -> Sampler {
        Sampler {
            threshold: (percentage * f64::from(BUCKETS) / 100.0) as u32,
            seed,
            fail_closed,
        }
    }

    /// Whether the trace `trace_id` is kept.
    pub fn keeps(&self, trace_id: Option<&[u8]>) -> bool {
        match trace_id {
            Some(id) if id.len() == 16 && id.iter().any(|b| *b != 0) => {
                fnv1a(self.seed, id) & (BUCKETS - 1) < self.threshold
            }
            _ => !self.fail_closed,
        }
    }
}

/// FNV-1a (32 bits) of the seed's little-endian bytes followed by `data`.
pub fn fnv1a(seed: u32, data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in seed.to_le_bytes().iter().chain(data) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl InlineProcessor for Sampler {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        match &mut traces {
            Traces::XRay(segments) => segments.retain(|s| {
                let id = trace_id_bytes(s.ids.trace_id().as_bytes());
                self.keeps(id.as_ref().map(|b| &b[..]))
            }),
            Traces::Otlp(resource_spans) => {
                for rs in resource_spans.iter_mut() {
                    for ss in &mut rs.scope_spans {
                        ss.spans.retain(|span| self.keeps(Some(&span.trace_id)));
                    }
                    rs.scope_spans.retain(|ss| !ss.spans.is_empty());
                }
                resource_spans.retain(|rs| !rs.scope_spans.is_empty());
            }
        }
        Ok((!traces.is_empty()).then_some(traces))
    }

    fn drop_reason(&self) -> ProcessorDrop {
        ProcessorDrop::Sampled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{Segment, SegmentIds};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // FNV-1a 32 of "" is the offset basis; of "a" is 0xe40c292c. With seed 0 the four zero
        // bytes come first.
        let plain = |d: &[u8]| {
            let mut h: u32 = 0x811c_9dc5;
            for b in d {
                h ^= u32::from(*b);
                h = h.wrapping_mul(0x0100_0193);
            }
            h
        };
        assert_eq!(plain(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(0, b"a"), plain(b"\0\0\0\0a"));
        assert_eq!(fnv1a(0x0403_0201, b""), plain(&[1, 2, 3, 4]));
    }

    #[test]
    fn keeps_about_the_percentage_and_agrees_across_formats() {
        let s = Sampler::new(25.0, 7, true);
        let mut kept = 0;
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..20_000 {
            let mut id = [0u8; 16];
            rng.fill(&mut id);
            if s.keeps(Some(&id)) {
                kept += 1;
            }
        }
        assert!((4_500..5_500).contains(&kept), "{kept}");
        assert!(Sampler::new(100.0, 0, true).keeps(Some(&[1; 16])));
        assert!(!Sampler::new(0.0, 0, true).keeps(Some(&[1; 16])));
        assert!(!s.keeps(None));
        assert!(Sampler::new(25.0, 7, false).keeps(None));

        // One trace, half X-Ray, half OTLP: the same decision for every seed.
        let xray_id = "1-5f84c7a8-0123456789abcdef01234567";
        let bytes = trace_id_bytes(xray_id.as_bytes()).unwrap();
        for seed in 0..64 {
            let s = Sampler::new(50.0, seed, true);
            let doc = Segment::new(
                bytes::Bytes::from_static(b"{}"),
                SegmentIds::new("0123456789abcdef", xray_id).unwrap(),
                std::time::Instant::now(),
            );
            let xray_kept = s.process(Traces::XRay(vec![doc])).unwrap().is_some();
            let rs = ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: bytes.to_vec(),
                        ..Span::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let otlp_kept = s.process(Traces::Otlp(vec![rs])).unwrap().is_some();
            assert_eq!(xray_kept, otlp_kept, "seed {seed}");
        }
    }
}
