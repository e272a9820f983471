//! The exporter against the cluster's partition (the collector's role signs only there; no OTLP
//! endpoint in China), and CloudWatch Transaction Search.

use crate::aws::Partition;
use crate::aws::regions;
use crate::blueprint::model::{ExporterType, Spec};
use crate::blueprint::validate::checker::Checker;

/// Why the `xray-api`-only annotation options have no `otlp` counterpart.
const OTLP_ANNOTATIONS_HINT: &str = "with `type: otlp` the collector forwards spans unchanged, so annotations come from the span attributes the application sets; set them there and remove this field";

impl Checker<'_> {
    /// The exporter choice against the partition, and Transaction Search.
    pub(super) fn check_export(&mut self, spec: &Spec, region: &str, region_ok: bool) {
        let e = &spec.collector.exporter;
        let base = "/spec/collector/exporter";
        let partition = Partition::of_region(region);
        if let Some(exporter_region) = e.region.as_deref().filter(|r| regions::region(r).is_some())
        {
            if region_ok && Partition::of_region(exporter_region) != partition {
                self.error(
                    &format!("{base}/region"),
                    format!(
                        "region `{exporter_region}` is in partition `{}`, but the cluster's region `{region}` is in `{partition}`",
                        Partition::of_region(exporter_region)
                    ),
                    Some(&format!("a region of partition `{partition}`")),
                    Some("the collector's IAM role exists only in the cluster's partition, so it cannot sign requests to another"),
                );
            }
        }
        if e.kind == ExporterType::Otlp {
            if !e.indexed_attributes.is_empty() {
                self.error(
                    &format!("{base}/indexed_attributes"),
                    "indexed_attributes applies only to the `xray-api` exporter".to_owned(),
                    None,
                    Some(OTLP_ANNOTATIONS_HINT),
                );
            }
            if e.index_all_attributes {
                self.error(
                    &format!("{base}/index_all_attributes"),
                    "index_all_attributes applies only to the `xray-api` exporter".to_owned(),
                    None,
                    Some(OTLP_ANNOTATIONS_HINT),
                );
            }
            let exporter_region = e.region.as_deref().unwrap_or(region);
            if let Some(r) = regions::region(exporter_region).filter(|_| region_ok) {
                if !r.transaction_search {
                    self.error(
                        &format!("{base}/type"),
                        format!("the `otlp` exporter is not offered in {} (partition `{}`)", r.name, r.partition),
                        Some("`xray-api`"),
                        Some("X-Ray's OTLP endpoint needs CloudWatch Transaction Search, which CloudFormation does not offer in this region (docs/regions.md); use `type: xray-api` (PutTraceSegments)"),
                    );
                }
            }
        }
        if let Some(ts) = &spec.transaction_search {
            if let Some(exporter_region) = e.region.as_deref() {
                if ts.enabled && exporter_region != region {
                    self.error(
                        &format!("{base}/region"),
                        format!("the exporter sends to `{exporter_region}`, but Transaction Search is enabled in the cluster's region `{region}`"),
                        Some(&format!("`{region}`, or no `region`")),
                        Some("Transaction Search is a per-region account setting, and the Terraform and CDK outputs enable it in the cluster's region"),
                    );
                }
            }
            if let Some(r) = regions::region(region).filter(|r| ts.enabled && !r.transaction_search)
            {
                self.error(
                    "/spec/transaction_search/enabled",
                    format!("Transaction Search cannot be enabled in {} (partition `{}`)", r.name, r.partition),
                    Some("`false`, or remove `transaction_search`"),
                    Some("CloudFormation has no AWS::XRay::TransactionSearchConfig in this region (docs/regions.md)"),
                );
            }
        }
    }
}
