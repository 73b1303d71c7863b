//! An incident and a stand-in Alertmanager for the unit tests of the notifier.

use crate::analytics::testing::processed;
use obs_incidents::{
    Action, Command, Incident, IncidentBook, IncidentConfig, IncidentStatus, RunSummary, Signal,
};
use obs_records::Status;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An incident of one failed PowerBI run (object 1204), in `status`.
pub(super) fn incident(status: IncidentStatus) -> Incident {
    let record = processed(1104, "powerbi", Status::Failed, 1.0, 1_000, 0.1);
    let mut book = IncidentBook::new(IncidentConfig::default());
    let alerted = Signal::Alerted {
        run: RunSummary::of(&record.record, record.processed_at),
        alerts: record.alerts(),
    };
    let id = book.apply(&alerted).unwrap().changes.remove(0).id;
    let incident = book.get(&id).unwrap().clone();
    let action = match status {
        IncidentStatus::Open => return incident,
        IncidentStatus::Acknowledged => Action::Acknowledge,
        IncidentStatus::Resolved => Action::Resolve,
    };
    let command = Signal::Command(Command {
        command_id: "c1".into(),
        incident_id: incident.id.clone(),
        action,
        by: "alice".into(),
        note: None,
        at: record.processed_at + chrono::Duration::minutes(10),
    });
    book.apply(&command).unwrap();
    book.get(&id).unwrap().clone()
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
