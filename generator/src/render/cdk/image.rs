//! The collector image's ECR repository, when the blueprint names no repository of its own:
//! immutable tags, scan on push, KMS encryption (the AWS managed key `aws/ecr`), and the plan's
//! lifecycle policy. Its URI is a stack output; the Kubernetes manifests already name the same URI,
//! spelled from the blueprint's account and region (`plan::image`).

use serde_json::json;

use crate::render::cdk::template::{Template, get_att};

/// The logical id of the repository.
pub const REPOSITORY_ID: &str = "CollectorImageRepository";

impl Template<'_> {
    /// The ECR repository, and its URI as the output `CollectorImageRepositoryUri`.
    pub(super) fn image_repository(&mut self) {
        let Some(ecr) = &self.plan.image.ecr else {
            return;
        };
        let resource = json!({
            "Type": "AWS::ECR::Repository",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "RepositoryName": ecr.name,
                "ImageTagMutability": "IMMUTABLE",
                "ImageScanningConfiguration": {"ScanOnPush": true},
                "EncryptionConfiguration": {"EncryptionType": "KMS"},
                "LifecyclePolicy": {"LifecyclePolicyText": ecr.lifecycle_policy},
                "Tags": self.tags(),
            },
        });
        self.resource(REPOSITORY_ID, resource);
        self.output(
            "CollectorImageRepositoryUri",
            "The ECR repository of the collector image; push the image here (README.md).",
            get_att(REPOSITORY_ID, "RepositoryUri"),
        );
    }
}
