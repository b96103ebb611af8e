//! `cargo fuzz run npy -s none`; corpus replayed by `tests/fuzz_corpus.rs`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| qkhw::fuzzing::npy(data));
