//! Splits a JSONL stream by predicate, destination file, shard or list element.

fn main() {}
