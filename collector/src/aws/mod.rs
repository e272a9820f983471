//! What talks to AWS over plain HTTP: SigV4 signing with cached credentials (`sign`), the
//! HTTP(S) client with the collector's TLS and proxy settings (`client`), and the X-Ray sampling
//! proxy built on them (`proxy`, served by the awsxray receiver's `proxy_server` and by the
//! `awsproxy` extension). The proxy and the `otlphttp` exporter (through the `sigv4auth`
//! extension) share signing and the client; so does `ec2` (EC2 `DescribeTags` over the Query
//! API, for `resourcedetection`'s instance tags).

pub mod client;
pub mod ec2;
pub mod proxy;
pub mod sign;

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{ConfigLoader, Region};

/// The region rule every AWS client of the collector follows (contrib's `region` and
/// `local_mode`): an explicit `region` wins; in local mode only the environment and the profile
/// are asked, never instance metadata; otherwise the SDK's default chain.
pub fn with_region(loader: ConfigLoader, region: &str, local_mode: bool) -> ConfigLoader {
    if !region.is_empty() {
        loader.region(Region::new(region.to_owned()))
    } else if local_mode {
        loader.region(
            RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                .or_else(ProfileFileRegionProvider::new()),
        )
    } else {
        loader
    }
}

/// `https://<service>.<region>.<partition domain>`, the public endpoint of `service` in `region`.
pub fn regional_endpoint(service: &str, region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoints_by_partition() {
        assert_eq!(
            regional_endpoint("xray", "us-east-1"),
            "https://xray.us-east-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("xray", "cn-north-1"),
            "https://xray.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            regional_endpoint("xray", "us-iso-east-1"),
            "https://xray.us-iso-east-1.c2s.ic.gov"
        );
        assert_eq!(
            regional_endpoint("xray", "us-isob-east-1"),
            "https://xray.us-isob-east-1.sc2s.sgov.gov"
        );
    }
}
