//! The IMDSv2 stand-in: a small HTTP server that answers like EC2's instance metadata service,
//! version 2 only: `PUT /latest/api/token` (with `X-aws-ec2-metadata-token-ttl-seconds`) returns
//! a session token, and every `GET` must carry it in `X-aws-ec2-metadata-token` or is answered
//! `401`, as IMDS does when IMDSv1 is turned off. It serves the instance identity document,
//! `meta-data/hostname` and the instance's tags (`meta-data/tags/instance[/<key>]`).
//!
//! No real instance metadata exists on a test machine; this is named as the stand-in it is. The
//! collector reaches it through `AWS_EC2_METADATA_SERVICE_ENDPOINT`. It records each request as
//! `METHOD path token-ok|no-token|bad-token`.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response};

/// The token the stand-in hands out.
pub const TOKEN: &str = "stand-in-imdsv2-token";

/// A running stand-in; it stops when dropped.
pub struct Imds {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Imds {
    /// Starts the stand-in for an instance with `tags` (key, value).
    pub fn start(tags: &[(&str, &str)]) -> Imds {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tags: Arc<Vec<(String, String)>> = Arc::new(
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        let log = requests.clone();
        let (addr, runtime) = crate::common::serve_http(0, move |req: Request<_>| {
            let log = log.clone();
            let tags = tags.clone();
            async move { Ok::<_, Infallible>(answer(&req, &tags, &log)) }
        });
        Imds {
            addr,
            requests,
            _runtime: runtime,
        }
    }

    /// The value for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests so far (`METHOD path token-state`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn reply(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("response")
}

fn answer<B>(
    req: &Request<B>,
    tags: &[(String, String)],
    log: &Mutex<Vec<String>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let token = match req.headers().get("x-aws-ec2-metadata-token") {
        None => "no-token",
        Some(v) if v == TOKEN => "token-ok",
        Some(_) => "bad-token",
    };
    log.lock()
        .unwrap()
        .push(format!("{} {path} {token}", req.method()));
    if req.method() == Method::PUT {
        if path != "/latest/api/token" {
            return reply(403, "Forbidden");
        }
        if req
            .headers()
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .is_none()
        {
            return reply(400, "Missing TTL header");
        }
        return reply(200, TOKEN);
    }
    if token != "token-ok" {
        return reply(401, "Unauthorized");
    }
    match path.as_str() {
        "/latest/dynamic/instance-identity/document" => reply(
            200,
            r#"{
  "accountId" : "123456789012",
  "architecture" : "x86_64",
  "availabilityZone" : "us-east-1b",
  "billingProducts" : null,
  "devpayProductCodes" : null,
  "marketplaceProductCodes" : null,
  "imageId" : "ami-0abcdef1234567890",
  "instanceId" : "i-0123456789abcdef0",
  "instanceType" : "m5.large",
  "kernelId" : null,
  "pendingTime" : "2026-12-01T09:58:00Z",
  "privateIp" : "10.0.0.1",
  "ramdiskId" : null,
  "region" : "us-east-1",
  "version" : "2017-09-30"
}"#,
        ),
        "/latest/meta-data/hostname" => reply(200, "ip-10-0-0-1.ec2.internal"),
        "/latest/meta-data/tags/instance" => {
            if tags.is_empty() {
                return reply(404, "Not Found");
            }
            let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
            reply(200, &keys.join("\n"))
        }
        other => match other
            .strip_prefix("/latest/meta-data/tags/instance/")
            .and_then(|key| tags.iter().find(|(k, _)| k == key))
        {
            Some((_, value)) => reply(200, value),
            None => reply(404, "Not Found"),
        },
    }
}
