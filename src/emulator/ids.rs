//! Random identifiers and credentials: request ids, uuid-like resource ids, access keys, secret
//! keys and tokens.
//!
//! Each emulator owns its generator (SplitMix64 seeded from the standard library's per-instance
//! random hasher keys and the clock), so several emulators in one process never share ids or keys.
//! This is not a cryptographic generator: the emulator's secrets only have to be distinct and
//! look like the real thing.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64ISH: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A per-emulator source of random-looking ids.
#[derive(Debug)]
pub(crate) struct IdGen {
    state: Mutex<u64>,
}

impl IdGen {
    /// A generator with a fresh seed.
    pub(crate) fn new() -> IdGen {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_i64(super::clock::unix_micros_now());
        hasher.write_usize(&hasher as *const _ as usize);
        IdGen {
            state: Mutex::new(hasher.finish()),
        }
    }

    /// The next 64 random bits (SplitMix64).
    pub(crate) fn next_u64(&self) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `len` lower-case hex digits (request ids, project ids).
    pub(crate) fn hex(&self, len: usize) -> String {
        self.pick(len, b"0123456789abcdef")
    }

    /// A uuid-like id, `8-4-4-4-12` lower-case hex, version 4 layout.
    pub(crate) fn uuid(&self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-{}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            ["8", "9", "a", "b"][(self.next_u64() % 4) as usize],
            &h[17..20],
            &h[20..32]
        )
    }

    /// An access key: 20 upper-case letters and digits, like the service's.
    pub(crate) fn access_key(&self) -> String {
        self.pick(20, UPPER_ALNUM)
    }

    /// A secret key: 40 mixed-case letters and digits, like the service's.
    pub(crate) fn secret_key(&self) -> String {
        self.pick(40, ALNUM)
    }

    /// A long base64-looking token, with a prefix (`MII` for IAM tokens).
    pub(crate) fn token(&self, prefix: &str, len: usize) -> String {
        let mut out = String::from(prefix);
        out.push_str(&self.pick(len.saturating_sub(prefix.len()), BASE64ISH));
        out
    }

    fn pick(&self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_expected_shapes() {
        let ids = IdGen::new();
        let rid = ids.hex(32);
        assert_eq!(rid.len(), 32);
        assert!(
            rid.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let uuid = ids.uuid();
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        let ak = ids.access_key();
        assert_eq!(ak.len(), 20);
        assert!(
            ak.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(ids.secret_key().len(), 40);
        let token = ids.token("MII", 300);
        assert!(token.starts_with("MII") && token.len() == 300);
    }

    #[test]
    fn two_generators_differ() {
        let (a, b) = (IdGen::new(), IdGen::new());
        assert_ne!(a.secret_key(), b.secret_key());
        assert_ne!(a.hex(32), a.hex(32));
    }
}
