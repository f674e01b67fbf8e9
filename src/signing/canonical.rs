//! The steps of `SDK-HMAC-SHA256` that the signer and the emulator's verifier share: the
//! canonical request, the string to sign and the signature, each a small type whose `Display` is
//! the text of the specification.
//!
//! What goes into a step is each side's business: the signer reads a request it is about to send
//! (and adds headers to it), the verifier reads what arrived on the wire and the `SignedHeaders`
//! of its `Authorization`. From the parts on, both compute the same text the same way, here.

use std::borrow::Cow;
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm's name, first word of `Authorization` and first line of the string to sign.
pub(crate) const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The value of `X-Sdk-Content-Sha256` that stands in for the body hash.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Hex SHA-256 of the empty string: the payload hash of a request without a body.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A header as signed: its lower-case name and its trimmed value. A repeated header is one entry
/// per value, in order; the canonical form joins them with `,`.
pub(crate) type SignedHeader<'a> = (&'a str, &'a [u8]);

/// Step 3: the canonical request, six lines joined by `\n`. `Display` prints exactly its text
/// (header values that are not UTF-8 shown lossily; the bytes hashed are the raw ones).
pub(crate) struct CanonicalRequest<'a> {
    method: &'a str,
    /// The path, percent-decoded; encoded as it is written.
    path: Cow<'a, [u8]>,
    /// The canonical query (third line), built by [`canonical_query`].
    query: Cow<'a, str>,
    /// The signed headers in the order they are written (entries of one name next to each other).
    headers: SignedHeaderList<'a>,
    /// The last line: hex SHA-256 of the body, or the text that stands in for it.
    payload_hash: PayloadHash<'a>,
}

/// The last line of the canonical request.
#[derive(Clone, Copy)]
pub(crate) enum PayloadHash<'a> {
    /// Hex SHA-256 of the body's bytes.
    Computed([u8; 64]),
    /// Text known without hashing: `UNSIGNED-PAYLOAD`, a given `X-Sdk-Content-Sha256`, or the
    /// hash of the empty string.
    Known(&'a [u8]),
}

impl PayloadHash<'_> {
    /// The hash of `body`.
    pub(crate) fn of(body: &[u8]) -> Self {
        if body.is_empty() {
            Self::Known(EMPTY_SHA256.as_bytes())
        } else {
            Self::Computed(hex(&Sha256::digest(body).into()))
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Computed(hex) => hex,
            Self::Known(text) => text,
        }
    }
}

impl<'a> CanonicalRequest<'a> {
    /// The canonical request of its parts: the method, the percent-decoded path, the canonical
    /// query, the signed headers in order and the payload hash.
    pub(crate) fn new(
        method: &'a str,
        decoded_path: Cow<'a, [u8]>,
        query: Cow<'a, str>,
        headers: SignedHeaderList<'a>,
        payload_hash: PayloadHash<'a>,
    ) -> Self {
        Self {
            method,
            path: decoded_path,
            query,
            headers,
            payload_hash,
        }
    }

    /// The same canonical request with the value of the header `name` shown as `** redacted **`,
    /// for a message that must not echo a credential.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    pub(crate) fn redacting(&self, name: &str) -> CanonicalRequest<'_> {
        let headers = self
            .headers
            .as_slice()
            .iter()
            .map(|&(n, value)| {
                if n == name {
                    (n, &b"** redacted **"[..])
                } else {
                    (n, value)
                }
            })
            .collect();
        CanonicalRequest {
            method: self.method,
            path: Cow::Borrowed(&self.path),
            query: Cow::Borrowed(&self.query),
            headers,
            payload_hash: self.payload_hash,
        }
    }

    /// Takes the canonical query (the third line), which the signer also sends, out of the
    /// canonical request (which is not moved whole for it).
    pub(crate) fn take_query(&mut self) -> String {
        std::mem::take(&mut self.query).into_owned()
    }

    /// The signed header names joined by `;` (the fifth line).
    pub(crate) fn signed_headers(&self) -> SignedHeaders<'_, 'a> {
        SignedHeaders(self.headers.as_slice())
    }

    /// The text's bytes, as hashed.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.method.len()
                + self.path.len() * 3 / 2
                + self.query.len()
                + self
                    .headers
                    .as_slice()
                    .iter()
                    .map(|(n, v)| n.len() * 2 + v.len() + 2)
                    .sum::<usize>()
                + 64
                + 8,
        );
        self.write_to(&mut out);
        out
    }

    /// Writes the text to `out`, in the pieces it is made of.
    fn write_to(&self, out: &mut impl Sink) {
        for byte in self.method.bytes() {
            out.put_byte(byte.to_ascii_uppercase());
        }
        out.put_byte(b'\n');
        put_encoded::<true>(out, &self.path);
        // Encoding leaves `/` and turns nothing else into one.
        if !self.path.ends_with(b"/") {
            out.put_byte(b'/');
        }
        out.put_byte(b'\n');
        out.put(self.query.as_bytes());
        out.put_byte(b'\n');
        let mut previous = None;
        for &(name, value) in self.headers.as_slice() {
            if previous == Some(name) {
                out.put_byte(b',');
            } else {
                if previous.is_some() {
                    out.put_byte(b'\n');
                }
                out.put(name.as_bytes());
                out.put_byte(b':');
                previous = Some(name);
            }
            out.put(value);
        }
        if previous.is_some() {
            out.put_byte(b'\n');
        }
        out.put_byte(b'\n');
        self.signed_headers().write_to(out);
        out.put_byte(b'\n');
        out.put(self.payload_hash.as_bytes());
    }

    /// The hex SHA-256 of the text, hashed as it is written (no copy of the whole text).
    pub(crate) fn hex_sha256(&self) -> [u8; 64] {
        let mut sink = HashSink::new();
        self.write_to(&mut sink);
        hex(&sink.finish())
    }
}

/// Where the canonical request's text is written: a buffer, or straight into a hash.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Appends one byte.
    fn put_byte(&mut self, byte: u8);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// SHA-256 fed through a stack buffer: the text comes in many small pieces, and a copy into the
/// buffer costs less than a call into the hasher for each. The buffer holds the whole canonical
/// request of a typical call, which is then hashed in one go.
struct HashSink {
    hasher: Sha256,
    buffer: [u8; 512],
    len: usize,
}

impl HashSink {
    fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            buffer: [0; 512],
            len: 0,
        }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buffer[..self.len]);
        self.len = 0;
    }

    fn finish(&mut self) -> [u8; 32] {
        self.flush();
        self.hasher.finalize_reset().into()
    }
}

impl Sink for HashSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() > self.buffer.len() - self.len {
            self.flush();
            if bytes.len() >= self.buffer.len() {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) {
        if self.len == self.buffer.len() {
            self.flush();
        }
        self.buffer[self.len] = byte;
        self.len += 1;
    }
}

impl fmt::Display for CanonicalRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// How many signed headers are kept on the stack before [`SignedHeaderList`] moves them to the
/// heap: more than a request of this SDK carries.
const INLINE_HEADERS: usize = 8;

/// The signed headers of a canonical request, on the stack while they are few (signing a request
/// then allocates nothing for them).
pub(crate) struct SignedHeaderList<'a> {
    inline: [SignedHeader<'a>; INLINE_HEADERS],
    len: usize,
    /// Every header, once there are more than fit inline.
    spilled: Vec<SignedHeader<'a>>,
}

impl<'a> SignedHeaderList<'a> {
    pub(crate) fn new() -> Self {
        Self {
            inline: [("", b""); INLINE_HEADERS],
            len: 0,
            spilled: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, header: SignedHeader<'a>) {
        if self.spilled.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = header;
                self.len += 1;
                return;
            }
            self.spilled.reserve(INLINE_HEADERS * 2);
            self.spilled.extend_from_slice(&self.inline);
        }
        self.spilled.push(header);
    }

    /// How many headers are signed (the emulator's verifier compares it with what arrived).
    #[cfg(feature = "emulator")]
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn as_slice(&self) -> &[SignedHeader<'a>] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [SignedHeader<'a>] {
        if self.spilled.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spilled
        }
    }
}

impl<'a> Extend<SignedHeader<'a>> for SignedHeaderList<'a> {
    fn extend<I: IntoIterator<Item = SignedHeader<'a>>>(&mut self, headers: I) {
        for header in headers {
            self.push(header);
        }
    }
}

impl<'a> FromIterator<SignedHeader<'a>> for SignedHeaderList<'a> {
    fn from_iter<I: IntoIterator<Item = SignedHeader<'a>>>(headers: I) -> Self {
        let mut list = Self::new();
        list.extend(headers);
        list
    }
}

/// The fifth line of the canonical request, also part of `Authorization`: the signed header names
/// joined by `;`, each once.
#[derive(Clone, Copy)]
pub(crate) struct SignedHeaders<'r, 'a>(&'r [SignedHeader<'a>]);

impl SignedHeaders<'_, '_> {
    /// The length of the text.
    pub(crate) fn len(self) -> usize {
        let mut len = 0;
        let mut previous = None;
        for &(name, _) in self.0 {
            if previous != Some(name) {
                len += name.len() + usize::from(previous.is_some());
                previous = Some(name);
            }
        }
        len
    }

    pub(crate) fn write_to(self, out: &mut impl Sink) {
        let mut previous = None;
        for &(name, _) in self.0 {
            if previous != Some(name) {
                if previous.is_some() {
                    out.put_byte(b';');
                }
                out.put(name.as_bytes());
                previous = Some(name);
            }
        }
    }
}

impl fmt::Display for SignedHeaders<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::new();
        self.write_to(&mut text);
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

/// A decoded query parameter: its key and value.
pub(crate) type QueryPair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// The canonical query (third line) of decoded `(key, value)` pairs: sorted by key then value,
/// both percent-encoded with only `A-Z a-z 0-9 - _ . ~` left as is, `k=v` joined by `&`.
pub(crate) fn canonical_query(mut pairs: Vec<QueryPair<'_>>) -> String {
    pairs.sort_unstable();
    let mut text = Vec::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            text.push(b'&');
        }
        put_encoded::<false>(&mut text, key);
        text.push(b'=');
        put_encoded::<false>(&mut text, value);
    }
    String::from_utf8(text).expect("percent-encoded text is ASCII")
}

/// Writes `bytes` percent-encoded with upper-case hex, leaving RFC 3986 "unreserved" bytes
/// (`A-Z a-z 0-9 - _ . ~`), and `/` when `SLASH`, as they are. Encoding the whole path but `/`
/// is the same as splitting it on `/` and encoding each segment.
fn put_encoded<const SLASH: bool>(out: &mut impl Sink, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = bytes;
    loop {
        let run = unreserved_run::<SLASH>(rest);
        out.put(&rest[..run]);
        let Some((&byte, tail)) = rest[run..].split_first() else {
            return;
        };
        out.put(&[
            b'%',
            DIGITS[usize::from(byte >> 4)],
            DIGITS[usize::from(byte & 0xf)],
        ]);
        rest = tail;
    }
}

/// The length of the run of unreserved bytes `bytes` starts with. Most of a path is one such
/// run: it is checked 16 bytes at a time, with a test of every byte of a chunk that compiles to
/// a few vector instructions, then byte by byte from the chunk that holds the first other byte.
fn unreserved_run<const SLASH: bool>(bytes: &[u8]) -> usize {
    let mut clean = 0;
    for chunk in bytes.chunks_exact(16) {
        if !chunk
            .iter()
            .fold(true, |all, &byte| all & is_unreserved::<SLASH>(byte))
        {
            break;
        }
        clean += 16;
    }
    clean
        + bytes[clean..]
            .iter()
            .position(|&byte| !is_unreserved::<SLASH>(byte))
            .unwrap_or(bytes.len() - clean)
}

/// `A-Z a-z 0-9 - _ . ~`, and `/` when `SLASH`; written without branches or a table so that a
/// test of many bytes becomes vector code.
fn is_unreserved<const SLASH: bool>(byte: u8) -> bool {
    // Setting bit 5 maps `A-Z` onto `a-z`, and nothing else there.
    ((byte | 0x20).wrapping_sub(b'a') < 26)
        | (byte.wrapping_sub(b'0') < 10)
        | (byte == b'-')
        | (byte == b'.')
        | (byte == b'_')
        | (byte == b'~')
        | (SLASH & (byte == b'/'))
}

/// Trims a header value as the official signer (Python's `str.strip`) does: Unicode white space
/// when the value is UTF-8, ASCII white space otherwise. For the bytes a header value can hold,
/// Rust's and Python's ideas of white space agree.
pub(crate) fn trim_value(value: &[u8]) -> &[u8] {
    match (value.first(), value.last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => match std::str::from_utf8(value) {
            Ok(text) => text.trim().as_bytes(),
            Err(_) => value.trim_ascii(),
        },
    }
}

/// Step 4: `SDK-HMAC-SHA256\n{X-Sdk-Date}\n{hex SHA-256 of the canonical request}`. `Display`
/// prints exactly that text.
pub(crate) struct StringToSign<'a> {
    date: &'a [u8],
    canonical_request_hash: [u8; 64],
}

impl<'a> StringToSign<'a> {
    /// The string to sign of `canonical_request` signed at `date` (an `X-Sdk-Date` value).
    pub(crate) fn new(date: &'a [u8], canonical_request: &CanonicalRequest<'_>) -> Self {
        Self {
            date,
            canonical_request_hash: canonical_request.hex_sha256(),
        }
    }

    /// The string to sign of a canonical request known by its hash.
    #[cfg(test)]
    pub(crate) fn of_hash(date: &'a [u8], canonical_request_hash: [u8; 64]) -> Self {
        Self {
            date,
            canonical_request_hash,
        }
    }

    /// Feeds the text to `mac`.
    fn feed(&self, mac: &mut Hmac<Sha256>) {
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        mac.update(self.date);
        mac.update(b"\n");
        mac.update(&self.canonical_request_hash);
    }

    /// Step 5: the signature, the hex HMAC-SHA256 of the text keyed with the secret key (the
    /// secret key's HMAC key schedule).
    pub(crate) fn sign(&self, key: &Hmac<Sha256>) -> Signature {
        let mut mac = key.clone();
        self.feed(&mut mac);
        Signature(hex(&mac.finalize().into_bytes().into()))
    }

    /// Whether `signature` (the raw 32 bytes) is the HMAC of the text under `key`, compared in
    /// constant time.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    pub(crate) fn verify(&self, key: &Hmac<Sha256>, signature: &[u8]) -> bool {
        let mut mac = key.clone();
        self.feed(&mut mac);
        mac.verify_slice(signature).is_ok()
    }
}

impl fmt::Display for StringToSign<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM}\n{}\n{}",
            String::from_utf8_lossy(self.date),
            String::from_utf8_lossy(&self.canonical_request_hash)
        )
    }
}

/// A signature: 64 lower-case hex digits.
pub(crate) struct Signature(pub(crate) [u8; 64]);

impl Signature {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

/// Lower-case hex of a SHA-256 digest.
pub(crate) fn hex(digest: &[u8; 32]) -> [u8; 64] {
    let mut out = [0; 64];
    for (pair, &byte) in out.chunks_exact_mut(2).zip(digest) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
    out
}

/// The two lower-case hex digits of every byte.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0xf]];
        byte += 1;
    }
    table
};

/// The HMAC key schedule of a secret key.
pub(crate) fn hmac_key(secret_key: &[u8]) -> Hmac<Sha256> {
    Hmac::new_from_slice(secret_key).expect("HMAC takes a key of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, byte by byte: RFC 3986's unreserved set, and `/` when asked.
    fn unreserved_by_definition(byte: u8, slash: bool) -> bool {
        byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (slash && byte == b'/')
    }

    #[test]
    fn unreserved_bytes_are_rfc_3986_ones_and_slash_only_in_a_path() {
        for byte in 0..=u8::MAX {
            assert_eq!(
                is_unreserved::<true>(byte),
                unreserved_by_definition(byte, true),
                "{byte:#04x} in a path"
            );
            assert_eq!(
                is_unreserved::<false>(byte),
                unreserved_by_definition(byte, false),
                "{byte:#04x} in a query"
            );
        }
    }

    /// Every byte value at every position of runs shorter than, as long as and longer than a
    /// chunk: the run ends at the first byte to encode, wherever it is.
    #[test]
    fn an_unreserved_run_ends_at_the_first_byte_to_encode() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 130] {
            let clean = vec![b'a'; len];
            assert_eq!(unreserved_run::<true>(&clean), len);
            for at in 0..len {
                for byte in 0..=u8::MAX {
                    let mut bytes = clean.clone();
                    bytes[at] = byte;
                    let expected = if unreserved_by_definition(byte, true) {
                        len
                    } else {
                        at
                    };
                    assert_eq!(
                        unreserved_run::<true>(&bytes),
                        expected,
                        "{byte:#04x} at {at}"
                    );
                }
            }
        }
    }

    /// The signature is the HMAC of the text as displayed, whatever the length of the date.
    #[test]
    fn the_signature_is_the_hmac_of_the_string_to_sign_for_any_date_length() {
        let key = hmac_key(b"exampleSecretKey0123456789abcdefghijklmno");
        for date in [
            &b"20240312T081500Z"[..],
            b"",
            &[b'9'; 32],
            &[b'1'; 33],
            &[b'x'; 200],
        ] {
            let text = StringToSign::of_hash(date, [b'a'; 64]);
            let mut mac = key.clone();
            mac.update(text.to_string().as_bytes());
            let expected = mac.finalize().into_bytes();
            assert_eq!(
                text.sign(&key).0,
                hex(&expected.into()),
                "date of {} bytes",
                date.len()
            );
            assert!(text.verify(&key, &expected), "date of {} bytes", date.len());
        }
    }

    #[test]
    fn a_path_is_encoded_but_its_slashes_and_a_query_part_has_its_slashes_encoded() {
        let mut path = Vec::new();
        put_encoded::<true>(&mut path, "/a b/%/é~-_.0Z/x".as_bytes());
        assert_eq!(path, b"/a%20b/%25/%C3%A9~-_.0Z/x");
        let mut value = Vec::new();
        put_encoded::<false>(&mut value, b"a/b+c=d&e");
        assert_eq!(value, b"a%2Fb%2Bc%3Dd%26e");
    }
}
