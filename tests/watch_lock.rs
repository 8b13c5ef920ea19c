//! The watchers' S3 lock under real races, against moto's S3 server. moto honours `If-None-Match`
//! and `If-Match` on PutObject but checks, then writes, without a lock: under its threaded server
//! two racing writes can both win (this test saw it), and s3s-fs behaves the same. Served one
//! request at a time (tests/support/moto_serial.py) it decides each conditional write
//! atomically, as AWS S3 does, and the racers are real concurrent clients.
mod support;

use casefile::s3::S3Location;
use casefile::watch::lock::{Claim, Lock};
use std::time::Duration;
use support::s3::{self as s3, ACCESS_KEY, Moto, SECRET_KEY};

/// Claims `incident` from `racers` watchers at the same instant (one client each, as separate
/// watchers have) and counts who won.
async fn race(endpoint: &str, incident: &str, racers: usize, lasts: Duration) -> Vec<Claim> {
    let location = S3Location::parse("s3://evidence/casefile/").expect("location");
    let mut clients = Vec::new();
    for _ in 0..racers {
        clients.push(s3::client(endpoint, ACCESS_KEY, SECRET_KEY).await);
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(racers));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, client) in clients.into_iter().enumerate() {
        let (location, start, incident) = (location.clone(), start.clone(), incident.to_string());
        tasks.spawn(async move {
            let lock = Lock {
                client: &client,
                location: &location,
                lasts,
            };
            start.wait().await;
            lock.claim(&incident, &format!("watcher-{n}")).await
        });
    }
    tasks.join_all().await
}

fn winners(claims: &[Claim]) -> usize {
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, Claim::Won | Claim::HeldElsewhere)),
        "every watcher got an answer from the store: {claims:?}"
    );
    claims.iter().filter(|c| **c == Claim::Won).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_watchers_racing_for_an_incident_exactly_one_wins() {
    let server = Moto::start_serial();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    client
        .create_bucket()
        .bucket("evidence")
        .send()
        .await
        .expect("bucket");
    for round in 0..5 {
        let incident = format!("PRACE{round}");
        let claims = race(&server.endpoint(), &incident, 12, Duration::from_secs(3600)).await;
        assert_eq!(winners(&claims), 1, "round {round}: {claims:?}");
    }
    let keys = s3::list_keys(&client, "evidence").await;
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(
        keys.contains(&"casefile/locks/PRACE0".to_string()),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_lasts_the_cooldown_then_exactly_one_watcher_takes_it_over() {
    let server = Moto::start_serial();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    client
        .create_bucket()
        .bucket("evidence")
        .send()
        .await
        .expect("bucket");
    let lasts = Duration::from_secs(5);
    assert_eq!(
        winners(&race(&server.endpoint(), "PSTALE", 1, lasts).await),
        1
    );
    // Within the cooldown the lock holds for everyone.
    assert_eq!(
        winners(&race(&server.endpoint(), "PSTALE", 8, lasts).await),
        0
    );
    // Last-Modified has whole seconds: wait until the lock is surely older than `lasts`.
    tokio::time::sleep(lasts + Duration::from_millis(1500)).await;
    let claims = race(&server.endpoint(), "PSTALE", 8, lasts).await;
    assert_eq!(
        winners(&claims),
        1,
        "one takeover of the stale lock: {claims:?}"
    );
    // The takeover is a fresh lock: it holds again.
    assert_eq!(
        winners(&race(&server.endpoint(), "PSTALE", 4, lasts).await),
        0
    );
    let body = client
        .get_object()
        .bucket("evidence")
        .key("casefile/locks/PSTALE")
        .send()
        .await
        .expect("lock object")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    let lock: serde_json::Value = serde_json::from_slice(&body).expect("JSON lock");
    assert_eq!(lock["incident"], "PSTALE");
    assert!(
        lock["holder"]
            .as_str()
            .is_some_and(|h| h.starts_with("watcher-")),
        "{lock}"
    );
}
