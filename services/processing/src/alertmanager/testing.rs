//! An alert record and a stand-in Alertmanager for the unit tests of the forwarder.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An alert record as processing publishes it, with every context field, fields the
/// forwarder does not read, and one added later.
pub(super) fn alert_record_json() -> serde_json::Value {
    serde_json::json!({
        "alert_id": "akonovia:2025-09-03-17-20:1204/rules",
        "series_key": "akonovia:powerbi:1204",
        "record_id": "akonovia:2025-09-03-17-20:1204",
        "source": "powerbi",
        "company": "akonovia",
        "object_id": 1204,
        "object_type": "Datasets",
        "detector": "rules",
        "rules": ["high_memory", "failure"],
        "severity": "critical",
        "message": "powerbi Datasets (1204): FAILED; memory 2e8 B",
        "reasons": ["FAILED", "memory 2e8 B"],
        "metrics": {"duration_seconds": 1.0},
        "run_started_at": "2025-09-03T17:20:15Z",
        "raised_at": "2025-09-03T17:21:00Z",
        "some_later_field": true
    })
}

/// A stand-in for Alertmanager: answers the statuses of `script` in turn (then 200) and
/// hands over the bodies it received.
pub(super) async fn fake_alertmanager(
    script: Vec<u16>,
) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (bodies, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut script = script.into_iter();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                request.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        assert!(head.starts_with("POST /api/v2/alerts "), "{head}");
                        break body.to_owned();
                    }
                }
            };
            let status = script.next().unwrap_or(200);
            bodies.send(body).unwrap();
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno");
            socket.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    (url, received)
}
