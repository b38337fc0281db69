//! Validates seed rows against the seed schema and emits them with seed_id and raw_document.

fn main() {}
