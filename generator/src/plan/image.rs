//! The collector image: where it is pulled from, and the ECR repository the blueprint creates for
//! it when the blueprint names no repository.
//!
//! The repository's URI is spelled at render time from the blueprint's account and region
//! (`<account>.dkr.ecr.<region>.<dns suffix>/<blueprint name>/xray-collector`): both are required
//! blueprint fields and ECR URIs are a fixed function of them, so the Kubernetes manifests name the
//! same repository the Terraform and CDK outputs create, with no output to copy between steps.

use serde::Serialize;

use crate::blueprint::model::{Blueprint, IMAGE_REPOSITORY_NAME};
use crate::plan::aws::AwsPlan;
use crate::plan::names::enum_string;

/// Untagged images (left behind when a tag is deleted) expire after this many days.
pub const UNTAGGED_EXPIRY_DAYS: u32 = 14;

/// The repository keeps at most this many images; the oldest beyond it expire. Pinned digests
/// should be re-pinned well before a blueprint falls this far behind.
pub const MAX_IMAGES: u32 = 50;

/// The collector image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImagePlan {
    /// The repository, for example `123456789012.dkr.ecr.us-east-1.amazonaws.com/b/xray-collector`.
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// The pinned digest, if any.
    pub digest: Option<String>,
    /// What the pod pulls: `repository@digest` when pinned, otherwise `repository:tag`.
    pub reference: String,
    /// The architectures the image has (`amd64`, `arm64`), sorted.
    pub architectures: Vec<String>,
    /// The ECR repository the blueprint creates, when the image defaults to it.
    pub ecr: Option<EcrRepositoryPlan>,
}

/// An ECR repository the Terraform and CDK targets create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcrRepositoryPlan {
    /// The repository name, `<blueprint name>/xray-collector`.
    pub name: String,
    /// The registry host, `<account>.dkr.ecr.<region>.<dns suffix>`.
    pub registry: String,
    /// The repository URI, `<registry>/<name>`.
    pub uri: String,
    /// The repository ARN.
    pub arn: String,
    /// The lifecycle policy, as the JSON text ECR takes.
    pub lifecycle_policy: String,
    /// Days after which the lifecycle policy expires untagged images.
    pub untagged_expiry_days: u32,
    /// The number of images the lifecycle policy keeps.
    pub max_images: u32,
}

impl ImagePlan {
    /// The image of the blueprint's collector, in the account and region of `aws`.
    pub fn new(blueprint: &Blueprint, aws: &AwsPlan) -> ImagePlan {
        let img = &blueprint.spec.collector.image;
        let ecr = img.repository.is_none().then(|| {
            let name = format!("{}/{IMAGE_REPOSITORY_NAME}", blueprint.metadata.name);
            let registry = aws.partition.ecr_registry(&aws.account_id, &aws.region);
            EcrRepositoryPlan {
                uri: format!("{registry}/{name}"),
                arn: aws.partition.arn(
                    "ecr",
                    &aws.region,
                    &aws.account_id,
                    &format!("repository/{name}"),
                ),
                registry,
                name,
                lifecycle_policy: lifecycle_policy(),
                untagged_expiry_days: UNTAGGED_EXPIRY_DAYS,
                max_images: MAX_IMAGES,
            }
        });
        let repository = match (&img.repository, &ecr) {
            (Some(repository), _) => repository.clone(),
            (None, Some(ecr)) => ecr.uri.clone(),
            (None, None) => unreachable!("an ECR repository is planned when none is named"),
        };
        let mut architectures: Vec<String> = img.architectures.iter().map(enum_string).collect();
        architectures.sort();
        architectures.dedup();
        ImagePlan {
            reference: match &img.digest {
                Some(digest) => format!("{repository}@{digest}"),
                None => format!("{repository}:{}", img.tag),
            },
            repository,
            tag: img.tag.clone(),
            digest: img.digest.clone(),
            architectures,
            ecr,
        }
    }
}

/// The repository's lifecycle policy: untagged images expire after `UNTAGGED_EXPIRY_DAYS` days,
/// and only the newest `MAX_IMAGES` images are kept.
fn lifecycle_policy() -> String {
    serde_json::json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": format!("Expire untagged images after {UNTAGGED_EXPIRY_DAYS} days"),
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_EXPIRY_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": format!("Keep the newest {MAX_IMAGES} images"),
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": MAX_IMAGES,
                },
                "action": {"type": "expire"},
            },
        ]
    })
    .to_string()
}
