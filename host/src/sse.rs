//! A parser for server-sent events (the `text/event-stream` format), fed
//! bytes as they arrive: model providers stream answers in it, and the CLI
//! reads the host's own reply stream with it.
//!
//! It follows the WHATWG rules that matter here: lines end in `\n`, `\r\n`
//! or `\r` (also split across chunks); a line starting with `:` is a
//! comment; `field: value` drops one space after the colon; `data` lines
//! join with `\n`; a blank line dispatches the event (an event with no
//! `data` is not dispatched); `event` names it; other fields are ignored.
//! A line longer than the parser's cap is an error rather than unbounded
//! memory.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event` field; empty when none was given (the type `message`).
    pub event: String,
    /// The `data` lines, joined with `\n`.
    pub data: String,
}

/// An incremental parser: [`SseParser::feed`] bytes, take the events.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next is its pair.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    max_line: usize,
}

/// The stream broke the format: a line over the cap, or not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseError(pub String);

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SseError {}

impl SseParser {
    /// A parser refusing lines (and events) longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            event: String::new(),
            data: String::new(),
            has_data: false,
            max_line,
        }
    }

    /// Parses a chunk, appending the events it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out)?;
                }
                _ => {
                    if self.line.len() >= self.max_line {
                        return Err(SseError(format!(
                            "an event-stream line is longer than {} bytes",
                            self.max_line
                        )));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| SseError("an event-stream line is not UTF-8".into()))?;
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                if self.data.len() + value.len() > self.max_line {
                    return Err(SseError(format!(
                        "an event's data is longer than {} bytes",
                        self.max_line
                    )));
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_string(),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(text: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new(1 << 16);
        let mut out = Vec::new();
        for chunk in text.chunks(piece.max(1)) {
            p.feed(chunk, &mut out).unwrap();
        }
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn events_are_the_same_however_the_bytes_are_split() {
        let text = b": comment\r\ndata: {\"a\":1}\r\n\r\nevent: delta\ndata:x\ndata: y\n\ndata: [DONE]\r\r";
        for piece in 1..text.len() {
            let events = parse_in_pieces(text, piece);
            assert_eq!(data(&events), ["{\"a\":1}", "x\ny", "[DONE]"], "{piece}");
            assert_eq!(events[1].event, "delta");
            assert_eq!(events[0].event, "");
        }
    }

    #[test]
    fn events_without_data_and_unknown_fields_are_skipped() {
        let events = parse_in_pieces(b"event: ping\n\nid: 7\nretry: 5\ndata\n\n", 64);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "");
        assert_eq!(events[0].event, "");
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert!(parse_in_pieces(b"data: half", 3).is_empty());
    }

    #[test]
    fn overlong_lines_and_bad_utf8_are_errors() {
        let mut p = SseParser::new(8);
        let mut out = Vec::new();
        let e = p.feed(b"data: 0123456789\n", &mut out).unwrap_err();
        assert!(e.0.contains("longer than 8 bytes"), "{e}");
        let mut p = SseParser::new(64);
        let e = p.feed(b"data: \xff\xfe\n\n", &mut out).unwrap_err();
        assert!(e.0.contains("UTF-8"), "{e}");
    }
}
