//! The folder `qkhw gen --target verilog` writes: the design, a filelist,
//! `interface.json`, a README for the integrator, a FuseSoC core, example
//! clock constraints and the report.

use std::fmt::Write as _;
use std::path::Path;

use super::{Design, Options};
use crate::error::Result;

fn put(files: &mut Vec<(String, String)>, name: &str, text: &str) {
    files.push((name.to_string(), text.to_string()));
}

/// The report as text.
pub fn report_text(d: &Design, opts: &Options) -> String {
    let mut s = String::new();
    let i = &d.interface;
    let last = i.latency_last_cycles.map_or(String::new(), |l| format!(" first input beat to first output beat, {l} last to last{}", crate::arch::timing::last_latency_note(l)));
    // The throughput: the steady state's cycles a sample where the largest
    // interval is a sample of the pipeline filling.
    let per_sample = i.cycles_per_sample();
    let steady = match i.steady {
        Some(st) if st.below(i.initiation_interval.into()) => format!(" at most; in the steady state {st}"),
        _ => String::new(),
    };
    let _ = writeln!(s, "design {}: latency {} cycles{last}, initiation interval {}{steady}", d.top, i.latency_cycles, i.initiation_interval);
    let f = 1000.0 / opts.clock_period;
    let _ = writeln!(
        s,
        "at {f:.1} MHz nominal (--clock-period {}; no timing analysis): {:.0} inferences/s, latency {:.2} us",
        opts.clock_period,
        f * 1e6 / per_sample,
        i.latency_cycles as f64 / f
    );
    for (prefix, p) in i.input_ports() {
        let _ = writeln!(
            s,
            "input  {:?} x fixed<{},{}>{} -> tdata {} bits{}",
            p.shape,
            p.width,
            p.width as i32 - p.frac,
            if p.signed { "" } else { " (unsigned)" },
            p.tdata_width,
            if i.inputs.is_empty() { String::new() } else { format!(" (port {prefix}_*)") }
        );
    }
    let _ = writeln!(
        s,
        "output {:?} x fixed<{},{}>{} -> tdata {} bits",
        i.output.shape,
        i.output.width,
        i.output.width as i32 - i.output.frac,
        if i.output.signed { "" } else { " (unsigned)" },
        i.output.tdata_width
    );
    let _ = writeln!(
        s,
        "{} adder or comparison levels per pipeline stage at most{}",
        opts.pipeline_levels,
        if opts.no_dsp { "; constants as shift-adds (--no-dsp)" } else { "" }
    );
    let _ = writeln!(
        s,
        "{:<20} {:>6} {:>8} {:>7} {:>8} {:>11} {:>10} {:>8} {:>9} {:>10} {:>8} {:>9}",
        "layer", "stage", "latency", "cycles", "levels", "multipliers", "shift-adds", "adders", "compares", "cmp levels", "FF bits", "ROM bits"
    );
    let mut tot = super::Counts::default();
    for l in &d.layers {
        let c = &l.counts;
        let _ = writeln!(
            s,
            "{:<20} {:>6} {:>8} {:>7} {:>8} {:>11} {:>10} {:>8} {:>9} {:>10} {:>8} {:>9}",
            l.layer, l.stage, l.latency, c.cycles.max(1), c.adder_levels, c.multipliers, c.shift_adds, c.adders, c.comparisons, c.compare_levels, c.ff_bits, c.memory_bits
        );
        tot.add(c);
    }
    if d.top_ff_bits > 0 {
        // The registers between the layers: they align each layer's
        // inputs (a skip connection's delay line).
        let _ = writeln!(s, "{:<20} {:>6} {:>8} {:>7} {:>8} {:>11} {:>10} {:>8} {:>9} {:>10} {:>8} {:>9}", "(top)", "", "", "", "", "", "", "", "", "", d.top_ff_bits, "");
        tot.ff_bits += d.top_ff_bits;
    }
    let _ = writeln!(
        s,
        "{:<20} {:>6} {:>8} {:>7} {:>8} {:>11} {:>10} {:>8} {:>9} {:>10} {:>8} {:>9}",
        "total", "", "", "", "", tot.multipliers, tot.shift_adds, tot.adders, tot.comparisons, "", tot.ff_bits, tot.memory_bits
    );
    let _ = writeln!(
        s,
        "fabric, estimated: {} LUT, {} FF (the netlist's cells weighed by costs fitted to Yosys 0.23 synth_xilinx; its error against Yosys is in the README; gen --synth gives Yosys's counts)",
        d.fabric.luts(opts.no_dsp),
        d.fabric.ffs(opts.no_dsp)
    );
    if tot.memory_bits > 0 || tot.dsp_estimate > 0 {
        let _ = writeln!(
            s,
            "multipliers and memories, estimated: {} DSP48 (multipliers of 9-bit products or more, constant products included{}), {:.1} BRAM36 (ROMs and RAMs of 64 words and 2 Kbit or more; smaller RAMs are LUT RAM by their ram_style); gen --synth gives Yosys's counts",
            tot.dsp_estimate,
            if opts.no_dsp {
                "; none with --no-dsp"
            } else if opts.pack_dsp {
                "; two a slice where --pack-dsp packs them"
            } else {
                ""
            },
            tot.bram36_estimate
        );
    }
    s
}

/// Write the design folder (see [`crate::backend::folder`]: atomic, with
/// its manifest; `force` writes into a non-empty folder qkhw did not make).
pub fn write(d: &Design, dir: &Path, opts: &Options, origin: &crate::backend::folder::Origin, force: bool) -> Result<()> {
    crate::backend::folder::write(dir, &folder_files(d, opts), origin, force)
}

/// Every file of the design folder, in compile order first.
pub fn folder_files(d: &Design, opts: &Options) -> Vec<(String, String)> {
    let mut out = vec![];
    let dir = &mut out;
    let mut order: Vec<&(String, String)> = d.files.iter().filter(|f| f.0.starts_with("qkhw_")).collect();
    order.extend(d.files.iter().filter(|f| !f.0.starts_with("qkhw_") && f.0 != format!("{}.v", d.top)));
    order.extend(d.files.iter().filter(|f| f.0 == format!("{}.v", d.top)));
    for (name, text) in &order {
        put(dir, name, text);
    }
    let list: Vec<&str> = order.iter().map(|f| f.0.as_str()).collect();
    // ROM contents: beside the sources, listed as comments (tools read
    // files.f as sources) and in the FuseSoC core and the Vivado script.
    let mems: Vec<&str> = d.memories.iter().map(|m| m.0.as_str()).collect();
    let mem_lines: String = mems.iter().map(|m| format!("// mem: {m}\n")).collect();
    put(dir, "files.f", &(list.join("\n") + "\n" + &mem_lines));
    for (name, text) in &d.memories {
        put(dir, name, text);
    }
    if !mems.is_empty() {
        let tcl: String = list.iter().map(|f| format!("read_verilog {f}\n")).chain(mems.iter().map(|m| format!("add_files {m}\n"))).collect();
        put(dir, "vivado_files.tcl", &format!("# {}\n# Vivado: source this from the design folder (the ROM files are read from it).\n{tcl}", opts.header));
    }
    let json = |v: &dyn erased::Json| v.json();
    put(dir, "interface.json", &json(&d.interface));
    let mut report = serde_json::json!({
        "top": d.top,
        "latency_cycles": d.interface.latency_cycles,
        "initiation_interval": d.interface.initiation_interval,
        "pipeline_levels": opts.pipeline_levels,
        "top_ff_bits": d.top_ff_bits,
        "no_dsp": opts.no_dsp,
        "pack_dsp": opts.pack_dsp,
        "layers": d.layers,
        "taps": d.taps,
        "fifos": d.fifos,
        "estimate": {
            "lut": d.fabric.luts(opts.no_dsp),
            "ff": d.fabric.ffs(opts.no_dsp),
            "fabric": d.fabric,
        },
    });
    // A streaming design's timing (interface.json has it too).
    if let (Some(last), Some(k)) = (d.interface.latency_last_cycles, d.interface.timing_samples) {
        report["latency_last_cycles"] = last.into();
        report["timing_samples"] = k.into();
    }
    if let Some(st) = d.interface.steady {
        report["steady"] = serde_json::json!(st);
    }
    put(dir, "report.json", &(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"));
    put(dir, "report.txt", &report_text(d, opts));
    let i = &d.interface;
    let core = format!(
        "CAPI=2:\n# {}\nname: qkhw:generated:{}:0.1.0\ndescription: QKeras model {} as generated by qkhw\nfilesets:\n  rtl:\n    files:\n{}    file_type: verilogSource\n{}targets:\n  default:\n    filesets: [rtl{}]\n    toplevel: {}\n  lint:\n    default_tool: verilator\n    filesets: [rtl]\n    toplevel: {}\n    tools:\n      verilator:\n        mode: lint-only\n        verilator_options: [-Wall]\n",
        opts.header,
        d.top,
        d.top,
        list.iter().map(|f| format!("      - {f}\n")).collect::<String>(),
        if mems.is_empty() {
            String::new()
        } else {
            format!("  roms:\n    files:\n{}    file_type: user\n", mems.iter().map(|m| format!("      - {m}: {{copyto: {m}}}\n")).collect::<String>())
        },
        if mems.is_empty() { "" } else { ", roms" },
        d.top,
        d.top
    );
    put(dir, &format!("{}.core", d.top), &core);
    let clock = &i.clock;
    let period = opts.clock_period;
    put(
        dir,
        &format!("{}.xdc", d.top),
        &format!(
            "# {}\n# {:.1} MHz nominal (--clock-period); part {}. There is no timing analysis in qkhw; the report gives the logic levels per stage.\ncreate_clock -period {period:.3} -name {clock} [get_ports {clock}]\n",
            opts.header,
            1000.0 / period,
            opts.part.vendor_part
        ),
    );
    put(dir, &format!("{}.sdc", d.top), &format!("# {}\ncreate_clock -period {period:.3} -name {clock} [get_ports {{{clock}}}]\n", opts.header));
    let op = if opts.axis_names { "m_axis" } else { "output" };
    let stream = i.streams();
    let lat = i.latency_cycles;
    let rate = if i.initiation_interval > 1 {
        format!(
            "one sample every {0} cycles (initiation interval {0}: {1})",
            i.initiation_interval,
            match i.input_ports().as_slice() {
                [(p, _)] => format!("`{p}_tready` is high only in the cycle the design can take the next sample, so a sample offered in between waits for it"),
                _ => "each port's holding register takes its part when it is free, and a sample enters the datapath in the cycle the design can take it".to_string(),
            }
        )
    } else {
        "one sample per clock (initiation interval 1)".to_string()
    };
    let readme = format!(
        "# {top}\n\n{hdr}\n\nGenerated by qkhw from a QKeras model. Plain Verilog-2005; `files.f` lists the files in compile order.\n\n\
## Interface\n\n- `{clk}`: clock; `{rst}`: synchronous reset, {rst_level}; it resets control state only and holds `{op}_tvalid` low.\n\
{inputs}\
- `{op}_tdata` ({ow} bits), `{op}_tvalid`, `{op}_tready`, `{op}_tlast`: {otransfer}element `k` of the {owhat} at bits `[k*{oew} +: {oew}]`, {osign}, {ofrac} fraction bits; pad bits are zero. {olast}\n\
{parts}- Back-pressure: no {unit} is lost or duplicated under any pattern of {in_valids} and `{op}_tready`. {timing}\n\
- `interface.json` states all of this for tools; `internal_sigmoid` = `{sig}`.\n\n\
## Checking it\n\n```\nqkhw verify MODEL --target verilog --design THIS_FOLDER --random 10000\n```\n\
simulates this folder with Verilator against qkhw's bit-exact golden model.\n",
        top = d.top,
        hdr = opts.header,
        clk = i.clock,
        rst = i.reset,
        rst_level = if i.reset_active_low { "active low" } else { "active high" },
        inputs = inputs_text(i),
        ow = i.output.tdata_width,
        oew = i.output.width,
        osign = if i.output.signed { "two's complement" } else { "unsigned" },
        ofrac = i.output.frac,
        sig = i.internal_sigmoid,
        parts = parts_text(&i.output.parts),
        otransfer = if i.output.io.is_parallel() { String::new() } else { transfer_text(&i.output) + " " },
        owhat = what_text(&i.output, "output"),
        olast = if stream {
            "TLAST marks the last transfer of each sample (the design counts beats: it ignores the input's TLAST, and after a reset the next input beat starts a new sample)."
        } else {
            "TLAST travels with its sample."
        },
        unit = if stream { "beat" } else { "sample" },
        in_valids = {
            let v: Vec<String> = i.input_ports().iter().map(|(p, _)| format!("`{p}_tvalid`")).collect();
            v.join(", ")
        },
        timing = match (stream, i.latency_last_cycles, i.timing_samples) {
            (true, Some(last), Some(k)) => format!(
                "With an input beat offered every cycle and `{op}_tready` held high, a sample's first input beat is taken at most {} cycles after the previous sample's (`initiation_interval`), its first output beat comes at most {lat} cycles after its first input beat (`latency_cycles`) and its last output beat at most {last} cycles after its last input beat (`latency_last_cycles`{}). These are exact: each is reached within the first {k} samples (`timing_samples`; folded stages drift against each other, so later samples can take a few cycles less), as a cycle-by-cycle simulation of the design's handshakes finds and `qkhw verify` checks.{}",
                i.initiation_interval,
                crate::arch::timing::last_latency_note(last),
                i.steady.map_or(String::new(), |st| format!(
                    " From sample {} on the timing repeats: {st} between first input beats ({:.1} a sample, the throughput; `steady`).",
                    st.from,
                    st.per_sample()
                ))
            ),
            (true, ..) => format!(
                "With `{op}_tready` held high a sample takes about {} cycles (the slowest stage); `latency_cycles` and `initiation_interval` in interface.json are the generator's estimates for this streaming design (`qkhw gen` says why), and `qkhw verify` prints the interval and the first-beat and last-beat latencies it measures at full rate.",
                i.initiation_interval
            ),
            (false, ..) => {
                format!("With `{op}_tready` held high the design takes {rate} and each output appears exactly {lat} cycles after its input was accepted.")
            }
        },
    );
    put(dir, "README.md", &readme);
    out
}

/// How a port's samples cross it, for the README.
fn transfer_text(p: &super::Port) -> String {
    match p.io {
        super::Io::Parallel => "one whole sample per transfer.".into(),
        super::Io::Stream if p.beats.unwrap_or(1) <= 1 => format!("streamed, one beat: a sample of shape {:?} is one transfer, TLAST high on each.", p.shape),
        super::Io::Stream if p.shape.len() == 1 => format!(
            "in beats: a vector of {} elements is {} transfers (beats) of {:?} elements, in order (beat 0 holds elements 0 to {}).",
            p.shape[0],
            p.beats.unwrap_or(1),
            p.beat_shape,
            p.beat_shape.iter().product::<usize>().saturating_sub(1)
        ),
        super::Io::Stream => format!(
            "pixel by pixel: a sample of shape {:?} is {} transfers (beats) of {:?} elements, one pixel with every channel per beat, pixels row by row (C order).",
            p.shape,
            p.beats.unwrap_or(1),
            p.beat_shape
        ),
    }
}

/// The README lines of the input ports (one per model input, and how
/// they join, where the model has several).
fn inputs_text(i: &super::Interface) -> String {
    let ports = i.input_ports();
    let mut s = String::new();
    for (prefix, p) in &ports {
        let which = p.name.as_ref().map_or(String::new(), |n| format!("model input `{n}`, "));
        s += &format!(
            "- `{prefix}_tdata` ({} bits), `{prefix}_tvalid`, `{prefix}_tready`, `{prefix}_tlast`: {which}{} Element `k` of the flattened (C-order) {} is at bits `[k*{w} +: {w}]`, {} fixed point with {f} fraction bits (value = code x {lsb}). Pad bits are ignored.\n",
            p.tdata_width,
            transfer_text(p),
            what_text(p, "input"),
            if p.signed { "two's complement" } else { "unsigned" },
            w = p.width,
            f = p.frac,
            lsb = crate::fxp::lsb(p.frac),
        );
    }
    if ports.len() > 1 && i.streams() {
        s += "- Several inputs, streamed: each port takes its beats whatever the others do. Where the streams of different inputs meet, the design buffers a whole sample of each (a FIFO of at least the meeting layer's beats per sample on each side, listed in report.json's `fifos`), so one source that sends each sample's parts one input after another, in any order of the inputs, cannot deadlock it, and independent producers run at full rate: a port runs ahead of another by at most what that FIFO and the stages before it hold (about a sample), then waits (its `tready` low) until the other catches up. TLAST is ignored on every input (the design counts beats). A sample's first input beat is the latest of its ports' first beats, its last input beat the latest of their last beats: the latencies below count from those.\n";
    } else if ports.len() > 1 {
        s += "- Several inputs: each input port fills its own one-sample holding register, and a sample enters the datapath once every port has delivered its part. A port takes its next part as soon as its register is free, whatever the other ports do, so independent producers never wait for each other, and one source that sends each sample's parts one after another, in any order of the inputs, cannot deadlock it (a source that sends two samples of one input before the other input's part needs its own FIFO). TLAST is the first input's (the others' are ignored). The latency below counts from the acceptance of a sample's last part.\n";
    }
    s
}

/// What element `k` counts in, for the README.
fn what_text(p: &super::Port, port: &str) -> String {
    match p.io {
        super::Io::Parallel => format!("{port} of shape {:?}", p.shape),
        super::Io::Stream => format!("beat (shape {:?})", p.beat_shape),
    }
}

/// The README line that says where each output of a several-output model
/// lies in the one output port.
fn parts_text(parts: &[crate::plan::OutputPart]) -> String {
    if parts.is_empty() {
        return String::new();
    }
    let list: Vec<String> = parts.iter().map(|p| format!("`{}` (shape {:?}) from element {}", p.name, p.shape, p.offset)).collect();
    format!("- The model has {} outputs, side by side in the output in model order, each flattened: {}.\n", parts.len(), list.join(", "))
}

mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
        }
    }
}
