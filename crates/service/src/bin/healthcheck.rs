//! `healthcheck PORT [PATH]`: the container health check, without a shell or curl in the
//! image. Exits 0 when `GET PATH` (default `/health/ready`: Kafka reachable, partitions
//! assigned, views caught up) on 127.0.0.1:PORT answers 200 within five seconds, 1
//! otherwise, saying why on stderr.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(port) = args.next().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: healthcheck PORT [PATH]");
        return ExitCode::from(2);
    };
    let path = args.next().unwrap_or_else(|| "/health/ready".to_owned());
    match status(port, &path) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(code) => {
            eprintln!("healthcheck: GET {path} on port {port} answered {code}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("healthcheck: GET {path} on port {port}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The status code of `GET path` on the loopback port.
fn status(port: u16, path: &str) -> std::io::Result<u16> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    // The status line is in the first bytes: "HTTP/1.1 200 OK".
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP answer: {line:?}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A server on a free loopback port that answers one request with `answer`, and the
    /// request it got.
    fn serve_once(answer: &'static str) -> (u16, thread::JoinHandle<String>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The whole request is read before answering: closing with unread bytes would
            // reset the connection before the client reads the answer.
            let mut request = Vec::new();
            let mut buffer = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut buffer).unwrap() {
                    0 => break,
                    n => request.extend_from_slice(&buffer[..n]),
                }
            }
            stream.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (port, server)
    }

    #[test]
    fn reads_the_status_of_the_path_asked() {
        let (port, server) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(status(port, "/health/ready").unwrap(), 200);
        assert!(server
            .join()
            .unwrap()
            .starts_with("GET /health/ready HTTP/1.0\r\n"));
        let (port, server) = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(status(port, "/health/live").unwrap(), 503);
        assert!(server.join().unwrap().starts_with("GET /health/live "));
    }

    #[test]
    fn what_is_not_http_or_not_there_is_an_error() {
        let (port, server) = serve_once("hello");
        assert!(status(port, "/").is_err());
        server.join().unwrap();
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(status(port, "/").is_err());
    }
}
