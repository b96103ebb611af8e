//! `qkhw` command line: parse, call the library, print. No numerics here.
//!
//! It lives in the library, not in the binary, so that the Python
//! extension's `qkhw` script runs the very same command line.

use clap::{Parser, Subcommand, ValueEnum};
use crate as qkhw;
use qkhw::quant::{Encoding, InternalSigmoid, Quantizer};
use qkhw::driver::{Built, HwRequest, Output};
use qkhw::{Error, npy};
use std::path::{Path, PathBuf};
use std::ffi::OsString;

const MODEL_HELP: &str = "The model: a .keras file (Keras 3 / qkeras-v3), a legacy full-model .h5, or a model JSON (model.to_json()) with its weights beside it as NAME.weights.h5 or NAME.h5";

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
    /// with an alpha / auto scale other than 1, the scale in C.scale.npy.
    /// Nothing is written unless every file can be.
    Quantize {
        /// The quantizer as written in QKeras, e.g. "quantized_po2(4)".
        spec: String,
        /// float32 .npy input (any shape; auto scales are per last axis).
        #[arg(long)]
        input: PathBuf,
        /// float32 .npy output, same shape.
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// int64 .npy of hardware codes.
        #[arg(long)]
        codes: Option<PathBuf>,
        /// QKeras's set_internal_sigmoid switch (quantized_relu(use_sigmoid),
        /// quantized_tanh, quantized_sigmoid, quantized_ulaw).
        #[arg(long, value_enum, default_value_t = InternalSigmoid::Hard)]
        internal_sigmoid: InternalSigmoid,
    },
    /// Print the dict of QKeras's model_save_quantized_weights, bit-exactly.
    ///
    /// Same layers, keys and float32 values as QKeras 1.2.1 returns,
    /// quirks included (auto_po2 entries q(w)*m/m_i; see `qkhw rom` for the
    /// integer codes hardware stores). Layers without quantizers that qkhw
    /// does not build (TimeDistributed, Masking, ...) are left out, as QKeras
    /// leaves them out.
    ///
    /// Example:
    ///   qkhw weights examples/models/jet_tagger.keras --json weights.json
    Weights {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        /// Write the whole dict as JSON to this file (`-` for stdout):
        /// arrays as {"dtype", "shape", "data"}, floats in shortest form.
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Freeze auto_po2 scales: QKeras's clone_model_and_freeze_auto_po2_scale.
    ///
    /// Every weight quantizer with alpha="auto_po2" (kernels, depthwise and
    /// pointwise kernels, biases, a QBatchNormalization's inverse quantizer)
    /// gets the power-of-two scale it computes on its weight as
    /// post_training_scale; the float weights stay as they are. Writes a
    /// .keras file QKeras loads, read back here and checked to give the same
    /// hardware weights. Unlike QKeras's function (a single-input chain of
    /// QConv2D, QDepthwiseConv2D, QDense, QBatchNormalization) it keeps any
    /// structure and takes every layer with a weight quantizer.
    ///
    /// Example:
    ///   qkhw freeze examples/models/auto_po2_mlp.keras -o frozen.keras
    Freeze {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        /// The .keras file to write.
        #[arg(short, long)]
        out: PathBuf,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Quantize a float Keras model: QKeras's model_quantize, weights transferred.
    ///
    /// Reads a float Keras 3 .keras model and a quantizer_config as JSON, in
    /// QKeras's form: keys are layer names, QKeras class names (QDense,
    /// QConv2D, QDepthwiseConv2D, QConv2DBatchnorm, QLSTM, QBidirectional,
    /// QBatchNormalization, QAveragePooling2D, ...) or "default"; values
    /// hold the quantizers ({"kernel_quantizer": "quantized_bits(4,0,1)",
    /// "bias_quantizer": ...}); "QActivation" maps activation names to
    /// quantizers ({"relu": "quantized_relu(4)"}) or is one quantizer for
    /// every Activation layer ("" inside the object leaves that activation
    /// float, as in QKeras; a top-level "" asks for the --activation-bits
    /// default). A layer's own relu/tanh/sigmoid becomes
    /// quantized_relu/tanh/sigmoid(--activation-bits) unless its entry has an
    /// activation_quantizer. A layer without a quantizer stays float. Writes
    /// a QKeras .keras file (QKeras's load_qmodel reads it; so does every
    /// qkhw command).
    ///
    /// Where QKeras 1.2.1 breaks, qkhw does what QKeras documents: --fold-bn
    /// moves the trained weights into the folded layers (QKeras leaves them
    /// random; qkhw also keeps the batch norm's epsilon, and folds one
    /// without scale or center as gamma 1 / beta 0) and folds only into a
    /// layer that gets a quantizer (a
    /// DepthwiseConv2D keeps its batch norm separate: QKeras 1.2.1 cannot
    /// reload a QDepthwiseConv2DBatchnorm from any .keras file); "default"
    /// applies to every weight layer without its own entry (QKeras never
    /// reads it; its "kernel"/"bias" keys work); LeakyReLU (Keras 3)
    /// converts, and so does a ReLU layer with "QActivation": ""; a
    /// SeparableConv takes depthwise_quantizer and pointwise_quantizer
    /// (kernel_quantizer stands for both; QKeras's own result does not load);
    /// layer
    /// names are kept (QKeras renames a converted LSTM to `qlstm`).
    /// "QBatchNormalization": {} gives a QBatchNormalization without
    /// quantizers, float as before; a ReLU's max_value and threshold are
    /// dropped (the quantizer bounds the output), as in QKeras.
    ///
    /// Example:
    ///   qkhw quantize-model examples/float_models/mlp.keras --config examples/float_models/mlp.qconfig.json --activation-bits 6 -o q.keras
    #[command(name = "quantize-model")]
    QuantizeModel {
        /// The float Keras 3 model (.keras).
        model: PathBuf,
        /// QKeras's quantizer_config as a JSON file.
        #[arg(long)]
        config: PathBuf,
        /// Bits of the quantized relu/tanh/sigmoid a layer's own activation
        /// becomes (QKeras's required activation_bits).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32))]
        activation_bits: u32,
        /// Fold each Conv2D with the BatchNormalization after it into a
        /// QConv2DBatchnorm (QKeras's enable_bn_folding), trained weights
        /// included.
        #[arg(long)]
        fold_bn: bool,
        /// The .keras file to write.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Per layer: class, shapes, quantizers, hardware formats, parameters, MACs, sparsity.
    ///
    /// Example:
    ///   qkhw inspect examples/models/cnn_bn.keras
    Inspect {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Generate a design: Verilog-2005 (default), fixed-point C99, or HLS C++.
    ///
    /// --target verilog: a fully unrolled, pipelined design with an
    /// AXI-Stream top; writes the Verilog, files.f, interface.json,
    /// README.md, a FuseSoC .core, example .xdc/.sdc clock constraints and
    /// report.txt/.json. --target c: <model>.h/.c. --target hls:
    /// <model>.h/.cpp, a C-simulation testbench with its vectors
    /// (tb_vectors.txt) and build_prj.tcl. Every folder gets
    /// qkhw-manifest.json; a later gen into it replaces exactly those files.
    ///
    /// Flags by target: --pipeline-levels, --no-dsp, --pack-dsp,
    /// --axis-names and --synth only for verilog; --flavor only for hls.
    ///
    /// Examples:
    ///   qkhw gen examples/models/jet_tagger_da.keras --target verilog -o rtl --no-dsp
    ///   qkhw gen examples/models/jet_tagger.keras --target hls --flavor catapult -o hls
    Gen {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Verilog only: run Yosys (synth_xilinx -flatten) for LUT/FF/DSP/CARRY
        /// counts and `ltp` logic depth of the whole design and of each
        /// layer, two modules at a time. Takes seconds for small designs,
        /// minutes for large ones (the estimate is printed first).
        #[arg(long)]
        synth: bool,
        /// Write into a non-empty folder that qkhw did not write (no
        /// qkhw-manifest.json there); nothing in it is deleted.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        hw: HwArgs,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Simulate or run a design and compare it with the golden model, bit for bit.
    ///
    /// --target verilog: generates the design (or takes --design DIR),
    /// builds it with Verilator (cached by the design's hash) or Icarus
    /// (--sim iverilog), streams every vector with random input gaps and
    /// output back-pressure (from --seed), then again steadily (Verilator:
    /// checking the latency and initiation interval), and compares every
    /// output code. --target c: compiles the C with gcc -std=c99 -Wall
    /// -Wextra -Werror -pedantic and UBSan. --target hls: compiles the HLS
    /// C++ and its testbench with g++ against the open-source ap_types /
    /// ac_types headers (C simulation). On a mismatch: exit 1, the first
    /// sample and output, and (Verilog) the first layer whose output differs.
    ///
    /// Flags by target: --design, --sim, --trace, --pipeline-levels,
    /// --no-dsp, --pack-dsp and --axis-names only for verilog; --flavor
    /// only for hls.
    ///
    /// Example:
    ///   qkhw verify examples/models/jet_tagger_da.keras --target verilog --input tests/golden/predict/jet_tagger_da/inputs.npy --random 10000
    Verify {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        /// Verilog only: check this generated folder instead of regenerating.
        #[arg(long)]
        design: Option<PathBuf>,
        /// float32 inputs (quantized with the model's input quantizer, or
        /// the input format). A model with several inputs takes one per
        /// input: `--input NAME=a.npy` by input name, or in model order.
        #[arg(long)]
        input: Vec<PathBuf>,
        /// Random input codes over the whole input format, in addition
        /// (default 1000 when --input is not given).
        #[arg(long, value_parser = at_least_one::<u64>)]
        random: Option<u64>,
        /// Seed of the random vectors, gaps and back-pressure.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Verilog only: the simulator (default verilator).
        #[arg(long, value_enum)]
        sim: Option<SimArg>,
        /// Verilog with Verilator only: write a waveform of the random run:
        /// FST when FILE ends in .fst (compact; prefer it), else VCD (about
        /// 80 KB per sample of jet_tagger_da).
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write a JUnit XML report (the path is checked before simulating).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Also write the report as JSON (pass/fail, samples, first
        /// mismatch, latency, II, simulator speed).
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        hw: HwArgs,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Write bit-exact weight ROMs of every constant, plus manifest.json.
    ///
    /// One file per tensor, one word per element in row-major order:
    /// fixed-point codes in two's complement, power-of-two weights packed
    /// as [sign][exponent], auto_po2 weights as integer codes with their
    /// per-channel power of two in the manifest, fused batch norms as
    /// bn_inv / fused_bias tables. --format c also writes <model>_roms.h
    /// declaring every array with its size, width and fraction bits.
    ///
    /// Example:
    ///   qkhw rom examples/models/jet_tagger.keras --format mem -o roms/
    Rom {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        /// mem or hex ($readmemh), coe (Xilinx), mif (Intel), c (C arrays and a header).
        #[arg(long, value_parser = ["mem", "hex", "coe", "mif", "c"])]
        format: String,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// row-major (one file per tensor, default) or folded: the weight
        /// ROMs of the folded architecture at --reuse-factor, word for word
        /// what `gen --reuse-factor` puts in the Verilog ($readmemh files).
        #[arg(long, value_enum, default_value_t = LayoutArg::RowMajor)]
        layout: LayoutArg,
        /// With --layout folded: hls4ml's reuse factor (as for gen).
        #[arg(long, value_parser = at_least_one::<u64>)]
        reuse_factor: Option<u64>,
        /// With --layout folded: per-layer reuse factors (as for gen).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Run the bit-exact integer golden model.
    ///
    /// Y holds what QKeras's model.predict returns (a final float softmax is
    /// dropped: the logits come out); C the hardware's integer codes (int64),
    /// value = code x 2^-frac with frac printed. A model with several
    /// outputs writes Y.npy, Y.1.npy, ... (and C.npy, C.1.npy, ...).
    /// Without --input-format, inputs are taken exactly as QKeras takes
    /// them; the hardware (gen/verify) may round them: the line "input
    /// format" says which and how to match the hardware. Inputs too wide to
    /// hold exactly go through the model's input quantizer; where QKeras's
    /// float32 straight-through x + (-x + xq) loses the quantizer's value
    /// (|x| far beyond its range), a notice says so and Y follows xq.
    ///
    /// Example:
    ///   qkhw predict examples/models/jet_tagger.keras --input x.npy --output y.npy --codes c.npy
    Predict {
        #[arg(help = MODEL_HELP)]
        model: PathBuf,
        #[command(flatten)]
        input: GoldenInput,
        /// float32 .npy of shape (batch, *output shape).
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// int64 .npy of the output codes.
        #[arg(long)]
        codes: Option<PathBuf>,
        #[command(flatten)]
        sem: Semantics,
    },
    /// Write every layer's output: NAME.bin (float32, like QKeras's
    /// quantized_model_dump) and NAME.codes.npy (int64 codes; codes wider
    /// than 64 bits as NAME.codes.hi.npy int64 and NAME.codes.lo.npy
    /// uint64, code = hi x 2^64 + lo).
    ///
    /// Example:
    ///   qkhw dump examples/models/cnn_bn.keras --input x.npy -o dump/ --layers conv1,relu1
    Dump {
        #[arg(help = MODEL_HELP)]
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
    /// Per layer: range of outputs and weights, and how many inputs each
    /// quantizer clamped below and above its range; with --plot,
    /// histograms as SVG.
    ///
    /// Example:
    ///   qkhw debug examples/models/jet_tagger.keras --input x.npy --plot plots/
    Debug {
        #[arg(help = MODEL_HELP)]
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

/// The code `gen` / `verify` produce.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// Verilog-2005 RTL with an AXI-Stream top.
    Verilog,
    /// Integer-only C99.
    C,
    /// HLS C++ (see --flavor).
    Hls,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Verilog => "verilog",
            Target::C => "c",
            Target::Hls => "hls",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LayoutArg {
    /// One file per tensor, row-major.
    RowMajor,
    /// The folded architecture's ROM words.
    Folded,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SimArg {
    Verilator,
    Iverilog,
}

/// Options of `gen` / `verify`.
#[derive(clap::Args, Clone)]
struct HwArgs {
    /// verilog, c (fixed-point C99) or hls (HLS C++, see --flavor).
    #[arg(long, value_enum, default_value_t = Target::Verilog)]
    target: Target,
    /// The hardware input format, e.g. fixed<16,6> or
    /// ap_fixed<16,6,AP_RND_CONV,AP_SAT>. Given, it is every input's (an
    /// input quantizer's format included). Default: each input's quantizer
    /// (a QActivation right after the Input) or, without one, fixed<16,6>
    /// with a notice.
    #[arg(long)]
    input_format: Option<String>,
    /// Per-layer precision overrides (TOML), as for predict.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A standalone QBatchNormalization before a quantizer: `tables` (the
    /// exact bn_inv / bn_bias of model_save_quantized_weights, default) or
    /// `qkeras` (what model.predict computes in float32, TensorFlow's x86-64
    /// 1/sqrt included: per channel, the few input codes where that rounds
    /// to another output are compared in hardware). Per layer:
    /// `[layer.NAME] bn` in --config.
    #[arg(long, value_enum)]
    bn: Option<qkhw::passes::config::BnMode>,
    /// HLS only: vitis (ap_fixed, ap_int, hls::stream; default) or catapult
    /// (ac_fixed, ac_int, ac_channel).
    #[arg(long, value_enum)]
    flavor: Option<qkhw::backend::Flavor>,
    /// Verilog only: register every N adder-tree or comparison levels
    /// (default 4). Example: --pipeline-levels 3
    #[arg(long, value_parser = at_least_one::<u32>)]
    pipeline_levels: Option<u32>,
    /// Verilog only: constant multiplies as canonical-signed-digit shift-adds: no DSPs.
    #[arg(long)]
    no_dsp: bool,
    /// Verilog only: folded layers put two output lanes' 8-bit products in
    /// one DSP48 slice (x·(w1·2^s + w2), split after the product
    /// register), where both fit its 25 × 18 multiplier: up to twice the
    /// multipliers for the same DSP48 count.
    #[arg(long)]
    pack_dsp: bool,
    /// Verilog only: name the ports aclk, aresetn (active low), s_axis_*, m_axis_*.
    #[arg(long)]
    axis_names: bool,
    /// What comes out: the logits (default) or the arg-max class index.
    #[arg(long, value_enum)]
    output_head: Option<qkhw::passes::config::OutputHead>,
    /// Verilog and HLS: hls4ml's ReuseFactor for every foldable layer:
    /// each multiplier is used R times per sample, ceil(N/R) multipliers
    /// for N products, weights in ROMs (Verilog) or reshaped by block
    /// (HLS, hls4ml's Resource strategy), initiation interval about R (the
    /// report gives the real one). 1: fully unrolled (default). Per layer:
    /// `[layer.NAME] reuse_factor` in --config. Example: --reuse-factor 16
    #[arg(long, value_parser = at_least_one::<u64>)]
    reuse_factor: Option<u64>,
    /// Verilog only: the nominal clock period in ns for the .xdc/.sdc and
    /// the report's throughput (default 5). Example: --clock-period 10
    #[arg(long)]
    clock_period: Option<f64>,
    /// Verilog only: the FPGA the report and --synth compare with:
    /// xc7z020 (Pynq-Z2), xc7a100t (Arty A7-100T), xcvu9p (default).
    #[arg(long)]
    part: Option<String>,
    /// Verilog only: folded layers' ROM contents inline in the Verilog
    /// (default: every tool reads them) or in `$readmemh` files beside it
    /// (listed in files.f, the .core and vivado_files.tcl; read from the
    /// design folder, or from the macro QKHW_ROM_DIR when defined).
    #[arg(long, value_enum)]
    rom_init: Option<RomInitArg>,
    /// Verilog only: `rom_style` attribute on the folded ROMs: block or
    /// distributed (default: the synthesis tool's choice).
    #[arg(long, value_enum)]
    rom_style: Option<qkhw::arch::netlist::RomStyle>,
    /// Verilog and HLS: choose every foldable layer's reuse factor for the
    /// smallest initiation interval whose estimated DSP48, BRAM36, LUTs and
    /// FFs fit: dsp=N,bram=K,lut=L,ff=F (any of them; LUT and FF by the
    /// fabric estimate of each candidate's netlist). A layer that cannot
    /// fold within the interval is unrolled (no DSP48) where the fabric
    /// fits lut=/ff=, else the part's (--part; default xcvu9p).
    /// Example: --budget dsp=220,bram=140,lut=53200
    #[arg(long)]
    budget: Option<String>,
    /// Verilog and HLS: parallel (default: one whole sample per transfer)
    /// or stream (images and sequences pixel by pixel, every channel of a
    /// pixel per beat, through line buffers; hls4ml's io_stream). HLS
    /// gets the streaming design as a dataflow top beside the array top.
    #[arg(long, value_enum)]
    io: Option<qkhw::backend::verilog::Io>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RomInitArg {
    Inline,
    File,
}

impl HwArgs {
    /// Flags of another target are errors, not silently ignored.
    fn check(&self) -> Result<(), Error> {
        let t = self.target;
        let only = |flag: &str, want: Target| Error::Usage(format!("{flag} applies to --target {} only, not --target {}", want.name(), t.name()));
        if self.flavor.is_some() && t != Target::Hls {
            return Err(only("--flavor", Target::Hls));
        }
        if self.budget.is_some() && self.reuse_factor.is_some() {
            return Err(Error::Usage("--budget chooses the reuse factors: give --budget or --reuse-factor, not both".into()));
        }
        if t == Target::C {
            let stream = self.io == Some(qkhw::backend::verilog::Io::Stream);
            for (given, flag) in [(self.reuse_factor.is_some(), "--reuse-factor"), (self.budget.is_some(), "--budget"), (stream, "--io stream")] {
                if given {
                    return Err(Error::Usage(format!("{flag} applies to --target verilog and hls (the C model is sequential), not --target c")));
                }
            }
        }
        if self.pack_dsp && self.no_dsp {
            return Err(Error::Usage("--pack-dsp packs products into DSP48 slices and --no-dsp uses none: give one of them".into()));
        }
        if t != Target::Verilog {
            for (given, flag) in self.verilog_design_flags() {
                if given {
                    return Err(only(flag, Target::Verilog));
                }
            }
        }
        Ok(())
    }

    fn config(&self) -> Result<qkhw::passes::config::Config, Error> {
        let mut c = match &self.config {
            Some(p) => qkhw::passes::config::Config::read(p)?,
            None => Default::default(),
        };
        if let Some(h) = self.output_head {
            c.output_head = h;
        }
        if let Some(b) = self.bn {
            c.model.bn = Some(b);
        }
        Ok(c)
    }

    fn input_spec(&self) -> Result<Option<qkhw::fxp::InputFormat>, Error> {
        self.input_format.as_deref().map(str::parse).transpose()
    }

    fn flavor(&self) -> qkhw::backend::Flavor {
        self.flavor.unwrap_or_default()
    }

    /// The typed request these flags make (checked: flags of another
    /// target are refused).
    fn request(&self, g: &qkhw::ir::Graph, sem: &Semantics) -> Result<HwRequest, Error> {
        self.check()?;
        Ok(HwRequest {
            target: match self.target {
                Target::Verilog => qkhw::driver::Target::Verilog,
                Target::C => qkhw::driver::Target::C,
                Target::Hls => qkhw::driver::Target::Hls(self.flavor()),
            },
            input_format: self.input_spec()?,
            config: self.config()?,
            internal_sigmoid: sem.internal_sigmoid,
            verilog: self.verilog_options(g, sem)?,
        })
    }

    /// The Verilog-only flags that shape the design (whether each is given).
    fn verilog_design_flags(&self) -> [(bool, &'static str); 8] {
        [
            (self.pipeline_levels.is_some(), "--pipeline-levels"),
            (self.no_dsp, "--no-dsp"),
            (self.pack_dsp, "--pack-dsp"),
            (self.axis_names, "--axis-names"),
            (self.clock_period.is_some(), "--clock-period"),
            (self.part.is_some(), "--part"),
            (self.rom_init.is_some(), "--rom-init"),
            (self.rom_style.is_some(), "--rom-style"),
        ]
    }

    /// The golden model `plan` is, with the options that chose it, as a
    /// design folder records it.
    fn golden(&self, plan: &qkhw::plan::Plan, sem: &Semantics) -> qkhw::backend::folder::Golden {
        let mut options = vec![];
        if let Some(c) = &self.config {
            options.extend(["--config".to_string(), c.display().to_string()]);
        }
        if let Some(f) = &self.input_format {
            options.extend(["--input-format".to_string(), f.clone()]);
        }
        if let Some(b) = self.bn {
            options.extend(["--bn".to_string(), value_name(b)]);
        }
        if let Some(h) = self.output_head {
            options.extend(["--output-head".to_string(), value_name(h)]);
        }
        if sem.internal_sigmoid != InternalSigmoid::Hard {
            options.extend(["--internal-sigmoid".to_string(), value_name(sem.internal_sigmoid)]);
        }
        qkhw::backend::folder::Golden { plan_sha256: plan.fingerprint(), options }
    }

    /// `verify --design` checks a design as it was generated: the options
    /// that choose an architecture are `gen`'s, and given here they would
    /// be ignored.
    fn design_as_generated(&self) -> Result<(), Error> {
        let folding = [(self.reuse_factor.is_some(), "--reuse-factor"), (self.budget.is_some(), "--budget"), (self.io.is_some(), "--io")];
        for (given, flag) in folding.into_iter().chain(self.verilog_design_flags()) {
            if given {
                return Err(Error::Usage(format!("{flag} chooses the design `gen` makes; --design verifies a design as it was generated: give {flag} to gen, or verify without --design")));
            }
        }
        Ok(())
    }

    /// The Verilog target's options (the HLS target's `--budget` choice
    /// uses them too).
    fn verilog_options(&self, g: &qkhw::ir::Graph, sem: &Semantics) -> Result<qkhw::backend::verilog::Options, Error> {
        Ok(qkhw::backend::verilog::Options {
            pipeline_levels: self.pipeline_levels.unwrap_or(4),
            no_dsp: self.no_dsp,
            pack_dsp: self.pack_dsp,
            axis_names: self.axis_names,
            internal_sigmoid: sem.internal_sigmoid,
            header: qkhw::backend::verilog::header(g, sem.internal_sigmoid),
            reuse_factor: self.reuse_factor.map(|r| r as usize),
            clock_period: match self.clock_period {
                Some(p) if p.is_finite() && p > 0.0 => p,
                Some(p) => return Err(Error::Usage(format!("--clock-period {p}: give a positive number of ns"))),
                None => 5.0,
            },
            part: self.part.as_deref().map(str::parse).transpose()?.unwrap_or_default(),
            budget: self.budget.as_deref().map(str::parse).transpose()?,
            rom_init_file: self.rom_init == Some(RomInitArg::File),
            rom_style: self.rom_style,
            io: self.io.unwrap_or_default(),
            fifo_minimum: false,
            shift_add_layers: Default::default(),
            const_shift_adds: false,
        })
    }
}

fn input_files(g: &qkhw::ir::Graph, given: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let names: Vec<&str> = g.inputs.iter().map(|i| g.layers[i.0].name.as_str()).collect();
    let mut slots: Vec<Option<PathBuf>> = vec![None; names.len()];
    let mut next = 0;
    for p in given {
        let text = p.to_string_lossy();
        let named = text.split_once('=').and_then(|(n, f)| names.iter().position(|&m| m == n).map(|k| (k, f)));
        if named.is_none()
            && let Some((n, _)) = text.split_once('=')
            && !p.exists()
        {
            return Err(Error::Usage(format!("--input {text}: the model has no input `{n}` (its inputs, in model order: {})", names.join(", "))));
        }
        let (k, file) = match named {
            Some((k, f)) => (k, PathBuf::from(f)),
            None => {
                while next < slots.len() && slots[next].is_some() {
                    next += 1;
                }
                (next, p.clone())
            }
        };
        if k >= slots.len() {
            return Err(Error::Usage(format!(
                "--input {}: the model has {} input{} ({})",
                p.display(),
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            )));
        }
        if slots[k].is_some() {
            return Err(Error::Usage(format!("--input: input `{}` given twice", names[k])));
        }
        slots[k] = Some(file);
    }
    if let Some(k) = slots.iter().position(Option::is_none) {
        return Err(Error::Usage(format!("--input: no array for input `{}` (give --input {}=FILE.npy)", names[k], names[k])));
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Inputs of the golden model.
#[derive(clap::Args)]
struct GoldenInput {
    /// float32 .npy of shape (batch, *model input shape). A model with
    /// several inputs takes one per input: `--input NAME=a.npy` by input
    /// name, or in model order.
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Quantize the inputs to this format first, e.g. fixed<16,6> (ties to
    /// even, saturating) or ap_fixed<16,6> (truncating, wrapping), as the
    /// hardware sees them. Default: the float32 inputs exactly as QKeras
    /// takes them.
    #[arg(long)]
    input_format: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Per-layer precision overrides (TOML: [input] format, [layer.NAME]
    /// output / bn_inv / bn_bias / rounding / overflow). See the README.
    #[arg(long)]
    config: Option<PathBuf>,
    /// What comes out: the logits (default) or the arg-max class index.
    #[arg(long, value_enum)]
    output_head: Option<qkhw::passes::config::OutputHead>,
    /// A standalone QBatchNormalization before a quantizer: `tables` (the
    /// exact bn_inv / bn_bias of model_save_quantized_weights, default) or
    /// `qkeras` (what model.predict computes in float32, TensorFlow's x86-64
    /// 1/sqrt included: per channel, the few input codes where that rounds
    /// to another output are compared in hardware). Per layer:
    /// `[layer.NAME] bn` in --config.
    #[arg(long, value_enum)]
    bn: Option<qkhw::passes::config::BnMode>,
}

impl GoldenInput {
    /// The input arrays in model order (see `input`), and the options.
    fn read(&self, g: &qkhw::ir::Graph) -> Result<(Vec<qkhw::npy::Array<f32>>, qkhw::golden::PredictOptions), Error> {
        let slots = input_files(g, &self.input)?;
        let xs = slots.iter().map(|p| npy::read_f32(p)).collect::<Result<Vec<_>, _>>()?;
        // A wrong shape or a NaN names its file.
        for (k, (p, x)) in slots.iter().zip(&xs).enumerate() {
            qkhw::golden::check_input_shape(g, k, &x.shape).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))?;
            no_nan(p, x)?;
        }
        let input_format = self.input_format.as_deref().map(str::parse).transpose()?;
        let mut config = match &self.config {
            Some(p) => qkhw::passes::config::Config::read(p)?,
            None => Default::default(),
        };
        if let Some(h) = self.output_head {
            config.output_head = h;
        }
        if let Some(b) = self.bn {
            config.model.bn = Some(b);
        }
        // Without a format, an input no quantizer reads is taken exactly:
        // an infinity, or tiny and huge values together, name its file.
        if input_format.is_none() && config.input.is_none() {
            let read = qkhw::golden::hardware_inputs(g, None, &config)?.0;
            for (k, (p, x)) in slots.iter().zip(&xs).enumerate() {
                if read.get(k).is_none_or(|(_, q)| q.is_none()) {
                    qkhw::golden::exact_inputs_threads(&x.data, &x.shape, qkhw::golden::worker_threads(self.threads)).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))?;
                }
            }
        }
        Ok((xs, qkhw::golden::PredictOptions { input_format, threads: self.threads, keep: None, progress: true, config }))
    }
}

/// A NaN has no code in any format: refused naming the file and where.
fn no_nan(p: &Path, x: &npy::Array<f32>) -> Result<(), Error> {
    match x.data.iter().position(|v| v.is_nan()) {
        Some(i) => Err(Error::Usage(format!(
            "{}: input {}: NaN has no fixed-point code; replace NaNs in the input (e.g. numpy.nan_to_num)",
            p.display(),
            qkhw::golden::locate(i, &x.shape)
        ))),
        None => Ok(()),
    }
}

/// Switches QKeras keeps outside the model file.
#[derive(clap::Args)]
struct Semantics {
    /// QKeras's set_internal_sigmoid (quantized_tanh, quantized_sigmoid, ...).
    #[arg(long, value_enum, default_value_t = InternalSigmoid::Hard)]
    internal_sigmoid: InternalSigmoid,
}

impl Semantics {
    fn load(&self, model: &Path) -> Result<qkhw::ir::Graph, Error> {
        qkhw::load_graph(model, qkhw::ir::BuildOptions { sigmoid: self.internal_sigmoid, skip_unsupported: false })
    }

    /// [`Self::load`] keeping the layers qkhw does not build as skipped.
    fn load_keeping_unbuilt(&self, model: &Path) -> Result<qkhw::ir::Graph, Error> {
        qkhw::load_graph(model, qkhw::ir::BuildOptions { sigmoid: self.internal_sigmoid, skip_unsupported: true })
    }
}

/// Run the command line on `args` (the program name first) and return
/// the process exit code: 0 success, 1 a verification mismatch, 2 a user
/// or internal error (printed as one `error:` line), clap's own codes for
/// `--help` / `--version` / malformed flags.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> u8 {
    match run_args(args) {
        Ok(code) => code,
        Err(e) => {
            e.print();
            match e {
                CliError::Clap(c) => c.exit_code().clamp(0, 255) as u8,
                CliError::Failed(_) => 2,
            }
        }
    }
}

/// Why a command line did not run to completion.
#[derive(Debug)]
pub enum CliError {
    /// clap's answer: help, version or a malformed command line (its exit
    /// code says which); printed as clap prints it.
    Clap(clap::Error),
    /// The command failed: one line, as the CLI prints after `error: `.
    Failed(Error),
}

impl CliError {
    /// `--help` / `--version`: text to print, not a failure.
    pub fn is_info(&self) -> bool {
        matches!(self, CliError::Clap(e) if e.exit_code() == 0)
    }

    /// Print it as the command line does (clap's text, or `error: ...`).
    pub fn print(&self) {
        match self {
            CliError::Clap(e) => {
                let _ = e.print();
            }
            CliError::Failed(e) => eprintln!("error: {e}"),
        }
    }

    /// The message in one piece, without the leading `error: `.
    pub fn message(&self) -> String {
        match self {
            CliError::Clap(e) => e.render().to_string().trim_end().trim_start_matches("error: ").to_string(),
            CliError::Failed(e) => e.to_string(),
        }
    }
}

/// Parse and run; `Ok(1)` is a verification that found differences.
/// Nothing is printed for an error: the caller decides (the binary prints
/// it, the Python extension raises it).
pub fn run_args(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> Result<u8, CliError> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // `--reuse-factor -1` is a bad value, not an unknown option `-1`.
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for n in names {
        cmd = cmd.mut_subcommand(n, |s| s.allow_negative_numbers(true));
    }
    let cli = cmd.try_get_matches_from(&args).and_then(|m| Cli::from_arg_matches(&m)).map_err(|e| clap_error(e, &args))?;
    run(cli).map_err(CliError::Failed)
}

/// A count of 1 or more (clap's own range parser names the type's limit,
/// `1..=4294967295`).
fn at_least_one<T: std::str::FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    match s.trim().parse::<T>() {
        Ok(v) if v >= T::from(1) => Ok(v),
        _ => Err("give a whole number of 1 or more".into()),
    }
}

/// clap's errors, without the `-- --flag` tip that misleads here (qkhw
/// takes no free arguments after the model).
fn clap_error(e: clap::Error, args: &[OsString]) -> CliError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::UnknownArgument {
        let arg = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let hint = match e.get(ContextKind::SuggestedArg) {
            Some(ContextValue::String(s)) => format!("; did you mean {s}?"),
            _ => String::new(),
        };
        let cmd = args.get(1).map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        return CliError::Failed(Error::Usage(format!("unknown option `{arg}`{hint} (see `qkhw {cmd} --help` for the options)")));
    }
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => CliError::Clap(e),
        // Any other misuse in one line, as qkhw's own errors: clap's
        // message up to its usage block (a missing argument's name is on
        // the lines after the first), then where the options are listed.
        _ => {
            let text = e.render().to_string();
            let message: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            let cmd = args.get(1).map(|a| a.to_string_lossy().into_owned()).filter(|c| !c.starts_with('-') && e.kind() != ErrorKind::InvalidSubcommand).map(|c| format!(" {c}")).unwrap_or_default();
            CliError::Failed(Error::Usage(format!("{message} (see `qkhw{cmd} --help`)")))
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    let done: Result<(), Error> = match cli.command {
        Command::Quantize { spec, input, output, codes, internal_sigmoid } => quantize(&spec, internal_sigmoid, &input, &output, codes.as_deref()),
        Command::Weights { model, json, sem } => weights(&sem.load_keeping_unbuilt(&model)?, json.as_deref()),
        Command::Freeze { model, out, sem } => {
            qkhw::staging::check_writable(&out)?;
            if out.exists() && std::fs::canonicalize(&out).ok() == std::fs::canonicalize(&model).ok() {
                return Err(Error::Usage(format!("freeze: -o {} is the model itself; write the frozen model to another file (the original keeps the unfrozen quantizers)", out.display())));
            }
            let g = sem.load(&model)?;
            let frozen = qkhw::freeze::freeze(&g, &out)?;
            for n in qkhw::freeze::not_frozen(&g).into_iter().chain(qkhw::freeze::predict_changes(&g, &frozen)?) {
                eprintln!("note: {n}");
            }
            for f in &frozen {
                let values: Vec<String> = f.scale.iter().map(|v| v.to_string()).collect();
                println!("{}.{}: post_training_scale {:?} = [{}]", f.layer, f.key, f.shape, values.join(", "));
            }
            println!(
                "{} -> {}: {} auto_po2 quantizer{} frozen; float weights unchanged; hardware weights checked equal to the original's",
                model.display(),
                out.display(),
                frozen.len(),
                if frozen.len() == 1 { "" } else { "s" }
            );
            Ok(())
        }
        Command::QuantizeModel { model, config, activation_bits, fold_bn, out } => quantize_model(&model, &config, activation_bits, fold_bn, &out),
        Command::Inspect { model, json, sem } => {
            let mut info = qkhw::inspect::inspect(&sem.load_keeping_unbuilt(&model)?)?;
            // What only the other commands refuse (an initial_state, say).
            if info.refused.is_none()
                && let Err(e) = sem.load(&model)
            {
                info.refused = Some(e.to_string());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&info).map_err(|e| Error::Internal(e.to_string()))?);
            } else {
                print!("{}", qkhw::inspect::render(&info));
            }
            Ok(())
        }
        Command::Predict { model, input, output, codes, sem } => predict(&sem.load(&model)?, &input, &output, codes.as_deref()),
        Command::Dump { model, input, out, layers, sem } => {
            let g = sem.load(&model)?;
            let (x, opts) = input.read(&g)?;
            let (files, notes, used) = qkhw::golden::debug::dump(&g, &x, &opts, &out, &layers)?;
            for n in notes {
                eprintln!("note: {n}");
            }
            println!("{files} layer outputs -> {}", out.display());
            println!("{}", input_format_line(&g, &used, &input, &opts));
            Ok(())
        }
        Command::Debug { model, input, plot, sem } => {
            let g = sem.load(&model)?;
            let (x, opts) = input.read(&g)?;
            let (report, used) = qkhw::golden::debug::debug(&g, &x, &opts, plot.as_deref())?;
            print!("{report}");
            println!("{}", input_format_line(&g, &used, &input, &opts));
            Ok(())
        }
        Command::Gen { model, out, synth, force, hw, sem } => generate(&model, &out, synth, force, &hw, &sem),
        Command::Verify { model, design, input, random, seed, sim, trace, junit, json, hw, sem } => {
            hw.check()?;
            if hw.target != Target::Verilog {
                for (given, flag) in [(design.is_some(), "--design"), (sim.is_some(), "--sim"), (trace.is_some(), "--trace")] {
                    if given {
                        return Err(Error::Usage(format!("{flag} applies to --target verilog only, not --target {}", hw.target.name())));
                    }
                }
            }
            if trace.is_some() && sim == Some(SimArg::Iverilog) {
                return Err(Error::Usage("--trace applies to --sim verilator only (Icarus writes no waveform here)".into()));
            }
            let opts = VerifyOpts { design: design.as_deref(), input: &input, random: random.map(|r| r as usize), seed, sim: sim.unwrap_or(SimArg::Verilator), trace: trace.as_deref(), junit: junit.as_deref(), json: json.as_deref() };
            return verify(&model, &opts, &hw, &sem);
        }
        Command::Rom { model, format, out, layout: LayoutArg::Folded, reuse_factor, config, sem } => {
            if format != "mem" && format != "hex" {
                return Err(Error::Usage(format!("--layout folded writes $readmemh files: --format mem or hex, not {format}")));
            }
            if reuse_factor.is_none() && config.is_none() {
                return Err(Error::Usage("--layout folded needs --reuse-factor R, or a --config giving layers a reuse_factor".into()));
            }
            let reuse = reuse_factor.map(|r| r as usize);
            let g = sem.load(&model)?;
            let cfg = match &config {
                Some(p) => qkhw::passes::config::Config::read(p)?,
                None => Default::default(),
            };
            let (plan, _) = qkhw::golden::hardware_plan(&g, None, &cfg)?;
            let tensors = qkhw::passes::hw_tensors::hw_tensors(&g)?;
            let roms = qkhw::backend::rom::into_folder(&out, || qkhw::backend::rom_folded::write(&g.name, &g.sha256, &plan, &tensors, reuse, &cfg, &out))?;
            for r in &roms {
                println!("{}: {} words x {} bits ({} x {} lanes) -> {}", r.layer, r.depth, r.word_width, r.lanes_out, r.lanes_in, out.join(&r.file).display());
            }
            println!("{} folded ROMs and manifest.json -> {}", roms.len(), out.display());
            Ok(())
        }
        Command::Rom { model, format, out, reuse_factor, config, sem, .. } => {
            if reuse_factor.is_some() || config.is_some() {
                return Err(Error::Usage("--reuse-factor and --config apply to --layout folded only".into()));
            }
            let g = sem.load(&model)?;
            let tensors = qkhw::passes::hw_tensors::hw_tensors(&g)?;
            let fmt = format.parse()?;
            let m = qkhw::backend::rom::into_folder(&out, || qkhw::backend::rom::write(&g.name, &g.sha256, &tensors, fmt, &out))?;
            let words: usize = m.tensors.iter().map(|t| t.depth).sum();
            let extra = if format == "c" { format!(", {} and", qkhw::backend::rom::c_header_name(&g.name)) } else { " and".into() };
            println!("{} ROMs ({words} words){extra} manifest.json -> {}", m.tensors.len(), out.display());
            Ok(())
        }
    };
    done.map(|()| 0)
}

fn generate(model: &Path, out: &Path, synth: bool, force: bool, hw: &HwArgs, sem: &Semantics) -> Result<(), Error> {
    hw.check()?;
    if synth && hw.target != Target::Verilog {
        return Err(Error::Usage(format!("--synth applies to --target verilog only, not --target {}", hw.target.name())));
    }
    let g = sem.load(model)?;
    let req = hw.request(&g, sem)?;
    let t = std::time::Instant::now();
    let Built { output, plan, notes } = qkhw::driver::build(&g, &req)?;
    let golden = hw.golden(&plan, sem);
    let origin = qkhw::backend::folder::Origin { model: &g.name, sha256: &g.sha256, target: req.target.name(), golden: Some(&golden) };
    match output {
        Output::Hls { files, .. } => {
            qkhw::backend::folder::write(out, &files, &origin, force)?;
            print_notes(&notes);
            let list: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
            let (tool, flag) = match hw.flavor() {
                qkhw::backend::Flavor::Vitis => ("vitis_hls -f build_prj.tcl", ""),
                qkhw::backend::Flavor::Catapult => ("catapult -shell -file build_prj.tcl", " --flavor catapult"),
            };
            println!("{} -> {} ({:.3} s); check with: cd {} && {tool} (or qkhw verify --target hls{flag})", list.join(", "), out.display(), t.elapsed().as_secs_f64(), out.display());
        }
        Output::C(m) => {
            qkhw::backend::folder::write(out, &m.files(), &origin, force)?;
            print_notes(&notes);
            let ins: Vec<String> = plan.inputs.iter().map(|&s| plan.steps[s].fmt.to_string()).collect();
            println!(
                "{0}.h / {0}.c -> {1} ({2:.3} s): void {0}_infer(codes of {3}), outputs {4}",
                m.name,
                out.display(),
                t.elapsed().as_secs_f64(),
                ins.join(", "),
                plan.steps[plan.outputs[0]].fmt
            );
        }
        Output::Verilog(d) => {
            let files = qkhw::backend::verilog::files::folder_files(&d, &req.verilog);
            qkhw::backend::folder::write(out, &files, &origin, force)?;
            print_notes(&notes);
            print!("{}", qkhw::backend::verilog::files::report_text(&d, &req.verilog));
            println!("{} files -> {} ({:.3} s)", files.len() + 1, out.display(), t.elapsed().as_secs_f64());
            if synth {
                synth_report(&d, out, &req.verilog)?;
            }
        }
    }
    Ok(())
}

fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("note: {n}");
    }
}

/// `gen --synth`: Yosys on the whole design and on every layer module, in
/// parallel, with an estimate first and a line per module as it finishes.
fn synth_report(d: &qkhw::backend::verilog::Design, out: &Path, opts: &qkhw::backend::verilog::Options) -> Result<(), Error> {
    use qkhw::backend::verilog::synth;
    let files: Vec<String> = std::fs::read_to_string(out.join("files.f"))
        .map_err(|e| Error::io(out.join("files.f"), e))?
        .lines()
        .map(str::to_string)
        .collect();
    let mut modules = vec![d.top.clone()];
    modules.extend(d.layers.iter().map(|l| l.module.clone()));
    let rows = synth::synth_all(out, &files, &modules, &d.layers.iter().map(|l| l.counts.clone()).collect::<Vec<_>>(), opts.no_dsp)?;
    // The fabric estimate (what --budget lut=,ff= holds) beside Yosys's.
    let est: Vec<&qkhw::arch::fabric::Fabric> = std::iter::once(&d.fabric).chain(d.layers.iter().map(|l| &l.counts.fabric)).collect();
    let mut text = format!("{:<32} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>7} {:>6} {:>8}\n", "module", "LUT", "est. LUT", "FF", "est. FF", "DSP", "CARRY4", "BRAM36", "ltp", "seconds");
    for (r, e) in rows.iter().zip(&est) {
        text += &format!(
            "{:<32} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>7.1} {:>6} {:>8.1}\n",
            r.module,
            r.luts,
            e.luts(opts.no_dsp),
            r.ffs,
            e.ffs(opts.no_dsp),
            r.dsps,
            r.carry4,
            r.bram36,
            r.ltp.map_or("-".into(), |v| v.to_string()),
            r.secs
        );
    }
    if let Some(t) = rows.first() {
        text += &synth::fit_lines(t, &opts.part, opts.budget.as_ref());
    }
    print!("{text}");
    let json = serde_json::to_string_pretty(&rows).map_err(|e| Error::Internal(e.to_string()))? + "\n";
    qkhw::backend::folder::add(out, &[("synth.txt".into(), text), ("synth.json".into(), json)])
}

struct VerifyOpts<'a> {
    design: Option<&'a Path>,
    input: &'a [PathBuf],
    random: Option<usize>,
    seed: u64,
    sim: SimArg,
    trace: Option<&'a Path>,
    junit: Option<&'a Path>,
    json: Option<&'a Path>,
}

fn verify(model: &Path, o: &VerifyOpts, hw: &HwArgs, sem: &Semantics) -> Result<u8, Error> {
    use qkhw::verify;
    // Output paths are checked before any simulation.
    for p in [o.junit, o.json, o.trace].into_iter().flatten() {
        qkhw::staging::check_writable(p)?;
    }
    if let Some(d) = o.design.filter(|d| !d.is_dir()) {
        return Err(Error::Usage(format!("{}: no such design folder (--design takes a folder `qkhw gen` wrote)", d.display())));
    }
    let g = sem.load(model)?;
    let req = hw.request(&g, sem)?;
    let (config, input_format) = (&req.config, req.input_format);
    // The plan a design folder is checked against, and verified with.
    let design_plan = match o.design {
        Some(d) => {
            hw.design_as_generated()?;
            let plan = qkhw::golden::hardware_plan(&g, input_format, config)?.0;
            let golden = hw.golden(&plan, sem);
            let origin = qkhw::backend::folder::Origin { model: &g.name, sha256: &g.sha256, target: req.target.name(), golden: Some(&golden) };
            qkhw::backend::folder::check_model(d, &origin)?;
            Some(plan)
        }
        None => None,
    };
    let (codes, n, in_fmts) = verify_vectors(&g, input_format, config, o.input, o.random, o.seed)?;
    for (k, f) in in_fmts.iter().enumerate() {
        let which = if in_fmts.len() > 1 { format!("input `{}`: ", g.layers[g.inputs[k].0].name) } else { String::new() };
        eprintln!("{which}input format {f} (the hardware's; value = code x {})", crate::fxp::lsb(f.frac));
    }
    // A design folder given: verify it as it is, generating nothing.
    if let (Some(dir), Some(plan)) = (o.design, &design_plan) {
        return conclude(&verify_verilog(dir, &in_fmts, plan, &codes, n, o)?, o, &g.name);
    }
    let Built { output, plan, notes } = qkhw::driver::build(&g, &req)?;
    print_notes(&notes);
    match output {
        Output::Hls { files, name } => {
            let dir = std::env::temp_dir().join(format!("qkhw-verify-hls-{name}-{}", std::process::id()));
            let report = verify::verify_hls(&files, &name, hw.flavor(), &plan, &codes, n, &dir, &cache_dir());
            let _ = std::fs::remove_dir_all(&dir);
            conclude(&report?, o, &g.name)
        }
        Output::C(m) => {
            let dir = std::env::temp_dir().join(format!("qkhw-verify-c-{}-{}", m.name, std::process::id()));
            let report = verify::verify_c(&m, &plan, &codes, n, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            conclude(&report?, o, &g.name)
        }
        Output::Verilog(d) => {
            let dir = std::env::temp_dir().join(format!("qkhw-verify-{}-{}", d.top, std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let origin = qkhw::backend::folder::Origin { model: &g.name, sha256: &g.sha256, target: "verilog", golden: None };
            let result = qkhw::backend::verilog::files::write(&d, &dir, &req.verilog, &origin, true).and_then(|()| verify_verilog(&dir, &in_fmts, &plan, &codes, n, o));
            let _ = std::fs::remove_dir_all(&dir);
            conclude(&result?, o, &g.name)
        }
    }
}

fn verify_verilog(
    dir: &Path,
    in_fmts: &[qkhw::fxp::FixedFormat],
    plan: &qkhw::plan::Plan,
    codes: &[i128],
    n: usize,
    o: &VerifyOpts,
) -> Result<qkhw::verify::Report, Error> {
    use qkhw::verify::{self, DesignDir};
    let d = DesignDir::read(dir)?;
    let ports = d.interface.input_ports();
    if ports.len() != in_fmts.len() {
        return Err(Error::Usage(format!("{}: the design has {} input ports, the model {} inputs", dir.display(), ports.len(), in_fmts.len())));
    }
    for ((name, p), &want) in ports.iter().zip(in_fmts) {
        let f = qkhw::fxp::FixedFormat { width: p.width, frac: p.frac, signed: p.signed };
        if want != f {
            return Err(Error::Usage(format!(
                "{}: the design's input{} is {f} but the model's hardware input is {want}: give the --input-format the design was generated with",
                dir.display(),
                if ports.len() > 1 { format!(" `{name}`") } else { String::new() }
            )));
        }
    }
    let simulator: Box<dyn verify::Simulator> = match o.sim {
        SimArg::Iverilog => Box::new(verify::icarus::Icarus),
        SimArg::Verilator => Box::new(verify::verilator::Verilator::new(cache_dir())),
    };
    if let Some(note) = verify::large_design_note(&d.interface.top, d.verilog_bytes(), simulator.name()) {
        eprintln!("note: {note}");
    }
    eprintln!("verifying {} with {} on {n} samples (seed {})...", d.interface.top, simulator.name(), o.seed);
    verify::verify(simulator.as_ref(), &d, plan, codes, n, o.seed, o.trace)
}

/// The vectors of `verify`: the float inputs of `input` through the model's
/// hardware input quantizer (their shape checked against the model's),
/// then `random` random codes over the input format (1000 when neither is
/// given). A model with several inputs gets each sample's codes side by
/// side, in model order, each input in its own format. Returns the codes,
/// the sample count and the input formats.
fn verify_vectors(
    g: &qkhw::ir::Graph,
    input_format: Option<qkhw::fxp::InputFormat>,
    config: &qkhw::passes::config::Config,
    input: &[PathBuf],
    random: Option<usize>,
    seed: u64,
) -> Result<(Vec<i128>, usize, Vec<qkhw::fxp::FixedFormat>), Error> {
    let (each, _) = qkhw::golden::hardware_inputs(g, input_format, config)?;
    let shapes: Vec<&Vec<usize>> = g.inputs.iter().map(|i| &g.layers[i.0].shape).collect();
    let pers: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    // Per input: its codes, sample-major.
    let mut parts: Vec<Vec<i128>> = vec![vec![]; each.len()];
    let mut given = 0;
    if !input.is_empty() {
        let files = input_files(g, input)?;
        for (k, p) in files.iter().enumerate() {
            let x = npy::read_f32(p)?;
            qkhw::golden::check_input_shape(g, k, &x.shape).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))?;
            no_nan(p, &x)?;
            if k > 0 && x.shape[0] != given {
                return Err(Error::Usage(format!(
                    "{}: input `{}` has {} samples, input `{}` {given}",
                    p.display(),
                    g.layers[g.inputs[k].0].name,
                    x.shape[0],
                    g.layers[g.inputs[0].0].name
                )));
            }
            given = x.shape[0];
            parts[k] = qkhw::golden::hardware_codes(&x.data, &x.shape, &each[k].0, each[k].1.as_ref())?;
        }
    }
    let random = random.unwrap_or(if input.is_empty() { 1000 } else { 0 });
    let fmts: Vec<(usize, qkhw::fxp::FixedFormat)> = pers.iter().zip(&each).map(|(&m, e)| (m, e.0.fmt)).collect();
    for (p, r) in parts.iter_mut().zip(qkhw::verify::random_parts(&fmts, random, seed)) {
        p.extend(r);
    }
    let n = given + random;
    // Nothing to compare is no pass (cross-check batch 14: an empty
    // array verified, "0 samples ... all equal", exit 0).
    if n == 0 {
        let file = input.first().map_or(String::new(), |p| format!("{}: ", p.display()));
        return Err(Error::Usage(format!("{file}no samples to verify (the array holds none): give an input with samples, or --random N")));
    }
    Ok((qkhw::verify::interleave(parts, &pers, n), n, fmts.iter().map(|f| f.1).collect()))
}

/// The Verilator build and HLS header cache: `$QKHW_CACHE`, else
/// `~/.cache/qkhw`.
fn cache_dir() -> PathBuf {
    std::env::var_os("QKHW_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".cache").join("qkhw")
    })
}

/// Print the report, write the JUnit / JSON files; exit code 1 on any
/// difference.
fn conclude(report: &qkhw::verify::Report, o: &VerifyOpts, name: &str) -> Result<u8, Error> {
    print!("{}", report.text());
    let mut s = qkhw::staging::Staged::new();
    if let Some(j) = o.junit {
        s.write(j, report.junit(name))?;
    }
    if let Some(j) = o.json {
        let mut json = report.json(name);
        // The random vectors' seed, whatever the target (`seed` is a
        // streamed run's back-pressure seed, null for C and HLS).
        if o.random.is_some_and(|r| r > 0) || o.input.is_empty() {
            json["input_seed"] = o.seed.into();
        }
        s.write(j, serde_json::to_string_pretty(&json).map_err(|e| Error::Internal(e.to_string()))? + "\n")?;
    }
    s.commit()?;
    Ok(if report.passed() { 0 } else { 1 })
}

fn predict(g: &qkhw::ir::Graph, input: &GoldenInput, output: &Path, codes: Option<&Path>) -> Result<(), Error> {
    // As every command that writes a file: its folder must exist.
    for p in [Some(output), codes].into_iter().flatten() {
        qkhw::staging::check_writable(p)?;
    }
    let (xs, mut opts) = input.read(g)?;
    if codes.is_none() {
        opts.keep = Some(qkhw::golden::Keep::Floats);
    }
    let t = std::time::Instant::now();
    let arrays: Vec<(&[f32], &[usize])> = xs.iter().map(|x| (x.data.as_slice(), x.shape.as_slice())).collect();
    let p = qkhw::golden::predict_inputs(g, &arrays, &opts)?;
    let x = &xs[0];
    let ys: Vec<&[f32]> = (0..p.plan.outputs.len()).map(|k| p.output(k)).collect();
    let secs = t.elapsed().as_secs_f64();
    for n in &p.plan.notices {
        eprintln!("note: {n}");
    }
    // Said where such an output holds a zero.
    let products = qkhw::golden::signed_zero_outputs(g);
    let zeros: Vec<&str> = p.plan.outputs.iter().enumerate().filter(|(k, _)| ys[*k].contains(&0.0)).filter_map(|(_, &s)| p.plan.steps[s].layer.as_deref()).filter(|l| products.iter().any(|o| o == l)).collect();
    if !zeros.is_empty() {
        eprintln!(
            "note: output `{}`: a product QKeras computes in float32 (a Multiply, an LSTM's o·tanh(c)); where it is zero QKeras can give -0.0 (a factor rounded to -0.0, or negative, times zero), and qkhw writes +0.0: equal as numbers (np.array_equal holds), not bit for bit",
            zeros.join("`, `")
        );
    }
    let n = x.shape[0];
    let mut out = qkhw::staging::Staged::new();
    let mut lines = vec![];
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
        out.write_parts(&suffix(output), &[&npy::header("<f4", &shape), &npy::f32_bytes(ys[k])])?;
        if let Some(c) = codes {
            let layer = step.layer.as_deref().unwrap_or("?");
            let cs: Vec<i64> = p
                .run
                .codes(s)
                .iter()
                .map(|&v| {
                    i64::try_from(v).map_err(|_| {
                        Error::Usage(format!(
                            "--codes: output `{layer}` is {} and its code {v} does not fit in int64; `qkhw dump` writes such codes as two planes",
                            step.fmt
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            out.write(&suffix(c), npy::encode_i64(&shape, &cs))?;
        }
        lines.push(format!(
            "{}: {n} samples -> {} (output {}: {}, value = code x {})",
            g.name,
            suffix(output).display(),
            step.layer.as_deref().unwrap_or("?"),
            step.fmt,
            crate::fxp::lsb(step.fmt.frac)
        ));
    }
    out.commit()?;
    for l in lines {
        println!("{l}");
    }
    println!("{}", input_format_line(g, &p.input_formats, input, &opts));
    println!("{:.4} s, {:.0} inferences/s", secs, n as f64 / secs.max(1e-9));
    Ok(())
}

/// Which input format `predict` / `debug` used, and, when it is not what
/// `gen` / `verify` give the hardware, how to get the hardware's.
fn input_format_line(g: &qkhw::ir::Graph, formats: &[qkhw::fxp::FixedFormat], input: &GoldenInput, opts: &qkhw::golden::PredictOptions) -> String {
    let used = &formats[0];
    let given = input.input_format.is_some() || opts.config.input.is_some();
    if given {
        return format!("input format {used} (given): the same as the hardware's");
    }
    if g.inputs.len() > 1 {
        // Per input: what the hardware takes (its own quantizer, or the
        // default format).
        let hw: Vec<String> = qkhw::golden::hardware_inputs(g, None, &opts.config)
            .map(|(each, _)| {
                each.iter()
                    .zip(&g.inputs)
                    .map(|((spec, q), i)| format!("`{}` at {}{}", g.layers[i.0].name, spec.fmt, if q.is_some() { " (its input quantizer)" } else { "" }))
                    .collect()
            })
            .unwrap_or_default();
        let held: Vec<String> = formats.iter().zip(&g.inputs).map(|(f, i)| format!("`{}` at {f}", g.layers[i.0].name)).collect();
        return format!("inputs {} (float32 held exactly, as QKeras takes it, or an input quantizer's codes where a value is too wide for that); the hardware (gen/verify) takes {}", held.join(", "), hw.join(", "));
    }
    match qkhw::golden::hardware_input(g, None, &opts.config).ok() {
        // The float32 inputs are taken exactly; the model's own input
        // quantizer rounds them next, to what the hardware takes.
        Some((spec, Some(_), _)) if spec.fmt == *used => format!("input format {used}: the model's input quantizer's, the hardware's input format"),
        Some((spec, Some(_), _)) => format!(
            "input format {used} (every float32 input held exactly, as QKeras takes it); the model's input quantizer then rounds it to {}, the hardware's input format",
            spec.fmt
        ),
        hw => {
            let hw_fmt = hw.map(|h| h.0.fmt.to_string()).unwrap_or_else(|| "fixed<16,6>".into());
            format!(
                "input format {used} (every float32 input held exactly, as QKeras takes it); the hardware (gen/verify) rounds inputs to {hw_fmt}: add --input-format {hw_fmt} to predict what the hardware computes"
            )
        }
    }
}

fn weights(g: &qkhw::ir::Graph, json: Option<&Path>) -> Result<(), Error> {
    if let Some(p) = json {
        qkhw::staging::check_writable(p)?;
    }
    let (d, notes) = qkhw::passes::hw_weights::quantized_weights_noted(g)?;
    print_notes(&notes);
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
            let mut out = qkhw::staging::Staged::new();
            out.write(p, text)?;
            out.commit()?;
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

/// `[lo, hi]` in words a user reads (not Rust's `lo..=hi`).
fn interval(lo: impl std::fmt::Display, hi: impl std::fmt::Display) -> String {
    format!("[{lo}, {hi}]")
}

fn quantize_model(model: &Path, config: &Path, activation_bits: u32, fold_bn: bool, out: &Path) -> Result<(), Error> {
    qkhw::staging::check_writable(out)?;
    let text = std::fs::read(config).map_err(|e| Error::io(config, e))?;
    let json = serde_json::from_slice(&text).map_err(|e| Error::Usage(format!("{}: not valid JSON: {e}", config.display())))?;
    let opts = qkhw::quantize_model::Options { config: json, config_source: config.display().to_string(), activation_bits, fold_bn };
    let r = qkhw::quantize_model::quantize_model(model, &opts, out)?;
    for c in &r.changes {
        let folded = r.folded.iter().find(|f| f.0 == c.layer).map(|f| format!(" + {} (BatchNormalization, folded)", f.1)).unwrap_or_default();
        let set = if c.set.is_empty() { "no quantizers: float as before".to_string() } else { c.set.join(", ") };
        println!("{}: {}{folded} -> {} ({set})", c.layer, c.from, c.to);
        if let Some(n) = &c.note {
            println!("  note: {n}");
        }
    }
    if !r.unchanged.is_empty() {
        let kept: Vec<String> = r.unchanged.iter().map(|(n, c)| format!("{n} ({c})")).collect();
        println!("unchanged: {}", kept.join(", "));
    }
    let n = r.changes.len();
    println!(
        "{} -> {}: {n} layer{} quantized{}, weights transferred",
        model.display(),
        out.display(),
        if n == 1 { "" } else { "s" },
        if r.folded.is_empty() { String::new() } else { format!(", {} batch norm{} folded", r.folded.len(), if r.folded.len() == 1 { "" } else { "s" }) }
    );
    match &r.runs {
        Ok(()) => println!("qkhw reads it and runs it: next, e.g. `qkhw gen {} --target verilog -o rtl/`", out.display()),
        Err(why) => println!("qkhw reads it back; its golden model does not run it yet: {why}"),
    }
    Ok(())
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
    // Everything is computed before anything is written: a failure (NaN
    // input, no integer code) leaves no file.
    let hw = match codes {
        Some(cpath) => Some(q.hardware(&x.data, &x.shape).map_err(|e| match e {
            Error::Apply { spec, msg } => Error::Apply { spec, msg: format!("{msg} (--codes {})", cpath.display()) },
            e => e,
        })?),
        None => None,
    };
    let mut out = qkhw::staging::Staged::new();
    out.write(output, npy::encode_f32(&x.shape, &y))?;
    let mut code_line = None;
    if let (Some(cpath), Some(hw)) = (codes, &hw) {
        out.write(cpath, npy::encode_i64(&x.shape, &hw.codes))?;
        let (lo, hi) = (hw.codes.iter().min().copied().unwrap_or(0), hw.codes.iter().max().copied().unwrap_or(0));
        let enc = match &hw.encoding {
            Encoding::Fixed(f) => format!(
                "{f}: value = code x {}; the format holds codes {}, these data use {}",
                crate::fxp::lsb(f.frac),
                interval(f.min_code(), f.max_code()),
                interval(lo, hi)
            ),
            Encoding::Po2 { signed, min_exp, max_exp } => format!(
                "power of two: value = {}2^code; the format holds exponents {}, these data use {}{}",
                if *signed { "sign x " } else { "" },
                interval(min_exp, max_exp),
                interval(lo, hi),
                if *signed { format!(", signs (+1/-1) in {}", sibling(cpath, "signs").display()) } else { String::new() }
            ),
            Encoding::Table { index, values } => {
                format!("table: code = {index} index into {} values; these data use indices {}", values.len(), interval(lo, hi))
            }
        };
        if !hw.signs.is_empty() {
            let s: Vec<i64> = hw.signs.iter().map(|&s| s as i64).collect();
            out.write(&sibling(cpath, "signs"), npy::encode_i64(&x.shape, &s))?;
        }
        // A scale of exactly 1 everywhere (alpha=1) is no scale at all.
        let scale = hw.scale.as_ref().filter(|s| s.values.iter().any(|&v| v != 1.0));
        if let Some(scale) = scale {
            out.write(&sibling(cpath, "scale"), npy::encode_f32(&scale.shape, &scale.values))?;
        }
        code_line = Some(format!(
            "codes -> {} ({enc}{})",
            cpath.display(),
            if scale.is_some() { format!("; value times the scale in {}", sibling(cpath, "scale").display()) } else { String::new() }
        ));
    }
    out.commit()?;
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
    if let Some(l) = code_line {
        println!("{l}");
    }
    Ok(())
}

/// A clap value's name as the command line spells it (`qkeras`, `argmax`).
fn value_name(v: impl ValueEnum) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}
