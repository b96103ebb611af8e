//! Icarus Verilog (`iverilog -g2005`): the second simulator, which also
//! proves the design is plain Verilog-2005. A generated Verilog bench
//! streams the vectors with random gaps and back-pressure (`$random` from
//! the seed) and writes every output.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::{unpack, DesignDir, SimRun, Simulator};
use crate::error::{Error, Result};

pub struct Icarus;

fn bench(d: &DesignDir, n: usize, seed: u64, steady: bool) -> String {
    let i = &d.interface;
    let op = if i.reset_active_low { "m_axis" } else { "output" };
    let ow = i.output.tdata_width;
    let ports = i.input_ports();
    let rst_on = if i.reset_active_low { "1'b0" } else { "1'b1" };
    let rst_off = if i.reset_active_low { "1'b1" } else { "1'b0" };
    let steady = u8::from(steady);
    let stream = i.streams();
    let out_beats = i.output.beat().1;
    let nout = n * out_beats;
    // TLAST: on each sample's last beat (streaming), else with the last sample.
    let tlast = |k: usize, in_beats: usize| if stream { format!("(((ni{k} + 1) % {in_beats}) == 0)") } else { format!("(ni{k} == {})", n.max(1) - 1) };
    // Per input port: its vectors, handshake and count of transfers.
    let mut in_decls = String::new();
    let mut in_conns = String::new();
    let mut in_files = String::new();
    let mut in_drive = String::new();
    let mut in_count = String::new();
    for (k, (prefix, p)) in ports.iter().enumerate() {
        let iw = p.tdata_width;
        let nin = n * p.beat().1;
        in_decls += &format!(
            "    reg [{m}:0] mem{k} [0:{nin_m}];\n    reg [{m}:0] tdata{k} = {iw}'d0;\n    reg tvalid{k} = 1'b0;\n    reg tlast{k} = 1'b0;\n    wire tready{k};\n    integer ni{k} = 0;\n    reg [1023:0] in_file{k};\n",
            m = iw - 1,
            nin_m = nin.max(1) - 1
        );
        in_conns += &format!(".{prefix}_tdata(tdata{k}), .{prefix}_tvalid(tvalid{k}), .{prefix}_tready(tready{k}), .{prefix}_tlast(tlast{k}),\n        ");
        in_files += &format!(
            "        if (!$value$plusargs(\"in{k}=%s\", in_file{k})) begin\n            $display(\"usage: +in{k}=FILE\");\n            $finish;\n        end\n        $readmemh(in_file{k}, mem{k});\n"
        );
        in_drive += &format!(
            "            tvalid{k} <= (ni{k} < {nin}) && ({steady} || ($random(seed) & 3) != 0) && (turn < 0 || turn == {k});\n            tdata{k} <= mem{k}[(ni{k} < {nin}) ? ni{k} : 0];\n            tlast{k} <= {};\n",
            tlast(k, p.beat().1)
        );
        in_count += &format!("        if (tvalid{k} && tready{k}) ni{k} <= ni{k} + 1;\n");
    }
    // The samples every port has delivered, and (several inputs, random
    // run, its first half) the one port whose turn it is: a sample's parts
    // one input after another, as a single source sends them (as the
    // Verilator harness does).
    let mut turn = String::new();
    for (k, (_, p)) in ports.iter().enumerate() {
        let b = p.beat().1;
        turn += &if k == 0 { format!("            samples_in = ni0 / {b};\n") } else { format!("            if (ni{k} / {b} < samples_in) samples_in = ni{k} / {b};\n") };
    }
    turn += "            turn = -1;\n";
    if ports.len() > 1 && steady == 0 {
        let half = n / 2;
        let mut pick = String::new();
        for (k, (_, p)) in ports.iter().enumerate().rev() {
            pick += &format!("                if (ni{k} < (samples_in + 1) * {}) turn = {k};\n", p.beat().1);
        }
        turn += &format!("            if (samples_in < {half}) begin\n{pick}            end\n");
    }
    // A streaming design's FIFOs, read through their probes: the largest
    // occupancy, and the full ones named on a stall (as the Verilator
    // harness does).
    let fifo_decls: String = (0..d.fifos.len()).map(|k| format!("    integer fmax{k} = 0;\n")).collect();
    let fifo_track: String = d.fifos.iter().enumerate().map(|(k, f)| format!("        if (dut.{i}.level > fmax{k}) fmax{k} = dut.{i}.level;\n", i = f.instance)).collect();
    // The last full FIFO in stream order is the cause (see the Verilator
    // harness); the full ones before it back up behind it.
    let fifo_full: String = d
        .fifos
        .iter()
        .enumerate()
        .rev()
        .map(|(k, f)| {
            let behind: String = d.fifos[..k]
                .iter()
                .map(|b| format!("                if (dut.{i}.full) begin $write(\"%s`{name}`\", nbehind > 0 ? \", \" : \"; backed up behind it: \"); nbehind = nbehind + 1; end\n", i = b.instance, name = b.name.replace(['"', '\\', '`'], "_")))
                .collect();
            format!(
                "            if (nfull == 0 && dut.{i}.full) begin\n                $write(\": FIFO `{name}` is full (%0d words; {cap} in the design's report)\", dut.{i}.level);\n                nfull = 1;\n{behind}            end\n",
                i = f.instance,
                name = f.name.replace(['"', '\\', '`'], "_"),
                cap = f.capacity
            )
        })
        .collect();
    let fifo_print: String = (0..d.fifos.len()).map(|k| format!("        $display(\"fifo {k} %0d\", fmax{k});\n")).collect();
    let no_full = if d.fifos.is_empty() { "" } else { "            if (nfull == 0) $write(\"; no FIFO is full\");\n" };
    format!(
        r#"// qkhw verify bench for Icarus Verilog (plain Verilog-2005). Generated.
`timescale 1ns/1ps
module qkhw_tb;
    reg clk = 1'b0;
    reg rst = {rst_on};
{in_decls}    reg oready = 1'b0;
    wire [{ow_m}:0] odata;
    wire ovalid;
    wire olast;
    integer seed = {seed};
    integer no = 0;
    integer fd;
    integer cycles = 0;
    integer last_progress = 0;
    integer nfull = 0;
    integer nbehind = 0;
    integer samples_in = 0;
    integer turn = -1;
{fifo_decls}    reg [1023:0] out_file;
    {top} dut (.{clk}(clk), .{rst}(rst), {in_conns}.{op}_tdata(odata), .{op}_tvalid(ovalid), .{op}_tready(oready), .{op}_tlast(olast));
    always #5 clk = ~clk;
    initial begin
        if (!$value$plusargs("out=%s", out_file)) begin
            $display("usage: +in0=FILE +out=FILE");
            $finish;
        end
{in_files}        fd = $fopen(out_file, "w");
        repeat (4) @(posedge clk);
        #1 rst = {rst_off};
    end
    // Drive between edges; sample the handshakes at each rising edge.
    always @(negedge clk) begin
        if (rst == {rst_off}) begin
{turn}{in_drive}            oready <= {steady} || (($random(seed) & 3) != 0);
        end
    end
    task finish_run;
        begin
{fifo_print}            $fclose(fd);
            $finish;
        end
    endtask
    always @(posedge clk) begin
        cycles <= cycles + 1;
{fifo_track}{in_count}
        if (ovalid && oready) begin
            $fdisplay(fd, "%h %b", odata, olast);
            last_progress <= cycles;
            no <= no + 1;
            if ((no + 1) % {step} == 0) begin
                $display("progress %0d", (no + 1) / {out_beats});
                $fflush;
            end
            if (no == {nout_m}) finish_run;
        end
        if (cycles - last_progress > {stall}) begin
            $write("stall: no output transfer for %0d cycles (after output transfer %0d, %0d samples in)", cycles - last_progress, no, samples_in);
{fifo_full}{no_full}            $display("");
            finish_run;
        end
        if (cycles > {limit}) begin
            $display("only %0d outputs after %0d cycles", no, cycles);
            finish_run;
        end
    end
endmodule
"#,
        ow_m = ow - 1,
        nout_m = nout.max(1) - 1,
        top = i.top,
        clk = i.clock,
        rst = i.reset,
        limit = 64 + (n * i.initiation_interval.max(1) as usize + i.latency_cycles as usize + 8) * 16,
        stall = 1000 + 8 * (i.initiation_interval.max(1) as usize + i.latency_cycles as usize),
        step = (nout / 100).max(1),
    )
}

impl Simulator for Icarus {
    fn name(&self) -> &'static str {
        "icarus"
    }

    fn run(&self, d: &DesignDir, codes: &[i128], n: usize, seed: u64, steady: bool, _trace: Option<&Path>) -> Result<SimRun> {
        let i = &d.interface;
        // One folder per run: runs in parallel threads never share one.
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tmp = std::env::temp_dir().join(format!("qkhw-iv-{}-{k}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // One hex file per input port, a transfer per line.
        let ports = i.input_ports();
        for (k, ((_, p), bytes)) in ports.iter().zip(super::pack_inputs(i, codes)).enumerate() {
            let inb = (p.tdata_width / 8) as usize;
            let hex: String = bytes.chunks(inb.max(1)).map(|s| s.iter().rev().map(|b| format!("{b:02x}")).collect::<String>() + "\n").collect();
            let f = tmp.join(format!("in{k}.hex"));
            std::fs::write(&f, hex).map_err(|e| Error::io(&f, e))?;
        }
        std::fs::write(tmp.join("tb.v"), bench(d, n, seed, steady)).map_err(|e| Error::io(tmp.join("tb.v"), e))?;
        let t = Instant::now();
        let mut cmd = Command::new("iverilog");
        cmd.args(["-g2005", "-o"]).arg(tmp.join("sim")).arg(tmp.join("tb.v"));
        if let Some(def) = d.rom_dir_define() {
            cmd.arg(def);
        }
        for f in &d.files {
            cmd.arg(d.dir.join(f));
        }
        let out = cmd.output().map_err(|e| Error::Usage(format!("cannot run iverilog ({e}); install it (apt-get install iverilog)")))?;
        if !out.status.success() {
            return Err(Error::Usage(format!("iverilog -g2005 failed: {}", String::from_utf8_lossy(&out.stderr).lines().take(8).collect::<Vec<_>>().join("\n"))));
        }
        let build_secs = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let run = super::run_reporting(
            Command::new("vvp")
                .arg("-n")
                .arg(tmp.join("sim"))
                .args((0..ports.len()).map(|k| format!("+in{k}={}", tmp.join(format!("in{k}.hex")).display())))
                .arg(format!("+out={}", tmp.join("out.hex").display())),
            n,
            "vvp",
        )?;
        let sim_secs = t.elapsed().as_secs_f64();
        let text = std::fs::read_to_string(tmp.join("out.hex")).unwrap_or_default();
        let mut errors: Vec<String> = run.stdout.lines().filter(|l| l.starts_with("only") || l.starts_with("stall")).map(str::to_string).collect();
        let fifo_max = super::fifo_maxima(&run.stdout, d.fifos.len());
        let outb = (i.output.tdata_width / 8) as usize;
        let mut raw = vec![];
        let stream = i.streams();
        let (per_beat, out_beats) = i.output.beat();
        for (k, line) in text.lines().enumerate() {
            let mut it = line.split_whitespace();
            let (Some(h), Some(l)) = (it.next(), it.next()) else { continue };
            let want = if stream { (k + 1) % out_beats == 0 } else { k + 1 == n };
            if (l == "1") != want {
                errors.push(format!("TLAST wrong on output {k}"));
            }
            let h = format!("{:0>width$}", h, width = outb * 2);
            let mut bytes: Vec<u8> = (0..outb).map(|b| u8::from_str_radix(&h[2 * b..2 * b + 2], 16).unwrap_or(0)).collect();
            bytes.reverse();
            raw.extend(bytes);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        let per_out: usize = i.output.shape.iter().product();
        let outputs = unpack(&raw, i.output.width, i.output.signed, per_beat, outb);
        if outputs.len() < n * per_out {
            errors.push(format!("{} of {n} outputs", outputs.len() / per_out.max(1)));
        }
        Ok(SimRun { outputs, build_secs, sim_secs, errors, stream_timing: None, first_beats: vec![], fifo_max })
    }
}
