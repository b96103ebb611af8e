//! Every ROM of every example model, in every format, read back: the words
//! give the hardware codes again, and the manifest alone turns them into
//! the values QKeras computes.

use std::path::{Path, PathBuf};

use qkhw::backend::rom::{self, Manifest, ManifestScale, RomFormat, WordLayout};
use qkhw::ir::{BuildOptions, Graph, Op};
use qkhw::passes::hw_tensors::{hw_tensors, HwWeight};

const FORMATS: [RomFormat; 5] = [RomFormat::Mem, RomFormat::Hex, RomFormat::Coe, RomFormat::Mif, RomFormat::C];

fn models() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            (n.ends_with(".keras") || n.ends_with(".h5") || n.ends_with("_json.json")) && !n.ends_with(".weights.h5")
        })
        .collect();
    v.sort();
    v
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qkhw-rom-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A value from the manifest's description alone (independent of qkhw's
/// own decoder for the scale).
fn manifest_value(e: &rom::ManifestEntry, code: i64, sign: i8, i: usize) -> f64 {
    let v = match e.layout {
        WordLayout::Fixed { frac, .. } => code as f64 * 2f64.powi(-frac),
        WordLayout::Po2 { .. } => sign as f64 * 2f64.powi(code as i32),
    };
    let chan = |shape: &[usize]| qkhw::passes::hw_tensors::channel(shape, &e.shape, i);
    match &e.scale {
        None => v,
        Some(ManifestScale::Po2 { shape, exponents }) => v * 2f64.powi(exponents[chan(shape)]),
        // As QKeras: the product rounded to float32.
        Some(ManifestScale::Float { shape, values }) => (v as f32 * values[chan(shape)]) as f64,
    }
}

/// What QKeras's quantizer returns for the tensor (the layer's weight, or
/// the folded weight of a folded layer).
fn qkeras_values(g: &Graph, t: &HwWeight) -> Option<Vec<f32>> {
    let l = g.layer(&t.layer)?;
    let spec = t.quantizer.as_ref()?;
    let q = qkhw::passes::hw_weights::quantizers(&l.op).into_iter().flatten().find(|q| &q.spec == spec)?.clone();
    let raw = match &l.op {
        Op::Folded { bn, .. } => {
            let f = qkhw::passes::hw_weights::folded_weights(l, bn);
            if t.tensor == "bias" { f[1].clone() } else { f[0].clone() }
        }
        _ => {
            // A Bidirectional holds forward then backward weights, same roles.
            let role = t.tensor.rsplit('/').next().unwrap_or("");
            let nth = usize::from(t.tensor.starts_with("backward/"));
            l.weights.iter().filter(|w| w.role == role).nth(nth)?.tensor.clone()
        }
    };
    if raw.shape != t.shape {
        return None;
    }
    Some(q.apply_shaped(&raw.data, &raw.shape).unwrap())
}

#[test]
fn every_rom_reads_back_to_the_hardware_weights() {
    let (mut files, mut words, mut vs_qkeras) = (0, 0, 0);
    for m in models() {
        let g = qkhw::load_graph(&m, BuildOptions::default()).unwrap();
        let tensors = hw_tensors(&g).unwrap();
        assert!(!tensors.is_empty(), "{}", m.display());
        for t in &tensors {
            if let Some(q) = qkeras_values(&g, t) {
                for (i, &qv) in q.iter().enumerate() {
                    // The value hardware multiplies by is QKeras's float32
                    // weight itself (compared in f64: no rounding hides a
                    // difference).
                    let v = t.value(i);
                    assert!(v == qv as f64, "{} {}/{}[{i}]: hw {v} vs QKeras {qv}", m.display(), t.layer, t.tensor);
                }
                vs_qkeras += q.len();
            }
        }
        // Fused batch-norm tables hold exactly QKeras's bn_inv / fused_bias.
        let dict = qkhw::passes::hw_weights::model_save_quantized_weights(&g).unwrap();
        let fused = |t: &&HwWeight| dict.get(&t.layer, "fused_bn_layer_name").is_some();
        for t in tensors.iter().filter(|t| t.tensor == "bn_inv" || t.tensor == "fused_bias").filter(fused) {
            let Some(qkhw::passes::hw_weights::Entry::Array(a)) = dict.get(&t.layer, &t.tensor) else {
                panic!("{}: no {} in the dict", t.layer, t.tensor)
            };
            let hw: Vec<f32> = (0..t.codes.len()).map(|i| t.value(i) as f32).collect();
            assert_eq!(hw, a.data, "{} {}/{}", m.display(), t.layer, t.tensor);
            vs_qkeras += hw.len();
        }
        for fmt in FORMATS {
            let dir = tmp(&format!("{}-{}", m.file_name().unwrap().to_string_lossy(), fmt.ext()));
            let written = rom::write(&g.name, &g.sha256, &tensors, fmt, &dir).unwrap();
            let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
            assert_eq!(manifest, written);
            assert_eq!(manifest.tensors.len(), tensors.len());
            for (e, t) in manifest.tensors.iter().zip(&tensors) {
                let text = std::fs::read_to_string(dir.join(&e.file)).unwrap();
                // The header's value formula has the scale where there is
                // one (it said `code * 2^-0` for a weight of code * 2^-4).
                if let WordLayout::Fixed { frac, .. } = &e.layout {
                    let scaled = text.contains(&format!("value = code * {} * ", qkhw::fxp::lsb(*frac)));
                    assert_eq!(scaled, e.scale.is_some(), "{} {}: {}", m.display(), e.file, text.lines().take(3).collect::<Vec<_>>().join(" | "));
                }
                let ws = rom::parse(fmt, &e.file, &text, e.layout.width()).unwrap();
                assert_eq!(ws.len(), e.depth);
                assert!(ws.iter().all(|&w| e.layout.width() == 64 || w >> e.layout.width() == 0), "{}: word wider than {}", e.file, e.layout.width());
                let (codes, signs) = rom::decode(&e.layout, &ws);
                assert_eq!(codes, t.codes, "{} {}", m.display(), e.file);
                assert_eq!(signs, t.signs, "{} {}", m.display(), e.file);
                for (i, &code) in codes.iter().enumerate() {
                    let s = signs.get(i).copied().unwrap_or(1);
                    assert_eq!(manifest_value(e, code, s, i), t.value(i), "{} {}[{i}]", m.display(), e.file);
                }
                files += 1;
                words += ws.len();
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
    assert!(files > 100 && words > 10_000 && vs_qkeras > 5_000, "{files} files, {words} words, {vs_qkeras} values vs QKeras");
    eprintln!("{files} ROM files, {words} words read back; {vs_qkeras} values equal QKeras's");
}

/// The C arrays compile warning-free as C99.
#[test]
fn c_roms_compile() {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/cnn_bn.keras");
    let g = qkhw::load_graph(&m, BuildOptions::default()).unwrap();
    let dir = tmp("c-compile");
    let man = rom::write(&g.name, &g.sha256, &hw_tensors(&g).unwrap(), RomFormat::C, &dir).unwrap();
    for e in &man.tensors {
        let out = std::process::Command::new("gcc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", "-o", "/dev/null"])
            .arg(dir.join(&e.file))
            .output()
            .expect("gcc is needed for this test");
        assert!(out.status.success(), "{}: {}", e.file, String::from_utf8_lossy(&out.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A corrupted word is noticed: the check can fail.
#[test]
fn a_changed_word_is_caught() {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/jet_tagger.keras");
    let g = qkhw::load_graph(&m, BuildOptions::default()).unwrap();
    let tensors = hw_tensors(&g).unwrap();
    let dir = tmp("corrupt");
    let man = rom::write(&g.name, &g.sha256, &tensors, RomFormat::Mem, &dir).unwrap();
    let e = &man.tensors[0];
    let text = std::fs::read_to_string(dir.join(&e.file)).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let k = lines.iter().position(|l| !l.starts_with("//")).unwrap();
    lines[k] = if lines[k] == "01" { "02".into() } else { "01".into() };
    let ws = rom::parse(RomFormat::Mem, &e.file, &lines.join("\n"), e.layout.width()).unwrap();
    assert_ne!(rom::decode(&e.layout, &ws).0, tensors[0].codes);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The bits of a `$readmemh` word, bit 0 first.
fn hex_bits(word: &str, width: usize) -> Vec<bool> {
    let mut bits: Vec<bool> = word.chars().rev().flat_map(|c| {
        let v = c.to_digit(16).unwrap_or_else(|| panic!("not hex: {word}"));
        (0..4).map(move |b| (v >> b) & 1 == 1)
    }).collect();
    assert!(bits[width.min(bits.len())..].iter().all(|b| !b), "{word}: wider than {width} bits");
    bits.resize(width, false);
    bits
}

/// Every folded ROM of every example model (R = 3), read from its file
/// with the manifest alone: the manifest names the tensor its matrix comes
/// from (as `qkhw rom` names it; the columns of it, for a recurrent cell's
/// block), and each word's elements, placed by the manifest's order, are
/// that tensor's values as the unrolled ROMs give them (read back from
/// their files). The folded manifest did not say which tensor a ROM held,
/// nor that a layer without negative weights has unsigned codes
/// (po2_mlp's d3: +1.0 is 256 in 9 bits).
#[test]
fn every_folded_rom_names_its_tensor_and_holds_its_values() {
    let mut checked = 0;
    for m in models() {
        let g = qkhw::load_graph(&m, BuildOptions::default()).unwrap();
        let tensors = hw_tensors(&g).unwrap();
        let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
        let dir = tmp(&format!("{}-folded", g.name));
        let Ok(roms) = qkhw::backend::rom_folded::write(&g.name, &g.sha256, &plan, &tensors, Some(3), &Default::default(), &dir.join("folded")) else { continue };
        rom::write(&g.name, &g.sha256, &tensors, RomFormat::Mem, &dir.join("flat")).unwrap();
        let folded: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("folded/manifest.json")).unwrap()).unwrap();
        let flat: Manifest = serde_json::from_slice(&std::fs::read(dir.join("flat/manifest.json")).unwrap()).unwrap();
        assert_eq!(folded["roms"].as_array().unwrap().len(), roms.len());
        for r in folded["roms"].as_array().unwrap() {
            let what = format!("{} {} {}", g.name, r["layer"], r["block"]);
            let num = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{what}: no {k}")) as usize;
            let (n_in, n_out, width, p_in, p_out, chunks) = (num("n_in"), num("n_out"), num("width"), num("lanes_in"), num("lanes_out"), num("chunks"));
            let frac = r["frac"].as_i64().unwrap() as i32;
            let t = &r["tensor"];
            assert!(t.is_object(), "{what}: no tensor named");
            let e = flat.tensors.iter().find(|e| e.layer == t["layer"] && e.tensor == t["name"]).unwrap_or_else(|| panic!("{what}: {t} not among qkhw rom's tensors"));
            let text = std::fs::read_to_string(dir.join("flat").join(&e.file)).unwrap();
            let (codes, signs) = rom::decode(&e.layout, &rom::parse(RomFormat::Mem, &e.file, &text, e.layout.width()).unwrap());
            let cols = codes.len() / n_in;
            let columns: Vec<usize> = match t.get("columns") {
                Some(c) => c.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect(),
                None => (0..n_out).collect(),
            };
            assert_eq!(columns.len(), n_out, "{what}");
            // w from the words, by the manifest's order.
            let words: Vec<String> = std::fs::read_to_string(dir.join("folded").join(r["file"].as_str().unwrap())).unwrap().lines().filter(|l| !l.starts_with("//")).map(str::to_string).collect();
            let mut w = vec![None; n_in * n_out];
            for (n, word) in words.iter().enumerate() {
                let bits = hex_bits(word, num("word_width"));
                let (gr, k) = (n / chunks, n % chunks);
                for l in 0..p_out {
                    for p in 0..p_in {
                        let at = (l * p_in + p) * width;
                        let raw: i64 = (0..width).map(|b| i64::from(bits[at + b]) << b).sum();
                        let code = if r["signed"] == true && bits[at + width - 1] { raw - (1 << width) } else { raw };
                        let (i, j) = (k * p_in + p, gr * p_out + l);
                        if i < n_in && j < n_out {
                            assert!(w[i * n_out + j].replace(code).is_none(), "{what}: w[{i}][{j}] twice");
                        } else {
                            assert_eq!(code, 0, "{what}: padding element not zero");
                        }
                    }
                }
            }
            for i in 0..n_in {
                for (j, &c) in columns.iter().enumerate() {
                    let code = w[i * n_out + j].unwrap_or_else(|| panic!("{what}: w[{i}][{j}] in no word"));
                    let k = i * cols + c;
                    if t["equal_in"] == "value" {
                        let s = signs.get(k).copied().unwrap_or(1);
                        assert_eq!(code as f64 * 2f64.powi(-frac), manifest_value(e, codes[k], s, k), "{what}: w[{i}][{j}]");
                    } else {
                        assert_eq!(t["equal_in"], "code", "{what}");
                        assert_eq!(code, codes[k], "{what}: w[{i}][{j}]");
                    }
                    checked += 1;
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(checked > 50_000, "{checked} weights");
    eprintln!("{checked} folded weights equal to their tensors");
}
