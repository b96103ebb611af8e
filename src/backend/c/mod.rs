//! The fixed-point C backend: a self-contained C99 pair `<model>.h` /
//! `<model>.c` computing exactly what the golden model computes, on
//! `stdint.h` types sized by the plan's exact ranges. No floating point in
//! the datapath, no `malloc`, no undefined behaviour (no signed overflow:
//! every accumulator type holds its exact range; no shift of a negative
//! value: rounding shifts are written as floor divisions, widening shifts as
//! multiplies).

use std::fmt::Write as _;

use askama::Template;

use crate::error::{Error, Result};
use crate::fxp::{Overflow, Rounding};
use crate::ir::Graph;
use crate::plan::{Act, Geo, MergeKind, Plan, Step, StepOp};

#[derive(Template)]
#[template(path = "c/model.h", escape = "none")]
#[allow(dead_code)]
struct Header<'a> {
    header: &'a str,
    guard: &'a str,
    name: &'a str,
    out_t: &'a str,
    out_n: usize,
    out_frac: i32,
    out_fmt: String,
    sigmoid: crate::quant::InternalSigmoid,
    ins: &'a [InArg],
    params: String,
    float_params: String,
    parts: Vec<crate::backend::PartDoc>,
    wide: bool,
}

#[derive(Template)]
#[template(path = "c/model.c", escape = "none")]
struct Source<'a> {
    header: &'a str,
    name: &'a str,
    out_t: &'a str,
    consts: &'a str,
    buffers: &'a str,
    body: &'a str,
    out_copy: &'a str,
    out_n: usize,
    out_frac: i32,
    wide: bool,
    ins: &'a [InArg],
    params: String,
    float_params: String,
    qs: String,
}

/// One input array of the generated function: `in`, or one per model
/// input (`in_<name>`, model order) where the model has several.
#[derive(Debug, Clone)]
pub struct InArg {
    /// The model input's name.
    pub name: String,
    /// The parameter's name.
    pub param: String,
    /// ` `name`` in comments where the model has several inputs.
    pub label: String,
    /// The macro stem (`IN`, or `IN_<NAME>`).
    pub macro_name: String,
    /// Suffix of the per-input locals and types (`q`, `x`, `s_in`, ...):
    /// empty for one input, `_<name>` for several.
    pub suffix: String,
    /// Element type, elements, and format.
    pub t: &'static str,
    pub n: usize,
    pub frac: i32,
    pub w: u32,
    pub signed: bool,
    pub fmt: String,
    /// The format's smallest and largest codes, as C literals.
    pub lo: String,
    pub hi: String,
}

/// The input arrays of `plan`: one per model input (its leading steps).
pub fn in_args(g: &Graph, plan: &Plan) -> Result<Vec<InArg>> {
    let several = plan.inputs.len() > 1;
    let mut namer = crate::backend::verilog::keywords::Namer::new(&["in", "out", "q", "c", "k"]);
    plan.inputs
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let st = &plan.steps[s];
            let name = st.layer.clone().unwrap_or_else(|| format!("in{k}"));
            // Lower case before the namer makes them unique: the macros
            // are upper case, so `A` and `a` must not both be `in_a`.
            let param = if several { namer.name(&format!("in_{}", name.to_lowercase())) } else { "in".to_string() };
            Ok(InArg {
                label: if several { format!(" `{name}`") } else { String::new() },
                macro_name: param.to_uppercase(),
                suffix: if several { param[2..].to_string() } else { String::new() },
                t: ctype(st.fmt.min_code().min(st.lo), st.fmt.max_code().max(st.hi)).map_err(|e| unsupported(g, &e.to_string()))?,
                n: st.shape.iter().product(),
                frac: st.fmt.frac,
                w: st.fmt.width,
                signed: st.fmt.signed,
                fmt: st.fmt.to_string(),
                lo: lit(st.fmt.min_code()),
                hi: lit(st.fmt.max_code()),
                param,
                name,
            })
        })
        .collect()
}

impl InArg {
    /// `const T *a, const T *b` (C) or `const T a[N], ...` (HLS arrays).
    pub fn params(ins: &[InArg], arrays: bool) -> String {
        ins.iter().map(|x| if arrays { format!("const {} {}[{}]", x.t, x.param, x.n) } else { format!("const {} *{}", x.t, x.param) }).collect::<Vec<_>>().join(", ")
    }
}

/// The generated pair.
#[derive(Debug, Clone)]
pub struct CModel {
    pub name: String,
    pub header: String,
    pub source: String,
    /// The element types of `<name>_infer`'s inputs and `out`.
    pub ins: Vec<InArg>,
    pub out_t: &'static str,
}

/// The 128-bit type of values wider than 64 bits (`__int128` under
/// `__extension__`, declared in the generated header only when used).
pub(crate) const WIDE: &str = "qkhw_wide";

/// The narrowest signed C type for `lo..=hi`: a `stdint.h` type, or
/// [`WIDE`] beyond 64 bits (every range the golden model holds fits it).
pub(crate) fn ctype(lo: i128, hi: i128) -> Result<&'static str> {
    for (t, b) in [("int8_t", 8), ("int16_t", 16), ("int32_t", 32), ("int64_t", 64)] {
        let (mn, mx) = (-(1i128 << (b - 1)), (1i128 << (b - 1)) - 1);
        if lo >= mn && hi <= mx {
            return Ok(t);
        }
    }
    Ok(WIDE)
}

/// A C integer literal (of [`WIDE`] beyond 64 bits).
pub(crate) fn lit(v: i128) -> String {
    if v == i64::MIN as i128 {
        "(-INT64_C(9223372036854775807) - 1)".into()
    } else if i64::try_from(v).is_err() {
        format!("QKHW_WIDE(INT64_C({}), UINT64_C({}))", (v >> 64) as i64, v as u64)
    } else if v.unsigned_abs() > i32::MAX as u128 {
        format!("INT64_C({v})")
    } else {
        v.to_string()
    }
}

fn array(out: &mut String, name: &str, vals: &[i128]) -> Result<()> {
    let (lo, hi) = (vals.iter().copied().min().unwrap_or(0), vals.iter().copied().max().unwrap_or(0));
    let t = ctype(lo, hi)?;
    let _ = writeln!(out, "static const {t} {name}[{}] = {{", vals.len().max(1));
    for chunk in vals.chunks(16) {
        let _ = writeln!(out, "    {},", chunk.iter().map(|&v| lit(v)).collect::<Vec<_>>().join(", "));
    }
    if vals.is_empty() {
        let _ = writeln!(out, "    0");
    }
    let _ = writeln!(out, "}};");
    Ok(())
}

/// The arithmetic type of a step: wide enough for its inputs, its constants
/// and its exact result range (partial sums stay within it).
fn acc_type(plan: &Plan, s: &Step, consts: &[&[i128]]) -> Result<&'static str> {
    let mut lo = s.lo.min(0);
    let mut hi = s.hi.max(0);
    for &x in &s.inputs {
        lo = lo.min(plan.steps[x].lo);
        hi = hi.max(plan.steps[x].hi);
    }
    for c in consts {
        lo = lo.min(c.iter().copied().min().unwrap_or(0));
        hi = hi.max(c.iter().copied().max().unwrap_or(0));
    }
    Ok(match ctype(lo, hi)? {
        WIDE => WIDE,
        "int64_t" => "int64_t",
        _ if hi > i32::MAX as i128 / 2 || lo < i32::MIN as i128 / 2 => "int64_t",
        _ => "int32_t",
    })
}

pub(crate) fn unsupported(g: &Graph, what: &str) -> Error {
    Error::Model { path: g.source.clone(), layer: None, msg: format!("C backend: {what}") }
}

/// Which language the body is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    C,
    /// HLS C++: requantizers through the flavor's fixed-point type
    /// (rounding and overflow modes).
    Hls(crate::backend::Flavor),
}

/// Generate the C pair for `plan`.
pub fn generate(g: &Graph, plan: &Plan, header: &str, sigmoid: crate::quant::InternalSigmoid) -> Result<CModel> {
    let b = body(g, plan, Dialect::C, &[])?;
    render_c(plan, header, sigmoid, b)
}

impl Body {
    /// Whether any value needs the 128-bit type.
    pub fn is_wide(&self) -> bool {
        [&self.consts, &self.buffers, &self.body, &self.out_copy].iter().any(|t| t.contains(WIDE)) || self.ins.iter().any(|x| x.t == WIDE) || self.out_t == WIDE
    }
}

/// The constants, buffers and statements of the model function.
pub struct Body {
    pub name: String,
    pub consts: String,
    pub buffers: String,
    pub body: String,
    pub out_copy: String,
    pub ins: Vec<InArg>,
    pub out_t: &'static str,
}

/// The body of the array top. `folds[i]` (HLS only; missing or reuse 1:
/// unrolled) is step `i`'s (reuse factor, rows at once): a folded Dense is
/// written as hls4ml's Resource strategy writes it (see [`folded_dense`]).
pub fn body(g: &Graph, plan: &Plan, dialect: Dialect, folds: &[(usize, usize)]) -> Result<Body> {
    let reuse: Vec<usize> = folds.iter().map(|f| f.0).collect();
    let name: String = {
        let mut n = crate::backend::verilog::keywords::Namer::new(&[]);
        n.name(&g.name).to_lowercase()
    };
    let mut consts = String::new();
    let mut buffers = String::new();
    let mut body = String::new();
    let buf = |i: usize| format!("b{i}");
    // A step's array: a model input is its parameter.
    let ins = in_args(g, plan)?;
    // Steps the output depends on (a dropped softmax is not).
    let live = plan.live();
    // Recurrent layers loop over time: one copy of the cell (its ranges
    // widened to every time step's), the state it reads in arrays of its
    // own that start at zero.
    let (loops, widened) = crate::arch::recurrent::time_loops(plan);
    let plan = &widened;
    let time = TimeLoops::new(&loops, plan.steps.len());
    let src = |x: usize| match plan.inputs.iter().position(|&s| s == x) {
        Some(k) => ins[k].param.clone(),
        None => time.state_name(x).unwrap_or_else(|| buf(x)),
    };
    let mut loop_mark = 0;
    for (i, s) in plan.steps.iter().enumerate() {
        if (!live[i] && !time.in_cell(i)) || time.replaced(i) {
            continue;
        }
        let n: usize = s.shape.iter().product();
        let t = ctype(s.lo.min(0), s.hi.max(0))?;
        if s.op != StepOp::Input {
            let _ = writeln!(buffers, "    {t} {}[{}];", buf(i), n.max(1));
        }
        if let Some(r) = time.starting(i) {
            for &o in &r.state {
                let st = &plan.steps[r.state_input(o)];
                let (name, m) = (src(r.state_input(o)), st.shape.iter().product::<usize>());
                let _ = writeln!(buffers, "    {} {name}[{}];", ctype(st.lo.min(0), st.hi.max(0))?, m.max(1));
                let _ = writeln!(body, "    for (k = 0; k < {m}; ++k) {name}[k] = 0;");
            }
            let cell = r.cell();
            let _ = writeln!(
                body,
                "    /* steps {}..{}: one cell (steps {}..{}) over {} time steps, {} */\n    for (size_t ts = 0; ts < {}; ++ts) {{",
                r.starts[0],
                cell.end - 1,
                cell.start,
                cell.end - 1,
                r.time_steps(),
                if r.rows[0] == 0 { "first to last" } else { "last to first" },
                r.time_steps()
            );
            loop_mark = body.len();
            // The time step's row of the input projection.
            array(&mut consts, &format!("rt{i}"), &r.rows.iter().map(|&v| v as i128).collect::<Vec<_>>())?;
            let _ = writeln!(body, "    /* step {}: time step ts's row */", cell.start);
            let _ = writeln!(body, "    for (k = 0; k < {n}; ++k) {}[k] = {}[(size_t)rt{i}[ts] * {n} + k];", buf(cell.start), src(r.projection), n = plan.steps[cell.start].shape.iter().product::<usize>());
            continue;
        }
        let layer = s.layer.clone().unwrap_or_default();
        let _ = writeln!(body, "    /* step {i}{} */", if layer.is_empty() { String::new() } else { format!(": layer `{layer}`") });
        let x0 = s.inputs.first().map(|&x| src(x)).unwrap_or_default();
        let y = buf(i);
        match &s.op {
            StepOp::Input => {}
            _ if time.filled_by_loop(i) => {
                let _ = writeln!(body, "    /* (written by the loop over time above) */");
            }
            StepOp::Dense { rows, n_in, n_out, w, b } if reuse.get(i).is_some_and(|&r| r > 1) && matches!(dialect, Dialect::Hls(_)) => {
                let a = acc_type(plan, s, &[w, b])?;
                array(&mut consts, &format!("w{i}"), &fold_padded(w, reuse[i]))?;
                array(&mut consts, &format!("c{i}"), b)?;
                let Dialect::Hls(flavor) = dialect else { unreachable!("matched above") };
                let _ = writeln!(body, "{}", folded_dense(i, (*rows, *n_in, *n_out), folds[i], a, &FoldIn::Rows(&x0), &y, flavor));
            }
            StepOp::Dense { rows, n_in, n_out, w, b } => {
                let a = acc_type(plan, s, &[w, b])?;
                array(&mut consts, &format!("w{i}"), w)?;
                array(&mut consts, &format!("c{i}"), b)?;
                // Outputs accumulate side by side over the inputs: contiguous
                // weight rows, a loop compilers vectorize.
                let _ = writeln!(
                    body,
                    "    for (r = 0; r < {rows}; ++r) {{\n        {a} acc[{n_out}];\n        for (j = 0; j < {n_out}; ++j) acc[j] = ({a})c{i}[j];\n        for (k = 0; k < {n_in}; ++k) {{\n            {a} xk = ({a}){x0}[r * {n_in} + k];\n            for (j = 0; j < {n_out}; ++j) acc[j] += xk * ({a})w{i}[k * {n_out} + j];\n        }}\n        for (j = 0; j < {n_out}; ++j) {y}[r * {n_out} + j] = acc[j];\n    }}"
                );
            }
            StepOp::Conv { geo, w, b } if reuse.get(i).is_some_and(|&r| r > 1) && matches!(dialect, Dialect::Hls(_)) => {
                let a = acc_type(plan, s, &[w, b])?;
                array(&mut consts, &format!("w{i}"), &fold_padded(w, reuse[i]))?;
                array(&mut consts, &format!("c{i}"), b)?;
                let Dialect::Hls(flavor) = dialect else { unreachable!("matched above") };
                let shape = (geo.out_h * geo.out_w, geo.kh * geo.kw * geo.cin, geo.cout);
                let _ = writeln!(body, "{}", folded_dense(i, shape, folds[i], a, &FoldIn::Windows(geo, &x0), &y, flavor));
            }
            StepOp::Depthwise { geo, w, b, mult } if reuse.get(i).is_some_and(|&r| r > 1) && matches!(dialect, Dialect::Hls(_)) => {
                let a = acc_type(plan, s, &[w, b])?;
                array(&mut consts, &format!("w{i}"), &fold_padded(w, reuse[i]))?;
                array(&mut consts, &format!("c{i}"), b)?;
                let Dialect::Hls(flavor) = dialect else { unreachable!("matched above") };
                // A Dense of the window's taps to every output channel,
                // each product reading its own input channel (o / mult).
                let shape = (geo.out_h * geo.out_w, geo.kh * geo.kw, geo.cout);
                let _ = writeln!(body, "{}", folded_dense(i, shape, folds[i], a, &FoldIn::Depthwise(geo, &x0, *mult), &y, flavor));
            }
            StepOp::Conv { geo, w, b } | StepOp::Depthwise { geo, w, b, .. } => {
                let a = acc_type(plan, s, &[w, b])?;
                array(&mut consts, &format!("w{i}"), w)?;
                array(&mut consts, &format!("c{i}"), b)?;
                let inner = match &s.op {
                    StepOp::Depthwise { mult, .. } => format!(
                        "acc += ({a}){x0}[(iy * {} + ix) * {} + o / {mult}] * ({a})w{i}[(ky * {} + kx) * {} + o];",
                        geo.in_w,
                        geo.cin,
                        geo.kw,
                        geo.cout
                    ),
                    _ => format!(
                        "for (ci = 0; ci < {}; ++ci) acc += ({a}){x0}[(iy * {} + ix) * {} + ci] * ({a})w{i}[((ky * {} + kx) * {} + ci) * {} + o];",
                        geo.cin, geo.in_w, geo.cin, geo.kw, geo.cin, geo.cout
                    ),
                };
                let _ = writeln!(body, "{}", window_loop(geo, &y, &format!("{a} acc = ({a})c{i}[o];"), &inner, "acc"));
            }
            StepOp::ConvT { geo, w, b } => {
                let a = acc_type(plan, s, &[w, b])?;
                array(&mut consts, &format!("w{i}"), w)?;
                array(&mut consts, &format!("c{i}"), b)?;
                let _ = writeln!(
                    body,
                    "    {{\n        {a} acc[{n}];\n        for (o = 0; o < {n}; ++o) acc[o] = ({a})c{i}[o % {cout}];\n        for (iy = 0; iy < {ih}; ++iy) for (ix = 0; ix < {iw}; ++ix) for (ky = 0; ky < {kh}; ++ky) for (kx = 0; kx < {kw}; ++kx) {{\n            long oy = (long)(iy * {sh} + ky * {dh}) - {pt}, ox = (long)(ix * {sw} + kx * {dw}) - {pl};\n            if (oy < 0 || oy >= {oh} || ox < 0 || ox >= {ow}) continue;\n            for (o = 0; o < {cout}; ++o) for (ci = 0; ci < {cin}; ++ci)\n                acc[((size_t)oy * {ow} + (size_t)ox) * {cout} + o] += ({a}){x0}[(iy * {iw} + ix) * {cin} + ci] * ({a})w{i}[((ky * {kw} + kx) * {cout} + o) * {cin} + ci];\n        }}\n        for (o = 0; o < {n}; ++o) {y}[o] = acc[o];\n    }}",
                    cout = geo.cout,
                    cin = geo.cin,
                    ih = geo.in_h,
                    iw = geo.in_w,
                    kh = geo.kh,
                    kw = geo.kw,
                    sh = geo.sh,
                    sw = geo.sw,
                    dh = geo.dh,
                    dw = geo.dw,
                    pt = geo.pad_top,
                    pl = geo.pad_left,
                    oh = geo.out_h,
                    ow = geo.out_w
                );
            }
            StepOp::Affine { sub, mul, add } => {
                array(&mut consts, &format!("s{i}"), sub)?;
                array(&mut consts, &format!("m{i}"), mul)?;
                array(&mut consts, &format!("a{i}"), add)?;
                let x = &plan.steps[s.inputs[0]];
                // (x - sub) * mul can exceed the final range: size it on its own.
                let ms = mul.iter().map(|v| v.abs()).max().unwrap_or(0);
                let xs = x.lo.abs().max(x.hi.abs()) + sub.iter().map(|v| v.abs()).max().unwrap_or(0);
                let big = xs * ms + add.iter().map(|v| v.abs()).max().unwrap_or(0);
                let a = ctype(-big, big).map(|t| if t == "int64_t" || t == WIDE { t } else { "int32_t" })?;
                let c = mul.len().max(1);
                let _ = writeln!(body, "    for (k = 0; k < {n}; ++k) {y}[k] = (({a}){x0}[k] - ({a})s{i}[k % {c}]) * ({a})m{i}[k % {c}] + ({a})a{i}[k % {c}];");
            }
            StepOp::Act(a) => {
                let x = &plan.steps[s.inputs[0]];
                let line = act(g, a, i, x, s, &x0, &y, n, &mut consts, dialect).map_err(|e| match e {
                    Error::Model { path, layer: None, msg } => Error::Model { path, layer: s.layer.clone().or(Some(layer.clone())).filter(|l| !l.is_empty()), msg },
                    e => e,
                })?;
                let _ = writeln!(body, "{line}");
            }
            StepOp::Pool { geo, max, mult } => {
                let a = acc_type(plan, s, &[mult])?;
                if *max {
                    let _ = writeln!(body, "{}", window_loop(geo, &y, &format!("{a} acc = 0; int first = 1;"), &format!("{{ {a} v = {x0}[(iy * {} + ix) * {} + o]; if (first || v > acc) acc = v; first = 0; }}", geo.in_w, geo.cin), "acc"));
                } else {
                    array(&mut consts, &format!("p{i}"), mult)?;
                    let _ = writeln!(
                        body,
                        "{}",
                        window_loop(geo, &y, &format!("{a} acc = 0;"), &format!("acc += {x0}[(iy * {} + ix) * {} + o];", geo.in_w, geo.cin), &format!("acc * ({a})p{i}[oy * {} + ox]", geo.out_w))
                    );
                }
            }
            StepOp::GlobalPool { hw, c, max, mult, .. } => {
                let a = acc_type(plan, s, &[&[*mult]])?;
                let init = if *max { format!("{a} acc = {x0}[o];") } else { format!("{a} acc = 0;") };
                let step = if *max { format!("if ({x0}[k * {c} + o] > acc) acc = {x0}[k * {c} + o];") } else { format!("acc += {x0}[k * {c} + o];") };
                let fin = if *max { "acc".to_string() } else { format!("acc * ({a}){}", lit(*mult)) };
                let _ = writeln!(body, "    for (o = 0; o < {c}; ++o) {{ {init} for (k = 0; k < {hw}; ++k) {step} {y}[o] = {fin}; }}");
            }
            StepOp::Identity => {
                let _ = writeln!(body, "    for (k = 0; k < {n}; ++k) {y}[k] = {x0}[k];");
            }
            StepOp::ArgMax { n: m } => {
                // The first index of the largest element (numpy's argmax).
                let _ = writeln!(body, "    {y}[0] = 0;\n    for (k = 1; k < {m}; ++k) if ({x0}[k] > {x0}[{y}[0]]) {y}[0] = ({t})k;");
            }
            StepOp::ZeroPad { in_shape, pads } => {
                let c = *in_shape.last().unwrap_or(&1);
                let (ih, iw, (pt, _), (pl, pr)) = if in_shape.len() == 3 { (in_shape[0], in_shape[1], pads[0], pads[1]) } else { (1, in_shape[0], (0, 0), pads[0]) };
                let ow = iw + pl + pr;
                let _ = writeln!(
                    body,
                    "    for (k = 0; k < {n}; ++k) {y}[k] = 0;\n    for (iy = 0; iy < {ih}; ++iy) for (ix = 0; ix < {iw}; ++ix) for (o = 0; o < {c}; ++o) {y}[((iy + {pt}) * {ow} + ix + {pl}) * {c} + o] = {x0}[(iy * {iw} + ix) * {c} + o];"
                );
            }
            StepOp::Gather { idx } => {
                array(&mut consts, &format!("g{i}"), &idx.iter().map(|&j| j as i128).collect::<Vec<_>>())?;
                let _ = writeln!(body, "    for (k = 0; k < {n}; ++k) {y}[k] = {x0}[g{i}[k]];");
            }
            StepOp::Merge { kind, shifts } => {
                let a = acc_type(plan, s, &[])?;
                let term = |k: usize| {
                    let xn = src(s.inputs[k]);
                    if shifts[k] == 0 { format!("({a}){xn}[k]") } else { format!("({a}){xn}[k] * ({a}){}", lit(1i128 << shifts[k])) }
                };
                let terms: Vec<String> = (0..s.inputs.len()).map(term).collect();
                let e = match kind {
                    MergeKind::Add | MergeKind::Average(_) => terms.join(" + "),
                    MergeKind::Subtract => format!("{} - {}", terms[0], terms[1]),
                    MergeKind::Multiply => terms.join(" * "),
                    MergeKind::Maximum | MergeKind::Minimum => {
                        let op = if *kind == MergeKind::Maximum { ">" } else { "<" };
                        terms[1..].iter().fold(terms[0].clone(), |acc, t| format!("(({t}) {op} ({acc}) ? ({t}) : ({acc}))"))
                    }
                };
                let _ = writeln!(body, "    for (k = 0; k < {n}; ++k) {y}[k] = {e};");
            }
            StepOp::Exceptions { fixes } => {
                // Per channel, the input codes where QKeras's float32 batch
                // norm rounds to another output code (`--bn qkeras`).
                let c = fixes.len().max(1);
                let mut starts = vec![0i128];
                let (mut codes, mut outs) = (vec![], vec![]);
                for f in fixes {
                    codes.extend(f.iter().map(|p| p.0));
                    outs.extend(f.iter().map(|p| p.1));
                    starts.push(codes.len() as i128);
                }
                array(&mut consts, &format!("es{i}"), &starts)?;
                array(&mut consts, &format!("ex{i}"), &codes)?;
                array(&mut consts, &format!("ey{i}"), &outs)?;
                let xs = &plan.steps[s.inputs[0]];
                let (clo, chi) = (codes.iter().copied().min().unwrap_or(0), codes.iter().copied().max().unwrap_or(0));
                let ct = ctype(xs.lo.min(clo).min(0), xs.hi.max(chi).max(0))?;
                let x1 = src(s.inputs[1]);
                let _ = writeln!(
                    body,
                    "    for (k = 0; k < {n}; ++k) {{\n        size_t e;\n        {y}[k] = {x1}[k];\n        for (e = (size_t)es{i}[k % {c}]; e < (size_t)es{i}[k % {c} + 1]; ++e) if (({ct}){x0}[k] == ({ct})ex{i}[e]) {y}[k] = ({t})ey{i}[e];\n    }}"
                );
            }
            StepOp::Concat { axis, shifts } => {
                let outer: usize = plan.steps[s.inputs[0]].shape[..*axis].iter().product();
                let _ = writeln!(body, "    k = 0;\n    for (o = 0; o < {outer}; ++o) {{");
                for (q, &x) in s.inputs.iter().enumerate() {
                    let inner: usize = plan.steps[x].shape[*axis..].iter().product();
                    let xn = src(x);
                    // Widened in the result's type (the source's can overflow).
                    let m = if shifts[q] == 0 { String::new() } else { format!(" * {}", lit(1i128 << shifts[q])) };
                    let _ = writeln!(body, "        for (ci = 0; ci < {inner}; ++ci) {y}[k++] = ({t}){xn}[o * {inner} + ci]{m};");
                }
                let _ = writeln!(body, "    }}");
            }
        }
        if let Some(r) = time.ending(i) {
            // The state the next time step reads, and h's place in the
            // sequence the layer returns.
            let cell = r.cell();
            for &o in &r.state {
                let _ = writeln!(body, "    for (k = 0; k < {}; ++k) {}[k] = {}[k];", plan.steps[cell.start + o].shape.iter().product::<usize>(), src(r.state_input(o)), buf(cell.start + o));
            }
            if let Some(places) = &r.places {
                let h = cell.start + r.h;
                let m: usize = plan.steps[h].shape.iter().product();
                let ot = ctype(plan.steps[r.output].lo.min(0), plan.steps[r.output].hi.max(0))?;
                array(&mut consts, &format!("pl{}", r.starts[0]), &places.iter().map(|&v| v as i128).collect::<Vec<_>>())?;
                let _ = writeln!(body, "    for (k = 0; k < {m}; ++k) {}[(size_t)pl{}[ts] * {m} + k] = ({ot}){}[k];", buf(r.output), r.starts[0], buf(h));
            }
            // The cell's statements one level in, then the loop's end.
            let inner: String = body[loop_mark..].lines().map(|l| format!("    {l}\n")).collect();
            body.truncate(loop_mark);
            body.push_str(&inner);
            let _ = writeln!(body, "    }}");
        }
    }
    let o = *plan.outputs.first().ok_or_else(|| unsupported(g, "no output"))?;
    if plan.outputs.len() != 1 {
        return Err(unsupported(g, "several outputs: render a hardware_plan, which joins them (a qkhw bug)"));
    }
    let ost = &plan.steps[o];
    let out_n: usize = ost.shape.iter().product();
    let out_t = ctype(ost.lo.min(0), ost.hi.max(0))?;
    let out_copy = format!("    for (k = 0; k < {out_n}; ++k) out[k] = ({out_t}){}[k];", src(o));
    Ok(Body { name, consts, buffers, body, out_copy, ins, out_t })
}

/// The loops over time of a body ([`crate::arch::recurrent::time_loops`]):
/// which steps each loop replaces, where it starts and ends, and the
/// arrays its state lives in.
struct TimeLoops<'a> {
    loops: &'a [crate::arch::recurrent::Recurrence],
    /// Per step: the loop it belongs to (its time steps, its output).
    owner: Vec<Option<usize>>,
}

impl<'a> TimeLoops<'a> {
    fn new(loops: &'a [crate::arch::recurrent::Recurrence], steps: usize) -> Self {
        let mut owner = vec![None; steps];
        for (d, r) in loops.iter().enumerate() {
            for o in owner[r.starts[0]..r.cell().end].iter_mut() {
                *o = Some(d);
            }
            owner[r.output] = Some(d);
        }
        TimeLoops { loops, owner }
    }

    fn of(&self, i: usize) -> Option<&'a crate::arch::recurrent::Recurrence> {
        self.owner.get(i).copied().flatten().map(|d| &self.loops[d])
    }

    /// Step `i` is in a loop's cell (computed every time step).
    fn in_cell(&self, i: usize) -> bool {
        self.of(i).is_some_and(|r| r.cell().contains(&i))
    }

    /// Step `i` is a time step the cell replaces (all but the last).
    fn replaced(&self, i: usize) -> bool {
        self.of(i).is_some_and(|r| (r.starts[0]..r.cell().start).contains(&i))
    }

    /// The loop whose cell starts at step `i` (its row of the projection).
    fn starting(&self, i: usize) -> Option<&'a crate::arch::recurrent::Recurrence> {
        self.of(i).filter(|r| r.cell().start == i)
    }

    /// The loop whose cell ends at step `i`.
    fn ending(&self, i: usize) -> Option<&'a crate::arch::recurrent::Recurrence> {
        self.of(i).filter(|r| r.cell().end == i + 1)
    }

    /// Step `i` is a sequence the loop writes h into, time step by time step.
    fn filled_by_loop(&self, i: usize) -> bool {
        self.of(i).is_some_and(|r| r.places.is_some() && r.output == i)
    }

    /// The array holding the state a cell reads as step `x` (the previous
    /// time step's).
    fn state_name(&self, x: usize) -> Option<String> {
        self.loops.iter().enumerate().find_map(|(d, r)| r.state.iter().find(|&&o| r.state_input(o) == x).map(|o| format!("st{d}_{o}")))
    }
}

fn render_c(plan: &Plan, header: &str, sigmoid: crate::quant::InternalSigmoid, b: Body) -> Result<CModel> {
    let wide = b.is_wide();
    let Body { name, consts, buffers, body, out_copy, ins, out_t } = b;
    let ost = &plan.steps[plan.outputs[0]];
    let out_n: usize = ost.shape.iter().product();
    let params = InArg::params(&ins, false);
    let float_params = ins.iter().map(|x| format!("const float *{}", x.param)).collect::<Vec<_>>().join(", ");
    let h = Header {
        header,
        guard: &format!("QKHW_{}_H", name.to_uppercase()),
        name: &name,
        out_t,
        out_n,
        out_frac: ost.fmt.frac,
        out_fmt: ost.fmt.to_string(),
        sigmoid,
        parts: crate::backend::part_docs(plan),
        wide,
        ins: &ins,
        params: params.clone(),
        float_params: float_params.clone(),
    }
    .render()
    .map_err(Error::Template)?
        + "\n";
    let c = Source {
        header,
        name: &name,
        out_t,
        consts: &consts,
        buffers: &buffers,
        body: &body,
        out_copy: &out_copy,
        out_n,
        out_frac: ost.fmt.frac,
        wide,
        ins: &ins,
        params,
        float_params,
        qs: ins.iter().map(|x| format!("q{}", x.suffix)).collect::<Vec<_>>().join(", "),
    }
    .render()
    .map_err(Error::Template)?
        + "\n";
    Ok(CModel { name, header: h, source: c, ins, out_t })
}

/// A loop over the output positions and channels of a window op; `init`
/// starts the accumulator `acc`, `inner` runs for each tap inside the input
/// (`iy`, `ix`, `ky`, `kx`, `o` in scope), `fin` is the value stored.
/// A Dense step `i` of `rows × (n_in → n_out)` at reuse factor `reuse`,
/// as hls4ml's Resource strategy writes it: a reuse loop of R iterations
/// pipelined at II 1, each running an unrolled block of ceil(N/R)
/// multiply-adds on the weights `ir + R·im` (row-major `k·n_out + j`), so
/// a block partition of the weights by that factor gives each iteration
/// one word; the accumulators are partitioned. The same integer products
/// and sums as the unrolled loop, in another order: exact, as the
/// accumulator type holds every partial sum.
/// A folded layer's weights zero-padded to R·ceil(N/R), so that a block
/// partition by ceil(N/R) gives blocks of exactly R words: reuse iteration
/// `ir` then reads word `ir` of every block (one access per block), whatever
/// R is (hls4ml accepts only the R where N needs no padding).
fn fold_padded(w: &[i128], reuse: usize) -> Vec<i128> {
    let n = w.len();
    let r = reuse.clamp(1, n.max(1));
    let mut p = w.to_vec();
    p.resize(r * n.div_ceil(r), 0);
    p
}

/// Where a folded layer's rows of inputs come from.
enum FoldIn<'a> {
    /// A Dense: row `r` is `x[r·n_in ..]`.
    Rows(&'a str),
    /// A convolution: row `r` is output position `r`'s window (im2col),
    /// gathered into a local array first, zeros for the padding.
    Windows(&'a Geo, &'a str),
    /// A depthwise convolution (multiplier `mult`): the window gathered
    /// the same way; product `wi` (tap `wi / n_out`, output channel
    /// `wi % n_out`) reads input channel `(wi % n_out) / mult` of its tap.
    Depthwise(&'a Geo, &'a str, usize),
}

/// A folded layer in HLS: `reuse` iterations of an unrolled block of
/// ceil(N/R) multiplies per row; with `p` rows at once (a convolution's
/// output positions, [`crate::arch::folded::Fold::p_rows`]) each
/// iteration feeds the block's weights to `p` rows, each with its own
/// window and accumulators.
fn folded_dense(i: usize, (rows, n_in, n_out): (usize, usize, usize), (reuse, p): (usize, usize), a: &str, input: &FoldIn<'_>, y: &str, flavor: crate::backend::Flavor) -> String {
    use crate::backend::Flavor;
    let n = n_in * n_out;
    let r = reuse.clamp(1, n.max(1));
    let block = n.div_ceil(r);
    let p = p.clamp(1, rows.max(1));
    // Row `r` (one at a time), or row `r + q` of the `p` at once, and its
    // accumulators and window.
    let (row, qi) = if p > 1 { ("(r + q)".to_string(), "[q]") } else { ("r".to_string(), "") };
    let each_row = |body: String| {
        if p == 1 {
            return body;
        }
        let inner: Vec<String> = body.trim_end().lines().map(|l| format!("    {l}")).collect();
        let end = if body.ends_with('\n') { "\n" } else { "" };
        format!("        for (size_t q = 0; q < {p} && r + q < {rows}; ++q) {{\n{}\n        }}{end}", inner.join("\n"))
    };
    // `rewind` only where the reuse loop is the outermost loop.
    let rewind = if rows == 1 { " rewind" } else { "" };
    let partition = if p > 1 { format!("#pragma HLS ARRAY_PARTITION variable=acc{i} complete dim=0\n#pragma HLS ARRAY_PARTITION variable=win{i} complete dim=1\n") } else { format!("#pragma HLS ARRAY_PARTITION variable=acc{i} complete\n") };
    let (reshape, before_reuse, in_reuse, in_block) = match flavor {
        Flavor::Vitis => (
            format!("#pragma HLS ARRAY_RESHAPE variable=w{i} block factor={block}\n{partition}"),
            String::new(),
            format!("#pragma HLS PIPELINE II=1{rewind}\n"),
            "#pragma HLS UNROLL\n".to_string(),
        ),
        // Rows stay a loop (unrolling them would copy the multipliers).
        Flavor::Catapult => (if rows > 1 { "#pragma hls_unroll no\n".to_string() } else { String::new() }, "#pragma hls_pipeline_init_interval 1\n".to_string(), String::new(), String::new()),
    };
    let unroll_block = if flavor == Flavor::Catapult { "#pragma hls_unroll yes\n" } else { "" };
    let (gather, x) = match input {
        FoldIn::Rows(x0) => (String::new(), format!("{x0}[{row} * {n_in} + wi / {n_out}]")),
        FoldIn::Windows(g, x0) | FoldIn::Depthwise(g, x0, _) => (
            each_row(format!(
                "        for (k = 0; k < {len}; ++k) {{\n            long ty = {ty};\n            long tx = {tx};\n            win{i}{qi}[k] = (ty < 0 || ty >= {ih} || tx < 0 || tx >= {iw}) ? 0 : ({a}){x0}[((size_t)ty * {iw} + (size_t)tx) * {cin} + k % {cin}];\n        }}\n",
                ty = tap_at(&format!("({row} / {})", g.out_w), &format!("(k / ({} * {}))", g.kw, g.cin), g.sh, g.dh, g.pad_top),
                tx = tap_at(&format!("({row} % {})", g.out_w), &format!("(k / {} % {})", g.cin, g.kw), g.sw, g.dw, g.pad_left),
                cin = g.cin,
                ih = g.in_h,
                iw = g.in_w,
                len = g.kh * g.kw * g.cin,
            )),
            match input {
                FoldIn::Depthwise(g, _, mult) => format!("win{i}{qi}[(wi / {n_out}) * {} + (wi % {n_out}) / {mult}]", g.cin),
                _ => format!("win{i}{qi}[wi / {n_out}]"),
            },
        ),
    };
    let rows_dim = if p > 1 { format!("[{p}]") } else { String::new() };
    let win = match input {
        FoldIn::Windows(g, _) | FoldIn::Depthwise(g, _, _) => format!("    {a} win{i}{rows_dim}[{}];\n", g.kh * g.kw * g.cin),
        FoldIn::Rows(_) => String::new(),
    };
    let at_once = if p > 1 { format!(", {p} rows (output positions) at once: {} multipliers", block * p) } else { String::new() };
    let accumulate = format!("if (wi < {n}) acc{i}{qi}[wi % {n_out}] += ({a}){x} * ({a})w{i}[wi];");
    let accumulate = if p > 1 { format!("{unroll_block}                for (size_t q = 0; q < {p}; ++q) if (r + q < {rows}) {accumulate}") } else { format!("                {accumulate}") };
    let lines = [
        format!("    /* reuse factor {r}: {block} multipliers, each used up to {r} times per sample (hls4ml's Resource strategy){at_once} */"),
        format!("{win}    {a} acc{i}{rows_dim}[{n_out}];"),
        format!("{reshape}    for (r = 0; r < {rows}; {}) {{", if p > 1 { format!("r += {p}") } else { "++r".to_string() }),
        format!("{gather}{}", each_row(format!("        for (j = 0; j < {n_out}; ++j) acc{i}{qi}[j] = ({a})c{i}[j];"))),
        format!("{before_reuse}        for (size_t ir = 0; ir < {r}; ++ir) {{"),
        format!("{in_reuse}{unroll_block}            for (size_t im = 0; im < {block}; ++im) {{"),
        format!("{in_block}                size_t wi = ir + {r} * im;"),
        accumulate,
        "            }".to_string(),
        "        }".to_string(),
        each_row(format!("        for (j = 0; j < {n_out}; ++j) {y}[{row} * {n_out} + j] = acc{i}{qi}[j];")),
        "    }".to_string(),
    ];
    lines.join("\n")
}

fn window_loop(g: &Geo, y: &str, init: &str, inner: &str, fin: &str) -> String {
    format!(
        "    for (oy = 0; oy < {oh}; ++oy) for (ox = 0; ox < {ow}; ++ox) for (o = 0; o < {cout}; ++o) {{\n        {init}\n        for (ky = 0; ky < {kh}; ++ky) {{\n            long ty = {ty};\n            if (ty < 0 || ty >= {ih}) continue;\n            iy = (size_t)ty;\n            for (kx = 0; kx < {kw}; ++kx) {{\n                long tx = {tx};\n                if (tx < 0 || tx >= {iw}) continue;\n                ix = (size_t)tx;\n                {inner}\n            }}\n        }}\n        {y}[(oy * {ow} + ox) * {cout} + o] = {fin};\n    }}",
        oh = g.out_h,
        ow = g.out_w,
        cout = g.cout,
        kh = g.kh,
        kw = g.kw,
        ty = tap_at("oy", "ky", g.sh, g.dh, g.pad_top),
        tx = tap_at("ox", "kx", g.sw, g.dw, g.pad_left),
        ih = g.in_h,
        iw = g.in_w,
    )
}

/// The input row (or column) that tap `k` of the window at output
/// position `pos` reads, as a C expression: below 0 or past the edge in
/// the padding. One formula for the unrolled loops and the folded
/// gathers.
fn tap_at(pos: &str, k: &str, stride: usize, dilation: usize, pad: usize) -> String {
    format!("(long)({pos} * {stride} + {k} * {dilation}) - {pad}")
}

/// One activation requantizer over `n` elements.
#[allow(clippy::too_many_arguments)]
fn act(g: &Graph, a: &Act, i: usize, x: &Step, s: &Step, x0: &str, y: &str, n: usize, consts: &mut String, dialect: Dialect) -> Result<String> {
    let shift = match a {
        Act::Grid { out_frac, .. } => x.fmt.frac - out_frac,
        Act::Requant { out, .. } => x.fmt.frac - out.frac,
        _ => 0,
    };
    if shift > 126 {
        return Err(unsupported(g, &format!("a requantizer dropping {shift} fraction bits (more than 126)")));
    }
    // The arithmetic type: the input's, or two words when the input or the
    // widened value needs them.
    let widened = if shift < 0 { x.lo.abs().max(x.hi.abs()).checked_shl((-shift) as u32).unwrap_or(i128::MAX) } else { 0 };
    let wide = ctype(x.lo.min(0), x.hi.max(0))? == WIDE || ctype(-widened, widened)? == WIDE || shift > 62;
    Ok(match a {
        Act::Relu => format!("    for (k = 0; k < {n}; ++k) {y}[k] = {x0}[k] < 0 ? 0 : {x0}[k];"),
        Act::Grid { out_frac, min, max } if x.fmt.frac > *out_frac && let Dialect::Hls(f) = dialect => {
            crate::backend::hls::requant(f, x.fmt, s.fmt, x.fmt.frac - out_frac, *min, *max, Rounding::TiesEven, true, x0, y, n)
        }
        Act::Requant { out, rounding, overflow } if x.fmt.frac > out.frac && let Dialect::Hls(f) = dialect => {
            crate::backend::hls::requant(f, x.fmt, *out, x.fmt.frac - out.frac, out.min_code(), out.max_code(), *rounding, *overflow == Overflow::Saturate, x0, y, n)
        }
        Act::Grid { out_frac, min, max } => requant_line(x.fmt.frac - out_frac, *min, *max, Rounding::TiesEven, true, x0, y, n, wide),
        Act::Requant { out, rounding, overflow } => {
            requant_line(x.fmt.frac - out.frac, out.min_code(), out.max_code(), *rounding, *overflow == Overflow::Saturate, x0, y, n, wide)
        }
        Act::Generic { .. } | Act::Float { .. } | Act::Mean { .. } => {
            let segs = crate::passes::segments::segments(a, x.fmt.frac, x.lo, x.hi).map_err(|e| unsupported(g, &e))?;
            let starts: Vec<i128> = segs.iter().map(|s| s.0).collect();
            let vals: Vec<i128> = segs.iter().map(|s| s.1).collect();
            array(consts, &format!("t{i}"), &starts)?;
            array(consts, &format!("v{i}"), &vals)?;
            format!(
                "    for (k = 0; k < {n}; ++k) {{\n        size_t lo = 0, hi = {m};\n        while (hi - lo > 1) {{ size_t mid = (lo + hi) / 2; if (({t}){x0}[k] >= ({t})t{i}[mid]) lo = mid; else hi = mid; }}\n        {y}[k] = v{i}[lo];\n    }}",
                m = segs.len(),
                t = if wide || starts.iter().any(|&v| i64::try_from(v).is_err()) { WIDE } else { "int64_t" }
            )
        }
    })
}

/// Round `shift` fraction bits away (or add `-shift`), then fit, in
/// `int64_t` or, when `wide`, in two words.
#[allow(clippy::too_many_arguments)]
fn requant_line(shift: i32, min: i128, max: i128, r: Rounding, sat: bool, x0: &str, y: &str, n: usize, wide: bool) -> String {
    let mode = r.hw_mode();
    let (t, w, lim) = if wide { (WIDE, "_w", 126) } else { ("int64_t", "", 62) };
    let fit = if sat { format!("qkhw_clamp{w}(v, {}, {})", lit(min), lit(max)) } else { format!("qkhw_wrap{w}(v, {}, {})", lit(min), lit(max)) };
    // A wide result into a narrower buffer converts explicitly (an HLS
    // ac_int has no implicit conversion to a C integer).
    let narrow_out = wide && i64::try_from(min).is_ok() && i64::try_from(max).is_ok();
    let fit = if narrow_out { format!("qkhw_narrow({fit})") } else { fit };
    if !sat && shift <= 0 {
        let m = 1i128 << (-shift).min(lim);
        return format!("    for (k = 0; k < {n}; ++k) {{ {t} v = ({t}){x0}[k] * {}; {y}[k] = {fit}; }}", lit(m));
    }
    if shift == 0 {
        format!("    for (k = 0; k < {n}; ++k) {{ {t} v = ({t}){x0}[k]; {y}[k] = {fit}; }}")
    } else if shift > 0 {
        format!("    for (k = 0; k < {n}; ++k) {{ {t} v = qkhw_round_shift{w}(({t}){x0}[k], {shift}, {mode}); {y}[k] = {fit}; }}")
    } else {
        // Widening: clamp first (exact), then multiply (no shift of a negative value).
        let m = 1i128 << (-shift).min(lim);
        format!(
            "    for (k = 0; k < {n}; ++k) {{ {t} v = qkhw_clamp{w}(({t}){x0}[k], {}, {}) * {}; {y}[k] = {fit}; }}",
            lit((min / m) - 1),
            lit((max / m) + 1),
            lit(m)
        )
    }
}

impl CModel {
    /// `<name>.h` and `<name>.c`: (file name, contents).
    pub fn files(&self) -> Vec<(String, String)> {
        vec![(format!("{}.h", self.name), self.header.clone()), (format!("{}.c", self.name), self.source.clone())]
    }
}

/// Write `<name>.h` and `<name>.c` into `dir` (a scratch folder of `verify`).
pub fn write(m: &CModel, dir: &std::path::Path) -> Result<()> {
    let mut out = crate::staging::Staged::new();
    for (f, t) in m.files() {
        out.write(&dir.join(f), t)?;
    }
    out.commit()
}

/// The C model of `g` for its hardware input format (as `gen` uses).
pub fn from_graph(
    g: &Graph,
    input_format: Option<crate::fxp::InputFormat>,
    config: &crate::passes::config::Config,
    header: &str,
    sigmoid: crate::quant::InternalSigmoid,
) -> Result<(CModel, Plan, Vec<String>)> {
    let (plan, notes) = crate::golden::hardware_plan(g, input_format, config)?;
    let m = generate(g, &plan, header, sigmoid)?;
    Ok((m, plan, notes))
}
