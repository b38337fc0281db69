//! Sends each record's chat messages to an OpenAI-compatible teacher and writes the replies.

fn main() {}
