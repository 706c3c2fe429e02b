//! Base64 (RFC 4648): the standard padded alphabet for dead-lettered binary records, and the
//! URL-safe unpadded variant (§5) for opaque tokens such as the API's pagination cursor.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why a text is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid base64 character at offset {0}")]
    InvalidCharacter(usize),
    #[error("invalid base64 length")]
    InvalidLength,
    #[error("invalid base64 padding")]
    InvalidPadding,
}

/// Standard alphabet, padded.
pub fn encode(data: &[u8]) -> String {
    encode_with(data, ALPHABET, true)
}

/// URL-safe alphabet (`-`, `_`), no padding: safe in a path segment or query value as is.
pub fn encode_url_safe(data: &[u8]) -> String {
    encode_with(data, URL_SAFE, false)
}

/// Decodes the standard alphabet; padding is required (as [`encode`] writes it).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(DecodeError::InvalidLength);
    }
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return Err(DecodeError::InvalidPadding);
    }
    decode_with(&bytes[..bytes.len() - pad], ALPHABET)
}

/// Decodes the URL-safe alphabet without padding (as [`encode_url_safe`] writes it).
pub fn decode_url_safe(text: &str) -> Result<Vec<u8>, DecodeError> {
    decode_with(text.as_bytes(), URL_SAFE)
}

fn encode_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes unpadded symbols; the unused low bits of the last symbol must be zero, so every
/// byte string has exactly one encoding.
fn decode_with(symbols: &[u8], alphabet: &[u8; 64]) -> Result<Vec<u8>, DecodeError> {
    if symbols.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    let mut out = Vec::with_capacity(symbols.len() * 3 / 4);
    for (c, chunk) in symbols.chunks(4).enumerate() {
        let mut n = 0u32;
        for (i, &s) in chunk.iter().enumerate() {
            let v = alphabet.iter().position(|&a| a == s).ok_or(DecodeError::InvalidCharacter(c * 4 + i))?;
            n |= (v as u32) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        if n & (0xFF_FFFF >> (8 * keep)) != 0 {
            return Err(DecodeError::InvalidPadding);
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn when_encoding_rfc4648_vectors_should_match() {
        for (input, expected) in VECTORS {
            assert_eq!(encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn when_decoding_rfc4648_vectors_should_give_the_input_back() {
        for (expected, text) in VECTORS {
            assert_eq!(decode(text).unwrap(), expected.as_bytes());
            assert_eq!(decode_url_safe(text.trim_end_matches('=')).unwrap(), expected.as_bytes());
        }
    }

    #[test]
    fn when_url_safe_round_trips_any_bytes_should_be_identity_without_padding_or_slashes() {
        let data: Vec<u8> = (0..=255u8).chain([0xFB, 0xFF, 0xFE]).collect();
        for len in 0..data.len() {
            let text = encode_url_safe(&data[..len]);
            assert!(!text.contains(['=', '+', '/']), "{text}");
            assert_eq!(decode_url_safe(&text).unwrap(), &data[..len]);
        }
    }

    #[test]
    fn when_text_is_not_base64_should_fail_without_panicking() {
        assert_eq!(decode("Zm9"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9v!A=="), Err(DecodeError::InvalidCharacter(4)));
        assert_eq!(decode("Z==="), Err(DecodeError::InvalidPadding));
        assert_eq!(decode_url_safe("Z"), Err(DecodeError::InvalidLength));
        assert_eq!(decode_url_safe("Zh"), Err(DecodeError::InvalidPadding));
        assert_eq!(decode_url_safe("a+b/"), Err(DecodeError::InvalidCharacter(1)));
        assert!(decode_url_safe("é").is_err());
    }
}
