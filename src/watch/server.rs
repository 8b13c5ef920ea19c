//! The HTTP side: `POST /` or `/webhook` (a PagerDuty v3 delivery) and `GET /health`.
//! Order of checks: size (413), signature over the raw bytes (401), body (400), then the event
//! type (ignored ones get 202: PagerDuty would retry anything else), then durable admission.
use super::{AdmitError, MAX_BODY, Shared, log};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode, body::Bytes, body::Incoming, header};
use std::{
    convert::Infallible,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

/// Longest time a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest time a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the task is aborted (on SIGTERM); with `tls`, each connection
/// shakes hands first (a failed or slow handshake only drops that connection).
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (shared, tls) = (Arc::clone(&shared), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, shared).await,
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        serve_connection(stream, shared).await;
                    }
                }
            }
        });
    }
}

async fn serve_connection<S>(stream: S, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(request, &shared).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/health") => reply(
            StatusCode::OK,
            serde_json::json!({
                "status": if shared.draining.is_cancelled() { "draining" } else { "ok" },
                "queued": shared.queued.load(Ordering::SeqCst),
                "running": shared.running.load(Ordering::SeqCst),
            }),
        ),
        (&Method::POST, "/" | "/webhook") => {
            let webhook_id = header_text(&request, "x-webhook-id");
            let (status, outcome, detail) = webhook(request, shared).await;
            log(serde_json::json!({
                "kind": "delivery",
                "webhook_id": webhook_id,
                "status": status.as_u16(),
                "outcome": outcome,
                "event": detail.event_type,
                "incident": detail.incident,
            }));
            let mut response = reply(status, serde_json::json!({ "outcome": outcome }));
            if status == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            }
            response
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "POST /webhook or GET /health"}),
        ),
    }
}

/// What the log line says about a delivery beyond its status.
#[derive(Default)]
struct Detail {
    event_type: Option<String>,
    incident: Option<String>,
}

fn header_text(request: &Request<Incoming>, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn webhook(request: Request<Incoming>, shared: &Shared) -> (StatusCode, String, Detail) {
    let mut detail = Detail::default();
    let fail = |status, outcome: &str, detail| (status, outcome.to_string(), detail);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return fail(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail);
    }
    // Every `X-PagerDuty-Signature` value, joined: entries may come in one header or several.
    let signatures: Vec<String> = request
        .headers()
        .get_all("x-pagerduty-signature")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let webhook_id = header_text(&request, "x-webhook-id");
    // A sender that trickles its body (or never finishes it) is cut off: PagerDuty sends a
    // body in one go and waits at most 5 s for the answer.
    let read = Limited::new(request.into_body(), MAX_BODY).collect();
    let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Err(_) => return fail(StatusCode::REQUEST_TIMEOUT, "body-timeout", detail),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return fail(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail);
        }
        Ok(Err(_)) => return fail(StatusCode::BAD_REQUEST, "unreadable-body", detail),
    };
    let Some(secret) = &shared.secret else {
        return fail(StatusCode::UNAUTHORIZED, "no-secret", detail);
    };
    if !super::signature::verify(secret.expose().as_bytes(), &body, &signatures.join(",")) {
        return fail(StatusCode::UNAUTHORIZED, "bad-signature", detail);
    }
    let delivery = match super::event::parse(&body) {
        Ok(d) => d,
        Err(_) => return fail(StatusCode::BAD_REQUEST, "malformed", detail),
    };
    detail.event_type = Some(delivery.event_type.clone());
    detail.incident = delivery.incident.as_ref().map(|i| i.id.clone());
    let wanted = delivery.event_type != crate::config::NEVER_ACT_ON
        && shared.config.watch.events.contains(&delivery.event_type);
    let Some(incident) = delivery.incident.filter(|_| wanted) else {
        return (StatusCode::ACCEPTED, "ignored".into(), detail);
    };
    if shared.draining.is_cancelled() {
        // Not recorded: PagerDuty retries, and the next watcher takes it.
        return fail(StatusCode::SERVICE_UNAVAILABLE, "draining", detail);
    }
    let key = webhook_id.or(delivery.event_id);
    match shared.admit(key.as_deref(), &incident).await {
        Ok(admission) => (StatusCode::ACCEPTED, admission.label().into(), detail),
        Err(AdmitError::QueueFull) => fail(StatusCode::TOO_MANY_REQUESTS, "queue-full", detail),
        Err(e) => {
            log(serde_json::json!({"kind": "error", "error": e.to_string()}));
            fail(StatusCode::SERVICE_UNAVAILABLE, "state-error", detail)
        }
    }
}
