//! Extracts tagged or regex-matched values from a text field, one record per value.

fn main() {}
