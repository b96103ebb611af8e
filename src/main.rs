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
}

fn main() -> ExitCode {
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
    }
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
