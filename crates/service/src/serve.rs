//! Serving a service's router with every resource bounded, until SIGTERM.
//!
//! axum's own `serve` has no timeouts and no limits: a slowloris or a thousand idle
//! sockets would hold a service's file descriptors and memory for ever. Here the accept
//! loop caps the open connections (one more is answered 503 and closed), hyper closes a
//! connection whose request headers do not arrive in time (also between requests on a
//! kept-alive connection), a body that stalls is answered 408, and requests beyond the
//! in-flight limit are answered 503 at once rather than queued. Health probes and
//! `/metrics` are never shed. With `http.tls` set ([`crate::tls`]) every connection is
//! HTTPS; its handshake must end within the header timeout.

use crate::address_limit::{limit_by_address, AddressLimit, ClientAddress};
use crate::config::HttpConfig;
use crate::health::{HealthReport, Probe};
use crate::http::ApiError;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::Layer;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// What a client is told to wait before it tries again when a limit is reached.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Longest a stopping server waits for the requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` as `http` says until SIGTERM or Ctrl-C, then lets requests in flight
/// finish.
pub async fn serve(router: Router, http: &HttpConfig) -> std::io::Result<()> {
    let listener = TcpListener::bind(http.listen).await?;
    serve_on(listener, router, http, shutdown_signal()).await
}

/// [`serve`] on a bound listener, until `shutdown` completes. TLS files that cannot be
/// used are an `InvalidInput` error naming them, before any connection is accepted.
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    http: &HttpConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let tls = http
        .tls
        .acceptor()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %listener.local_addr()?, scheme, "listening");
    let handshake_timeout = Duration::from_millis(http.header_timeout_ms.max(1));
    let router = bounded(router, http);
    let connections = Arc::new(Semaphore::new(http.max_connections.max(1)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(http.header_timeout_ms.max(1)));
    let graceful = GracefulShutdown::new();
    // Tells the TLS handshakes still under way that the server stops: they end at once
    // rather than hold the drain until their timeout.
    let (stopping, stopping_seen) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            // A TLS client could not read a clear-text answer: it is only closed.
            if tls.is_none() {
                tokio::spawn(refuse(stream));
            }
            continue;
        };
        let service = TowerToHyperService::new(
            axum::Extension(ClientAddress(peer.ip())).layer(router.clone()),
        );
        match &tls {
            None => {
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that goes away or times out ends its connection: nothing to
                    // report.
                    let _ = connection.await;
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let (acceptor, builder) = (acceptor.clone(), builder.clone());
                let watcher = graceful.watcher();
                let mut stopped = stopping_seen.clone();
                tokio::spawn(async move {
                    // A handshake that fails or stalls ends the connection, like a request
                    // whose headers do not come.
                    let handshake = tokio::select! {
                        handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)) => handshake,
                        _ = stopped.changed() => return,
                    };
                    if let Ok(Ok(stream)) = handshake {
                        let connection =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        let _ = watcher.watch(connection.into_owned()).await;
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; closing");
    }
    Ok(())
}

/// The router with the body timeout, the in-flight limit and the limit per client address
/// of the requests without a key (checked first: the cheapest refusal).
fn bounded(router: Router, http: &HttpConfig) -> Router {
    let in_flight = Arc::new(Semaphore::new(http.max_in_flight_requests.max(1)));
    let per_address = AddressLimit::new(http.address_rate_per_second, http.address_burst);
    router
        .layer(middleware::from_fn_with_state(in_flight, shed_beyond_limit))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_millis(
            http.body_timeout_ms.max(1),
        )))
        .layer(middleware::from_fn_with_state(
            per_address,
            limit_by_address,
        ))
}

/// Answers 503 at once when every in-flight slot is taken (probes and metrics aside).
async fn shed_beyond_limit(
    State(in_flight): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/health") || path == "/metrics" {
        return next.run(request).await;
    }
    match in_flight.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => ApiError::unavailable(
            "too many requests in flight; retry later".to_owned(),
            RETRY_AFTER,
        )
        .into_response(),
    }
}

/// Tells a connection beyond the limit to come back later, and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":{"code":"unavailable","message":"too many open connections; retry later","details":null}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        RETRY_AFTER.as_secs(),
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// The background loops of a stage service.
pub trait StageLoops: Send + Sync + 'static {
    /// Starts the loops (the topics exist by then).
    fn start_loops(&self) -> anyhow::Result<()>;
    /// Stops them after they committed their batch in flight (blocking).
    fn stop_loops(&self) -> anyhow::Result<()>;
    /// The service's health: its liveness checks say which loops still run.
    fn health(&self) -> HealthReport;
}

/// How often [`watch_loops`] looks at the loops.
const LOOP_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Completes, naming them, once a loop of `state` stopped by itself after `started` was
/// set (a fatal Kafka error, a panic): a process whose loop is dead serves nothing useful,
/// so it ends and its supervisor (compose's restart policy, Kubernetes) starts it again.
pub async fn watch_loops<S: StageLoops>(state: Arc<S>, started: Arc<AtomicBool>) -> String {
    loop {
        tokio::time::sleep(LOOP_CHECK_INTERVAL).await;
        if !started.load(Ordering::Acquire) {
            continue;
        }
        let report = state.health();
        if !report.live {
            let dead: Vec<&str> = report
                .checks
                .iter()
                .filter(|c| c.probe == Probe::Live && !c.ok)
                .map(|c| c.name)
                .collect();
            return dead.join(", ");
        }
    }
}

/// Runs a stage service: serves `router` at once (health says the loops are not running
/// yet) while the topics are prepared, retrying while Kafka is away, then starts the
/// loops; after SIGTERM stopped the server, they stop on the blocking pool. A loop that
/// stops by itself, or loops that cannot start (a broker that answered the topics'
/// preparation and then not), stop the server too: the service ends with an error naming
/// why, so that its supervisor starts it again, rather than serving without its loops.
pub async fn serve_stage<S: StageLoops>(
    service: &'static str,
    state: Arc<S>,
    router: Router,
    http: &HttpConfig,
    kafka: obs_kafka::KafkaConfig,
    topics: obs_kafka::TopicsConfig,
) -> anyhow::Result<()> {
    let started = Arc::new(AtomicBool::new(false));
    let starting = (state.clone(), started.clone());
    let (start_failed, start_failure) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        obs_kafka::topics::ensure_topics_when_reachable(&kafka, service, &topics).await;
        match starting.0.start_loops() {
            Ok(()) => starting.1.store(true, Ordering::Release),
            Err(error) => {
                let _ = start_failed.send(format!("{error:#}"));
            }
        }
    });
    let listener = TcpListener::bind(http.listen).await?;
    let mut dead = None;
    let watched = watch_loops(state.clone(), started);
    serve_on(listener, router, http, async {
        tokio::select! {
            () = shutdown_signal() => {}
            stopped = watched => {
                tracing::error!(loops = %stopped, "a loop stopped by itself; stopping the service");
                dead = Some(format!(
                    "{stopped} stopped by itself (see the errors before)"
                ));
            }
            // A sender dropped without a word (the loops started) disables this branch.
            Ok(error) = start_failure => {
                tracing::error!(%error, "cannot start the loops; stopping the service");
                dead = Some(format!("the loops could not start: {error}"));
            }
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("serving HTTP: {e}"))?;
    tracing::info!("stopping the loops");
    let stopped = tokio::task::spawn_blocking(move || state.stop_loops())
        .await
        .map_err(|e| anyhow::anyhow!("joining the loops: {e}"))?;
    match dead {
        Some(why) => Err(anyhow::anyhow!(
            "{why}: the service ends so that its supervisor starts it again"
        )),
        None => stopped,
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::*;
    use obs_kafka::BrokerStatus;

    fn reachable() -> BrokerStatus {
        BrokerStatus {
            reachable: true,
            brokers: 1,
            checked_at: None,
            error: None,
            consecutive_failures: 0,
        }
    }

    /// A service with one loop, alive until `dead` is set.
    struct OneLoop {
        dead: AtomicBool,
    }

    impl StageLoops for OneLoop {
        fn start_loops(&self) -> anyhow::Result<()> {
            Ok(())
        }

        fn stop_loops(&self) -> anyhow::Result<()> {
            Ok(())
        }

        fn health(&self) -> HealthReport {
            HealthReport::new("test", reachable())
                .with_check("stage_loop", !self.dead.load(Ordering::Acquire))
        }
    }

    #[tokio::test]
    async fn a_loop_that_stops_by_itself_is_named_once_the_loops_started() {
        let state = Arc::new(OneLoop {
            dead: AtomicBool::new(true),
        });
        let started = Arc::new(AtomicBool::new(false));
        let watched = tokio::spawn(watch_loops(state.clone(), started.clone()));
        tokio::time::sleep(LOOP_CHECK_INTERVAL * 2).await;
        assert!(!watched.is_finished(), "not started yet: nothing is dead");
        started.store(true, Ordering::Release);
        let dead = tokio::time::timeout(LOOP_CHECK_INTERVAL * 3, watched)
            .await
            .expect("the dead loop is seen within a check or two")
            .unwrap();
        assert_eq!(dead, "stage_loop");
    }

    #[tokio::test]
    async fn live_loops_are_left_alone() {
        let state = Arc::new(OneLoop {
            dead: AtomicBool::new(false),
        });
        let watched = watch_loops(state, Arc::new(AtomicBool::new(true)));
        assert!(
            tokio::time::timeout(LOOP_CHECK_INTERVAL * 3, watched)
                .await
                .is_err(),
            "the watch goes on while the loop runs"
        );
    }
}
