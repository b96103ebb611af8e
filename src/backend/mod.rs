//! Backends: each renders the annotated graph into files, deciding no
//! arithmetic of its own.

pub mod c;
pub mod folder;
pub mod hls;
pub mod hls_stream;
pub mod rom;
pub mod rom_folded;
pub mod verilog;

/// A model output inside the one output array, as generated headers
/// name it: `<MODEL>_OUT_<IDENT>_OFFSET` / `_SIZE`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartDoc {
    pub ident: String,
    pub name: String,
    pub shape: String,
    pub offset: usize,
    pub size: usize,
}

/// The parts of a several-output plan (empty for one output), with
/// unique upper-case C identifiers.
pub fn part_docs(plan: &crate::plan::Plan) -> Vec<PartDoc> {
    let mut namer = verilog::keywords::Namer::new(&[]);
    plan.parts
        .iter()
        .map(|p| PartDoc {
            ident: namer.name(&p.name.to_uppercase()),
            name: p.name.clone(),
            shape: format!("{:?}", p.shape),
            offset: p.offset,
            size: p.shape.iter().product(),
        })
        .collect()
}

/// Which HLS tool the C++ is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Flavor {
    /// AMD Vitis HLS: `ap_fixed`, `ap_int`, `hls::stream`.
    #[default]
    #[value(help = "AMD Vitis HLS: ap_fixed, ap_int, hls::stream")]
    Vitis,
    /// Siemens Catapult: `ac_fixed`, `ac_int`, `ac_channel`.
    #[value(help = "Siemens Catapult: ac_fixed, ac_int, ac_channel")]
    Catapult,
}
