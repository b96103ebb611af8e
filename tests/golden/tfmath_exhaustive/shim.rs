//! C-ABI shim over `src/quant/tfmath.rs` for `exhaustive.py`, which compares
//! it with TensorFlow on all 2^32 float32 inputs (about 4 minutes):
//!   rustc --edition 2024 -O --crate-type cdylib tests/golden/tfmath_exhaustive/shim.rs -o /tmp/libtfm.so
//!   KERAS_BACKEND=tensorflow TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 \
//!     python tests/golden/tfmath_exhaustive/exhaustive.py /tmp/libtfm.so
#![allow(unused_imports)]
// tfmath and ops refer to each other as `super::`, so both sit at the root.
#[allow(dead_code)]
#[path = "../../../src/quant/tfmath.rs"]
mod tfmath;
#[allow(dead_code)]
#[path = "../../../src/quant/ops.rs"]
mod ops;
#[allow(dead_code)]
mod fxp {
    pub fn pow2_f32(e: i32) -> f32 {
        if e > 127 { f32::INFINITY } else if e >= -126 { f32::from_bits(((e + 127) as u32) << 23) } else { 0.0 }
    }
}
macro_rules! arr {
    ($name:ident, $f:expr) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(x: *const f32, y: *mut f32, n: usize) {
            let xs = unsafe { core::slice::from_raw_parts(x, n) };
            let ys = unsafe { core::slice::from_raw_parts_mut(y, n) };
            for (o, &v) in ys.iter_mut().zip(xs) {
                *o = $f(v);
            }
        }
    };
}
arr!(q_log, tfmath::log);
arr!(q_tanh, tfmath::tanh);
arr!(q_sigmoid, tfmath::sigmoid);
