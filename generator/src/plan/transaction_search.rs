//! CloudWatch Transaction Search, which X-Ray's OTLP endpoint needs: the Logs resource policy that
//! lets X-Ray write spans, and the two account settings the CLI commands change.

use serde::Serialize;
use serde_json::{Value, json};

use crate::plan::aws::AwsPlan;

/// The name of the CloudWatch Logs resource policy that lets X-Ray write spans for Transaction
/// Search (the name AWS's own setup uses).
pub const TRANSACTION_SEARCH_POLICY_NAME: &str = "TransactionSearchAccess";

/// The CloudWatch Logs groups X-Ray writes to under Transaction Search.
pub const TRANSACTION_SEARCH_LOG_GROUPS: [&str; 2] = ["aws/spans", "/aws/application-signals/data"];

/// CloudWatch Transaction Search, enabled in the cluster's account and region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransactionSearchPlan {
    /// The percentage of spans indexed as trace summaries (the `Default` indexing rule).
    pub indexing_percent: u32,
    /// The CloudWatch Logs resource policy's name, `TransactionSearchAccess`.
    pub policy_name: String,
    /// The log groups X-Ray writes to, `aws/spans` and `/aws/application-signals/data`.
    pub log_groups: Vec<String>,
    /// Their ARNs with the `:*` suffix that covers their log streams.
    pub log_group_arns: Vec<String>,
    /// The `aws:SourceArn` pattern the policy requires: any X-Ray resource of the account and region.
    pub source_arn: String,
    /// The resource policy document, as AWS's Transaction Search setup writes it.
    pub policy_document: Value,
    /// The AWS CLI command that sends spans to CloudWatch Logs (Terraform runs it; provider 5.x
    /// has no resource for it).
    pub destination_command: String,
    /// The AWS CLI command that sets the indexing percentage of the `Default` rule.
    pub indexing_command: String,
}

impl TransactionSearchPlan {
    /// Transaction Search in the cluster's account and region: the resource policy AWS documents
    /// for it (X-Ray may put log events into the two log groups, only for its own resources of this
    /// account), and the two settings the CLI commands change.
    pub fn new(aws: &AwsPlan, indexing_percent: u32) -> TransactionSearchPlan {
        let region = &aws.region;
        let log_group_arns: Vec<String> = TRANSACTION_SEARCH_LOG_GROUPS
            .iter()
            .map(|group| aws.arn("logs", &format!("log-group:{group}:*")))
            .collect();
        let source_arn = aws.arn("xray", "*");
        let policy_document = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TransactionSearchXRayAccess",
                "Effect": "Allow",
                "Principal": {"Service": aws.principals.xray},
                "Action": "logs:PutLogEvents",
                "Resource": log_group_arns,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_arn},
                    "StringEquals": {"aws:SourceAccount": aws.account_id},
                },
            }],
        });
        TransactionSearchPlan {
            indexing_percent,
            policy_name: TRANSACTION_SEARCH_POLICY_NAME.to_owned(),
            log_groups: TRANSACTION_SEARCH_LOG_GROUPS.map(str::to_owned).to_vec(),
            log_group_arns,
            source_arn,
            policy_document,
            destination_command: format!(
                "aws xray update-trace-segment-destination --region {region} --destination CloudWatchLogs"
            ),
            indexing_command: format!(
                "aws xray update-indexing-rule --region {region} --name Default --rule '{{\"Probabilistic\":{{\"DesiredSamplingPercentage\":{indexing_percent}}}}}'"
            ),
        }
    }
}
