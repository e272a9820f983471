//! The `http` block (`makeHTTP`), for the old (`http.*`, `net.*`) and new (`url.*`, `server.*`,
//! `network.*`) semantic-convention names, borrowed from the span and written by [`Http::write`].

use std::borrow::Cow;
use std::net::IpAddr;

use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};

use super::attributes::{AttrMap, attr_map, first_str, get_str, int_of, str_of};
use super::write::{self, Obj};

/// Attributes that make a span an HTTP span.
pub(super) const HTTP_MARKERS: &[&str] = &[
    "http.method",
    "http.request.method",
    "http.client_ip",
    "http.user_agent",
    "user_agent.original",
    "http.status_code",
    "http.response.status_code",
    "http.url",
    "url.full",
    "http.scheme",
    "url.scheme",
    "http.host",
    "http.target",
    "url.path",
    "url.query",
    "http.server_name",
    "net.host.port",
];

/// Attributes that the `http` block consumes when it is emitted: the markers plus the address
/// attributes used to build the URL and the client IP.
pub(super) const HTTP_CONSUMED: &[&str] = &[
    "client.address",
    "net.host.name",
    "host.name",
    "server.address",
    "server.port",
    "net.peer.name",
    "net.peer.port",
    "net.peer.ip",
    "network.peer.address",
    "network.peer.port",
];

/// The `http` block of one document, borrowed from the span's attributes.
pub(crate) struct Http<'a> {
    method: Option<&'a str>,
    client_ip: Option<&'a str>,
    x_forwarded_for: bool,
    user_agent: Option<&'a str>,
    url: Option<Cow<'a, str>>,
    status: Option<i64>,
    content_length: i64,
}

impl Http<'_> {
    /// Writes `{"request":{...},"response":{...}}`, keys in ascending order.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut http = Obj::begin(out);
        let mut request = Obj::begin(http.key("request"));
        if let Some(ip) = self.client_ip {
            request.str("client_ip", ip);
        }
        if let Some(method) = self.method {
            request.str("method", method);
        }
        if let Some(url) = &self.url {
            request.str("url", url);
        }
        if let Some(agent) = self.user_agent {
            request.str("user_agent", agent);
        }
        if self.x_forwarded_for {
            request.bool("x_forwarded_for", true);
        }
        request.end();
        let mut response = Obj::begin(http.key("response"));
        write::int(response.key("content_length"), self.content_length);
        if let Some(status) = self.status {
            write::int(response.key("status"), status);
        }
        response.end();
        http.end();
    }
}

/// Returns the `http` block, removing the attributes it consumed from `filtered`, or `None` when
/// the span has no HTTP attribute (then nothing is consumed).
pub(crate) fn make_http<'a>(
    span: &Span,
    attrs: &AttrMap<'a>,
    filtered: &mut AttrMap<'_>,
) -> Option<Http<'a>> {
    if !HTTP_MARKERS.iter().any(|k| attrs.contains_key(k)) {
        return None;
    }
    for key in HTTP_MARKERS.iter().chain(HTTP_CONSUMED) {
        filtered.remove(key);
    }
    let method = first_str(attrs, &["http.method", "http.request.method"]);
    let client_ip = first_str(attrs, &["http.client_ip"])
        .or_else(|| ip_str(attrs, "client.address"))
        .or_else(|| first_str(attrs, &["net.peer.ip"]))
        .or_else(|| ip_str(attrs, "network.peer.address"));
    let x_forwarded_for = client_ip.is_some()
        && !attrs.contains_key("net.peer.ip")
        && !attrs.contains_key("network.peer.address");
    let user_agent = first_str(attrs, &["http.user_agent", "user_agent.original"]);
    let url = first_str(attrs, &["http.url", "url.full"])
        .map(Cow::Borrowed)
        .or_else(|| construct_url(span.kind() == SpanKind::Server, attrs).map(Cow::Owned));
    let status = ["http.status_code", "http.response.status_code"]
        .iter()
        .find_map(|k| attrs.get(k).and_then(|v| int_of(v)));
    Some(Http {
        method,
        client_ip,
        x_forwarded_for,
        user_agent,
        url,
        status,
        content_length: response_size(span, attrs),
    })
}

/// The value of `key` when it is a string that parses as an IP address.
pub(super) fn ip_str<'a>(attrs: &AttrMap<'a>, key: &str) -> Option<&'a str> {
    let value = get_str(attrs, key);
    value.parse::<IpAddr>().is_ok().then_some(value)
}

/// A port attribute as text; it may be sent as a string or an integer.
fn port_of(attrs: &AttrMap<'_>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        let value = attrs.get(k)?;
        match str_of(value) {
            "" => int_of(value).map(|n| n.to_string()),
            s => Some(s.to_string()),
        }
    })
}

/// `scheme://host[:port]path[?query]` from the parts, or `None` when no host is known.
pub(super) fn construct_url(server: bool, attrs: &AttrMap<'_>) -> Option<String> {
    let scheme = first_str(attrs, &["http.scheme", "url.scheme"]).unwrap_or("http");
    let (host, port) = if let Some(host) = first_str(attrs, &["http.host"]) {
        // `http.host` already carries the port when it is not the default one.
        (host, None)
    } else if server {
        (
            first_str(
                attrs,
                &[
                    "http.server_name",
                    "net.host.name",
                    "host.name",
                    "server.address",
                ],
            )?,
            port_of(attrs, &["net.host.port", "server.port"]),
        )
    } else {
        (
            first_str(attrs, &["net.peer.name", "net.peer.ip", "server.address"])?,
            port_of(attrs, &["net.peer.port", "network.peer.port"]),
        )
    };
    let mut url = format!("{scheme}://{host}");
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => "",
    };
    if let Some(port) = port.filter(|p| !p.is_empty() && p != default_port) {
        url.push(':');
        url.push_str(&port);
    }
    match first_str(attrs, &["http.target"]) {
        Some(target) => url.push_str(target),
        None => {
            url.push_str(first_str(attrs, &["url.path"]).unwrap_or("/"));
            if let Some(query) = first_str(attrs, &["url.query"]) {
                url.push('?');
                url.push_str(query);
            }
        }
    }
    Some(url)
}

/// The response size from the span's or an event's `message.type == RECEIVED` attributes.
pub(super) fn response_size(span: &Span, attrs: &AttrMap<'_>) -> i64 {
    let from = |attrs: &AttrMap<'_>| {
        (get_str(attrs, "message.type") == "RECEIVED")
            .then(|| {
                attrs
                    .get("messaging.message_payload_size_bytes")
                    .and_then(|v| int_of(v))
            })
            .flatten()
            .unwrap_or(0)
    };
    let size = from(attrs);
    if size != 0 {
        return size;
    }
    span.events
        .iter()
        .map(|e| from(&attr_map(&e.attributes)))
        .find(|n| *n != 0)
        .unwrap_or(0)
}
