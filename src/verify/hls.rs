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

/// g++'s flags for the C-simulation, the same for the precompiled header
/// (GCC uses a `.gch` only when they match).
const CSIM_FLAGS: [&str; 3] = ["-std=c++14", "-O1", "-w"];

/// The `AP_INT_MAX_W` the generated Vitis header defines (its widest AXI
/// word, a power of two of at least 1024); `None` for Catapult's.
fn ap_int_max_w(files: &[(String, String)]) -> Option<u32> {
    files.iter().filter(|(f, _)| f.ends_with(".h")).find_map(|(_, t)| t.lines().find_map(|l| l.strip_prefix("#define AP_INT_MAX_W ")?.trim().parse().ok()))
}

/// A precompiled header of `flavor`'s fixed-point types, made once per
/// cache, flavor and `AP_INT_MAX_W` (which ap_int reads at its inclusion,
/// so it is part of the header): parsing ap_types or ac_types takes about
/// 2 s of each C-simulation's compile, more than the model itself. The
/// header includes exactly what the generated header includes, in its
/// order, so nothing compiles with it that would not compile without it.
/// Passed with `-include`, GCC reads `qkhw_csim.h.gch` beside it when its
/// flags match and the header's text otherwise (an older g++'s `.gch`),
/// so `None` (no g++ could make one) only costs time.
fn precompiled_header(cache: &Path, inc: &Path, flavor: Flavor, max_w: Option<u32>) -> Option<PathBuf> {
    static MAKE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let (types, _, _) = layout(flavor);
    // Keyed by the compiler too: another g++'s `.gch` would be ignored
    // (correctly, but at the full cost) for good.
    static GXX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let gxx = GXX.get_or_init(|| {
        let v = Command::new("g++").args(["-dumpfullversion", "-dumpmachine"]).output().map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().collect::<Vec<_>>().join("-")).unwrap_or_default();
        v.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_")
    });
    let dir = cache.join(format!("pch-{types}-{}-w{}-gxx{gxx}", &WHEEL_SHA256[..16], max_w.unwrap_or(0)));
    let h = dir.join("qkhw_csim.h");
    let gch = dir.join("qkhw_csim.h.gch");
    if gch.exists() {
        return Some(h);
    }
    let _guard = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    if gch.exists() {
        return Some(h);
    }
    let mut text = String::from("// qkhw: the fixed-point types of the HLS C-simulation, precompiled\n#include <stdint.h>\n");
    if let Some(w) = max_w {
        text.push_str(&format!("#ifndef AP_INT_MAX_W\n#define AP_INT_MAX_W {w}\n#endif\n"));
    }
    for i in flavor.type_headers() {
        text.push_str(&format!("#include \"{i}\"\n"));
    }
    std::fs::create_dir_all(&dir).ok()?;
    // Both files land by rename: another process sees all of each or none.
    let unique = format!(".{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "");
    let tmp_h = dir.join(format!("qkhw_csim.h{unique}"));
    std::fs::write(&tmp_h, &text).ok()?;
    std::fs::rename(&tmp_h, &h).ok()?;
    let tmp_gch = dir.join(format!("qkhw_csim.gch{unique}"));
    let made = Command::new("g++").args(CSIM_FLAGS).arg("-I").arg(inc).args(["-x", "c++-header"]).arg(&h).arg("-o").arg(&tmp_gch).output();
    if !made.is_ok_and(|o| o.status.success()) || std::fs::rename(&tmp_gch, &gch).is_err() {
        let _ = std::fs::remove_file(&tmp_gch);
        return None;
    }
    Some(h)
}

/// Compile the HLS files in `dir` and run the testbench on `codes`.
pub fn run(files: &[(String, String)], name: &str, flavor: Flavor, dir: &Path, cache: &Path, codes: &[i128], n: usize) -> Result<(Vec<i128>, f64, f64)> {
    let inc = headers(cache, flavor)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (f, t) in files {
        std::fs::write(dir.join(f), t).map_err(|e| Error::io(dir.join(f), e))?;
    }
    let t = Instant::now();
    let mut gxx = Command::new("g++");
    gxx.args(CSIM_FLAGS).arg("-I").arg(&inc);
    if let Some(pch) = precompiled_header(cache, &inc, flavor, ap_int_max_w(files)) {
        gxx.arg("-include").arg(pch);
    }
    let out = gxx
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
