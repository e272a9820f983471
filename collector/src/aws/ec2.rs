//! EC2 `DescribeTags` through the EC2 Query API (a form-encoded `POST` signed with SigV4 for
//! service `ec2`, answered in XML), for the `resourcedetection` detectors that read an
//! instance's tags: `eks` (the cluster name) and `ec2` (`tags` without `tags_from_imds`).
//!
//! Endpoint: `AWS_ENDPOINT_URL_EC2`, else `AWS_ENDPOINT_URL` (as the SDK reads them; tests point
//! them at moto), else the region's public endpoint. Credentials: the SDK's default chain,
//! cached ([`CredentialsCache`]). The answer is read with quick-xml (`tagSet/item/{key,value}`,
//! `nextToken`; errors as `Errors/Error/{Code,Message}`). Every failure names the IAM action the
//! collector's role needs, `ec2:DescribeTags`.

use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Uri};
use quick_xml::events::Event;

use super::client::{ClientError, ClientTls, HttpsClient};
use super::sign::{CredentialsCache, SignError, sign_request};

/// The EC2 API version the requests name.
pub const API_VERSION: &str = "2016-11-15";

/// Why `DescribeTags` failed.
#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    /// The SDK's chain has no credentials provider.
    #[error("EC2 DescribeTags: no AWS credentials provider")]
    NoCredentials,
    /// The endpoint is not an `http(s)://` URL.
    #[error("EC2 endpoint {0:?} is not an http:// or https:// URL")]
    Endpoint(String),
    /// The HTTP client could not be built.
    #[error("EC2 client")]
    Client(#[from] ClientError),
    /// The request could not be signed (no credentials, usually).
    #[error("EC2 DescribeTags: signing the request")]
    Sign(#[from] SignError),
    /// The request could not be built.
    #[error("EC2 DescribeTags: building the request")]
    Build(#[source] hyper::http::Error),
    /// The endpoint could not be reached.
    #[error("EC2 DescribeTags at {endpoint}: no answer")]
    Send {
        endpoint: Uri,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The answer could not be read.
    #[error("EC2 DescribeTags at {endpoint}: reading the answer")]
    Body {
        endpoint: Uri,
        #[source]
        source: hyper::Error,
    },
    /// EC2 refused the call.
    #[error(
        "EC2 DescribeTags answered HTTP {status} {code}: {message} (the collector's IAM role needs ec2:DescribeTags)"
    )]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer is not the XML EC2 sends.
    #[error("EC2 DescribeTags: the answer is not EC2's XML")]
    Xml(#[source] quick_xml::Error),
}

/// An EC2 Query API client for one region.
pub struct Ec2 {
    endpoint: Uri,
    region: String,
    credentials: CredentialsCache,
    client: HttpsClient,
}

impl Ec2 {
    /// A client for `region` with the SDK's default credentials and the endpoint the module doc
    /// describes.
    pub async fn new(region: &str) -> Result<Ec2, Ec2Error> {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .load()
            .await;
        let provider = sdk.credentials_provider().ok_or(Ec2Error::NoCredentials)?;
        let text = std::env::var("AWS_ENDPOINT_URL_EC2")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_owned))
            .unwrap_or_else(|| super::regional_endpoint("ec2", region));
        let endpoint: Uri = text.parse().map_err(|_| Ec2Error::Endpoint(text.clone()))?;
        if !matches!(endpoint.scheme_str(), Some("http" | "https"))
            || endpoint.authority().is_none()
        {
            return Err(Ec2Error::Endpoint(text));
        }
        let client = HttpsClient::new(&ClientTls::default(), "", &endpoint, 1)?;
        Ok(Ec2 {
            endpoint,
            region: region.to_owned(),
            credentials: CredentialsCache::new(provider),
            client,
        })
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    /// The tags (key, value) of resource `resource_id`, only those whose key matches one of
    /// `keys` (EC2's `key` filter: `*` and `?` wildcards) when `keys` is not empty. Follows
    /// `nextToken` to the last page.
    pub async fn describe_tags(
        &self,
        resource_id: &str,
        keys: &[&str],
    ) -> Result<Vec<(String, String)>, Ec2Error> {
        let mut tags = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let body = describe_tags_body(resource_id, keys, token.as_deref());
            let page = self.call(body).await?;
            tags.extend(page.tags);
            match page.next_token {
                Some(next) if !next.is_empty() && token.as_deref() != Some(next.as_str()) => {
                    token = Some(next);
                }
                _ => return Ok(tags),
            }
        }
    }

    async fn call(&self, body: String) -> Result<TagsPage, Ec2Error> {
        let body = Bytes::from(body);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Full::new(body.clone()))
            .map_err(Ec2Error::Build)?;
        let credentials = self.credentials.get().await?;
        sign_request(
            &mut request,
            &body,
            &credentials,
            &self.region,
            "ec2",
            SystemTime::now(),
        )?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|source| Ec2Error::Send {
                endpoint: self.endpoint.clone(),
                source,
            })?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|source| Ec2Error::Body {
                endpoint: self.endpoint.clone(),
                source,
            })?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            let (code, message) = parse_error(&text).unwrap_or_default();
            return Err(Ec2Error::Api {
                status: status.as_u16(),
                code,
                message,
            });
        }
        parse_describe_tags(&text).map_err(Ec2Error::Xml)
    }
}

/// The form body of one `DescribeTags` page.
pub fn describe_tags_body(resource_id: &str, keys: &[&str], token: Option<&str>) -> String {
    let mut body = format!(
        "Action=DescribeTags&Version={API_VERSION}&Filter.1.Name=resource-id&Filter.1.Value.1={}",
        form_encode(resource_id)
    );
    if !keys.is_empty() {
        body.push_str("&Filter.2.Name=key");
        for (i, key) in keys.iter().enumerate() {
            body.push_str(&format!("&Filter.2.Value.{}={}", i + 1, form_encode(key)));
        }
    }
    if let Some(token) = token {
        body.push_str(&format!("&NextToken={}", form_encode(token)));
    }
    body
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One page of a `DescribeTags` answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TagsPage {
    pub tags: Vec<(String, String)>,
    pub next_token: Option<String>,
}

/// Walks `xml`, calling `leaf(path, text)` at the end of every element with the element path
/// (local names) and its text, entity and character references resolved.
fn walk(xml: &str, mut leaf: impl FnMut(&[String], String)) -> Result<(), quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Event::Empty(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                leaf(&path, String::new());
                path.pop();
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(quick_xml::Error::Encoding)?),
            Event::CData(t) => text.push_str(&t.decode().map_err(quick_xml::Error::Encoding)?),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref()? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(quick_xml::Error::Encoding)?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => {
                            text.push('&');
                            text.push_str(&name);
                            text.push(';');
                        }
                    }
                }
            }
            Event::End(_) => {
                leaf(&path, std::mem::take(&mut text));
                path.pop();
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// Reads a `DescribeTagsResponse`.
pub fn parse_describe_tags(xml: &str) -> Result<TagsPage, quick_xml::Error> {
    let mut page = TagsPage::default();
    let mut key: Option<String> = None;
    let mut value: Option<String> = None;
    walk(xml, |path, text| {
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match names.as_slice() {
            [_, "tagSet", "item", "key"] => key = Some(text),
            [_, "tagSet", "item", "value"] => value = Some(text),
            [_, "tagSet", "item"] => {
                if let Some(k) = key.take() {
                    page.tags.push((k, value.take().unwrap_or_default()));
                }
                value = None;
            }
            [_, "nextToken"] => page.next_token = Some(text),
            _ => {}
        }
    })?;
    Ok(page)
}

/// The `Code` and `Message` of an EC2 error answer.
pub fn parse_error(xml: &str) -> Option<(String, String)> {
    let mut code = None;
    let mut message = String::new();
    walk(xml, |path, text| match path.last().map(String::as_str) {
        Some("Code") if code.is_none() => code = Some(text),
        Some("Message") if message.is_empty() => message = text,
        _ => {}
    })
    .ok()?;
    code.map(|c| (c, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_filters_by_resource_and_keys_form_encoded() {
        assert_eq!(
            describe_tags_body(
                "i-0123",
                &["eks:cluster-name", "kubernetes.io/cluster/*"],
                None
            ),
            "Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123&Filter.2.Name=key&Filter.2.Value.1=eks%3Acluster-name&Filter.2.Value.2=kubernetes.io%2Fcluster%2F%2A"
        );
        assert_eq!(
            describe_tags_body("i-0123", &[], Some("a b+c")),
            "Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123&NextToken=a%20b%2Bc"
        );
    }

    #[test]
    fn tags_and_the_next_token_are_read_with_references_resolved() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
   <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
   <tagSet>
      <item>
         <resourceId>i-0123</resourceId>
         <resourceType>instance</resourceType>
         <key>eks:cluster-name</key>
         <value>shop &amp; co &#x41;</value>
      </item>
      <item>
         <resourceId>i-0123</resourceId>
         <resourceType>instance</resourceType>
         <key>kubernetes.io/cluster/shop</key>
         <value/>
      </item>
   </tagSet>
   <nextToken>page2</nextToken>
</DescribeTagsResponse>"#;
        assert_eq!(
            parse_describe_tags(xml).unwrap(),
            TagsPage {
                tags: vec![
                    ("eks:cluster-name".into(), "shop & co A".into()),
                    ("kubernetes.io/cluster/shop".into(), String::new()),
                ],
                next_token: Some("page2".into()),
            }
        );
        let empty =
            r#"<DescribeTagsResponse><requestId>x</requestId><tagSet/></DescribeTagsResponse>"#;
        assert_eq!(parse_describe_tags(empty).unwrap(), TagsPage::default());
        assert!(parse_describe_tags("<a><b></a>").is_err());
    }

    #[test]
    fn error_answers_give_code_and_message() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        assert_eq!(
            parse_error(xml),
            Some((
                "UnauthorizedOperation".to_owned(),
                "You are not authorized to perform this operation.".to_owned()
            ))
        );
        assert_eq!(parse_error("not xml <"), None);
        let err = Ec2Error::Api {
            status: 403,
            code: "UnauthorizedOperation".into(),
            message: "no".into(),
        };
        assert!(err.to_string().contains("ec2:DescribeTags"), "{err}");
    }
}
