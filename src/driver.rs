//! Typed requests for the hardware targets: what `gen` and `verify` (and
//! the Python package, through them) ask for, as library types, so the
//! command line only parses flags into a [`HwRequest`] and prints what
//! [`build`] returns. Every target starts from the same golden plan
//! (`crate::golden::hardware_plan`), so C, HLS and Verilog are checked
//! against one arithmetic.
//!
//! ```
//! use qkhw::driver::{build, HwRequest, Output, Target};
//! let g = qkhw::load_graph("examples/models/jet_tagger_da.keras", Default::default())?;
//! let req = HwRequest {
//!     target: Target::C,
//!     input_format: None,
//!     config: Default::default(),
//!     internal_sigmoid: Default::default(),
//!     verilog: Default::default(),
//! };
//! let built = build(&g, &req)?;
//! let Output::C(m) = &built.output else { unreachable!() };
//! assert!(m.source.contains("jet_tagger_da_infer"));
//! # Ok::<(), qkhw::Error>(())
//! ```

use crate::backend::Flavor;
use crate::backend::c::CModel;
use crate::backend::verilog::{self, Design};
use crate::error::Result;
use crate::fxp::InputFormat;
use crate::ir::Graph;
use crate::passes::config::Config;
use crate::plan::{Plan, StepOp};
use crate::quant::InternalSigmoid;

/// The code a request produces; HLS carries its tool, so a flavor without
/// HLS cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Verilog-2005 RTL with an AXI-Stream top.
    Verilog,
    /// Integer-only C99 (the sequential reference; no folding).
    C,
    /// HLS C++ for one tool.
    Hls(Flavor),
}

impl Target {
    /// The name `--target` takes and folders record.
    pub fn name(self) -> &'static str {
        match self {
            Target::Verilog => "verilog",
            Target::C => "c",
            Target::Hls(_) => "hls",
        }
    }
}

/// One request for generated hardware.
#[derive(Debug, Clone)]
pub struct HwRequest {
    pub target: Target,
    /// Every input's hardware format (None: each input's quantizer, else
    /// `fixed<16,6>` with a notice).
    pub input_format: Option<InputFormat>,
    /// `--config` with the command line's overrides applied.
    pub config: Config,
    pub internal_sigmoid: InternalSigmoid,
    /// The architecture options. The Verilog target reads all of them; the
    /// HLS target folds its layers as the Verilog would (`reuse_factor`,
    /// `budget`, `io`), so it reads these too.
    pub verilog: verilog::Options,
}

/// What [`build`] made, with the plan it renders and the notes to show.
pub struct Built {
    pub output: Output,
    pub plan: Plan,
    pub notes: Vec<String>,
}

/// A target's output.
pub enum Output {
    C(CModel),
    /// The HLS files (name, text) and the model's C name.
    Hls { files: Vec<(String, String)>, name: String },
    Verilog(Box<Design>),
}

/// The output `req` asks for.
pub fn build(g: &Graph, req: &HwRequest) -> Result<Built> {
    let header = verilog::header(g, req.internal_sigmoid);
    match req.target {
        Target::C => {
            let (m, plan, notes) = crate::backend::c::from_graph(g, req.input_format, &req.config, &header, req.internal_sigmoid)?;
            Ok(Built { output: Output::C(m), plan, notes })
        }
        Target::Verilog => {
            let (d, plan, notes) = verilog::from_graph(g, req.input_format, &req.config, &req.verilog)?;
            Ok(Built { output: Output::Verilog(Box::new(d)), plan, notes })
        }
        Target::Hls(flavor) => hls(g, req, flavor, &header),
    }
}

/// The HLS files, folded as the Verilog would be (`--reuse-factor`,
/// `--config`; `--budget`: the per-layer factors the Verilog's choice gives).
fn hls(g: &Graph, req: &HwRequest, flavor: Flavor, header: &str) -> Result<Built> {
    let (plan, mut notes) = crate::golden::hardware_plan(g, req.input_format, &req.config)?;
    let vopts = &req.verilog;
    let chosen = match vopts.budget.as_ref().map(|b| verilog::budget_config(g, &plan, &req.config, vopts, b, true)).transpose()? {
        Some((c, est)) => {
            notes.push(format!(
                "--budget: reuse factors {} (the Verilog design's choice for this budget, with an estimated {} DSP48 and {:.1} BRAM36; `--target verilog` states its interval)",
                verilog::budget_folds(&c),
                est.dsp,
                est.bram36
            ));
            Some(c)
        }
        None => None,
    };
    let sched = match &chosen {
        Some(c) => crate::arch::schedule::schedule(&plan, None, c),
        None => crate::arch::schedule::schedule(&plan, vopts.reuse_factor, &req.config),
    };
    notes.extend(sched.notes.iter().cloned());
    let other: Vec<&str> = sched
        .nodes
        .iter()
        .filter(|n| n.arch.first_fold().is_some() && !matches!(plan.steps[n.first].op, StepOp::Dense { .. } | StepOp::Conv { .. } | StepOp::Depthwise { .. }))
        .map(|n| n.layer.as_str())
        .collect();
    if !other.is_empty() {
        notes.push(format!("HLS: only Dense and (depthwise) convolution layers are folded (hls4ml's Resource strategy) so far; {} stay unrolled", other.join(", ")));
    }
    // A streaming design's stages fold as the Verilog's: by the reuse
    // factor and configuration (--budget: the per-layer factors it chose).
    let stream = (vopts.io == verilog::Io::Stream).then(|| crate::backend::hls::StreamFolds { reuse: vopts.reuse_factor, config: chosen.as_ref().unwrap_or(&req.config) });
    let files = crate::backend::hls::generate_scheduled(g, &plan, header, req.internal_sigmoid, flavor, &sched, stream)?;
    let name = files[0].0.trim_end_matches(".h").to_string();
    Ok(Built { output: Output::Hls { files, name }, plan, notes })
}
