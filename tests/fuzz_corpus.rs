//! Replays every fuzz corpus entry (and every crash ever found, which are
//! kept there) through the fuzz entry points, then a deterministic mutation
//! pass over them: parsers of user input must never panic.

use std::path::Path;

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// xorshift: the same mutations on every run.
fn mutate(seed: &[u8], mut state: u64, n: usize) -> Vec<u8> {
    let mut out = seed.to_vec();
    let alphabet = b"(),=[]'\"0123456789.-eE_abTNFx ";
    for _ in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pos = (state as usize) % (out.len() + 1);
        match state % 4 {
            0 if !out.is_empty() => {
                out.remove(pos.min(out.len() - 1));
            }
            1 => out.insert(pos, alphabet[(state >> 20) as usize % alphabet.len()]),
            2 if !out.is_empty() => {
                let p = pos.min(out.len() - 1);
                out[p] = (state >> 32) as u8;
            }
            _ => out.truncate(pos),
        }
    }
    out
}

#[test]
fn spec_corpus_never_panics() {
    let c = corpus("spec");
    assert!(c.len() > 100);
    for (i, s) in c.iter().enumerate() {
        qkhw::fuzzing::spec(s);
        for k in 0..20u64 {
            qkhw::fuzzing::spec(&mutate(s, (i as u64 + 1) * 7919 + k, 1 + (k as usize % 4)));
        }
    }
}

#[test]
fn npy_corpus_never_panics() {
    let c = corpus("npy");
    assert!(c.len() >= 10);
    for (i, s) in c.iter().enumerate() {
        qkhw::fuzzing::npy(s);
        for k in 0..500u64 {
            qkhw::fuzzing::npy(&mutate(s, (i as u64 + 1) * 104729 + k, 1 + (k as usize % 3)));
        }
    }
}

#[test]
fn model_corpus_never_panics() {
    let weights = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/jet_tagger_json.weights.h5"),
    )
    .unwrap();
    let c = corpus("model");
    assert!(c.len() >= 15);
    for (i, s) in c.iter().enumerate() {
        qkhw::fuzzing::model(s, &weights);
        for k in 0..40u64 {
            qkhw::fuzzing::model(&mutate(s, (i as u64 + 1) * 15485863 + k, 1 + (k as usize % 5)), &weights);
        }
    }
}
