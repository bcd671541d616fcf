//! Random identifiers and secrets: API key, sandbox ids, access tokens. All come from the
//! operating system's CSPRNG (`getrandom`).

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Control-plane API key: `e2b_` + 32 hex characters (matches the 2.45.1 client-side check
/// `^e2b_[0-9a-f]+$`).
pub fn api_key() -> String {
    format!("e2b_{}", hex(&random_bytes::<16>()))
}

/// envd access token / traffic access token of one sandbox.
pub fn access_token() -> String {
    hex(&random_bytes::<20>())
}

/// Sandbox id: 20 characters of `[a-z0-9]` (docs/protocol.md#sandbox-ids), uniformly distributed.
pub fn sandbox_id() -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for b in random_bytes::<32>() {
            // 252 = 7 * 36: reject the tail so every character is equally likely.
            if b < 252 && out.len() < 20 {
                out.push(ALPHABET[(b % 36) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let key = api_key();
        assert_eq!(key.len(), 36);
        assert!(key.starts_with("e2b_"));
        assert!(key[4..]
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let id = sandbox_id();
        assert_eq!(id.len(), 20);
        assert!(id
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_ne!(sandbox_id(), id);
        assert_eq!(access_token().len(), 40);
    }
}
