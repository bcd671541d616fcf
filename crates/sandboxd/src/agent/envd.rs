//! The envd service (port 49983) inside the sandbox: plain-HTTP endpoints now; the
//! filesystem/process Connect RPCs (`/filesystem.Filesystem/*`, `/process.Process/*`) and
//! `/files` slot into [`handle`]'s routing table.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use super::http::{self, Res};

/// State of the envd service.
pub struct Envd {
    envs: BTreeMap<String, String>,
}

impl Envd {
    pub fn new(envs: BTreeMap<String, String>) -> Self {
        Envd { envs }
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Res {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/health") => {
                let mut res = http::empty(StatusCode::NO_CONTENT);
                res.headers_mut().insert(
                    hyper::header::CACHE_CONTROL,
                    hyper::header::HeaderValue::from_static("no-store"),
                );
                res
            }
            (&Method::GET, "/envs") => http::json(StatusCode::OK, &self.envs),
            (_, "/health" | "/envs") => {
                http::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            (_, path) => http::text(StatusCode::NOT_FOUND, format!("no envd endpoint {path}")),
        }
    }
}
