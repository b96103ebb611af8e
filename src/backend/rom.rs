//! Bit-exact weight ROMs: every constant of [`crate::passes::hw_tensors`]
//! as one word per element, in row-major (C) order of its shape, in the
//! formats FPGA flows load: `$readmemh` (`.mem`, `.hex`), Xilinx `.coe`,
//! Intel `.mif` and C arrays, plus `manifest.json` describing each file.
//!
//! Word layout:
//! - fixed point: the two's complement (or unsigned) code, `width` bits;
//!   value = code × 2^-frac (× the per-channel scale, if any; a float
//!   scale's product is rounded to float32, as QKeras's weight is);
//! - power of two: `[sign][exponent]` — the exponent in two's complement
//!   in the low `exponent_width` bits, above it one sign bit (1 = negative)
//!   when the quantizer is signed; value = ±2^exponent.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fxp::FixedFormat;
use crate::passes::hw_tensors::{ChannelScale, HwWeight};
use crate::quant::Encoding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RomFormat {
    Mem,
    Hex,
    Coe,
    Mif,
    C,
}

impl std::str::FromStr for RomFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "mem" => RomFormat::Mem,
            "hex" => RomFormat::Hex,
            "coe" => RomFormat::Coe,
            "mif" => RomFormat::Mif,
            "c" => RomFormat::C,
            _ => return Err(Error::Usage(format!("ROM format `{s}` is not one of mem, hex, coe, mif, c"))),
        })
    }
}

impl RomFormat {
    pub fn ext(self) -> &'static str {
        match self {
            RomFormat::Mem => "mem",
            RomFormat::Hex => "hex",
            RomFormat::Coe => "coe",
            RomFormat::Mif => "mif",
            RomFormat::C => "c",
        }
    }
}

/// How the words of one ROM map to values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "lowercase")]
pub enum WordLayout {
    Fixed { width: u32, frac: i32, signed: bool },
    Po2 { exponent_width: u32, sign_bit: bool, min_exp: i32, max_exp: i32 },
}

impl WordLayout {
    pub fn width(&self) -> u32 {
        match self {
            WordLayout::Fixed { width, .. } => *width,
            WordLayout::Po2 { exponent_width, sign_bit, .. } => exponent_width + u32::from(*sign_bit),
        }
    }
}

/// A per-channel scale as the manifest states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ManifestScale {
    /// value × 2^exponents[channel]
    Po2 { shape: Vec<usize>, exponents: Vec<i32> },
    /// value × values[channel]
    Float { shape: Vec<usize>, values: Vec<f32> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub layer: String,
    pub tensor: String,
    pub file: String,
    pub shape: Vec<usize>,
    /// Always "row-major": element i is the C-order flattening of `shape`.
    pub order: String,
    pub depth: usize,
    #[serde(flatten)]
    pub layout: WordLayout,
    pub scale: Option<ManifestScale>,
    /// The QKeras quantizer, or null for float32 values held exactly.
    pub quantizer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    pub model: String,
    pub model_sha256: String,
    pub format: RomFormat,
    pub word_layout: String,
    pub tensors: Vec<ManifestEntry>,
}

const WORD_LAYOUT_DOC: &str = "fixed: two's complement (unsigned if signed=false) code of `width` bits, \
value = code * 2^-frac * scale[channel] (a float scale: that product rounded to float32, as QKeras computes the weight); po2: low `exponent_width` bits the exponent (two's complement), \
the bit above it the sign (1 = negative) if sign_bit, value = +-2^exponent";

fn signed_width(lo: i64, hi: i64) -> u32 {
    (1..=64).find(|&w| FixedFormat { width: w, frac: 0, signed: true }.contains(lo as i128) && FixedFormat { width: w, frac: 0, signed: true }.contains(hi as i128)).unwrap_or(64)
}

/// The words of one tensor and their layout.
pub fn words(w: &HwWeight) -> Result<(WordLayout, Vec<u64>)> {
    match &w.encoding {
        Encoding::Fixed(f) => {
            if f.width > 64 {
                return Err(Error::Usage(format!("{}/{}: {f} is wider than 64 bits", w.layer, w.tensor)));
            }
            let mask = if f.width == 64 { u64::MAX } else { (1u64 << f.width) - 1 };
            let layout = WordLayout::Fixed { width: f.width, frac: f.frac, signed: f.signed };
            Ok((layout, w.codes.iter().map(|&c| c as u64 & mask).collect()))
        }
        Encoding::Po2 { signed, min_exp, max_exp } => {
            let ew = signed_width(*min_exp as i64, *max_exp as i64);
            let mask = (1u64 << ew) - 1;
            let words = w
                .codes
                .iter()
                .enumerate()
                .map(|(i, &e)| {
                    let neg = *signed && w.signs.get(i).copied().unwrap_or(1) < 0;
                    (u64::from(neg) << ew) | (e as u64 & mask)
                })
                .collect();
            Ok((WordLayout::Po2 { exponent_width: ew, sign_bit: *signed, min_exp: *min_exp, max_exp: *max_exp }, words))
        }
        Encoding::Table { .. } => Err(Error::Usage(format!("{}/{}: table-encoded constants have no ROM", w.layer, w.tensor))),
    }
}

/// Codes (and po2 signs) back from words: the inverse of [`words`].
pub fn decode(layout: &WordLayout, words: &[u64]) -> (Vec<i64>, Vec<i8>) {
    let sext = |v: u64, w: u32| -> i64 {
        if w >= 64 { v as i64 } else { ((v << (64 - w)) as i64) >> (64 - w) }
    };
    match layout {
        WordLayout::Fixed { width, signed, .. } => {
            (words.iter().map(|&v| if *signed { sext(v, *width) } else { v as i64 }).collect(), vec![])
        }
        WordLayout::Po2 { exponent_width, sign_bit, .. } => {
            let mask = (1u64 << exponent_width) - 1;
            let codes = words.iter().map(|&v| sext(v & mask, *exponent_width)).collect();
            let signs = if *sign_bit { words.iter().map(|&v| if v >> exponent_width & 1 == 1 { -1 } else { 1 }).collect() } else { vec![] };
            (codes, signs)
        }
    }
}

fn c_type(layout: &WordLayout) -> (&'static str, bool) {
    let (w, signed) = match layout {
        WordLayout::Fixed { width, signed, .. } => (*width, *signed),
        WordLayout::Po2 { .. } => (layout.width(), false),
    };
    let bits = [8, 16, 32, 64].into_iter().find(|&b| w <= b).unwrap_or(64);
    let t = match (bits, signed) {
        (8, true) => "int8_t",
        (16, true) => "int16_t",
        (32, true) => "int32_t",
        (_, true) => "int64_t",
        (8, false) => "uint8_t",
        (16, false) => "uint16_t",
        (32, false) => "uint32_t",
        _ => "uint64_t",
    };
    (t, signed)
}

/// One ROM file's text. `header` lines become comments.
pub fn render(format: RomFormat, ident: &str, header: &[String], layout: &WordLayout, words: &[u64]) -> String {
    let width = layout.width();
    let digits = width.div_ceil(4).max(1) as usize;
    let mut s = String::new();
    match format {
        RomFormat::Mem | RomFormat::Hex => {
            for h in header {
                let _ = writeln!(s, "// {h}");
            }
            for w in words {
                let _ = writeln!(s, "{w:0digits$x}");
            }
        }
        RomFormat::Coe => {
            for h in header {
                let _ = writeln!(s, "; {h}");
            }
            s.push_str("memory_initialization_radix=16;\nmemory_initialization_vector=\n");
            for (i, w) in words.iter().enumerate() {
                let end = if i + 1 == words.len() { ";" } else { "," };
                let _ = writeln!(s, "{w:0digits$x}{end}");
            }
            if words.is_empty() {
                s.push_str(";\n");
            }
        }
        RomFormat::Mif => {
            for h in header {
                let _ = writeln!(s, "-- {h}");
            }
            let _ = writeln!(s, "WIDTH={width};\nDEPTH={};\nADDRESS_RADIX=UNS;\nDATA_RADIX=HEX;\nCONTENT BEGIN", words.len());
            for (i, w) in words.iter().enumerate() {
                let _ = writeln!(s, "    {i} : {w:0digits$X};");
            }
            s.push_str("END;\n");
        }
        RomFormat::C => {
            s.push_str("/*\n");
            for h in header {
                let _ = writeln!(s, " * {h}");
            }
            s.push_str(" */\n#include <stdint.h>\n\n");
            let (t, signed) = c_type(layout);
            let _ = writeln!(s, "const {t} {ident}[{}] = {{", words.len().max(1));
            for chunk in words.chunks(12) {
                let items: Vec<String> = chunk
                    .iter()
                    .map(|&v| {
                        if signed {
                            let sv = decode(layout, &[v]).0[0];
                            // INT64_MIN has no literal; every narrower minimum does.
                            if sv == i64::MIN { "(-9223372036854775807 - 1)".into() } else { sv.to_string() }
                        } else {
                            format!("{v}u")
                        }
                    })
                    .collect();
                let _ = writeln!(s, "    {},", items.join(", "));
            }
            if words.is_empty() {
                s.push_str("    0\n");
            }
            s.push_str("};\n");
        }
    }
    s
}

fn perr(file: &str, msg: impl Into<String>) -> Error {
    Error::Usage(format!("{file}: {}", msg.into()))
}

/// Words of `width` bits back from a ROM file's text (the read-back half
/// of the round trip). C arrays hold signed codes as signed literals; they
/// are masked back to the word.
pub fn parse(format: RomFormat, file: &str, text: &str, width: u32) -> Result<Vec<u64>> {
    let mask = if width >= 64 { u64::MAX } else { (1u64 << width) - 1 };
    let words = parse_raw(format, file, text)?;
    if format != RomFormat::C
        && let Some(w) = words.iter().find(|&&w| w & !mask != 0) {
            return Err(perr(file, format!("word {w:x} is wider than {width} bits")));
        }
    Ok(words.into_iter().map(|w| w & mask).collect())
}

fn parse_raw(format: RomFormat, file: &str, text: &str) -> Result<Vec<u64>> {
    let hex = |t: &str| u64::from_str_radix(t, 16).map_err(|_| perr(file, format!("`{t}` is not a hex word")));
    match format {
        RomFormat::Mem | RomFormat::Hex => text
            .lines()
            .map(|l| l.split("//").next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(hex)
            .collect(),
        RomFormat::Coe => {
            let body: String = text.lines().filter(|l| !l.trim_start().starts_with(';')).collect::<Vec<_>>().join("\n");
            let v = body
                .split_once("memory_initialization_vector=")
                .ok_or_else(|| perr(file, "no memory_initialization_vector"))?
                .1;
            v.split([',', ';', '\n']).map(str::trim).filter(|t| !t.is_empty()).map(hex).collect()
        }
        RomFormat::Mif => {
            let body = text
                .split_once("CONTENT BEGIN")
                .ok_or_else(|| perr(file, "no CONTENT BEGIN"))?
                .1;
            let mut out = vec![];
            for l in body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("--")) {
                if l.starts_with("END") {
                    break;
                }
                let (a, v) = l.split_once(':').ok_or_else(|| perr(file, format!("bad line `{l}`")))?;
                let addr: usize = a.trim().parse().map_err(|_| perr(file, format!("bad address in `{l}`")))?;
                if addr != out.len() {
                    return Err(perr(file, format!("address {addr} out of order")));
                }
                out.push(hex(v.trim().trim_end_matches(';').trim())?);
            }
            Ok(out)
        }
        RomFormat::C => {
            let body = text
                .split_once('{')
                .and_then(|(_, b)| b.split_once('}'))
                .ok_or_else(|| perr(file, "no array initializer"))?
                .0;
            body.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let t = t.trim_end_matches('u');
                    if t == "(-9223372036854775807 - 1)" {
                        return Ok(i64::MIN as u64);
                    }
                    t.parse::<i64>()
                        .map(|v| v as u64)
                        .or_else(|_| t.parse::<u64>())
                        .map_err(|_| perr(file, format!("`{t}` is not an integer")))
                })
                .collect()
        }
    }
}

/// A C identifier / file stem for a tensor: `[A-Za-z0-9_]`, not starting
/// with a digit, unique within `taken`.
fn ident(layer: &str, tensor: &str, taken: &mut std::collections::BTreeSet<String>) -> String {
    let raw = format!("{layer}_{tensor}");
    let mut s: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        s.insert_str(0, "w_");
    }
    let mut out = s.clone();
    let mut k = 2;
    while !taken.insert(out.clone()) {
        out = format!("{s}_{k}");
        k += 1;
    }
    out
}

fn manifest_scale(s: &ChannelScale) -> ManifestScale {
    match s {
        ChannelScale::Po2 { shape, exponents } => ManifestScale::Po2 { shape: shape.clone(), exponents: exponents.clone() },
        ChannelScale::Float { shape, values } => ManifestScale::Float { shape: shape.clone(), values: values.clone() },
    }
}

/// The name of the C header `rom --format c` writes beside the arrays.
pub fn c_header_name(model: &str) -> String {
    let mut taken = Default::default();
    format!("{}_roms.h", ident(model, "", &mut taken).trim_end_matches('_'))
}

/// Write ROMs into `dir` with `write`, as `qkhw rom` does: into an empty
/// folder, or one an earlier `qkhw rom` wrote, whose files the new
/// manifest does not list are then deleted ([`super::folder::remove_stale`]);
/// a non-empty folder without such a manifest is refused before anything
/// is written (cross-check batch 14: `rom` wrote into a folder of user
/// files, and a second model's ROMs sat beside the first's stale ones).
pub fn into_folder<T>(dir: &Path, write: impl FnOnce() -> Result<T>) -> Result<T> {
    let empty = !dir.is_dir() || std::fs::read_dir(dir).map_err(|e| crate::error::Error::io(dir, e))?.next().is_none();
    let earlier = match listed(dir) {
        Some(files) => files,
        None if empty => vec![],
        None => {
            return Err(crate::error::Error::Usage(format!(
                "{}: the folder is not empty and holds no manifest.json of `qkhw rom`; choose an empty folder, or the folder of an earlier `qkhw rom` (whose ROMs are replaced)",
                dir.display()
            )));
        }
    };
    let written = write()?;
    super::folder::remove_stale(dir, &earlier, &listed(dir).unwrap_or_default())?;
    Ok(written)
}

/// The files the `manifest.json` of a `qkhw rom` in `dir` lists (its ROMs,
/// and the C header of `--format c`); `None` where `dir` holds none.
fn listed(dir: &Path) -> Option<Vec<String>> {
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).ok()?).ok()?;
    if !m["generator"].as_str().is_some_and(|g| g.starts_with("qkhw ")) || !(m["tensors"].is_array() || m["roms"].is_array()) {
        return None;
    }
    let mut files: Vec<String> = ["tensors", "roms"].iter().flat_map(|k| m[k].as_array().into_iter().flatten()).filter_map(|t| t["file"].as_str().map(String::from)).collect();
    if m["format"] == "c"
        && let Some(model) = m["model"].as_str()
    {
        files.push(c_header_name(model));
    }
    Some(files)
}

/// Write every ROM and `manifest.json` into `dir` (and, for C, one header
/// declaring every array), all or nothing.
pub fn write(model: &str, sha256: &str, tensors: &[HwWeight], format: RomFormat, dir: &Path) -> Result<Manifest> {
    let mut out = crate::staging::Staged::new();
    out.dir(dir)?;
    let generator = format!("qkhw {}", env!("CARGO_PKG_VERSION"));
    let mut taken = Default::default();
    let mut entries = vec![];
    let hname = c_header_name(model);
    let guard: String = hname.to_ascii_uppercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let mut h = format!("/* {generator}; model {model} (sha256 {sha256}): declarations of the weight ROMs */\n#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n\n");
    for w in tensors {
        let (layout, ws) = words(w)?;
        let id = ident(&w.layer, &w.tensor, &mut taken);
        let file = format!("{id}.{}", format.ext());
        let header = vec![
            format!("{generator}; model {model} (sha256 {sha256})"),
            format!("layer {} tensor {} shape {:?}, row-major, {} words", w.layer, w.tensor, w.shape, ws.len()),
            describe(&layout, w.quantizer.as_deref(), w.scale.as_ref()),
        ];
        let mut text = render(format, &id, &header, &layout, &ws);
        if format == RomFormat::C {
            text = text.replacen("#include <stdint.h>\n", &format!("#include \"{hname}\"\n"), 1);
            let upper = id.to_ascii_uppercase();
            let _ = writeln!(h, "/* {} */", header[1..].join("; "));
            let _ = writeln!(h, "#define {upper}_SIZE {}", ws.len().max(1));
            let _ = writeln!(h, "#define {upper}_WIDTH {}", layout.width());
            if let WordLayout::Fixed { frac, .. } = &layout {
                let _ = writeln!(h, "#define {upper}_FRAC {frac}");
            }
            let _ = writeln!(h, "extern const {} {id}[{upper}_SIZE];\n", c_type(&layout).0);
        }
        out.write(&dir.join(&file), text)?;
        entries.push(ManifestEntry {
            layer: w.layer.clone(),
            tensor: w.tensor.clone(),
            file,
            shape: w.shape.clone(),
            order: "row-major".into(),
            depth: ws.len(),
            layout,
            scale: w.scale.as_ref().map(manifest_scale),
            quantizer: w.quantizer.clone(),
        });
    }
    if format == RomFormat::C {
        h.push_str("#endif\n");
        out.write(&dir.join(&hname), h)?;
    }
    let m = Manifest {
        generator,
        model: model.into(),
        model_sha256: sha256.into(),
        format,
        word_layout: WORD_LAYOUT_DOC.into(),
        tensors: entries,
    };
    let text = serde_json::to_string_pretty(&m).map_err(|e| Error::Internal(e.to_string()))?;
    out.write(&dir.join("manifest.json"), text + "\n")?;
    out.commit()?;
    Ok(m)
}

/// What a word means, for the ROM's header: with a per-channel scale (an
/// alpha or auto_po2 quantizer) in the value formula, since the codes alone
/// are not the values (a cross-check read `code * 2^-0` for a weight of
/// `code * 2^-4`).
fn describe(l: &WordLayout, q: Option<&str>, scale: Option<&ChannelScale>) -> String {
    let src = q.map_or("float32 held exactly".to_string(), |q| format!("quantizer {q}"));
    let times = match scale {
        None => String::new(),
        Some(ChannelScale::Po2 { shape, exponents }) => match exponents.split_first() {
            Some((e, rest)) if rest.iter().all(|x| x == e) => format!(" * 2^{e}"),
            _ => format!(
                " * 2^scale[channel], scale of shape {shape:?} (broadcast over the tensor) in {}..={} (manifest.json `scale`)",
                exponents.iter().min().copied().unwrap_or(0),
                exponents.iter().max().copied().unwrap_or(0)
            ),
        },
        Some(ChannelScale::Float { shape, values }) => match values.split_first() {
            Some((v, rest)) if rest.iter().all(|x| x == v) => format!(" * {v:?} (rounded to float32)"),
            _ => format!(" * scale[channel] (rounded to float32), scale of shape {shape:?} (broadcast over the tensor; manifest.json `scale`)"),
        },
    };
    match l {
        WordLayout::Fixed { width, frac, signed } => {
            format!("{} {width} bits, value = code * {}{times}; {src}", if *signed { "signed" } else { "unsigned" }, crate::fxp::lsb(*frac))
        }
        WordLayout::Po2 { exponent_width, sign_bit, min_exp, max_exp } => format!(
            "power of two: exponent in bits [{}:0] ({min_exp}..={max_exp}){}; {src}",
            exponent_width - 1,
            if *sign_bit { format!(", sign in bit {exponent_width} (1 = negative)") } else { String::new() }
        ),
    }
}
