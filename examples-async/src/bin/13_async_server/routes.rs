//! The routes of upstream's JS server: `GET /`, `/user/{id}` after the simulated database delay,
//! `/data` after twice that, `/slow` after ten times; 404 as JSON, 405 with `Allow` for other
//! methods, exact route matching.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;
use tokio::time::sleep;

/// The routes of upstream's JS server. Generic over the request body (none of the routes reads
/// it), so the tests can call it directly on tokio's paused clock, without a socket.
pub async fn route<B>(request: Request<B>, delay: Duration) -> Response<Full<Bytes>> {
    // Upstream ignores the method; a GET-only API says so with 405 and an `Allow` header.
    if request.method() != Method::GET {
        let mut response = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({ "error": "Method Not Allowed", "method": request.method().as_str() }),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let path = request.uri().path();
    match path {
        "/" => text_response(
            StatusCode::OK,
            "Hello from the async server. Routes: GET /, GET /user/{id}, GET /data, GET /slow\n",
        ),
        "/data" => {
            // `sleep` stands in for a slow query. It gives the thread back to the runtime: the
            // other connections keep being served while this one waits.
            simulated_query(delay * 2).await;
            json_response(StatusCode::OK, &sample_data())
        }
        "/slow" => {
            simulated_query(delay * 10).await;
            text_response(StatusCode::OK, "This was a slow response.\n")
        }
        _ => match path.strip_prefix("/user/") {
            // Exactly one segment after `/user/` (upstream's `startsWith("/user")` also matched
            // `/users` and `/user/1/x`).
            Some(id) if !id.is_empty() && !id.contains('/') => match id.parse::<u64>() {
                Ok(id) => {
                    simulated_query(delay).await;
                    json_response(StatusCode::OK, &User::new(id))
                }
                Err(_) => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({ "error": "user id must be a number", "id": id }),
                ),
            },
            _ => json_response(
                StatusCode::NOT_FOUND,
                &json!({ "error": "Not Found", "path": path }),
            ),
        },
    }
}

/// The simulated database query: waits `delay` without holding the thread. With no delay it does
/// not wait at all: `sleep(Duration::ZERO)` still goes through tokio's timer, which has a 1 ms
/// resolution, so every request would pay a timer tick and a second wake-up (with `--delay-ms 0`
/// that capped `GET /user/7` at about a third of what `GET /` reaches under `wrk`).
pub(crate) async fn simulated_query(delay: Duration) {
    if !delay.is_zero() {
        sleep(delay).await;
    }
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

pub(crate) fn text_response(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Full<Bytes>> {
    // Serializing our own types cannot fail (no maps with non-string keys, no failing impls).
    let json = serde_json::to_vec(body).expect("serializable by construction");
    let mut response = Response::new(Full::new(Bytes::from(json)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
