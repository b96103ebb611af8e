//! The streaming architecture (`--io stream`) in HLS C++: the stages of
//! [`crate::arch::stream::stream_plan`] as a dataflow design of
//! `hls::stream` (Vitis) or `ac_channel` (Catapult) functions, one beat
//! (a pixel's channels, a window, a sample's vector) per stream word.
//!
//! - A `Beat` stage runs its sub-plan on every beat: the C body of the
//!   sub-plan (the same integer arithmetic as every other target), in a
//!   namespace of its own, inside a loop pipelined at II 1; its Dense and
//!   convolution layers fold by the reuse factor as the Verilog stage's do
//!   (hls4ml's Resource loops).
//! - A `Window` stage is a line buffer of `(kh − 1)·dh + 1` rows: it emits
//!   output position `p`'s window (zeros for padding) as soon as the last
//!   input pixel the window reads has arrived and every earlier window is
//!   out, so a window's rows are still in the buffer (every earlier window
//!   ends on the same or an earlier row).
//! - `Collect` gathers a sample's beats into one, `Accumulate` sums (or
//!   takes the maximum of) each channel over its rows and columns.
//! - A stream read by several stages is copied by a fork stage; the
//!   join's input FIFOs get the depths the Verilog computes
//!   (`#pragma HLS STREAM depth=`, as the Verilog builds them before its
//!   timing simulation sizes them).
//!
//! The top `<model>_dataflow` takes one sample per call (`#pragma HLS
//! DATAFLOW`), one stream per input; `<model>_stream_run` feeds it an array and collects the
//! output, for the C-simulation testbench, which checks it against the
//! array top and the golden model.

use std::fmt::Write;

use askama::Template;

use crate::arch::stream::{Src, Stage, stream_plan};
use crate::backend::c::{Dialect, body, ctype};
use crate::backend::hls::Flavor;
use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::plan::Plan;

/// One stage's beat function: its sub-plan's C body (the same template as
/// the array top's) in a namespace of its own.
#[derive(Template)]
#[template(path = "hls/beat.cpp", escape = "none")]
struct BeatTemplate<'a> {
    ns: String,
    consts: &'a str,
    params: String,
    out_t: &'a str,
    out_n: usize,
    buffers: &'a str,
    body: &'a str,
    copy: &'a str,
    wide: bool,
}

/// The dataflow design: (declarations for the header, definitions for the
/// source). `ins` / `out_t`: the array top's inputs (one stream and one
/// array each) and output element type.
/// The third value: whether a stage holds values wider than 64 bits.
pub fn dataflow(g: &Graph, plan: &Plan, flavor: Flavor, name: &str, ins: &[crate::backend::c::InArg], out_t: &str, folds: crate::backend::hls::StreamFolds<'_>) -> Result<(String, String, bool)> {
    let sp = stream_plan(plan)?;
    let catapult = flavor == Flavor::Catapult;
    let channel = if catapult { "ac_channel" } else { "hls::stream" };
    let pipeline = if catapult { "#pragma hls_pipeline_init_interval 1\n" } else { "" };
    let pipeline_in = if catapult { "" } else { "#pragma HLS PIPELINE II=1\n" };
    let mut src = String::new();
    let mut wide = false;
    // Element type and elements per beat of every stream.
    if ins.len() != sp.inputs.len() {
        return Err(Error::Internal(format!("HLS --io stream: {} array inputs, {} streamed", ins.len(), sp.inputs.len())));
    }
    let beat_t = |s: Src| match s {
        Src::Input(0) if sp.inputs.len() == 1 => format!("{name}_beat_in_t"),
        Src::Input(i) => format!("{name}_beat_in{i}_t"),
        Src::Node(k) => format!("{name}_beat{k}_t"),
    };
    let mut types: Vec<(Src, &'static str, usize)> = vec![];
    for (i, (x, si)) in ins.iter().zip(&sp.inputs).enumerate() {
        types.push((Src::Input(i), elem_type(x.t), si.elems));
        let _ = writeln!(src, "struct {} {{ {} v[{}]; }};", beat_t(Src::Input(i)), elem_type(x.t), si.elems);
    }
    for (k, node) in sp.nodes.iter().enumerate() {
        let input_of = |p: usize| types.iter().find(|t| t.0 == node.inputs[p]).copied().ok_or_else(|| Error::Internal(format!("stream stage {k} reads a stream not yet made")));
        let (t, n) = match &node.stage {
            Stage::Beat { plan: sub, .. } => {
                let ost = &sub.steps[sub.outputs[0]];
                (ctype(ost.lo.min(0), ost.hi.max(0))?, ost.shape.iter().product())
            }
            Stage::Window { geo, .. } => (input_of(0)?.1, geo.kh * geo.kw * geo.cin),
            Stage::Collect { beats, elems, .. } => (input_of(0)?.1, beats * elems),
            Stage::Repeat { c, .. } | Stage::Dilate { c, .. } => (input_of(0)?.1, *c),
            Stage::Split { elems, .. } => (input_of(0)?.1, *elems),
            Stage::PerPosition { c, lo, hi, .. } => (ctype(*lo, *hi)?, *c),
            Stage::Accumulate { c, lo, hi, rows, cols, max, .. } => {
                let (lo, hi) = Stage::accumulated(*lo, *hi, (rows.1 - rows.0 + 1) * (cols.1 - cols.0 + 1), *max);
                (ctype(lo, hi)?, *c)
            }
        };
        types.push((Src::Node(k), t, n));
        let _ = writeln!(src, "struct {} {{ {t} v[{n}]; }};", beat_t(Src::Node(k)));
    }
    let ty = |s: Src| types.iter().find(|t| t.0 == s).map(|t| (t.1, t.2)).unwrap_or(("int32_t", 0));
    // The streams: what each producer writes, what each reader (k, p)
    // reads. A source with one consumer is one stream; with several, the
    // producer writes `<s>_all` and a fork copies each beat to one stream
    // per consumer. The model output is the `out` parameter.
    let base = |s: Src| match s {
        Src::Input(0) if sp.inputs.len() == 1 => "s_in".to_string(),
        Src::Input(i) => format!("s_in{i}"),
        Src::Node(j) => format!("s{j}"),
    };
    // The top's input parameters.
    let in_param = |i: usize| if sp.inputs.len() == 1 { "in".to_string() } else { format!("in{i}") };
    let mut stages = String::new();
    let mut calls = String::new();
    let mut decls = String::new();
    let mut writes_to: std::collections::HashMap<Src, String> = Default::default();
    let mut reads_from: std::collections::HashMap<(usize, usize), String> = Default::default();
    let mut fork_calls: std::collections::HashMap<Src, String> = Default::default();
    // Depths of the join inputs (the Verilog's FIFOs).
    let mut depth: std::collections::HashMap<(usize, usize), usize> = Default::default();
    for (k, node) in sp.nodes.iter().enumerate() {
        if node.inputs.len() > 1 {
            let (_, d) = crate::arch::stream_fifos::fifo_depths(&sp, k, false);
            for (p, d) in d.into_iter().enumerate() {
                depth.insert((k, p), d);
            }
        }
    }
    let declare = |decls: &mut String, name: &str, s: Src, d: Option<usize>| {
        let _ = writeln!(decls, "    {channel}<{}> {name};", beat_t(s));
        // 0: no FIFO on that input (the tool's default depth).
        if let Some(d) = d.filter(|&d| d > 0 && !catapult) {
            let _ = writeln!(decls, "#pragma HLS STREAM variable={name} depth={d}");
        }
    };
    let mut srcs: Vec<Src> = (0..sp.inputs.len()).map(Src::Input).collect();
    srcs.extend((0..sp.nodes.len()).map(Src::Node));
    for &s in &srcs {
        let readers = sp.readers(s);
        let is_out = s == sp.output;
        let consumers = readers.len() + usize::from(is_out);
        let produced = match s {
            Src::Input(i) => in_param(i),
            _ if consumers == 1 && is_out => "out".to_string(),
            _ if consumers == 1 => {
                let n = base(s);
                declare(&mut decls, &n, s, depth.get(&readers[0]).copied());
                n
            }
            _ => {
                let n = format!("{}_all", base(s));
                declare(&mut decls, &n, s, None);
                n
            }
        };
        writes_to.insert(s, produced.clone());
        if consumers == 1 {
            if let Some(&r) = readers.first() {
                reads_from.insert(r, produced);
            }
            continue;
        }
        // Fork: every beat to each reader (and the output).
        let mut outs = vec![];
        for &(k, p) in &readers {
            let n = format!("{}_to{k}_{p}", base(s));
            declare(&mut decls, &n, s, depth.get(&(k, p)).copied());
            reads_from.insert((k, p), n.clone());
            outs.push(n);
        }
        if is_out {
            outs.push("out".into());
        }
        let fname = format!("fork_{}", base(s));
        let params: Vec<String> = (0..outs.len()).map(|q| format!("{channel}<{}> &o{q}", beat_t(s))).collect();
        let copies: String = (0..outs.len()).map(|q| format!(" o{q}.write(b);")).collect();
        let _ = writeln!(
            stages,
            "static void {fname}({channel}<{bt}> &i, {}) {{\n{pipeline}    for (size_t t = 0; t < {beats}; ++t) {{\n{pipeline_in}        {bt} b = i.read();{copies}\n    }}\n}}",
            params.join(", "),
            bt = beat_t(s),
            beats = sp.beats(s),
        );
        fork_calls.insert(s, format!("    {fname}({produced}, {});\n", outs.join(", ")));
    }
    // C simulation runs the stages in order: a fork right after its producer.
    for i in 0..sp.inputs.len() {
        calls.push_str(fork_calls.get(&Src::Input(i)).map_or("", String::as_str));
    }
    for (k, node) in sp.nodes.iter().enumerate() {
        let out_bt = beat_t(Src::Node(k));
        let (_, on) = ty(Src::Node(k));
        let ins: Vec<String> = node.inputs.iter().enumerate().map(|(p, &s)| format!("{channel}<{}> &i{p}", beat_t(s))).collect();
        let sig = format!("static void stage{k}({}, {channel}<{out_bt}> &o)", ins.join(", "));
        let _ = writeln!(stages, "// stage {k}: {}", node.stage.name());
        match &node.stage {
            Stage::Beat { plan: sub, beats, .. } => {
                // Folded as the Verilog's stage (hls4ml's Resource loops).
                let reuse = crate::backend::hls::folds(sub, &crate::arch::schedule::schedule(sub, folds.reuse, folds.config));
                // Not pipelined around folded layers: that would unroll
                // their reuse loops (each pipelined at II 1 itself).
                let (stage_pipe, stage_pipe_in) = match (reuse.iter().any(|&(r, _)| r > 1), catapult) {
                    (false, true) => ("#pragma hls_pipeline_init_interval 1\n".to_string(), String::new()),
                    (false, false) => (String::new(), "#pragma HLS PIPELINE II=1\n".to_string()),
                    _ => (String::new(), String::new()),
                };
                let b = body(g, sub, Dialect::Hls(flavor), &reuse)?;
                wide |= b.is_wide();
                let code = if catapult { crate::backend::hls::unroll_pragmas(&b.body) } else { b.body.clone() };
                let params = crate::backend::c::InArg::params(&b.ins, true);
                let beat = BeatTemplate {
                    ns: format!("{name}_s{k}"),
                    consts: &b.consts,
                    params,
                    out_t: b.out_t,
                    out_n: on,
                    buffers: &b.buffers,
                    body: &code,
                    copy: &b.out_copy,
                    wide: b.is_wide(),
                }
                .render()
                .map_err(Error::Template)?;
                let _ = writeln!(stages, "{beat}");
                let mut body_s = String::new();
                let mut args = vec![];
                for (p, x) in b.ins.iter().enumerate() {
                    let _ = writeln!(body_s, "        {ib} a{p} = i{p}.read();\n        {t} x{p}[{n}];\n        for (size_t e = 0; e < {n}; ++e) x{p}[e] = ({t})a{p}.v[e];", ib = beat_t(node.inputs[p]), t = x.t, n = x.n);
                    args.push(format!("x{p}"));
                }
                let _ = writeln!(
                    stages,
                    "{sig} {{\n{stage_pipe}    for (size_t t = 0; t < {beats}; ++t) {{\n{stage_pipe_in}{body_s}        {ot} y[{on}];\n        {name}_s{k}::beat({}, y);\n        {out_bt} w;\n        for (size_t e = 0; e < {on}; ++e) w.v[e] = y[e];\n        o.write(w);\n    }}\n}}",
                    args.join(", "),
                    ot = b.out_t,
                );
            }
            Stage::Window { geo: gm, pad, .. } => {
                let rows = (gm.kh - 1) * gm.dh + 1;
                let (it, _) = ty(node.inputs[0]);
                let positions = gm.out_h * gm.out_w;
                // The last input pixel each window reads (raster index + 1; 0: none).
                let needs = sp.needs(k);
                let table: Vec<String> = needs.iter().map(|v| v.to_string()).collect();
                let _ = writeln!(
                    stages,
                    "static const uint32_t {name}_need{k}[{positions}] = {{{}}};\n{sig} {{\n    static {it} lb[{rows}][{row}];\n    size_t p = 0;\n    for (size_t y = 0; y < {ih}; ++y) {{\n        for (size_t x = 0; x < {iw}; ++x) {{\n{pipeline_in}            {ib} px = i0.read();\n            for (size_t c = 0; c < {cin}; ++c) lb[y % {rows}][x * {cin} + c] = px.v[c];\n            size_t seen = y * {iw} + x + 1;\n            while (p < {positions} && {name}_need{k}[p] <= seen) {{\n                size_t oy = p / {ow}, ox = p % {ow};\n                {out_bt} w;\n                for (size_t ky = 0; ky < {kh}; ++ky) {{\n                    long ty = (long)(oy * {sh} + ky * {dh}) - {pt};\n                    for (size_t kx = 0; kx < {kw}; ++kx) {{\n                        long tx = (long)(ox * {sw} + kx * {dw}) - {pl};\n                        int inside = ty >= 0 && ty < {ih} && tx >= 0 && tx < {iw};\n                        for (size_t c = 0; c < {cin}; ++c) w.v[(ky * {kw} + kx) * {cin} + c] = inside ? lb[(size_t)ty % {rows}][(size_t)tx * {cin} + c] : ({it}){pad};\n                    }}\n                }}\n                o.write(w);\n                ++p;\n            }}\n        }}\n    }}\n}}",
                    table.join(", "),
                    row = gm.in_w * gm.cin,
                    ib = beat_t(node.inputs[0]),
                    ih = gm.in_h,
                    iw = gm.in_w,
                    cin = gm.cin,
                    ow = gm.out_w,
                    kh = gm.kh,
                    kw = gm.kw,
                    sh = gm.sh,
                    sw = gm.sw,
                    dh = gm.dh,
                    dw = gm.dw,
                    pt = gm.pad_top,
                    pl = gm.pad_left,
                );
            }
            Stage::Repeat { in_h, in_w, c, uh, uw, .. } => {
                // The first repetition of a row as it arrives, the others
                // from the row kept.
                let _ = writeln!(
                    stages,
                    "{sig} {{\n    static {out_bt} row[{in_w}];\n    for (size_t y = 0; y < {in_h}; ++y) {{\n        for (size_t x = 0; x < {in_w}; ++x) {{\n{pipeline_in}            {ib} b = i0.read();\n            {out_bt} w;\n            for (size_t e = 0; e < {c}; ++e) w.v[e] = b.v[e];\n            row[x] = w;\n            for (size_t r = 0; r < {uw}; ++r) o.write(w);\n        }}\n        for (size_t ry = 1; ry < {uh}; ++ry) {{\n            for (size_t x = 0; x < {in_w}; ++x) {{\n{pipeline_in}                for (size_t r = 0; r < {uw}; ++r) o.write(row[x]);\n            }}\n        }}\n    }}\n}}",
                    ib = beat_t(node.inputs[0]),
                );
            }
            Stage::Split { beats, elems, .. } => {
                let _ = writeln!(
                    stages,
                    "{sig} {{\n    {ib} b = i0.read();\n    for (size_t t = 0; t < {beats}; ++t) {{\n{pipeline_in}        {out_bt} w;\n        for (size_t e = 0; e < {elems}; ++e) w.v[e] = b.v[t * {elems} + e];\n        o.write(w);\n    }}\n}}",
                    ib = beat_t(node.inputs[0]),
                );
            }
            Stage::Dilate { in_h, in_w, c, sh, sw, .. } => {
                let _ = writeln!(
                    stages,
                    "{sig} {{\n    for (size_t y = 0; y < {zh}; ++y) {{\n        for (size_t x = 0; x < {zw}; ++x) {{\n{pipeline_in}            {out_bt} w;\n            if (y % {sh} == 0 && x % {sw} == 0) {{\n                {ib} b = i0.read();\n                for (size_t e = 0; e < {c}; ++e) w.v[e] = b.v[e];\n            }} else {{\n                for (size_t e = 0; e < {c}; ++e) w.v[e] = 0;\n            }}\n            o.write(w);\n        }}\n    }}\n}}",
                    zh = (in_h - 1) * sh + 1,
                    zw = (in_w - 1) * sw + 1,
                    ib = beat_t(node.inputs[0]),
                );
            }
            Stage::PerPosition { values, c, .. } => {
                let table: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                let (ft, _) = ty(Src::Node(k));
                let _ = writeln!(
                    stages,
                    "static const {ft} {name}_factor{k}[{n}] = {{{}}};\n{sig} {{\n    for (size_t t = 0; t < {n}; ++t) {{\n{pipeline_in}        (void)i0.read();\n        {out_bt} w;\n        for (size_t e = 0; e < {c}; ++e) w.v[e] = {name}_factor{k}[t];\n        o.write(w);\n    }}\n}}",
                    table.join(", "),
                    n = values.len(),
                );
            }
            Stage::Collect { beats, elems, .. } => {
                let _ = writeln!(
                    stages,
                    "{sig} {{\n    {out_bt} w;\n    for (size_t t = 0; t < {beats}; ++t) {{\n{pipeline_in}        {ib} b = i0.read();\n        for (size_t e = 0; e < {elems}; ++e) w.v[t * {elems} + e] = b.v[e];\n    }}\n    o.write(w);\n}}",
                    ib = beat_t(node.inputs[0]),
                );
            }
            Stage::Accumulate { in_h, in_w, c, rows, cols, max, .. } => {
                let (at, _) = ty(Src::Node(k));
                let step = if *max { format!("if (first || ({at})b.v[e] > w.v[e]) w.v[e] = ({at})b.v[e];") } else { format!("w.v[e] += ({at})b.v[e];") };
                let _ = writeln!(
                    stages,
                    "{sig} {{\n    {out_bt} w;\n    for (size_t e = 0; e < {c}; ++e) w.v[e] = 0;\n    int first = 1;\n    for (size_t y = 0; y < {in_h}; ++y) {{\n        for (size_t x = 0; x < {in_w}; ++x) {{\n{pipeline_in}            {ib} b = i0.read();\n            if (y < {r0} || y > {r1} || x < {c0} || x > {c1}) continue;\n            for (size_t e = 0; e < {c}; ++e) {{ {step} }}\n            first = 0;\n        }}\n    }}\n    o.write(w);\n}}",
                    ib = beat_t(node.inputs[0]),
                    r0 = rows.0,
                    r1 = rows.1,
                    c0 = cols.0,
                    c1 = cols.1,
                );
            }
        }
        let reads: Vec<String> = (0..node.inputs.len()).map(|p| reads_from.get(&(k, p)).cloned().unwrap_or_default()).collect();
        let _ = writeln!(calls, "    stage{k}({}, {});", reads.join(", "), writes_to[&Src::Node(k)]);
        calls.push_str(fork_calls.get(&Src::Node(k)).map_or("", String::as_str));
    }
    let out_bt = beat_t(sp.output);
    let out_elems = ty(sp.output).1;
    let in_chans: Vec<String> = (0..sp.inputs.len()).map(|i| format!("{channel}<{}> &{}", beat_t(Src::Input(i)), in_param(i))).collect();
    let top_sig = format!("void {name}_dataflow({}, {channel}<{out_bt}> &out)", in_chans.join(", "));
    let in_arrays: Vec<String> = ins.iter().zip(&sp.inputs).map(|(x, si)| format!("const {} {}[{}]", x.t, x.param, si.beats * si.elems)).collect();
    let beats_text: Vec<String> = sp.inputs.iter().map(|si| format!("{} input beats of {} codes", si.beats, si.elems)).collect();
    let header = format!(
        "// The streaming design (--io stream): one sample per call, {}, {out_beats} output beats of {out_elems}.\n{src}\n{top_sig};\n// C simulation: one sample through {name}_dataflow, arrays in and out.\nvoid {name}_stream_run({}, {out_t} out[{out_n}]);\n",
        beats_text.join(" and "),
        in_arrays.join(", "),
        out_beats = sp.out_beats,
        out_n = sp.out_beats * out_elems,
    );
    // One top per Catapult design (the array top); this is a block of it.
    let top_pragmas = if catapult { "#pragma hls_design\n" } else { "" };
    let df = if catapult { "" } else { "#pragma HLS DATAFLOW\n" };
    let mut feed = String::new();
    let mut chans = vec![];
    for (i, (x, si)) in ins.iter().zip(&sp.inputs).enumerate() {
        let bin = beat_t(Src::Input(i));
        let _ = write!(
            feed,
            "    {channel}<{bin}> si{i};\n    for (size_t t = 0; t < {beats}; ++t) {{\n        {bin} w;\n        for (size_t e = 0; e < {e}; ++e) w.v[e] = {p}[t * {e} + e];\n        si{i}.write(w);\n    }}\n",
            beats = si.beats,
            e = si.elems,
            p = x.param,
        );
        chans.push(format!("si{i}"));
    }
    let run = format!(
        "void {name}_stream_run({}, {out_t} out[{out_n}]) {{\n{feed}    {channel}<{out_bt}> so;\n    {name}_dataflow({}, so);\n    for (size_t t = 0; t < {out_beats}; ++t) {{\n        {out_bt} w = so.read();\n        for (size_t e = 0; e < {out_elems}; ++e) out[t * {out_elems} + e] = ({out_t})w.v[e];\n    }}\n}}",
        in_arrays.join(", "),
        chans.join(", "),
        out_n = sp.out_beats * out_elems,
        out_beats = sp.out_beats,
    );
    let source = format!("{stages}\n{top_pragmas}{top_sig} {{\n{df}{decls}{calls}}}\n\n{run}\n");
    Ok((header, source, wide))
}

/// The element type of a stream of `t` codes (the array top's type).
fn elem_type(t: &str) -> &'static str {
    match t {
        "int8_t" => "int8_t",
        "int16_t" => "int16_t",
        "int32_t" => "int32_t",
        _ => "int64_t",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn element_types_cover_the_array_types() {
        assert_eq!(super::elem_type("int8_t"), "int8_t");
        assert_eq!(super::elem_type("int64_t"), "int64_t");
    }
}
