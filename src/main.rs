//! `qkhw` command line: parse, call the library, print. No numerics here.

use clap::{Parser, Subcommand};
use qkhw::quant::{Encoding, InternalSigmoid, Quantizer};
use qkhw::{Error, npy};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "qkhw", version, about = "QKeras models to bit-exact, verified hardware")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply one QKeras quantizer to a float32 .npy, bit-exactly as QKeras does.
    ///
    /// Example:
    ///   qkhw quantize "quantized_bits(6,2,1,alpha=1)" --input x.npy --output y.npy --codes c.npy
    ///
    /// Y holds QKeras's float32 output (the literal straight-through value,
    /// NaN where QKeras overflows). C holds the hardware's integer codes
    /// (int64; the saturated code where QKeras's float overflows): for
    /// power-of-two quantizers the exponents, with the signs in C.signs.npy;
    /// with an alpha / auto scale, the scale in C.scale.npy.
    Quantize {
        /// The quantizer as written in QKeras, e.g. "quantized_po2(4)".
        spec: String,
        /// float32 .npy input (any shape; auto scales are per last axis).
        #[arg(long)]
        input: PathBuf,
        /// float32 .npy output, same shape.
        #[arg(long)]
        output: PathBuf,
        /// int64 .npy of hardware codes.
        #[arg(long)]
        codes: Option<PathBuf>,
        /// QKeras's set_internal_sigmoid switch (quantized_relu(use_sigmoid),
        /// quantized_tanh, quantized_sigmoid, quantized_ulaw).
        #[arg(long, default_value = "hard", value_parser = ["hard", "smooth", "real"])]
        internal_sigmoid: String,
    },
    /// Print the dict of QKeras's model_save_quantized_weights, bit-exactly.
    ///
    /// Same layers, keys and float32 values as QKeras 1.2.1 returns,
    /// quirks included (auto_po2 entries q(w)*m/m_i; see `qkhw rom` for the
    /// integer codes hardware stores).
    ///
    /// Example:
    ///   qkhw weights examples/models/jet_tagger.keras --json weights.json
    Weights {
        /// A .keras file, a legacy .h5, or a model JSON with its weights beside it.
        model: PathBuf,
        /// Write the whole dict as JSON to this file (`-` for stdout):
        /// arrays as {"dtype", "shape", "data"}, floats in shortest form.
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Per layer: class, shapes, quantizers, hardware formats, parameters, MACs, sparsity.
    ///
    /// Example:
    ///   qkhw inspect examples/models/cnn_bn.keras
    Inspect {
        model: PathBuf,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Generate a design: Verilog-2005, latency-first, fully unrolled.
    ///
    /// Writes the Verilog, files.f, interface.json, README.md, a FuseSoC
    /// .core, example .xdc/.sdc clock constraints and report.txt/.json.
    ///
    /// Example:
    ///   qkhw gen examples/models/jet_tagger_da.keras --target verilog -o jet_tagger_da_rtl --no-dsp
    Gen {
        model: PathBuf,
        /// Output directory.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Run Yosys (synth_xilinx -flatten) for LUT/FF/DSP/CARRY counts of
        /// the whole design and of each layer, and `ltp` for logic depth.
        #[arg(long)]
        synth: bool,
        #[command(flatten)]
        hw: VerilogArgs,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Simulate a design and compare it with the golden model, bit for bit.
    ///
    /// Generates the design (or takes --design DIR), builds it with
    /// Verilator (cached by the design's hash), streams every vector with
    /// random input gaps and output back-pressure (from --seed), then again
    /// steadily (checking latency and II 1), and compares every output code.
    /// On a mismatch: exit 1, the seed, the first sample and output, and the
    /// first layer whose output differs.
    ///
    /// Example:
    ///   qkhw verify examples/models/jet_tagger_da.keras --target verilog --input tests/golden/predict/jet_tagger_da/inputs.npy --random 10000
    Verify {
        model: PathBuf,
        /// Check this generated folder instead of regenerating.
        #[arg(long)]
        design: Option<PathBuf>,
        /// float32 inputs (quantized with the model's input quantizer, or
        /// the input format).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Random input codes over the whole input format, in addition.
        #[arg(long)]
        random: Option<usize>,
        /// Seed of the random vectors, gaps and back-pressure.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// verilator or iverilog.
        #[arg(long, default_value = "verilator", value_parser = ["verilator", "iverilog"])]
        sim: String,
        /// Write a waveform of the random run (Verilator): FST when FILE
        /// ends in .fst, else VCD.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write a JUnit XML report.
        #[arg(long)]
        junit: Option<PathBuf>,
        #[command(flatten)]
        hw: VerilogArgs,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Write bit-exact weight ROMs of every constant, plus manifest.json.
    ///
    /// One file per tensor, one word per element in row-major order:
    /// fixed-point codes in two's complement, power-of-two weights packed
    /// as [sign][exponent], auto_po2 weights as integer codes with their
    /// per-channel power of two in the manifest, fused batch norms as
    /// bn_inv / fused_bias tables.
    ///
    /// Example:
    ///   qkhw rom examples/models/jet_tagger.keras --format mem -o roms/
    Rom {
        model: PathBuf,
        /// mem or hex ($readmemh), coe (Xilinx), mif (Intel), c (C arrays).
        #[arg(long, value_parser = ["mem", "hex", "coe", "mif", "c"])]
        format: String,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Run the bit-exact integer golden model.
    ///
    /// Y holds what QKeras's model.predict returns (a final float softmax is
    /// dropped: the logits come out); C the hardware's integer codes (int64),
    /// value = code x 2^-frac with frac printed.
    ///
    /// Example:
    ///   qkhw predict examples/models/jet_tagger.keras --input x.npy --output y.npy --codes c.npy
    Predict {
        model: PathBuf,
        #[command(flatten)]
        input: GoldenInput,
        /// float32 .npy of shape (batch, *output shape).
        #[arg(long)]
        output: PathBuf,
        /// int64 .npy of the output codes.
        #[arg(long)]
        codes: Option<PathBuf>,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Write every layer's output: NAME.bin (float32, like QKeras's
    /// quantized_model_dump) and NAME.codes.npy (int64 codes).
    ///
    /// Example:
    ///   qkhw dump examples/models/cnn_bn.keras --input x.npy -o dump/ --layers conv1,relu1
    Dump {
        model: PathBuf,
        #[command(flatten)]
        input: GoldenInput,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Only these layers (comma separated).
        #[arg(long, value_delimiter = ',')]
        layers: Vec<String>,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Per layer: range of outputs and weights, values saturated by each
    /// requantizer; with --plot, histograms as SVG.
    ///
    /// Example:
    ///   qkhw debug examples/models/jet_tagger.keras --input x.npy --plot plots/
    Debug {
        model: PathBuf,
        #[command(flatten)]
        input: GoldenInput,
        /// Write one histogram SVG per layer into this directory.
        #[arg(long)]
        plot: Option<PathBuf>,
        #[command(flatten)]
        sem: Semantics,
    },
}

/// Options of `gen` / `verify` for the Verilog target.
#[derive(clap::Args, Clone)]
struct VerilogArgs {
    /// verilog, c (fixed-point C99) or hls (HLS C++, see --flavor).
    #[arg(long, default_value = "verilog", value_parser = ["verilog", "c", "hls"])]
    target: String,
    /// The hardware input format when the model has no input quantizer,
    /// e.g. fixed<16,6> (default fixed<16,6>, with a notice).
    #[arg(long)]
    input_format: Option<String>,
    /// Per-layer precision overrides (TOML), as for predict.
    #[arg(long)]
    config: Option<PathBuf>,
    /// HLS flavor: vitis (ap_fixed, ap_int, hls::stream) or catapult
    /// (ac_fixed, ac_int, ac_channel).
    #[arg(long, default_value = "vitis", value_parser = ["vitis", "catapult"])]
    flavor: String,
    /// Register every N adder-tree levels.
    /// Example: --pipeline-levels 3
    #[arg(long, default_value_t = 4)]
    pipeline_levels: u32,
    /// Constant multiplies as canonical-signed-digit shift-adds: no DSPs.
    #[arg(long)]
    no_dsp: bool,
    /// Name the ports aclk, aresetn (active low), s_axis_*, m_axis_*.
    #[arg(long)]
    axis_names: bool,
}

impl VerilogArgs {
    fn config(&self) -> Result<qkhw::passes::config::Config, Error> {
        match &self.config {
            Some(p) => qkhw::passes::config::Config::read(p),
            None => Ok(Default::default()),
        }
    }

    fn flavor(&self) -> Result<qkhw::backend::hls::Flavor, Error> {
        self.flavor.parse()
    }

    /// The HLS files (`--target hls`).
    fn hls_files(&self, g: &qkhw::ir::Graph, sem: &Semantics) -> Result<(Vec<(String, String)>, String, qkhw::passes::precision::Plan, Vec<String>), Error> {
        let input_format = self.input_format.as_deref().map(str::parse).transpose()?;
        let (plan, notes) = qkhw::golden::hardware_plan(g, input_format, &self.config()?)?;
        let header = qkhw::backend::verilog::header(g, &sem.internal_sigmoid);
        let files = qkhw::backend::hls::generate(g, &plan, &header, &sem.internal_sigmoid, self.flavor()?)?;
        let name = files[0].0.trim_end_matches(".h").to_string();
        Ok((files, name, plan, notes))
    }

    /// The C model (`--target c`).
    fn c_model(&self, g: &qkhw::ir::Graph, sem: &Semantics) -> Result<(qkhw::backend::c::CModel, qkhw::passes::precision::Plan, Vec<String>), Error> {
        let input_format = self.input_format.as_deref().map(str::parse).transpose()?;
        let header = qkhw::backend::verilog::header(g, &sem.internal_sigmoid);
        qkhw::backend::c::from_graph(g, input_format, &self.config()?, &header, &sem.internal_sigmoid)
    }

    fn design(&self, g: &qkhw::ir::Graph, sem: &Semantics) -> Result<(qkhw::backend::verilog::Design, qkhw::passes::precision::Plan, Vec<String>, qkhw::backend::verilog::Options), Error> {
        if self.target != "verilog" {
            return Err(Error::Usage(format!("--target {}: a Verilog design needs --target verilog", self.target)));
        }
        let input_format = self.input_format.as_deref().map(str::parse).transpose()?;
        let config = self.config()?;
        let opts = qkhw::backend::verilog::Options {
            pipeline_levels: self.pipeline_levels.max(1),
            no_dsp: self.no_dsp,
            axis_names: self.axis_names,
            internal_sigmoid: sem.internal_sigmoid.clone(),
            header: qkhw::backend::verilog::header(g, &sem.internal_sigmoid),
        };
        let (d, plan, notes) = qkhw::backend::verilog::from_graph(g, input_format, &config, &opts)?;
        Ok((d, plan, notes, opts))
    }
}

/// Inputs of the golden model.
#[derive(clap::Args)]
struct GoldenInput {
    /// float32 .npy of shape (batch, *model input shape).
    #[arg(long)]
    input: PathBuf,
    /// Quantize the inputs to this format first, e.g. fixed<16,6> (ties to
    /// even, saturating), as the hardware sees them. Default: the float32
    /// inputs exactly as QKeras takes them.
    #[arg(long)]
    input_format: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Per-layer precision overrides (TOML: [input] format, [layer.NAME]
    /// output / bn_inv / bn_bias / rounding / overflow). See the README.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl GoldenInput {
    fn read(&self) -> Result<(qkhw::npy::Array<f32>, qkhw::golden::PredictOptions), Error> {
        let x = npy::read_f32(&self.input)?;
        let input_format = self.input_format.as_deref().map(str::parse).transpose()?;
        let config = match &self.config {
            Some(p) => qkhw::passes::config::Config::read(p)?,
            None => Default::default(),
        };
        Ok((x, qkhw::golden::PredictOptions { input_format, threads: self.threads, keep: None, progress: true, config }))
    }
}

/// Switches QKeras keeps outside the model file.
#[derive(clap::Args)]
struct Semantics {
    /// QKeras's set_internal_sigmoid (quantized_tanh, quantized_sigmoid, ...).
    #[arg(long, default_value = "hard", value_parser = ["hard", "smooth", "real"])]
    internal_sigmoid: String,
}

impl Semantics {
    fn load(&self, model: &Path) -> Result<qkhw::ir::Graph, Error> {
        let sigmoid: InternalSigmoid = self.internal_sigmoid.parse()?;
        qkhw::load_graph(model, qkhw::ir::BuildOptions { sigmoid })
    }
}

fn main() -> ExitCode {
    // `qkhw ... | head` ends quietly, as command-line tools do.
    #[cfg(unix)]
    {
        unsafe extern "C" {
            fn signal(sig: i32, handler: usize) -> usize;
        }
        // SAFETY: restoring the default SIGPIPE action (13) before any I/O.
        unsafe {
            signal(13, 0);
        }
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Quantize { spec, input, output, codes, internal_sigmoid } => {
            let sigmoid: InternalSigmoid = internal_sigmoid.parse()?;
            quantize(&spec, sigmoid, &input, &output, codes.as_deref())
        }
        Command::Weights { model, json, sem } => weights(&sem.load(&model)?, json.as_deref()),
        Command::Inspect { model, json, sem } => {
            let info = qkhw::inspect::inspect(&sem.load(&model)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info).map_err(|e| Error::Usage(e.to_string()))?);
            } else {
                print!("{}", qkhw::inspect::render(&info));
            }
            Ok(())
        }
        Command::Predict { model, input, output, codes, sem } => predict(&sem.load(&model)?, &input, &output, codes.as_deref()),
        Command::Dump { model, input, out, layers, sem } => {
            let (x, opts) = input.read()?;
            let files = qkhw::golden::debug::dump(&sem.load(&model)?, &x, &opts, &out, &layers)?;
            println!("{files} layer outputs -> {}", out.display());
            Ok(())
        }
        Command::Debug { model, input, plot, sem } => {
            let (x, opts) = input.read()?;
            let g = sem.load(&model)?;
            let report = qkhw::golden::debug::debug(&g, &x, &opts, plot.as_deref())?;
            print!("{report}");
            Ok(())
        }
        Command::Gen { model, out, hw, sem, .. } if hw.target == "hls" => {
            let g = sem.load(&model)?;
            let (files, name, _plan, notes) = hw.hls_files(&g, &sem)?;
            std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
            for (f, t) in &files {
                std::fs::write(out.join(f), t).map_err(|e| Error::io(out.join(f), e))?;
            }
            for n in notes {
                eprintln!("note: {n}");
            }
            println!("{name}.h, {name}.cpp, {name}_tb.cpp, build_prj.tcl -> {}", out.display());
            Ok(())
        }
        Command::Gen { model, out, hw, sem, .. } if hw.target == "c" => {
            let g = sem.load(&model)?;
            let t = std::time::Instant::now();
            let (m, plan, notes) = hw.c_model(&g, &sem)?;
            qkhw::backend::c::write(&m, &out)?;
            for n in notes {
                eprintln!("note: {n}");
            }
            let (i, o) = (&plan.steps[0], &plan.steps[plan.outputs[0]]);
            println!(
                "{0}.h / {0}.c -> {1} ({2:.3} s): void {0}_infer(codes of {3}), outputs {4}",
                m.name,
                out.display(),
                t.elapsed().as_secs_f64(),
                i.fmt,
                o.fmt
            );
            Ok(())
        }
        Command::Gen { model, out, synth, hw, sem } => {
            let g = sem.load(&model)?;
            let t = std::time::Instant::now();
            let (d, _plan, notes, opts) = hw.design(&g, &sem)?;
            qkhw::backend::verilog::files::write(&d, &out, &opts)?;
            for n in notes {
                eprintln!("note: {n}");
            }
            print!("{}", qkhw::backend::verilog::files::report_text(&d, &opts));
            println!("{} files -> {} ({:.3} s)", d.files.len() + 7, out.display(), t.elapsed().as_secs_f64());
            if synth {
                use qkhw::backend::verilog::synth::synth;
                let files: Vec<String> = std::fs::read_to_string(out.join("files.f"))
                    .map_err(|e| Error::io(out.join("files.f"), e))?
                    .lines()
                    .map(str::to_string)
                    .collect();
                eprintln!("yosys synth_xilinx -flatten: the whole design, then each layer (this takes minutes on large designs)...");
                let total = synth(&out, &files, &d.top, true)?;
                let mut rows = vec![total.clone()];
                for l in &d.layers {
                    if l.counts.adders + l.counts.multipliers + l.counts.shift_adds > 0 {
                        rows.push(synth(&out, &files, &l.module, false)?);
                    }
                }
                let mut text = format!("{:<32} {:>8} {:>8} {:>6} {:>8} {:>6}\n", "module", "LUT", "FF", "DSP", "CARRY4", "ltp");
                for r in &rows {
                    text += &format!(
                        "{:<32} {:>8} {:>8} {:>6} {:>8} {:>6}\n",
                        r.module,
                        r.luts,
                        r.ffs,
                        r.dsps,
                        r.carry4,
                        r.ltp.map_or("-".into(), |v| v.to_string())
                    );
                }
                print!("{text}");
                std::fs::write(out.join("synth.txt"), &text).map_err(|e| Error::io(out.join("synth.txt"), e))?;
                std::fs::write(out.join("synth.json"), serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n")
                    .map_err(|e| Error::io(out.join("synth.json"), e))?;
            }
            Ok(())
        }
        Command::Verify { model, design, input, random, seed, sim, trace, junit, hw, sem } => {
            verify(&model, design.as_deref(), input.as_deref(), random, seed, &sim, trace.as_deref(), junit.as_deref(), &hw, &sem)
        }
        Command::Rom { model, format, out, sem } => {
            let g = sem.load(&model)?;
            let tensors = qkhw::passes::hw_tensors::hw_tensors(&g)?;
            let m = qkhw::backend::rom::write(&g.name, &g.sha256, &tensors, format.parse()?, &out)?;
            let words: usize = m.tensors.iter().map(|t| t.depth).sum();
            println!("{} ROMs ({words} words) and manifest.json -> {}", m.tensors.len(), out.display());
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn verify(
    model: &Path,
    design: Option<&Path>,
    input: Option<&Path>,
    random: Option<usize>,
    seed: u64,
    sim: &str,
    trace: Option<&Path>,
    junit: Option<&Path>,
    hw: &VerilogArgs,
    sem: &Semantics,
) -> Result<(), Error> {
    use qkhw::verify::{self, DesignDir};
    let g = sem.load(model)?;
    let config = hw.config()?;
    let input_format = hw.input_format.as_deref().map(str::parse).transpose()?;
    let (codes, n, in_fmt) = verify_vectors(&g, input_format, &config, input, random, seed)?;
    if hw.target == "hls" {
        let (files, name, plan, notes) = hw.hls_files(&g, sem)?;
        for note in notes {
            eprintln!("note: {note}");
        }
        let dir = std::env::temp_dir().join(format!("qkhw-verify-hls-{name}-{}", std::process::id()));
        let report = verify::verify_hls(&files, &name, hw.flavor()?, &plan, &codes, n, &dir, &cache_dir())?;
        let _ = std::fs::remove_dir_all(&dir);
        return conclude(&report, junit, &g.name);
    }
    if hw.target == "c" {
        let (m, plan, notes) = hw.c_model(&g, sem)?;
        for note in notes {
            eprintln!("note: {note}");
        }
        let dir = std::env::temp_dir().join(format!("qkhw-verify-c-{}-{}", m.name, std::process::id()));
        let report = verify::verify_c(&m, &plan, &codes, n, &dir)?;
        let _ = std::fs::remove_dir_all(&dir);
        return conclude(&report, junit, &g.name);
    }
    let dir = match design {
        Some(d) => d.to_path_buf(),
        None => {
            let (d, _, notes, opts) = hw.design(&g, sem)?;
            for note in notes {
                eprintln!("note: {note}");
            }
            let dir = std::env::temp_dir().join(format!("qkhw-verify-{}-{}", d.top, std::process::id()));
            qkhw::backend::verilog::files::write(&d, &dir, &opts)?;
            dir
        }
    };
    let d = DesignDir::read(&dir)?;
    let f = qkhw::fxp::FixedFormat { width: d.interface.input.width, frac: d.interface.input.frac, signed: d.interface.input.signed };
    if in_fmt != f {
        return Err(Error::Usage(format!("the design's input is {f} but the model's hardware input is {in_fmt}: give the same --input-format")));
    }
    let plan = qkhw::passes::precision::hardware_plan(&g, qkhw::passes::precision::InputSpec::full(f), &config)?;
    let cache = cache_dir();
    let simulator: Box<dyn verify::Simulator> = match sim {
        "iverilog" => Box::new(verify::icarus::Icarus),
        _ => Box::new(verify::verilator::Verilator::new(cache)),
    };
    eprintln!("verifying {} with {} on {n} samples (seed {seed})...", d.interface.top, simulator.name());
    let report = verify::verify(simulator.as_ref(), &d, &plan, &codes, n, seed, trace)?;
    if design.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    conclude(&report, junit, &g.name)
}

/// The vectors of `verify`: the float inputs of `input` through the model's
/// hardware input quantizer (their shape checked against the model's),
/// then `random` random codes over the input format (1000 when neither is
/// given). Returns the codes, the sample count and the input format.
fn verify_vectors(
    g: &qkhw::ir::Graph,
    input_format: Option<qkhw::fxp::FixedFormat>,
    config: &qkhw::passes::config::Config,
    input: Option<&Path>,
    random: Option<usize>,
    seed: u64,
) -> Result<(Vec<i128>, usize, qkhw::fxp::FixedFormat), Error> {
    let (spec, q, _) = qkhw::golden::hardware_input(g, input_format, config)?;
    let shape = &g.layers[g.inputs[0].0].shape;
    let per: usize = shape.iter().product();
    let mut codes = vec![];
    if let Some(p) = input {
        let x = npy::read_f32(p)?;
        if x.shape.len() < 2 || x.shape[1..].iter().product::<usize>() != per {
            return Err(Error::Usage(format!("{}: shape {:?} does not match the model input {shape:?}", p.display(), x.shape)));
        }
        codes.extend(qkhw::golden::hardware_codes(&x.data, &spec, q.as_ref())?);
    }
    codes.extend(qkhw::verify::random_codes(random.unwrap_or(if input.is_none() { 1000 } else { 0 }), per, spec.fmt, seed));
    let n = codes.len() / per.max(1);
    Ok((codes, n, spec.fmt))
}

/// The Verilator build and HLS header cache: `$QKHW_CACHE`, else
/// `~/.cache/qkhw`.
fn cache_dir() -> PathBuf {
    std::env::var_os("QKHW_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".cache").join("qkhw")
    })
}

/// Print the report, write the JUnit file, exit 1 on any difference.
fn conclude(report: &qkhw::verify::Report, junit: Option<&Path>, name: &str) -> Result<(), Error> {
    print!("{}", report.text());
    if let Some(j) = junit {
        std::fs::write(j, report.junit(name)).map_err(|e| Error::io(j, e))?;
    }
    if report.passed() {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

fn predict(g: &qkhw::ir::Graph, input: &GoldenInput, output: &Path, codes: Option<&Path>) -> Result<(), Error> {
    let (x, opts) = input.read()?;
    let t = std::time::Instant::now();
    let p = qkhw::golden::predict(g, &x.data, &x.shape, &opts)?;
    let ys: Vec<Vec<f32>> = (0..p.plan.outputs.len()).map(|k| p.output_f32(k)).collect();
    let secs = t.elapsed().as_secs_f64();
    for n in &p.plan.notices {
        eprintln!("note: {n}");
    }
    let n = x.shape[0];
    for (k, &s) in p.plan.outputs.iter().enumerate() {
        let step = &p.plan.steps[s];
        let mut shape = vec![n];
        shape.extend(&step.shape);
        let suffix = |path: &Path| -> PathBuf {
            if k == 0 {
                return path.to_path_buf();
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
            path.with_file_name(format!("{stem}.{k}.npy"))
        };
        npy::write(&suffix(output), &npy::encode_f32(&shape, &ys[k]))?;
        if let Some(c) = codes {
            let cs: Vec<i64> = p
                .run
                .codes(s)
                .iter()
                .map(|&v| i64::try_from(v).map_err(|_| Error::Usage(format!("output code {v} does not fit in int64 (--codes)"))))
                .collect::<Result<_, _>>()?;
            npy::write(&suffix(c), &npy::encode_i64(&shape, &cs))?;
        }
        println!(
            "{}: {n} samples -> {} (output {}: {}, value = code x 2^-{})",
            g.name,
            suffix(output).display(),
            step.layer.as_deref().unwrap_or("?"),
            step.fmt,
            step.fmt.frac
        );
    }
    println!(
        "input format {} ({}); {:.4} s, {:.0} inferences/s",
        p.input_format,
        if input.input_format.is_some() || opts.config.input.is_some() { "given" } else { "every float32 input held exactly" },
        secs,
        n as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn weights(g: &qkhw::ir::Graph, json: Option<&Path>) -> Result<(), Error> {
    let d = qkhw::passes::hw_weights::model_save_quantized_weights(g)?;
    if let Some(p) = json {
        let doc = serde_json::json!({
            "generator": format!("qkhw {}", env!("CARGO_PKG_VERSION")),
            "model": g.name,
            "model_sha256": g.sha256,
            "weights": d.to_json(),
        });
        let text = serde_json::to_string(&doc).map_err(|e| Error::Usage(e.to_string()))? + "\n";
        if p == Path::new("-") {
            print!("{text}");
        } else {
            std::fs::write(p, text).map_err(|e| Error::io(p, e))?;
            println!("{} layers -> {}", d.layers.len(), p.display());
        }
        return Ok(());
    }
    use qkhw::passes::hw_weights::Entry;
    fn show(e: &Entry) -> String {
        match e {
            Entry::Bool(b) => if *b { "True".into() } else { "False".into() },
            Entry::Null => "None".into(),
            Entry::Str(s) => format!("'{s}'"),
            Entry::List(v) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(", ")),
            Entry::Array(t) => {
                let head: Vec<String> = t.data.iter().take(6).map(|v| format!("{v}")).collect();
                let more = if t.data.len() > 6 { format!(", ... {} values", t.data.len()) } else { String::new() };
                format!("array{:?}[{}{more}]", t.shape, head.join(", "))
            }
        }
    }
    for (layer, fields) in &d.layers {
        println!("{layer}:");
        for (k, v) in fields {
            println!("  {k}: {}", show(v));
        }
    }
    println!("({} layers; --json FILE writes every value)", d.layers.len());
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("codes");
    path.with_file_name(format!("{stem}.{suffix}.npy"))
}

fn quantize(
    spec: &str,
    sigmoid: InternalSigmoid,
    input: &Path,
    output: &Path,
    codes: Option<&Path>,
) -> Result<(), Error> {
    let q = Quantizer::parse(spec, sigmoid)?;
    let x = npy::read_f32(input)?;
    let y = q.apply_shaped(&x.data, &x.shape)?;
    npy::write(output, &npy::encode_f32(&x.shape, &y))?;
    let nan = y.iter().filter(|v| v.is_nan()).count();
    println!(
        "{}: {} values of shape {:?} -> {} (internal sigmoid: {}){}",
        spec,
        x.data.len(),
        x.shape,
        output.display(),
        sigmoid.name(),
        if nan > 0 { format!(", {nan} NaN as in QKeras") } else { String::new() }
    );
    if let Some(cpath) = codes {
        let hw = q.hardware(&x.data, &x.shape).map_err(|e| match e {
            Error::Apply { spec, msg } => Error::Apply { spec, msg: format!("{msg} (--codes {})", cpath.display()) },
            e => e,
        })?;
        npy::write(cpath, &npy::encode_i64(&x.shape, &hw.codes))?;
        let enc = match &hw.encoding {
            Encoding::Fixed(f) => format!("{f}: value = code x 2^-{}", f.frac),
            Encoding::Po2 { signed, min_exp, max_exp } => {
                format!("power of two: code = exponent in {min_exp}..={max_exp}{}", if *signed { ", signs beside" } else { "" })
            }
            Encoding::Table { index, values } => format!("table: code = {index} index into {} values", values.len()),
        };
        if !hw.signs.is_empty() {
            let s: Vec<i64> = hw.signs.iter().map(|&s| s as i64).collect();
            npy::write(&sibling(cpath, "signs"), &npy::encode_i64(&x.shape, &s))?;
        }
        if let Some(scale) = &hw.scale {
            npy::write(&sibling(cpath, "scale"), &npy::encode_f32(&scale.shape, &scale.values))?;
        }
        let (lo, hi) = (hw.codes.iter().min().copied().unwrap_or(0), hw.codes.iter().max().copied().unwrap_or(0));
        println!(
            "codes -> {} ({enc}; codes in {lo}..={hi}{})",
            cpath.display(),
            if hw.scale.is_some() { ", times the scale in *.scale.npy" } else { "" }
        );
    }
    Ok(())
}
