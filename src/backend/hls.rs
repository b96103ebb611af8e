//! The HLS C++ backend: the C backend's integer datapath (same body, same
//! exact accumulator types) with the requantizers written as conversions
//! between the flavor's fixed-point types, whose quantization and overflow
//! modes are the requantizer's rounding and fit, plus array and AXI-Stream
//! tops, a C-simulation testbench and the tool's project script.
//!
//! Vitis HLS uses `ap_fixed`/`ap_int` and `hls::stream`; Catapult uses
//! `ac_fixed`/`ac_int` and `ac_channel`. The rounding modes are the same
//! three in both: ties to even (`*_RND_CONV`), ties away from zero
//! (`*_RND_INF`) and floor (`*_TRN`).

use askama::Template;

use crate::backend::c::{Dialect, body, lit};
use crate::error::{Error, Result};
use crate::fxp::{FixedFormat, Rounding};
use crate::ir::Graph;
use crate::passes::precision::Plan;

/// Which HLS tool the C++ is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// AMD Vitis HLS: `ap_fixed`, `ap_int`, `hls::stream`.
    #[default]
    Vitis,
    /// Siemens Catapult: `ac_fixed`, `ac_int`, `ac_channel`.
    Catapult,
}

impl Flavor {
    pub const NAMES: &'static [&'static str] = &["vitis", "catapult"];

    /// The prefix of this flavor's quantization and overflow mode names.
    fn modes(self) -> &'static str {
        match self {
            Flavor::Vitis => "AP",
            Flavor::Catapult => "AC",
        }
    }

    /// `<fixed type><W, I, …modes>` for a signedness.
    fn fixed(self, w: u32, i: i64, signed: bool, modes: &str) -> String {
        let m = if modes.is_empty() {
            String::new()
        } else {
            format!(", {modes}")
        };
        match (self, signed) {
            (Flavor::Vitis, true) => format!("ap_fixed<{w}, {i}{m}>"),
            (Flavor::Vitis, false) => format!("ap_ufixed<{w}, {i}{m}>"),
            (Flavor::Catapult, s) => format!("ac_fixed<{w}, {i}, {s}{m}>"),
        }
    }

    /// `<int type><W>` for a signedness.
    fn int(self, w: u32, signed: bool) -> String {
        match (self, signed) {
            (Flavor::Vitis, true) => format!("ap_int<{w}>"),
            (Flavor::Vitis, false) => format!("ap_uint<{w}>"),
            (Flavor::Catapult, s) => format!("ac_int<{w}, {s}>"),
        }
    }
}

impl std::str::FromStr for Flavor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "vitis" => Ok(Flavor::Vitis),
            "catapult" => Ok(Flavor::Catapult),
            _ => Err(Error::Usage(format!(
                "--flavor {s}: supported flavors are {}",
                Flavor::NAMES.join(", ")
            ))),
        }
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavor::Vitis => "vitis",
            Flavor::Catapult => "catapult",
        })
    }
}

/// The requantizer as a type conversion: the input code (of format `x`)
/// placed in a fixed-point number with `shift` fraction bits, assigned to
/// an integer fixed-point type of the output width whose quantization mode
/// is the rounding and whose overflow mode is the fit (saturate or wrap); a
/// quantizer range narrower than the type's (symmetric) is clamped after.
#[allow(clippy::too_many_arguments)]
pub(crate) fn requant(
    f: Flavor,
    x: FixedFormat,
    out: FixedFormat,
    shift: i32,
    min: i128,
    max: i128,
    r: Rounding,
    sat: bool,
    x0: &str,
    y: &str,
    n: usize,
) -> String {
    // One more bit than the input and the rounding need: the code is placed
    // as a signed number whatever its signedness.
    let iw = x.width.max(shift as u32 + 2) + 1;
    let ow = out.width;
    let p = f.modes();
    let q = match r {
        Rounding::TiesEven => "RND_CONV",
        Rounding::TiesAway => "RND_INF",
        Rounding::Floor => "TRN",
    };
    let o = if sat { "SAT" } else { "WRAP" };
    let clamp = if sat && (min != out.min_code() || max != out.max_code()) {
        format!(
            " if (v < {}) v = {}; if (v > {}) v = {};",
            lit(min),
            lit(min),
            lit(max),
            lit(max)
        )
    } else {
        String::new()
    };
    let a_t = f.fixed(iw, iw as i64 - shift as i64, true, "");
    let t_t = f.fixed(ow, ow as i64, out.signed, &format!("{p}_{q}, {p}_{o}"));
    let (set, get) = match f {
        Flavor::Vitis => (
            format!("a.range() = {}((long long){x0}[k]);", f.int(iw, true)),
            "t.range()".to_string(),
        ),
        Flavor::Catapult => (
            format!("a.set_slc(0, {}((long long){x0}[k]));", f.int(iw, true)),
            format!("t.slc<{ow}>(0)"),
        ),
    };
    format!(
        "    for (k = 0; k < {n}; ++k) {{\n        {a_t} a; {set}\n        {t_t} t = a;\n        {} raw = {get};\n        long long v = raw.to_int64();{clamp}\n        {y}[k] = v;\n    }}",
        f.int(ow, out.signed)
    )
}

/// Catapult pipelines a loop only when the loops inside it are unrolled:
/// every loop statement of the body gets `#pragma hls_unroll yes`.
fn unroll_pragmas(body: &str) -> String {
    let mut out = String::with_capacity(body.len() * 2);
    for line in body.lines() {
        let t = line.trim_start();
        if t.starts_with("for (") {
            out.push_str(&line[..line.len() - t.len()]);
            out.push_str("#pragma hls_unroll yes\n");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[derive(Template)]
#[template(path = "hls/model.h", escape = "none")]
struct HlsHeader<'a> {
    header: &'a str,
    catapult: bool,
    max_w: u32,
    guard: &'a str,
    name: &'a str,
    in_t: &'a str,
    out_t: &'a str,
    in_n: usize,
    out_n: usize,
    in_bits: u32,
    out_bits: u32,
    in_w: u32,
    out_w: u32,
    in_fmt: String,
    out_fmt: String,
    sigmoid: &'a str,
    parts: Vec<crate::backend::PartDoc>,
}

#[derive(Template)]
#[template(path = "hls/model.cpp", escape = "none")]
struct HlsSource<'a> {
    header: &'a str,
    catapult: bool,
    in_signed: bool,
    name: &'a str,
    in_t: &'a str,
    out_t: &'a str,
    in_n: usize,
    out_n: usize,
    in_w: u32,
    out_w: u32,
    consts: &'a str,
    buffers: &'a str,
    body: &'a str,
    out_copy: &'a str,
}

#[derive(Template)]
#[template(path = "hls/tb.cpp", escape = "none")]
struct HlsTb<'a> {
    header: &'a str,
    catapult: bool,
    name: &'a str,
    in_w: u32,
    out_w: u32,
    out_signed: bool,
    in_t: &'a str,
    out_t: &'a str,
    in_n: usize,
    out_n: usize,
}

#[derive(Template)]
#[template(path = "hls/build_prj.tcl", escape = "none")]
struct VitisTcl<'a> {
    header: &'a str,
    name: &'a str,
}

#[derive(Template)]
#[template(path = "hls/catapult_prj.tcl", escape = "none")]
struct CatapultTcl<'a> {
    header: &'a str,
    name: &'a str,
}

/// The HLS project files of `flavor`: (file name, contents). The first is
/// the header `<name>.h`.
pub fn generate(
    g: &Graph,
    plan: &Plan,
    header: &str,
    sigmoid: &str,
    flavor: Flavor,
) -> Result<Vec<(String, String)>> {
    let b = body(g, plan, Dialect::Hls(flavor))?;
    let catapult = flavor == Flavor::Catapult;
    let code = if catapult {
        unroll_pragmas(&b.body)
    } else {
        b.body.clone()
    };
    let o = plan.outputs[0];
    let (ist, ost) = (&plan.steps[0], &plan.steps[o]);
    let in_n: usize = ist.shape.iter().product();
    let out_n: usize = ost.shape.iter().product();
    let r = |e: askama::Error| Error::Usage(format!("template: {e}"));
    let h = HlsHeader {
        header,
        catapult,
        max_w: (in_n as u32 * ist.fmt.width)
            .max(out_n as u32 * ost.fmt.width)
            .max(1024)
            .next_power_of_two(),
        guard: &format!("QKHW_HLS_{}_H", b.name.to_uppercase()),
        name: &b.name,
        in_t: b.in_t,
        out_t: b.out_t,
        in_n,
        out_n,
        in_bits: in_n as u32 * ist.fmt.width,
        out_bits: out_n as u32 * ost.fmt.width,
        in_w: ist.fmt.width,
        out_w: ost.fmt.width,
        in_fmt: ist.fmt.to_string(),
        out_fmt: ost.fmt.to_string(),
        sigmoid,
        parts: crate::backend::part_docs(plan),
    }
    .render()
    .map_err(r)?;
    let c = HlsSource {
        header,
        catapult,
        in_signed: ist.fmt.signed,
        name: &b.name,
        in_t: b.in_t,
        out_t: b.out_t,
        in_n,
        out_n,
        in_w: ist.fmt.width,
        out_w: ost.fmt.width,
        consts: &b.consts,
        buffers: &b.buffers,
        body: &code,
        out_copy: &b.out_copy,
    }
    .render()
    .map_err(r)?;
    let tb = HlsTb {
        header,
        catapult,
        name: &b.name,
        in_w: ist.fmt.width,
        out_w: ost.fmt.width,
        out_signed: ost.fmt.signed,
        in_t: b.in_t,
        out_t: b.out_t,
        in_n,
        out_n,
    }
    .render()
    .map_err(r)?;
    let tcl = match flavor {
        Flavor::Vitis => VitisTcl {
            header,
            name: &b.name,
        }
        .render(),
        Flavor::Catapult => CatapultTcl {
            header,
            name: &b.name,
        }
        .render(),
    }
    .map_err(r)?;
    Ok(vec![
        (format!("{}.h", b.name), h + "\n"),
        (format!("{}.cpp", b.name), c + "\n"),
        (format!("{}_tb.cpp", b.name), tb + "\n"),
        ("build_prj.tcl".into(), tcl + "\n"),
    ])
}
