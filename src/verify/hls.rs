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

/// Where each flavor's headers sit in the wheel: (cache name, prefix in the
/// wheel, a file that marks a complete unpack).
fn layout(flavor: Flavor) -> (&'static str, &'static str, &'static str) {
    match flavor {
        Flavor::Vitis => ("ap_types", "hls4ml/templates/vivado/ap_types/", "ap_fixed.h"),
        Flavor::Catapult => ("ac_types", "hls4ml/templates/catapult/ac_types/include/", "ac_fixed.h"),
    }
}

fn header_dir(cache: &Path, flavor: Flavor) -> PathBuf {
    cache.join(format!("{}-{}", layout(flavor).0, &WHEEL_SHA256[..16]))
}

/// The include directory of `flavor`'s fixed-point types, fetched into
/// `cache` on first use (both flavors' headers from one download).
/// Concurrent callers are safe: one download per process at a time, and
/// every unpack lands by atomic rename from a directory of its own.
pub fn headers(cache: &Path, flavor: Flavor) -> Result<PathBuf> {
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = header_dir(cache, flavor);
    if dir.join(layout(flavor).2).exists() {
        return Ok(dir);
    }
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join(layout(flavor).2).exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache).map_err(|e| Error::io(cache, e))?;
    let unique = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let dl = cache.join(format!(".wheel-{unique}"));
    let out = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "hls4ml==1.3.0", "-d"])
        .arg(&dl)
        .output()
        .map_err(|e| Error::Usage(format!("cannot run pip to fetch the {} headers: {e}", layout(flavor).0)))?;
    let wheel = dl.join(WHEEL);
    if !out.status.success() || !wheel.exists() {
        let _ = std::fs::remove_dir_all(&dl);
        return Err(Error::Usage(format!(
            "cannot download {WHEEL} (the {} headers for HLS C-simulation): {}",
            layout(flavor).0,
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        )));
    }
    let bytes = std::fs::read(&wheel).map_err(|e| Error::io(&wheel, e));
    let _ = std::fs::remove_dir_all(&dl);
    let bytes = bytes?;
    use sha2::Digest;
    let sum = crate::keras::hex(&sha2::Sha256::digest(&bytes));
    if sum != WHEEL_SHA256 {
        return Err(Error::Usage(format!("{WHEEL}: SHA-256 {sum}, expected {WHEEL_SHA256}")));
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| Error::Usage(format!("{WHEEL}: {e}")))?;
    for f in [Flavor::Vitis, Flavor::Catapult] {
        let (types, prefix, _) = layout(f);
        let tmp = cache.join(format!(".{types}-{unique}"));
        for i in 0..z.len() {
            let mut e = z.by_index(i).map_err(|e| Error::Usage(format!("{WHEEL}: {e}")))?;
            let name = e.name().map(|n| n.to_string()).unwrap_or_default();
            let Some(rel) = name.strip_prefix(prefix) else { continue };
            if rel.is_empty() || rel.ends_with('/') || rel.contains("..") {
                continue;
            }
            let p = tmp.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let mut data = vec![];
            e.read_to_end(&mut data).map_err(|e| Error::io(&p, e))?;
            std::fs::write(&p, data).map_err(|e| Error::io(&p, e))?;
        }
        // Another process may have published first: keep theirs.
        if std::fs::rename(&tmp, header_dir(cache, f)).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
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
    let (outs, sim) = super::run_code_harness(&dir.join("csim"), dir, codes, n, (1, 1), "the HLS C-sim testbench")?;
    Ok((outs, build, sim))
}
