//! `extensions.sigv4auth`: contrib's keys, their checks, and contrib's inference of the service
//! and region from an endpoint host.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// `extensions.sigv4auth`: SigV4 signing of an HTTP exporter's requests (contrib's keys). An
/// exporter names it in `auth.authenticator`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SigV4AuthConfig {
    /// Region of the signature; otherwise inferred from the exporter's endpoint host
    /// (`xray.<region>.amazonaws.com`), then `AWS_REGION`, the profile, instance metadata.
    pub region: String,
    /// Service of the signature (`xray` for the X-Ray OTLP endpoint); otherwise inferred from the
    /// endpoint host (`xray.`, `logs.`, `aps-workspaces.`, `search-`).
    pub service: String,
    /// A role to assume through STS on top of the default credential chain.
    pub assume_role: AssumeRoleConfig,
}

/// `extensions.sigv4auth.assume_role`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AssumeRoleConfig {
    /// ARN of the role; no role is assumed when empty.
    pub arn: String,
    /// Region of the STS endpoint; default: the signing region.
    pub sts_region: String,
    /// Role session name; default `xray-collector`.
    pub session_name: String,
}

/// The service and region contrib's `sigv4auth` infers from an endpoint host: `xray.<region>.…`,
/// `logs.<region>.…`, `aps-workspaces.<region>.…` and `search-….<region>.…` (OpenSearch) give
/// their service and the label after the first dot as the region.
pub fn infer_service_and_region(host: &str) -> (Option<&'static str>, Option<&str>) {
    let service = [
        ("aps-workspaces", "aps"),
        ("search-", "es"),
        ("logs", "logs"),
        ("xray", "xray"),
    ]
    .into_iter()
    .find(|(prefix, _)| host.starts_with(prefix))
    .map(|(_, service)| service);
    let Some(service) = service else {
        return (None, None);
    };
    let region = host
        .split_once('.')
        .and_then(|(_, rest)| rest.split_once('.'))
        .map(|(region, _)| region)
        .filter(|r| !r.is_empty());
    (Some(service), region)
}

/// The host of an `http://` or `https://` URL (no port, no user info); empty when there is none.
pub fn url_host(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or("");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

impl Component for SigV4AuthConfig {
    const TYPE: &'static str = "sigv4auth";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if !self.assume_role.arn.is_empty() && !self.assume_role.arn.starts_with("arn:") {
            c.error(
                "assume_role/arn",
                format!("`{}` is not an ARN", self.assume_role.arn),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_and_region_from_endpoint_hosts() {
        let cases = [
            (
                "xray.us-west-2.amazonaws.com",
                Some("xray"),
                Some("us-west-2"),
            ),
            (
                "logs.eu-west-1.amazonaws.com",
                Some("logs"),
                Some("eu-west-1"),
            ),
            (
                "aps-workspaces.ap-southeast-2.amazonaws.com",
                Some("aps"),
                Some("ap-southeast-2"),
            ),
            (
                "search-mydomain-abc.us-east-1.es.amazonaws.com",
                Some("es"),
                Some("us-east-1"),
            ),
            (
                "xray.cn-north-1.amazonaws.com.cn",
                Some("xray"),
                Some("cn-north-1"),
            ),
            ("xray", Some("xray"), None),
            ("127.0.0.1", None, None),
            ("collector.example.com", None, None),
        ];
        for (host, service, region) in cases {
            assert_eq!(infer_service_and_region(host), (service, region), "{host}");
        }
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            url_host("https://xray.us-west-2.amazonaws.com/v1/traces"),
            "xray.us-west-2.amazonaws.com"
        );
        assert_eq!(url_host("http://127.0.0.1:4318/v1/traces"), "127.0.0.1");
        assert_eq!(url_host("http://user@[::1]:4318"), "::1");
        assert_eq!(url_host("ftp://x"), "");
    }
}
