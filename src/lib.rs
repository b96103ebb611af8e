//! qkhw: QKeras models to verified hardware.
//!
//! This crate currently holds the numeric foundation: the runtime-width
//! fixed-point core ([`fxp`]), every QKeras quantizer reproduced bit for bit
//! ([`quant`]) and the NumPy `.npy` I/O the CLI speaks ([`npy`]).
//! See `DESIGN.md` (shared) for the data flow the later stages follow.
//!
//! ```
//! use qkhw::quant::{InternalSigmoid, Quantizer};
//! // 4 bits, 0 integer bits, symmetric: step 1/8, range [-7/8, 7/8].
//! let q = Quantizer::parse("quantized_bits(4,0,1,1)", InternalSigmoid::Hard)?;
//! assert_eq!(q.apply(&[0.3, -2.0, 0.0625])?, vec![0.25, -0.875, 0.0]);
//! // The hardware view: integer codes and their fixed-point format.
//! let hw = q.hardware(&[0.3, -2.0], &[2])?;
//! assert_eq!(hw.codes, vec![2, -7]);
//! # Ok::<(), qkhw::Error>(())
//! ```

pub mod arch;
pub mod backend;
pub mod cli;
pub mod driver;
pub mod error;
pub mod freeze;
pub mod quantize_model;
pub mod fuzzing;
pub mod fxp;
pub mod golden;
pub mod verify;
pub mod inspect;
pub mod passes;
pub mod plan;
pub mod ir;
pub mod keras;
pub mod npy;
pub mod quant;
pub mod staging;

pub use error::{Error, Result};

/// Read a model file and build its graph: the entry point of every
/// model command.
pub fn load_graph(path: impl AsRef<std::path::Path>, opts: ir::BuildOptions) -> Result<ir::Graph> {
    ir::Graph::from_saved(&keras::load(path)?, opts)
}
