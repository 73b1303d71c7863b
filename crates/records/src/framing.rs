//! Splits request bodies into records, incrementally.
//!
//! Two body formats carry many records: NDJSON (one record per line) and a JSON array.
//! A [`Framer`] is fed the body chunk by chunk as it arrives and yields each record's
//! bytes with its position (1-based line number for NDJSON, 0-based index for arrays), so
//! an upload of any size is handled in bounded memory. Records are not parsed here: a
//! record that is not valid JSON is still framed, and refused by validation with its
//! position. Only a body whose *structure* cannot be followed (an array that never closes,
//! garbage after it) is a [`FramingError`].

/// How the records of a body are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One JSON record per line; blank lines are skipped but counted.
    Ndjson,
    /// A JSON array of records.
    JsonArray,
    /// Decided by the first non-blank byte: `[` means an array, anything else NDJSON.
    Detect,
}

/// One record cut out of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The record's bytes, trimmed of surrounding whitespace.
    Record { position: usize, bytes: Vec<u8> },
    /// A record longer than the limit; its bytes were skipped, not kept.
    Oversized { position: usize, size: usize },
}

impl Frame {
    pub fn position(&self) -> usize {
        match self {
            Frame::Record { position, .. } | Frame::Oversized { position, .. } => *position,
        }
    }
}

/// The body's structure cannot be followed; `offset` is the byte offset in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("unexpected {found} at byte {offset}: {expected}")]
    Unexpected {
        offset: usize,
        found: String,
        expected: &'static str,
    },
    #[error("body ended inside the JSON array (missing ']')")]
    UnterminatedArray,
}

/// Incremental splitter of one body.
#[derive(Debug)]
pub struct Framer {
    state: State,
    max_record_bytes: usize,
    /// Bytes consumed so far (for error offsets).
    offset: usize,
    current: Vec<u8>,
    current_size: usize,
    position: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Detect,
    Ndjson,
    /// Before the opening `[`.
    ArrayStart,
    /// After `[` or `,`: blank, then an element (or `]` right after `[`).
    ArrayBeforeElement {
        first: bool,
    },
    /// Inside an element at nesting `depth` (0 = top level of the element).
    ArrayElement {
        depth: u32,
        in_string: bool,
        escaped: bool,
    },
    /// After `]`: only blanks may follow.
    ArrayDone,
}

impl Framer {
    pub fn new(format: BodyFormat, max_record_bytes: usize) -> Self {
        let state = match format {
            BodyFormat::Ndjson => State::Ndjson,
            BodyFormat::JsonArray => State::ArrayStart,
            BodyFormat::Detect => State::Detect,
        };
        Framer {
            state,
            max_record_bytes,
            offset: 0,
            current: Vec::new(),
            current_size: 0,
            position: 0,
        }
    }

    /// The format in use, once known.
    pub fn format(&self) -> BodyFormat {
        match self.state {
            State::Detect => BodyFormat::Detect,
            State::Ndjson => BodyFormat::Ndjson,
            _ => BodyFormat::JsonArray,
        }
    }

    /// Feeds the next chunk of the body; complete records are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        for &byte in chunk {
            self.step(byte, out)?;
            self.offset += 1;
        }
        Ok(())
    }

    /// Ends the body; a last NDJSON line without a newline is a record too.
    pub fn finish(mut self, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        match self.state {
            State::Detect | State::ArrayDone => Ok(()),
            State::Ndjson => {
                self.position += 1;
                self.emit(out);
                Ok(())
            }
            State::ArrayStart => Err(FramingError::Unexpected {
                offset: self.offset,
                found: "end of body".into(),
                expected: "expected '['",
            }),
            State::ArrayBeforeElement { .. } | State::ArrayElement { .. } => {
                Err(FramingError::UnterminatedArray)
            }
        }
    }

    fn step(&mut self, byte: u8, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        match self.state {
            State::Detect => {
                if byte.is_ascii_whitespace() {
                    if byte == b'\n' {
                        // Leading blank lines still count as lines of an NDJSON body.
                        self.position += 1;
                    }
                    return Ok(());
                }
                if byte == b'[' {
                    self.position = 0;
                    self.state = State::ArrayBeforeElement { first: true };
                    return Ok(());
                }
                self.state = State::Ndjson;
                self.keep(byte);
            }
            State::Ndjson => {
                if byte == b'\n' {
                    self.position += 1;
                    self.emit(out);
                } else {
                    self.keep(byte);
                }
            }
            State::ArrayStart => {
                if byte == b'[' {
                    self.state = State::ArrayBeforeElement { first: true };
                } else if !byte.is_ascii_whitespace() {
                    return Err(self.unexpected(byte, "expected '[' (a JSON array of records)"));
                }
            }
            State::ArrayBeforeElement { first } => {
                if byte.is_ascii_whitespace() {
                } else if byte == b']' && first {
                    self.state = State::ArrayDone;
                } else if byte == b']' || byte == b',' {
                    return Err(self.unexpected(byte, "expected an array element"));
                } else {
                    self.state = State::ArrayElement {
                        depth: 0,
                        in_string: false,
                        escaped: false,
                    };
                    return self.step(byte, out);
                }
            }
            State::ArrayElement {
                depth,
                in_string,
                escaped,
            } => {
                if in_string {
                    self.keep(byte);
                    self.state = State::ArrayElement {
                        depth,
                        in_string: byte != b'"' || escaped,
                        escaped: byte == b'\\' && !escaped,
                    };
                    return Ok(());
                }
                match byte {
                    b',' | b']' if depth == 0 => {
                        self.emit(out);
                        self.position += 1;
                        self.state = if byte == b',' {
                            State::ArrayBeforeElement { first: false }
                        } else {
                            State::ArrayDone
                        };
                        return Ok(());
                    }
                    b'{' | b'[' => self.set_depth(depth + 1),
                    b'}' | b']' => {
                        if depth == 0 {
                            return Err(self.unexpected(byte, "unbalanced brackets in element"));
                        }
                        self.set_depth(depth - 1);
                    }
                    b'"' => {
                        self.state = State::ArrayElement {
                            depth,
                            in_string: true,
                            escaped: false,
                        }
                    }
                    _ => {}
                }
                self.keep(byte);
            }
            State::ArrayDone => {
                if !byte.is_ascii_whitespace() {
                    return Err(self.unexpected(byte, "nothing may follow the closing ']'"));
                }
            }
        }
        Ok(())
    }

    fn set_depth(&mut self, depth: u32) {
        self.state = State::ArrayElement {
            depth,
            in_string: false,
            escaped: false,
        };
    }

    fn keep(&mut self, byte: u8) {
        self.current_size += 1;
        if self.current_size <= self.max_record_bytes {
            self.current.push(byte);
        } else if !self.current.is_empty() {
            // Over the limit: stop holding the record's bytes, only count them.
            self.current = Vec::new();
        }
    }

    fn emit(&mut self, out: &mut Vec<Frame>) {
        let size = std::mem::take(&mut self.current_size);
        let bytes = std::mem::take(&mut self.current);
        if size > self.max_record_bytes {
            out.push(Frame::Oversized {
                position: self.position,
                size,
            });
            return;
        }
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() {
            return;
        }
        let bytes = if trimmed.len() == bytes.len() {
            bytes
        } else {
            trimmed.to_vec()
        };
        out.push(Frame::Record {
            position: self.position,
            bytes,
        });
    }

    fn unexpected(&self, byte: u8, expected: &'static str) -> FramingError {
        let found = if byte.is_ascii_graphic() {
            format!("'{}'", byte as char)
        } else {
            format!("byte 0x{byte:02x}")
        };
        FramingError::Unexpected {
            offset: self.offset,
            found,
            expected,
        }
    }
}

/// Bytes of a body framed at a time by [`for_each_frame`].
const SLICE_BYTES: usize = 64 * 1024;

/// Frames a whole body, handing each record to `each` as it is cut: the frames of one
/// slice of the body are handed out before the next slice is framed, so a body of many
/// small records (a flood of tiny invalid lines) never has all of them held at once.
/// On a [`FramingError`] the records before it have been handed out already.
pub fn for_each_frame(
    format: BodyFormat,
    body: &[u8],
    max_record_bytes: usize,
    mut each: impl FnMut(Frame),
) -> Result<(), FramingError> {
    let mut framer = Framer::new(format, max_record_bytes);
    let mut frames = Vec::new();
    for slice in body.chunks(SLICE_BYTES) {
        framer.push(slice, &mut frames)?;
        frames.drain(..).for_each(&mut each);
    }
    framer.finish(&mut frames)?;
    frames.into_iter().for_each(each);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(
        format: BodyFormat,
        body: &[u8],
        max_record_bytes: usize,
    ) -> Result<Vec<Frame>, FramingError> {
        let mut frames = Vec::new();
        for_each_frame(format, body, max_record_bytes, |f| frames.push(f))?;
        Ok(frames)
    }

    #[test]
    fn a_body_of_many_slices_frames_as_one_push() {
        let ndjson: String = (0..30_000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        let array = format!("[{}]", ndjson.trim_end().replace('\n', ","));
        for (format, body) in [(BodyFormat::Ndjson, ndjson), (BodyFormat::Detect, array)] {
            assert!(body.len() > 3 * SLICE_BYTES);
            let mut framer = Framer::new(format, 100);
            let mut whole = Vec::new();
            framer.push(body.as_bytes(), &mut whole).unwrap();
            framer.finish(&mut whole).unwrap();
            assert_eq!(whole.len(), 30_000);
            assert_eq!(frame_all(format, body.as_bytes(), 100).unwrap(), whole);
        }
    }

    #[test]
    fn records_are_handed_out_before_the_rest_of_the_body_is_framed() {
        let elements: Vec<String> = (0..20_000).map(|i| format!("{{\"n\":{i}}}")).collect();
        let body = format!("[{}] garbage", elements.join(","));
        let mut handed_out = 0;
        let error = for_each_frame(BodyFormat::JsonArray, body.as_bytes(), 100, |_| {
            handed_out += 1
        })
        .unwrap_err();
        assert!(matches!(error, FramingError::Unexpected { .. }), "{error}");
        assert!(
            handed_out > 0,
            "the slices before the error were handed out"
        );
    }

    fn records(frames: &[Frame]) -> Vec<(usize, String)> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Record { position, bytes } => {
                    (*position, String::from_utf8(bytes.clone()).unwrap())
                }
                Frame::Oversized { position, size } => (*position, format!("<{size}>")),
            })
            .collect()
    }

    #[test]
    fn ndjson_lines_are_numbered_from_one_counting_blanks() {
        let body = b"{\"a\":1}\n\n  {\"b\":2}  \r\nnot json\n{\"c\":3}";
        let frames = frame_all(BodyFormat::Ndjson, body, 1024).unwrap();
        assert_eq!(
            records(&frames),
            vec![
                (1, "{\"a\":1}".into()),
                (3, "{\"b\":2}".into()),
                (4, "not json".into()),
                (5, "{\"c\":3}".into())
            ]
        );
    }

    #[test]
    fn array_elements_are_indexed_from_zero() {
        let body = br#" [ {"a":"x,]}"}, [1,2] ,{"b":{"c":"\"]"}} , garbage ] "#;
        let frames = frame_all(BodyFormat::JsonArray, body, 1024).unwrap();
        assert_eq!(
            records(&frames),
            vec![
                (0, r#"{"a":"x,]}"}"#.into()),
                (1, "[1,2]".into()),
                (2, r#"{"b":{"c":"\"]"}}"#.into()),
                (3, "garbage".into())
            ]
        );
    }

    #[test]
    fn empty_array_has_no_records() {
        assert!(frame_all(BodyFormat::JsonArray, b"[ ]", 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn broken_arrays_are_framing_errors() {
        for bad in [
            &b"{\"a\":1}"[..],
            b"[1,",
            b"[1,,2]",
            b"[1] x",
            b"[1}]",
            b"[,1]",
            b"",
        ] {
            assert!(
                frame_all(BodyFormat::JsonArray, bad, 10).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn oversized_records_are_reported_not_kept() {
        let body = b"{\"a\":1}\n{\"long\":\"xxxxxxxxxxxxxxxx\"}\n{\"b\":2}\n";
        let frames = frame_all(BodyFormat::Ndjson, body, 10).unwrap();
        assert_eq!(
            records(&frames),
            vec![
                (1, "{\"a\":1}".into()),
                (2, "<27>".into()),
                (3, "{\"b\":2}".into())
            ]
        );
    }

    #[test]
    fn detect_picks_the_format_from_the_first_byte() {
        let frames = frame_all(BodyFormat::Detect, b"\n  [{\"a\":1},{\"b\":2}]\n", 100).unwrap();
        assert_eq!(
            records(&frames),
            vec![(0, "{\"a\":1}".into()), (1, "{\"b\":2}".into())]
        );
        let frames = frame_all(BodyFormat::Detect, b"\n{\"a\":1}\n{\"b\":2}\n", 100).unwrap();
        assert_eq!(
            records(&frames),
            vec![(2, "{\"a\":1}".into()), (3, "{\"b\":2}".into())]
        );
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let body = br#"[{"a":"\\"},{"b":[1,{"c":"]"}]},3]"#;
        let whole = frame_all(BodyFormat::Detect, body, 100).unwrap();
        for split in 0..body.len() {
            let mut framer = Framer::new(BodyFormat::Detect, 100);
            let mut out = Vec::new();
            framer.push(&body[..split], &mut out).unwrap();
            framer.push(&body[split..], &mut out).unwrap();
            framer.finish(&mut out).unwrap();
            assert_eq!(out, whole, "split at {split}");
        }
    }
}
