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

use crate::backend::c::InArg;

use crate::backend::c::{Dialect, body, lit};
use crate::error::{Error, Result};
use crate::fxp::{FixedFormat, Rounding};
use crate::ir::Graph;
use crate::plan::Plan;

pub use crate::backend::Flavor;

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

impl Flavor {
    /// The fixed-point and stream headers a generated model header
    /// includes, in order (after `<stdint.h>`, and for Vitis after its
    /// `AP_INT_MAX_W`): the template writes them, and the C-simulation
    /// precompiles exactly these.
    pub fn type_headers(self) -> &'static [&'static str] {
        match self {
            Flavor::Vitis => &["ap_fixed.h", "ap_int.h", "hls_stream.h"],
            Flavor::Catapult => &["ac_fixed.h", "ac_int.h", "ac_channel.h"],
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
            format!("a.range() = {}({x0}[k]);", f.int(iw, true)),
            "t.range()".to_string(),
        ),
        Flavor::Catapult => (
            format!("a.set_slc(0, {}({x0}[k]));", f.int(iw, true)),
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
/// A loop that already has its pragma (a folded layer's reuse loop, which
/// is pipelined, not unrolled) keeps it.
pub(crate) fn unroll_pragmas(body: &str) -> String {
    let mut out = String::with_capacity(body.len() * 2);
    let mut previous = "";
    for line in body.lines() {
        let t = line.trim_start();
        if t.starts_with("for (") && !previous.trim_start().starts_with("#pragma hls_") {
            out.push_str(&line[..line.len() - t.len()]);
            out.push_str("#pragma hls_unroll yes\n");
        }
        out.push_str(line);
        out.push('\n');
        previous = line;
    }
    out
}

#[derive(Template)]
#[template(path = "hls/model.h", escape = "none")]
struct HlsHeader<'a> {
    /// Declare the 128-bit `qkhw_wide` (values wider than 64 bits inside).
    wide: bool,
    /// The streaming design's declarations (`--io stream`; empty otherwise).
    stream_decl: &'a str,
    header: &'a str,
    catapult: bool,
    max_w: u32,
    /// [`Flavor::type_headers`].
    type_headers: &'static [&'static str],
    guard: &'a str,
    name: &'a str,
    out_t: &'a str,
    out_n: usize,
    out_bits: u32,
    out_w: u32,
    out_fmt: String,
    sigmoid: crate::quant::InternalSigmoid,
    parts: Vec<crate::backend::PartDoc>,
    ins: &'a [InArg],
    params: &'a str,
    axis_params: &'a str,
}

#[derive(Template)]
#[template(path = "hls/model.cpp", escape = "none")]
struct HlsSource<'a> {
    /// The streaming design (`--io stream`; empty otherwise).
    stream_src: &'a str,
    /// Some layer is folded: the top is not pipelined as a whole (that
    /// would unroll the reuse loops).
    folded: bool,
    /// Values wider than 64 bits inside: the two-word helpers, on the
    /// header's 128-bit `qkhw_wide`.
    wide: bool,
    header: &'a str,
    catapult: bool,
    name: &'a str,
    out_t: &'a str,
    out_n: usize,
    out_w: u32,
    consts: &'a str,
    buffers: &'a str,
    body: &'a str,
    out_copy: &'a str,
    ins: &'a [InArg],
    params: &'a str,
    axis_params: &'a str,
    /// The array top's arguments in the AXI-Stream top.
    xs: String,
}

#[derive(Template)]
#[template(path = "hls/tb.cpp", escape = "none")]
struct HlsTb<'a> {
    /// Run the streaming design too, and write its outputs.
    stream: bool,
    header: &'a str,
    catapult: bool,
    name: &'a str,
    out_w: u32,
    out_signed: bool,
    out_t: &'a str,
    /// Input codes per sample (every input's, side by side).
    in_n: usize,
    out_n: usize,
    ins: &'a [InArg],
    args: String,
    axis_args: String,
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
    sigmoid: crate::quant::InternalSigmoid,
    flavor: Flavor,
) -> Result<Vec<(String, String)>> {
    let unrolled = crate::arch::schedule::schedule(plan, None, &Default::default());
    generate_scheduled(g, plan, header, sigmoid, flavor, &unrolled, None)
}

/// [`generate`] with the layers folded as `sched` says: a folded Dense is
/// written as hls4ml's Resource strategy writes it (a reuse loop pipelined
/// at II 1 around an unrolled block of ceil(N/R) multiplies, its weights
/// reshaped by block), and the top is pipelined at the schedule's
/// initiation interval. The arithmetic is the unrolled design's, so the
/// C simulation stays bit-exact. A folded (depthwise) convolution is the
/// same over each output position's window (gathered first). Folded
/// poolings stay unrolled in HLS, with a note.
pub fn generate_scheduled(
    g: &Graph,
    plan: &Plan,
    header: &str,
    sigmoid: crate::quant::InternalSigmoid,
    flavor: Flavor,
    sched: &crate::arch::schedule::Schedule,
    stream: Option<StreamFolds<'_>>,
) -> Result<Vec<(String, String)>> {
    let reuse = folds(plan, sched);
    let folded = reuse.iter().any(|&(r, _)| r > 1);
    let b = body(g, plan, Dialect::Hls(flavor), &reuse)?;
    // Values wider than 64 bits inside the datapath are 128-bit ap_int /
    // ac_int; at the ports they would have no C type for the testbench.
    let wide_port = match b.ins.iter().find(|x| x.t == crate::backend::c::WIDE) {
        Some(x) => Some(x.name.clone()),
        // Several model outputs are joined into one port: name the wide ones.
        None if b.out_t == crate::backend::c::WIDE && !plan.parts.is_empty() => {
            let joined = &plan.steps[plan.outputs[0]];
            let wide: Vec<String> = joined.inputs.iter().zip(&plan.parts).filter(|(k, _)| plan.steps[**k].fmt.width > 64).map(|(_, p)| p.name.clone()).collect();
            Some(if wide.is_empty() { plan.parts.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join("`, `") } else { wide.join("`, `") })
        }
        None if b.out_t == crate::backend::c::WIDE => Some(plan.steps[plan.outputs[0]..].iter().find_map(|s| s.layer.clone()).unwrap_or_else(|| "the output".into())),
        None => None,
    };
    if let Some(wide) = wide_port {
        return Err(Error::Model {
            path: g.source.clone(),
            layer: Some(wide),
            msg: "HLS: an input or output wider than 64 bits is not written for HLS (--target c takes it); give this layer a narrower format with --config".into(),
        });
    }
    let catapult = flavor == Flavor::Catapult;
    // `--io stream`: the streaming design beside the array top.
    let (stream_decl, stream_src, stream_wide) = if let Some(folds) = stream {
        crate::backend::hls_stream::dataflow(g, plan, flavor, &b.name, &b.ins, b.out_t, folds)?
    } else {
        (String::new(), String::new(), false)
    };
    let wide = b.is_wide() || stream_wide;
    let code = if catapult {
        unroll_pragmas(&b.body)
    } else {
        b.body.clone()
    };
    let ost = &plan.steps[plan.outputs[0]];
    let ins = &b.ins;
    let in_n: usize = ins.iter().map(|x| x.n).sum();
    let out_n: usize = ost.shape.iter().product();
    let params = InArg::params(ins, true);
    let channel = if catapult { "ac_channel" } else { "hls::stream" };
    let axis_params = ins
        .iter()
        .map(|x| format!("{channel}<{}_axis_in{}_t> &s_in{}", b.name, x.suffix, x.suffix))
        .chain([format!("{channel}<{}_axis_out_t> &s_out", b.name)])
        .collect::<Vec<_>>()
        .join(", ");
    let join = |f: &dyn Fn(&InArg) -> String| ins.iter().map(f).collect::<Vec<_>>().join(", ");
    let r = Error::Template;
    let h = HlsHeader {
        wide,
        stream_decl: &stream_decl,
        header,
        catapult,
        type_headers: flavor.type_headers(),
        max_w: ins
            .iter()
            .map(|x| x.n as u32 * x.w)
            .max()
            .unwrap_or(0)
            .max(out_n as u32 * ost.fmt.width)
            .max(1024)
            .next_power_of_two(),
        guard: &format!("QKHW_HLS_{}_H", b.name.to_uppercase()),
        name: &b.name,
        out_t: b.out_t,
        out_n,
        out_bits: out_n as u32 * ost.fmt.width,
        out_w: ost.fmt.width,
        out_fmt: ost.fmt.to_string(),
        sigmoid,
        parts: crate::backend::part_docs(plan),
        ins,
        params: &params,
        axis_params: &axis_params,
    }
    .render()
    .map_err(r)?;
    let c = HlsSource {
        stream_src: &stream_src,
        folded,
        wide,
        header,
        catapult,
        name: &b.name,
        out_t: b.out_t,
        out_n,
        out_w: ost.fmt.width,
        consts: &b.consts,
        buffers: &b.buffers,
        body: &code,
        out_copy: &b.out_copy,
        ins,
        params: &params,
        axis_params: &axis_params,
        xs: join(&|x| format!("x{}", x.suffix)),
    }
    .render()
    .map_err(r)?;
    let tb = HlsTb {
        stream: stream.is_some(),
        header,
        catapult,
        name: &b.name,
        out_w: ost.fmt.width,
        out_signed: ost.fmt.signed,
        out_t: b.out_t,
        in_n,
        out_n,
        ins,
        args: join(&|x| x.param.clone()),
        axis_args: join(&|x| format!("s_in{}", x.suffix)) + ", s_out",
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
    let readme = format!(
        "# {name} (HLS C++, {flavor})\n\n{header}\n\n\
- `{name}.h`, `{name}.cpp`: the array top `{name}({args}, out)` ({ifmt}; {out_n} output codes of {ofmt}; value = code x 2^-frac) and the AXI-Stream top `{name}_axis`{axis_note}.\n\
{stream_note}- `{name}_tb.cpp`: the C-simulation testbench. Run with no arguments, it reads `tb_vectors.txt` ({nv} samples: random input codes over the whole input format and the output codes of qkhw's bit-exact golden model), runs both tops on each, checks every output code and prints the result; it exits 1 on any difference. `{name}_tb IN.bin OUT.bin N` is the form `qkhw verify --target hls` uses.\n\
- `tb_vectors.txt`: first line `N IN_N OUT_N`, then per sample a line of input codes (every input's, side by side in model order) and a line of expected output codes.\n\
- `build_prj.tcl`: {tool}.\n\n\
Checking it without the vendor tool: `qkhw verify MODEL --target hls{fl}` (g++ against the open-source {types} headers).\n",
        name = b.name,
        flavor = if catapult { "Catapult" } else { "Vitis" },
        args = join(&|x| x.param.clone()),
        ifmt = join(&|x| format!("{}{} input codes of {}", x.n, x.label, x.fmt)),
        axis_note = if ins.len() > 1 { " (one stream per input; TLAST is the first input's)" } else { "" },
        ofmt = ost.fmt,
        nv = CSIM_VECTORS,
        tool = if catapult { "the Catapult project (catapult -shell -file build_prj.tcl)" } else { "the Vitis HLS project: C simulation with the vectors, then synthesis (vitis_hls -f build_prj.tcl)" },
        fl = if catapult { " --flavor catapult" } else { "" },
        stream_note = if stream.is_some() {
            format!("- `--io stream`: the streaming design `{name}_dataflow(in..., out)` (`#pragma HLS DATAFLOW` in Vitis; one {ch} of beat structs per input, in model order, an image pixel by pixel, a vector in one beat; one sample per call) and `{name}_stream_run({args}, out)`, which feeds it one sample from arrays; the testbench runs it beside the array top and checks they agree.\n", ch = if catapult { "`ac_channel`" } else { "`hls::stream`" }, name = b.name, args = join(&|x| x.param.clone()))
        } else {
            String::new()
        },
        types = if catapult { "ac_types" } else { "ap_types" },
    );
    Ok(vec![
        (format!("{}.h", b.name), h + "\n"),
        (format!("{}.cpp", b.name), c + "\n"),
        (format!("{}_tb.cpp", b.name), tb + "\n"),
        ("build_prj.tcl".into(), tcl + "\n"),
        ("tb_vectors.txt".into(), csim_vectors(plan)?),
        ("README.md".into(), readme),
    ])
}

/// The (reuse factor, rows at once) of every step of `plan` that HLS
/// folds (Dense, convolutions and depthwise convolutions; reuse 1:
/// unrolled), from `sched`.
pub(crate) fn folds(plan: &Plan, sched: &crate::arch::schedule::Schedule) -> Vec<(usize, usize)> {
    use crate::arch::schedule::Arch;
    use crate::plan::StepOp;
    let mut folds = vec![(1usize, 1usize); plan.steps.len()];
    for n in &sched.nodes {
        if let Some(r) = n.arch.first_fold()
            && matches!(plan.steps[n.first].op, StepOp::Dense { .. } | StepOp::Conv { .. } | StepOp::Depthwise { .. })
        {
            folds[n.first] = (r, if let Arch::Folded { parallel, .. } = n.arch { parallel } else { 1 });
            // A recurrent layer's other directions' input projections (its
            // cells loop over time unfolded, as in C).
            if let Arch::Recurrent { .. } = n.arch {
                for d in &n.recurrences {
                    folds[d.projection] = (r, 1);
                }
            }
        }
    }
    folds
}

/// How the stages of a streaming design fold (`--io stream`): as the
/// Verilog's, each stage's sub-plan scheduled with the same reuse factor
/// and configuration.
#[derive(Debug, Clone, Copy)]
pub struct StreamFolds<'a> {
    pub reuse: Option<usize>,
    pub config: &'a crate::passes::config::Config,
}

/// Samples in the C-simulation vectors `gen --target hls` writes.
pub const CSIM_VECTORS: usize = 100;

/// `tb_vectors.txt`: random input codes over the whole input format (seed 1)
/// and the golden model's output codes for them.
fn csim_vectors(plan: &Plan) -> Result<String> {
    let ost = &plan.steps[plan.outputs[0]];
    let (in_n, out_n): (usize, usize) = (plan.in_size(), ost.shape.iter().product());
    let codes = crate::verify::random_inputs(plan, CSIM_VECTORS, 1);
    let run = crate::golden::run(plan, &codes, CSIM_VECTORS, crate::golden::Keep::Outputs, 1)?;
    let outs = run.codes(plan.outputs[0]);
    let mut s = format!("{CSIM_VECTORS} {in_n} {out_n}\n");
    for k in 0..CSIM_VECTORS {
        let line = |v: &[i128]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ");
        s += &line(&codes[k * in_n..(k + 1) * in_n]);
        s.push('\n');
        s += &line(&outs[k * out_n..(k + 1) * out_n]);
        s.push('\n');
    }
    Ok(s)
}
