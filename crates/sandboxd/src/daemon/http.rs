//! Small HTTP building blocks shared by the control plane and the data-plane proxy: the
//! response body type, JSON responses, and the query-string decoding rules of
//! docs/protocol.md#metadata-filter.

use std::collections::HashMap;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body of every response the daemon sends: buffered JSON or a streamed agent response.
pub type Body = BoxBody<Bytes, BoxError>;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let data = serde_json::to_vec(value).expect("serialising a response cannot fail");
    let mut resp = Response::new(full(data));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub fn status_only(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    resp
}

/// `{"code": <status>, "message": ...}` — the error body of every status
/// (docs/protocol.md#control-plane-conventions).
pub fn error_json(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_response(
        status,
        &e2b_wire::api::ApiError {
            code: status.as_u16() as i64,
            message: message.into(),
            error_code: None,
        },
    )
}

/// Query parameters after normal decoding (`+` is a space, `%XX` escapes decoded). Repeated
/// keys keep the first value.
pub fn query_params(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(q) = query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    out
}

/// Strict query unescape (Go's `url.QueryUnescape`), as [`crate::route::unescape`].
pub fn query_unescape(s: &str) -> Result<String, String> {
    crate::route::unescape(s).map_err(|r| r.message)
}

/// Decodes the `metadata` list filter (docs/protocol.md#metadata-filter). `raw` is the parameter
/// after normal query decoding; it is unescaped once more, split on `&` then `=` (exactly two
/// parts), and key and value are unescaped again.
pub fn decode_metadata_filter(raw: &str) -> Result<Vec<(String, String)>, String> {
    let once = query_unescape(raw)?;
    let mut pairs = Vec::new();
    for part in once.split('&') {
        if part.is_empty() {
            continue;
        }
        let kv: Vec<&str> = part.split('=').collect();
        if kv.len() != 2 {
            return Err(format!(
                "invalid metadata filter {part:?}: expected key=value"
            ));
        }
        pairs.push((query_unescape(kv[0])?, query_unescape(kv[1])?));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_triple_encoding() {
        // Wire form from docs/protocol.md#metadata-filter.
        let params = query_params(Some("metadata=a%252520b%3Dc%252526d%26x%3Dy"));
        let pairs = decode_metadata_filter(&params["metadata"]).unwrap();
        assert_eq!(
            pairs,
            vec![("a b".into(), "c&d".into()), ("x".into(), "y".into())]
        );
    }

    #[test]
    fn metadata_rejects_malformed() {
        assert!(decode_metadata_filter("a=b=c").is_err());
        assert!(decode_metadata_filter("novalue").is_err());
        assert!(decode_metadata_filter("a%zz=b").is_err());
        assert_eq!(decode_metadata_filter("").unwrap(), vec![]);
    }
}
