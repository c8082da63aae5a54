//! Which version a header is, from its first byte, and a verdict on the bytes received so far.
//!
//! [`parse`] is a pure function of the bytes: the reader calls it after every `read` with all it
//! has, and the tests call it with anything at all. Its verdicts only ever sharpen as bytes are
//! added: a refusal or a whole header stays what it is whatever follows, because every check
//! looks only at bytes the header owns. Nothing here blocks.

use crate::proxy_protocol::header::{HeaderError, Parsed};
use crate::proxy_protocol::V2_SIGNATURE;
use crate::proxy_protocol::{v1, v2};

/// The verdict on `bytes`, the first bytes a client sent: a whole header and its length, a
/// refusal, or how many more bytes every valid header starting this way needs at least.
pub fn parse(bytes: &[u8]) -> Result<Parsed, HeaderError> {
    match bytes.first() {
        // Nothing yet: the shortest header of either version is v1's `PROXY UNKNOWN\r\n`.
        None => Ok(Parsed::Incomplete {
            missing: v1::MIN_LINE,
        }),
        Some(b'P') => after_signature(bytes, v1::PREFIX, v1::MIN_LINE, v1::parse),
        Some(b'\r') => after_signature(bytes, &V2_SIGNATURE, v2::FIXED, v2::parse),
        Some(_) => Err(HeaderError::WrongSignature),
    }
}

/// Check `bytes` against the version's `signature` as far as they go; once it is all there,
/// hand them to the version's parser. `shortest` is the version's shortest header.
fn after_signature(
    bytes: &[u8],
    signature: &[u8],
    shortest: usize,
    parse: fn(&[u8]) -> Result<Parsed, HeaderError>,
) -> Result<Parsed, HeaderError> {
    let seen = bytes.len().min(signature.len());
    if bytes[..seen] != signature[..seen] {
        return Err(HeaderError::WrongSignature);
    }
    if seen < signature.len() {
        return Ok(Parsed::Incomplete {
            missing: shortest - bytes.len(),
        });
    }
    parse(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_tells_the_version() {
        assert_eq!(parse(b"").unwrap(), Parsed::Incomplete { missing: 15 });
        assert_eq!(parse(b"PRO").unwrap(), Parsed::Incomplete { missing: 12 });
        let v2 = parse(b"\r\n\r\n").unwrap();
        assert_eq!(v2, Parsed::Incomplete { missing: 12 });
        for wrong in [
            &b"G"[..],
            b"PROXX",
            b"proxy ",
            b"\r\n\r\r",
            b"\r\n\r\n\0\r\nQUIT\r",
        ] {
            let got = parse(wrong);
            assert!(matches!(got, Err(HeaderError::WrongSignature)), "{wrong:?}");
        }
    }
}
