//! The parsing core of qa-parse, free of I/O: tag-pair extraction, Python-compatible
//! regular expressions, zipping parsed columns into rows, and verdict normalisation.
//! The binary streams records through it; the tests check it against the reference
//! parser's cases directly.

pub mod habits;
pub mod normalize;
pub mod parser;
pub mod pattern;
pub mod tags;

pub use parser::{Method, Parser, TagPair};
pub use pattern::Pattern;
