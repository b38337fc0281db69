//! A deterministic OpenAI-compatible teacher on loopback, as a library so tests can run it in-process.
