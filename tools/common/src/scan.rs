//! Finds the fields of a JSON object line without decoding them: the fast path of
//! `RawRecord::parse`, which every stage runs on every record it reads. Strings, where
//! most of a record's bytes are (the document, the prompts, the replies), are skipped with
//! a vectorised search for their closing quote.
//!
//! The scan is strict JSON. It answers `None`, leaving the line to serde_json (and its
//! error messages), for anything it is not sure of: an error of any kind (a lone surrogate
//! escape among them), an escaped field name, nesting deeper than [`MAX_DEPTH`], a number
//! that may not fit an f64. So what it accepts serde_json accepts too, with the same fields
//! (property tests hold it to that).

use std::ops::Range;

/// Nesting beyond this is left to serde_json, which has a recursion limit of its own.
const MAX_DEPTH: usize = 64;

/// Numbers of more digits before the point than this (the exponent counted) are left to
/// serde_json: the largest f64 has 309.
const MAX_MAGNITUDE: i64 = 300;

/// The fields of the object that is the whole of `text` (surrounding whitespace allowed):
/// each name's place without its quotes, and its value's place. None when the line is not
/// such an object, or the scan leaves it to serde_json.
pub(crate) fn object_fields(text: &str) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let mut scan = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    scan.whitespace();
    if scan.peek()? != b'{' {
        return None;
    }
    let mut fields = Vec::new();
    scan.members(b'}', |scan| {
        scan.eat(b'"')?;
        let name_start = scan.at;
        let name_end = scan.string(false)?;
        scan.colon()?;
        let value_start = scan.at;
        scan.value(1)?;
        fields.push((name_start..name_end, value_start..scan.at));
        Some(())
    })?;
    scan.whitespace();
    (scan.at == scan.bytes.len()).then_some(fields)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// JSON's whitespace: what serde_json skips.
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    fn colon(&mut self) -> Option<()> {
        self.whitespace();
        self.eat(b':')?;
        self.whitespace();
        Some(())
    }

    /// The members of the object or array whose opening bracket is at hand, each read by
    /// `member`, up to and including `close`.
    fn members(
        &mut self,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.at += 1;
        self.whitespace();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            member(self)?;
            self.whitespace();
            match self.next()? {
                b',' => self.whitespace(),
                byte if byte == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// Skips a string's contents and its closing quote (the opening one is behind);
    /// returns where the contents end. Escapes only where `escapes` allows them.
    fn string(&mut self, escapes: bool) -> Option<usize> {
        loop {
            let rest = &self.bytes[self.at..];
            let stop = memchr::memchr2(b'"', b'\\', rest)?;
            // Control characters must be escaped. A fold without an early exit, so that
            // the compiler vectorises it.
            if rest[..stop]
                .iter()
                .fold(false, |control, &b| control | (b < 0x20))
            {
                return None;
            }
            self.at += stop;
            if self.next()? == b'"' {
                return Some(self.at - 1);
            }
            if !escapes {
                return None;
            }
            match self.next()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => match self.hex4()? {
                    // A character beyond the first plane, written as a pair of surrogates
                    // (as Python's json.dumps does by default).
                    0xD800..=0xDBFF => {
                        self.eat(b'\\')?;
                        self.eat(b'u')?;
                        if !(0xDC00..=0xDFFF).contains(&self.hex4()?) {
                            return None;
                        }
                    }
                    // A lone surrogate is no character.
                    0xDC00..=0xDFFF => return None,
                    _ => {}
                },
                _ => return None,
            }
        }
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Option<u16> {
        let hex = self.bytes.get(self.at..self.at + 4)?;
        let mut code = 0u16;
        for &digit in hex {
            code = code << 4 | (digit as char).to_digit(16)? as u16;
        }
        self.at += 4;
        Some(code)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string(true).map(drop)
            }
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => self.members(b'}', |scan| {
                scan.eat(b'"')?;
                scan.string(true)?;
                scan.colon()?;
                scan.value(depth + 1)
            }),
            b'[' => self.members(b']', |scan| scan.value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, and small enough for an f64:
    /// one that may be beyond it (about 1e308) is left to serde_json, whose decoding
    /// refuses it.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let start = self.at;
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let whole_digits = (self.at - start) as i64;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        let mut exponent = 0i64;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let negative = self.peek() == Some(b'-');
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            let digits = self.at;
            self.some_digits()?;
            for &digit in &self.bytes[digits..self.at] {
                exponent = (exponent * 10 + i64::from(digit - b'0')).min(MAX_MAGNITUDE + 1);
            }
            if negative {
                exponent = -exponent;
            }
        }
        (whole_digits + exponent <= MAX_MAGNITUDE).then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        if !self.peek()?.is_ascii_digit() {
            return None;
        }
        self.digits();
        Some(())
    }
}
