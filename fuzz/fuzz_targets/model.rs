//! `cargo fuzz run model -s none`; corpus replayed by `tests/fuzz_corpus.rs`.
//! Inputs are whole model files; a model JSON gets jet_tagger's weights.
#![no_main]
static WEIGHTS: &[u8] = include_bytes!("../../examples/models/jet_tagger_json.weights.h5");
libfuzzer_sys::fuzz_target!(|data: &[u8]| qkhw::fuzzing::model(data, WEIGHTS));
