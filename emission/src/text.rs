//! Positions and excerpts for messages.

/// Line and column of byte offsets, computed in one sweep over the text
/// (a text may be one long line: counting from each line start would be
/// quadratic).
pub(crate) struct Positions {
    /// `(offset, line, column)`, sorted by offset.
    known: Vec<(usize, usize, usize)>,
}

impl Positions {
    /// Positions of these offsets (any order, repeats allowed).
    pub(crate) fn new(text: &str, mut offsets: Vec<usize>) -> Self {
        offsets.sort_unstable();
        offsets.dedup();
        let mut known = Vec::with_capacity(offsets.len());
        let (mut at, mut line, mut column) = (0, 1, 1);
        for offset in offsets {
            let offset = floor(text, offset);
            for c in text[at..offset].chars() {
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            at = offset;
            known.push((offset, line, column));
        }
        Positions { known }
    }

    /// 1-based line and column (in characters) of an offset given to `new`.
    pub(crate) fn get(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor(text, offset);
        let i = self.known.partition_point(|&(o, _, _)| o < offset);
        let (_, line, column) = self.known[i];
        (line, column)
    }
}

/// The largest char boundary at or before `i`.
pub(crate) fn floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary at or after `i`.
fn ceil(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Writes `s` on one line: control characters as escapes.
fn one_line(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

/// About `before` bytes of text before `at` and `after` bytes from it, on
/// one line, with `…` where it was cut and `▸` marking `at` if `mark`.
pub(crate) fn excerpt(text: &str, at: usize, before: usize, after: usize, mark: bool) -> String {
    let at = floor(text, at);
    let from = floor(text, at.saturating_sub(before));
    let to = ceil(text, at.saturating_add(after));
    let mut out = String::new();
    if from > 0 && before > 0 {
        out.push('…');
    }
    one_line(&mut out, &text[from..at]);
    if mark {
        out.push('▸');
    }
    one_line(&mut out, &text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

/// At most `max` characters of `s`, on one line, with `…` if cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    match s.char_indices().nth(max) {
        Some((i, _)) => {
            one_line(&mut out, &s[..i]);
            out.push('…');
        }
        None => one_line(&mut out, s),
    }
    out
}

/// The character at byte `at`, for messages (`end of text` past the end).
pub(crate) fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(floor(text, at)..).and_then(|s| s.chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let t = "ab\nçd\n\nx";
        let l = Positions::new(t, vec![9, 0, 3, 5, 7, 8, 3]);
        assert_eq!(l.get(t, 0), (1, 1));
        assert_eq!(l.get(t, 3), (2, 1));
        assert_eq!(l.get(t, 5), (2, 2));
        assert_eq!(l.get(t, 7), (3, 1));
        assert_eq!(l.get(t, 8), (4, 1));
        assert_eq!(l.get(t, 9), (4, 2));
    }

    #[test]
    fn excerpts_stay_on_char_boundaries() {
        let t = "ééééé\nxyz";
        assert_eq!(excerpt(t, 4, 3, 3, true), "éé▸éé…");
        assert_eq!(excerpt(t, 10, 2, 10, false), "…é\\nxyz");
        assert_eq!(clip("a\nbc", 2), "a\\n…");
    }
}
