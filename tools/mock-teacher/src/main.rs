//! A deterministic OpenAI-compatible teacher on loopback, with latency and fault injection, for tests and benchmarks.

fn main() {}
