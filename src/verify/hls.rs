//! HLS C-simulation under `qkhw verify --target hls`: the generated HLS C++
//! compiled with g++ against the open-source `ap_types` (Vitis) or
//! `ac_types` (Catapult) headers, which both come from the `hls4ml==1.3.0`
//! wheel on PyPI (downloaded once with `pip download --no-deps`, checked
//! against its SHA-256, unpacked into the cache), then run on every vector.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::backend::hls::Flavor;
use crate::error::{Error, Result};

/// The wheel that carries `hls4ml/templates/vivado/ap_types/` and
/// `hls4ml/templates/catapult/ac_types/include/`.
pub const WHEEL: &str = "hls4ml-1.3.0-py3-none-any.whl";
pub const WHEEL_SHA256: &str = "01bf1de2cd9bca56699b9fe3385cb1735026b022f9580fe1d73faf192dfb90f2";

/// The include directory of `flavor`'s fixed-point types, fetched into
/// `cache` on first use.
pub fn headers(cache: &Path, flavor: Flavor) -> Result<PathBuf> {
    let (types, prefix, marker) = match flavor {
        Flavor::Vitis => ("ap_types", "hls4ml/templates/vivado/ap_types/", "ap_fixed.h"),
        Flavor::Catapult => ("ac_types", "hls4ml/templates/catapult/ac_types/include/", "ac_fixed.h"),
    };
    let dir = cache.join(format!("{types}-{}", &WHEEL_SHA256[..16]));
    if dir.join(marker).exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache).map_err(|e| Error::io(cache, e))?;
    let dl = cache.join(format!(".wheel-{}", std::process::id()));
    let out = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "hls4ml==1.3.0", "-d"])
        .arg(&dl)
        .output()
        .map_err(|e| Error::Usage(format!("cannot run pip to fetch the ap_types headers: {e}")))?;
    let wheel = dl.join(WHEEL);
    if !out.status.success() || !wheel.exists() {
        return Err(Error::Usage(format!(
            "cannot download {WHEEL} (the {types} headers for HLS C-simulation): {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        )));
    }
    let bytes = std::fs::read(&wheel).map_err(|e| Error::io(&wheel, e))?;
    use sha2::Digest;
    let sum = crate::keras::hex(&sha2::Sha256::digest(&bytes));
    if sum != WHEEL_SHA256 {
        return Err(Error::Usage(format!("{WHEEL}: SHA-256 {sum}, expected {WHEEL_SHA256}")));
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| Error::Usage(format!("{WHEEL}: {e}")))?;
    let tmp = cache.join(format!(".{types}-{}", std::process::id()));
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|e| Error::Usage(format!("{WHEEL}: {e}")))?;
        let name = f.name().map(|n| n.to_string()).unwrap_or_default();
        let Some(rel) = name.strip_prefix(prefix) else { continue };
        if rel.is_empty() || rel.ends_with('/') || rel.contains("..") {
            continue;
        }
        let p = tmp.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut data = vec![];
        f.read_to_end(&mut data).map_err(|e| Error::io(&p, e))?;
        std::fs::write(&p, data).map_err(|e| Error::io(&p, e))?;
    }
    let _ = std::fs::remove_dir_all(&dl);
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

/// Compile the HLS files in `dir` and run the testbench on `codes`.
pub fn run(files: &[(String, String)], name: &str, flavor: Flavor, dir: &Path, cache: &Path, codes: &[i128], n: usize) -> Result<(Vec<i128>, f64, f64)> {
    let inc = headers(cache, flavor)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (f, t) in files {
        std::fs::write(dir.join(f), t).map_err(|e| Error::io(dir.join(f), e))?;
    }
    let t = Instant::now();
    let out = Command::new("g++")
        .args(["-std=c++14", "-O1", "-w", "-I"])
        .arg(&inc)
        .arg(dir.join(format!("{name}.cpp")))
        .arg(dir.join(format!("{name}_tb.cpp")))
        .arg("-o")
        .arg(dir.join("csim"))
        .output()
        .map_err(|e| Error::Usage(format!("cannot run g++: {e}")))?;
    if !out.status.success() {
        return Err(Error::Usage(format!("g++ (HLS C-sim) failed:\n{}", String::from_utf8_lossy(&out.stderr).lines().take(12).collect::<Vec<_>>().join("\n"))));
    }
    let build = t.elapsed().as_secs_f64();
    let (outs, sim) = super::run_code_harness(&dir.join("csim"), dir, codes, n, "the HLS C-sim testbench")?;
    Ok((outs, build, sim))
}
