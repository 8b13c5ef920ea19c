//! PagerDuty v3 webhook signatures: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, each the
//! lowercase hex of HMAC-SHA256(secret, raw body). Authentic when any `v1` entry matches (two
//! during a secret rotation). The MAC comparison is constant time (`Mac::verify_slice`).
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2_hmac::Sha256>;

/// Most `v1=` entries looked at (PagerDuty sends one per secret: one or two).
const MAX_ENTRIES: usize = 8;

/// True when one of the header's `v1=` entries is the HMAC of `body` under `secret`.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let mut authentic = false;
    for entry in header.split(',').take(MAX_ENTRIES) {
        let Some(hex_mac) = entry.trim().strip_prefix("v1=") else {
            continue;
        };
        let Ok(expected) = hex::decode(hex_mac) else {
            continue;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
            return false;
        };
        mac.update(body);
        // No early return: every entry costs the same, whichever matches.
        authentic |= mac.verify_slice(&expected).is_ok();
    }
    authentic
}

/// The header value PagerDuty would send for `body` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_openssl_and_accepts_any_of_several_entries() {
        // printf '%s' '{"event":{}}' | openssl dgst -sha256 -hmac secret -hex
        let body = br#"{"event":{}}"#;
        let header = sign(b"secret", body);
        assert_eq!(
            header,
            "v1=2c984a26b96792f49173390b114619a17f5699a0bb42f13aff472b980b3080b5"
        );
        assert!(verify(b"secret", body, &header));
        let rotated = format!("v1=00ff,{header}");
        assert!(
            verify(b"secret", body, &rotated),
            "the second entry matches"
        );
        assert!(!verify(b"other", body, &header));
        assert!(!verify(b"secret", b"{}", &header));
        assert!(!verify(b"secret", body, ""));
        assert!(!verify(b"secret", body, "v0=abc, v1=zz"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any body signed with the secret verifies; changing one byte of the body, or using
        /// another secret, never does.
        #[test]
        fn signed_verifies_and_any_change_does_not(
            body in proptest::collection::vec(any::<u8>(), 1..512),
            index in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let header = sign(b"whsec", &body);
            prop_assert!(verify(b"whsec", &body, &header));
            let mut changed = body.clone();
            let i = index.index(changed.len());
            changed[i] ^= flip;
            prop_assert!(!verify(b"whsec", &changed, &header));
            prop_assert!(!verify(b"whsec2", &body, &header));
        }
    }
}
