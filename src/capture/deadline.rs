//! Deadlines from step durations, which may be absurdly large (`--timeout 1000y`): adding them to
//! an `Instant` must never overflow (a panic in a stream's task would leave it `running`).
use std::time::Duration;

/// Far enough to mean "never" for a capture, small enough to add to any clock reading.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + d` on tokio's clock, capped at [`NEVER`] from now.
pub fn after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d.min(NEVER)).unwrap_or(now)
}

/// `now + d` on the standard clock, capped at [`NEVER`] from now.
pub fn std_after(d: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(d.min(NEVER)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn huge_durations_do_not_overflow() {
        let far = after(Duration::MAX);
        assert!(far > tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600));
        assert!(std_after(Duration::MAX) > std::time::Instant::now());
        assert!(
            after(Duration::from_secs(1)) <= tokio::time::Instant::now() + Duration::from_secs(1)
        );
    }
}
