//! The routes of upstream's JS server, as in the async twin: `GET /`, `/user/{id}` after the
//! simulated database delay, `/data` after twice that, `/slow` after ten times; 404 as JSON, 405
//! with `Allow` for other methods.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;

/// A response before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// The routes of upstream's JS server, as in the async twin; `thread::sleep` blocks this worker
/// (and only it) for the simulated query.
pub fn route(method: &str, path: &str, delay: Duration) -> Response {
    if method != "GET" {
        return json_response(
            405,
            &json!({ "error": "Method Not Allowed", "method": method }),
        );
    }
    // The path without a query string (hyper's `uri().path()` does this in the async twin).
    let path = path.split('?').next().unwrap_or_default();
    match path {
        "/" => text_response(
            200,
            "Hello from the threads server. Routes: GET /, GET /user/{id}, GET /data, GET /slow\n",
        ),
        "/data" => {
            simulated_query(delay * 2);
            json_response(200, &sample_data())
        }
        "/slow" => {
            simulated_query(delay * 10);
            text_response(200, "This was a slow response.\n")
        }
        _ => match path.strip_prefix("/user/") {
            Some(id) if !id.is_empty() && !id.contains('/') => match id.parse::<u64>() {
                Ok(id) => {
                    simulated_query(delay);
                    json_response(200, &User::new(id))
                }
                Err(_) => json_response(
                    400,
                    &json!({ "error": "user id must be a number", "id": id }),
                ),
            },
            _ => json_response(404, &json!({ "error": "Not Found", "path": path })),
        },
    }
}

/// The simulated database query: blocks this worker for `delay`. Unlike tokio's timer, std's
/// `thread::sleep` returns at once for a zero duration, without a system call, so `--delay-ms 0`
/// costs nothing here (the async twin has to skip its `sleep` for that).
pub(crate) fn simulated_query(delay: Duration) {
    thread::sleep(delay);
}

/// `/user/{id}`'s body. A typed struct, not `json!`: serde writes it straight to bytes, with no
/// intermediate map (this route takes the load test's traffic).
#[derive(Debug, Serialize)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) email: String,
}

impl User {
    pub(crate) fn new(id: u64) -> Self {
        Self {
            id,
            name: format!("User {id}"),
            email: format!("user{id}@example.com"),
        }
    }
}

/// `/data`'s body, as upstream: a timestamp and five random values.
#[derive(Debug, Serialize)]
pub(crate) struct Data {
    pub(crate) timestamp: u64,
    pub(crate) data: Vec<DataPoint>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DataPoint {
    pub(crate) id: u32,
    pub(crate) value: f64,
}

pub(crate) fn sample_data() -> Data {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut rng = SmallRng::seed_from_u64(now.as_nanos() as u64);
    Data {
        timestamp: now.as_millis() as u64,
        data: (1..=5)
            .map(|id| DataPoint {
                id,
                value: rng.random(),
            })
            .collect(),
    }
}

pub(crate) fn text_response(status: u16, body: &str) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.to_string(),
    }
}

pub(crate) fn json_response(status: u16, body: &impl Serialize) -> Response {
    Response {
        status,
        content_type: "application/json",
        // Serializing our own types cannot fail (no maps with non-string keys, no failing impls).
        body: serde_json::to_string(body).expect("serializable by construction"),
    }
}

/// The empty-bodied answer to a head the server could not take (400 or 431), as hyper sends.
pub(crate) fn bad_request(status: u16) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: String::new(),
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "",
    }
}
