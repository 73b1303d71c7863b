//! HTTPS with `http.tls`: a server with a certificate made here answers a client that
//! trusts it, refuses clear-text HTTP, and files it cannot use stop it before it accepts
//! anything, with a message naming the config key and the path.

use axum::routing::get;
use axum::Router;
use obs_service::serve::serve_on;
use obs_service::tls::TlsConfig;
use obs_service::HttpConfig;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A self-signed certificate for `localhost` and its key, as PEM files in `dir`.
fn certificate(dir: &Path) -> (String, TlsConfig) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    let tls = TlsConfig {
        cert_path: Some(dir.join("cert.pem")),
        key_path: Some(dir.join("key.pem")),
    };
    (cert_pem, tls)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("obs-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn http(tls: TlsConfig) -> HttpConfig {
    HttpConfig {
        tls,
        ..HttpConfig::on_port(0)
    }
}

#[tokio::test]
async fn serves_https_to_a_client_that_trusts_the_certificate() {
    let dir = temp_dir("serve");
    let (cert_pem, tls) = certificate(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Router::new().route("/health", get(|| async { "ok" }));
    let server = tokio::spawn(async move {
        serve_on(listener, router, &http(tls), async {
            let _ = stopped.await;
        })
        .await
    });
    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", address)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/health", address.port());
    let answer = trusting.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok");

    // A client that does not trust the certificate refuses it.
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .resolve("localhost", address)
        .build()
        .unwrap();
    let error = untrusting.get(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");

    // Clear-text HTTP gets no answer.
    let clear = reqwest::Client::new()
        .get(format!("http://{address}/health"))
        .send()
        .await;
    assert!(clear.is_err(), "{clear:?}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// The error `serve_on` stops with at once on `tls`.
async fn startup_error(tls: TlsConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let router = Router::new().route("/health", get(|| async { "ok" }));
    let error = serve_on(listener, router, &http(tls), std::future::pending())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    error.to_string()
}

#[tokio::test]
async fn a_missing_or_bad_file_is_a_startup_error_naming_it() {
    let dir = temp_dir("bad");
    let (_, good) = certificate(&dir);
    let missing = dir.join("missing.pem");
    let message = startup_error(TlsConfig {
        cert_path: Some(missing.clone()),
        ..good.clone()
    })
    .await;
    assert!(message.contains("http.tls.cert_path"), "{message}");
    assert!(message.contains("missing.pem"), "{message}");

    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let message = startup_error(TlsConfig {
        cert_path: Some(garbage.clone()),
        ..good.clone()
    })
    .await;
    assert!(message.contains("http.tls.cert_path"), "{message}");
    assert!(message.contains("no PEM certificate"), "{message}");

    let message = startup_error(TlsConfig {
        key_path: Some(garbage),
        ..good.clone()
    })
    .await;
    assert!(message.contains("http.tls.key_path"), "{message}");

    let message = startup_error(TlsConfig {
        key_path: None,
        ..good
    })
    .await;
    assert!(message.contains("set both or neither"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_connection_beyond_the_limit_is_closed_without_a_clear_text_answer() {
    use tokio::io::AsyncReadExt;
    let dir = temp_dir("limit");
    let (_, tls) = certificate(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Router::new().route("/health", get(|| async { "ok" }));
    let http = HttpConfig {
        max_connections: 1,
        ..http(tls)
    };
    let server = tokio::spawn(async move {
        serve_on(listener, router, &http, async {
            let _ = stopped.await;
        })
        .await
    });
    // The first connection holds the one slot while its handshake is awaited.
    let _holder = tokio::net::TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut beyond = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut answer = Vec::new();
    beyond.read_to_end(&mut answer).await.unwrap();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
