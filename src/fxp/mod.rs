//! Runtime-width fixed-point core.
//!
//! Formats come from model files at run time, so widths are values, not
//! types. Codes are `i128`: every format up to 128 bits (127 unsigned) is
//! exact. Wider accumulators are an error at precision inference, naming the
//! layer, never a silent wrap. The `fixed` crate is the oracle in the tests.

mod code;
mod format;
mod round;
mod spelling;

pub use code::{Code, code_to_f32, shr_even};
pub use format::{FixedFormat, MAX_WIDTH, lsb, pow2, pow2_f32};
pub use spelling::InputFormat;
pub use round::{
    NotRepresentable, Overflow, Rounding, fit, quantize_f32, quantize_f64, requantize,
    round_shift_right,
};
