//! The server's bounds, over real TCP connections: a slowloris and an idle connection are
//! closed, connections and requests beyond their limits are answered 503 at once, a
//! stalled body is answered 408.

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use obs_service::http::read_body;
use obs_service::serve::serve_on;
use obs_service::HttpConfig;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

fn limits() -> HttpConfig {
    HttpConfig {
        header_timeout_ms: 300,
        body_timeout_ms: 300,
        max_connections: 4,
        max_in_flight_requests: 1,
        ..HttpConfig::on_port(0)
    }
}

/// A server with a slow route, a route that reads its body, and `/health`, on a port of the
/// OS; dropping the sender stops it.
async fn start(http: HttpConfig) -> (SocketAddr, oneshot::Sender<()>) {
    let router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done"
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .route(
            "/body",
            post(|body: Body| async move {
                match read_body(body, 1 << 20).await {
                    Ok(bytes) => format!("{} bytes", bytes.len()).into_response(),
                    Err(error) => error.into_response(),
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        serve_on(listener, router, &http, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (address, stop)
}

/// What the server sends until it closes the connection (`true`), or until `wait` passed.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

async fn request(address: SocketAddr, text: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(text.as_bytes()).await.unwrap();
    read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .0
}

const PROBE: &str = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn a_slowloris_is_closed_after_the_header_timeout() {
    let (address, _stop) = start(limits()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(closed, "the connection is still open after 3 s");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let (address, _stop) = start(limits()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed,
        "an idle kept-alive connection is still open after 3 s"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_answered_503() {
    let http = HttpConfig {
        header_timeout_ms: 5_000,
        ..limits()
    };
    let (address, _stop) = start(http).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(address).await.unwrap());
    }
    // The accept loop takes the four before the fifth.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = request(address, PROBE).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = request(address, PROBE).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_shed_but_probes_are_not() {
    let (address, _stop) = start(limits()).await;
    let slow = "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let first = tokio::spawn(request(address, slow));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let shed = request(address, slow).await;
    assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
    assert!(shed.contains("retry-after: 1"), "{shed}");
    assert!(shed.contains("\"code\":\"unavailable\""), "{shed}");
    let probe = request(address, PROBE).await;
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");
    let first = first.await.unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
}

#[tokio::test]
async fn a_stalled_body_is_answered_408() {
    let (address, _stop) = start(limits()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
}

#[tokio::test]
async fn requests_without_a_key_are_limited_per_address_and_probes_never() {
    let (address, _stop) = start(HttpConfig {
        address_rate_per_second: 1,
        address_burst: 3,
        max_in_flight_requests: 8,
        ..limits()
    })
    .await;
    let get = |path: &str, key: bool| {
        let auth = if key {
            "Authorization: Bearer t\r\n"
        } else {
            ""
        };
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n")
    };
    for _ in 0..3 {
        let answer = request(address, &get("/body", false)).await;
        assert!(
            answer.starts_with("HTTP/1.1 405"),
            "within the burst: {answer}"
        );
    }
    let refused = request(address, &get("/body", false)).await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.contains("retry-after: "), "{refused}");
    assert!(refused.contains(r#""code":"rate_limited""#), "{refused}");
    let probe = request(address, &get("/health", false)).await;
    assert!(
        probe.starts_with("HTTP/1.1 200"),
        "probes are never limited: {probe}"
    );
    let keyed = request(address, &get("/body", true)).await;
    assert!(
        keyed.starts_with("HTTP/1.1 405"),
        "a request with a key is the key's bucket's business: {keyed}"
    );
}
