//! qkhw: QKeras models to verified hardware.
//!
//! This crate currently holds the numeric foundation: the runtime-width
//! fixed-point core ([`fxp`]), every QKeras quantizer reproduced bit for bit
//! ([`quant`]) and the NumPy `.npy` I/O the CLI speaks ([`npy`]).
//! See `DESIGN.md` (shared) for the data flow the later stages follow.

pub mod error;
pub mod fxp;
pub mod npy;
pub mod quant;

pub use error::{Error, Result};
