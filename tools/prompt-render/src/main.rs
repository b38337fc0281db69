//! Renders a YAML chat template with each record's fields into OpenAI chat messages.

fn main() {}
