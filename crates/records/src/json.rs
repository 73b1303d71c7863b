//! Reading JSON from bytes, as every stage reads its input.

use serde::Deserialize;

/// `serde_json::from_slice`, with the bytes checked for UTF-8 once instead of string by
/// string: serde_json's slice reader validates every string it reads, keys included, with
/// a call each, which stood out in profiles of the stages. The same language and the same
/// errors: bytes that are not UTF-8 are read by `from_slice`, which reports where.
pub fn from_json_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn same(bytes: &[u8]) {
        let fast = from_json_bytes::<Value>(bytes).map_err(|e| e.to_string());
        let slow = serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string());
        assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(bytes));
    }

    #[test]
    fn reads_what_from_slice_reads_and_fails_as_it_does() {
        same(br#"{"a": "b\u00e9", "c": [1, 2.5, null], "d": "\ud83d\ude00"}"#);
        same(b"{\"a\": \"\xff\"}");
        same(b"{\"a\": 1,}");
        same(b"");
        same(br#""\ud800""#);
    }

    proptest! {
        #[test]
        fn any_bytes_read_as_from_slice_reads_them(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            same(&bytes);
        }

        #[test]
        fn any_json_text_reads_as_from_slice_reads_it(text in r#"[{}\[\]":,0-9a-zé\\u ]{0,48}"#) {
            same(text.as_bytes());
        }
    }
}
