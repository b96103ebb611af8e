//! `cargo fuzz run spec -s none` (stable toolchain). Crashes go into
//! `fuzz/corpus/spec/`, which `tests/fuzz_corpus.rs` replays on every
//! `cargo test`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| qkhw::fuzzing::spec(data));
