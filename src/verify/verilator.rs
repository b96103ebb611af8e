//! Verilator: a C++ harness rendered from `templates/verify/harness.cpp`,
//! built once per design (a cache keyed by the design's hash; builds land
//! by atomic rename, so parallel runs never see half a build), then run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use askama::Template;

use super::{pack_inputs, unpack, DesignDir, SimRun, Simulator};
use crate::error::{Error, Result};

#[derive(Template)]
#[template(path = "verify/harness.cpp", escape = "none")]
struct Harness<'a> {
    header: &'a str,
    top: &'a str,
    clk: &'a str,
    rst: &'a str,
    rst_on: u8,
    rst_off: u8,
    out_port: &'a str,
    /// Input ports.
    ins: Vec<HarnessIn>,
    out_bytes: usize,
    out_wide: bool,
    latency: u32,
    ii: u32,
    out_beats: usize,
    stream: bool,
    /// (signal, bytes, wide, stage, beats, fire)
    taps: Vec<(String, usize, bool, u32, usize, String)>,
    /// A streaming design's FIFOs: (instance, name, capacity).
    fifos: Vec<(String, String, usize)>,
}

/// One input port as the harness drives it.
struct HarnessIn {
    port: String,
    bytes: usize,
    wide: bool,
    words: usize,
    /// Transfers per sample.
    beats: usize,
}

/// The waveform format of `--trace`, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trace {
    Vcd,
    /// `.fst`: compressed, what GTKWave opens fastest.
    Fst,
}

impl Trace {
    pub fn for_file(p: &Path) -> Trace {
        if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("fst")) { Trace::Fst } else { Trace::Vcd }
    }
}

pub struct Verilator {
    /// Where builds are cached.
    pub cache: PathBuf,
    /// The C++ optimization of the Verilated model (`-O0`, ...) instead of
    /// Verilator's `-Os`: see [`Verilator::quick_build`].
    pub cxx_opt: Option<String>,
    /// Verilate with `-Wall`, every warning failing the build: see
    /// [`Verilator::lint_clean`].
    pub lint_clean: bool,
}

impl Verilator {
    pub fn new(cache: PathBuf) -> Verilator {
        Verilator { cache, cxx_opt: cxx_opt(), lint_clean: false }
    }

    /// Compile the Verilated C++ at `-O0`: a large flat design builds
    /// about twice as fast (rnn_lstm: 31.7 s to 15.5 s) and simulates about
    /// 7 times slower (64k to 9k inferences/s), right for a few thousand
    /// vectors.
    pub fn quick_build(mut self) -> Verilator {
        self.cxx_opt = Some("-O0".into());
        self
    }

    /// Build only a design that `verilator -Wall` passes without a
    /// warning: the lint then costs no second Verilator run over the same
    /// files (the test suite linted each design it simulates, 80 s of its
    /// 1,700 s of test time). The verilation of a build runs every pass of
    /// `--lint-only` and more. Part of the cache key: a cached build was
    /// checked as strictly as it is asked for.
    pub fn lint_clean(mut self) -> Verilator {
        self.lint_clean = true;
        self
    }

    fn harness(d: &DesignDir) -> Result<String> {
        let i = &d.interface;
        let out_port = if i.reset_active_low { "m_axis" } else { "output" };
        let ins: Vec<HarnessIn> = i
            .input_ports()
            .into_iter()
            .map(|(port, p)| HarnessIn { port, bytes: (p.tdata_width / 8) as usize, wide: p.tdata_width > 64, words: p.tdata_width.div_ceil(32) as usize, beats: p.beat().1 })
            .collect();
        let h = Harness {
            header: "qkhw verify harness",
            top: &i.top,
            clk: &i.clock,
            rst: &i.reset,
            rst_on: u8::from(!i.reset_active_low),
            rst_off: u8::from(i.reset_active_low),
            out_port,
            ins,
            out_bytes: (i.output.tdata_width / 8) as usize,
            out_wide: i.output.tdata_width > 64,
            latency: i.latency_cycles,
            ii: i.initiation_interval.max(1),
            out_beats: i.output.beat().1,
            stream: i.streams(),
            taps: d
                .taps
                .iter()
                .map(|t| {
                    let bits = t.width as usize * t.elements;
                    (t.signal.clone(), bits.div_ceil(8), bits > 64, t.stage, t.beats, t.fire.clone())
                })
                .collect(),
            fifos: d.fifos.iter().map(|f| (f.instance.clone(), f.name.replace(['"', '\\'], "_"), f.capacity)).collect(),
        };
        h.render().map_err(Error::Template)
    }

    /// The harness binary for `d` (built if not cached).
    pub fn build(&self, d: &DesignDir, taps: bool, trace: Option<Trace>) -> Result<(PathBuf, f64)> {
        let harness = Self::harness(d)?;
        let make_vars = make_vars(self.cxx_opt.as_deref());
        let flags = format!("taps={taps} trace={trace:?} v={} make={make_vars} lint_clean={}", version(), self.lint_clean);
        let key = d.hash(&(harness.clone() + &flags + &d.rom_dir_define().unwrap_or_default()))?;
        let dir = self.cache.join(format!("{}-{key}", d.interface.top));
        let bin = dir.join("obj").join("harness");
        if bin.exists() {
            return Ok((bin, 0.0));
        }
        let t = Instant::now();
        std::fs::create_dir_all(&self.cache).map_err(|e| Error::io(&self.cache, e))?;
        let tmp = self.cache.join(format!(".build-{}-{}-{key}", std::process::id(), t.elapsed().as_nanos()));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let cpp = tmp.join("harness.cpp");
        std::fs::write(&cpp, &harness).map_err(|e| Error::io(&cpp, e))?;
        let mut cmd = Command::new("verilator");
        cmd.args(["--cc", "--exe", "--build", "--language", "1364-2005", if self.lint_clean { "-Wall" } else { "-Wno-fatal" }, "-O1", "--x-assign", "fast"])
            .args(["--output-split", "20000", "-j", "2"])
            .args(["--top-module", &d.interface.top])
            .arg("-Mdir")
            .arg(tmp.join("obj"))
            .args(["-o", "harness"])
            .args(["-CFLAGS", "-O1 -std=c++17"]);
        cmd.args(["-MAKEFLAGS", &make_vars]);
        if has_ccache() {
            // Verilator's own hook: its runtime (verilated.cpp and
            // friends, about 5 s of g++ a build) compiles once per flag
            // set instead of once per design. ccache's store goes in our
            // cache folder (writable: the builds go there) unless the user
            // chose one; a read-only home would fail every build.
            cmd.args(["-MAKEFLAGS", "OBJCACHE=ccache"]);
            // Depend mode: a miss (every file of a new design) costs the
            // compile alone, its dependencies read from the `-MMD` file
            // Verilator's make asks for, not a second preprocessor run
            // (0.4 to 0.8 s a file, about 13 files a build).
            if std::env::var_os("CCACHE_DEPEND").is_none() {
                cmd.env("CCACHE_DEPEND", "1");
            }
            if std::env::var_os("CCACHE_DIR").is_none() {
                cmd.env("CCACHE_DIR", self.cache.join("ccache"));
            }
        }
        if let Some(def) = d.rom_dir_define() {
            cmd.arg(def);
        }
        if taps {
            cmd.arg("-DQKHW_TAPS").args(["-CFLAGS", "-DQKHW_TAPS"]);
        }
        match trace {
            Some(Trace::Vcd) => {
                cmd.arg("--trace").args(["-CFLAGS", "-DQKHW_TRACE"]);
            }
            Some(Trace::Fst) => {
                cmd.arg("--trace-fst").args(["-CFLAGS", "-DQKHW_TRACE", "-CFLAGS", "-DQKHW_FST"]);
            }
            None => {}
        }
        for f in &d.files {
            cmd.arg(d.dir.join(f));
        }
        cmd.arg(&cpp);
        let out = cmd.output().map_err(|e| Error::Usage(format!("cannot run verilator ({e}); install it (apt-get install verilator)")))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            let log = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = log.lines().filter(|l| l.contains("Error") || l.contains("error") || l.starts_with("%Warning")).take(8).collect();
            return Err(Error::Usage(format!("verilator build of {} failed:\n{}", d.interface.top, tail.join("\n"))));
        }
        // Publish atomically; a concurrent build of the same key wins or loses whole.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Ok((bin, t.elapsed().as_secs_f64()))
    }
}

fn version() -> String {
    Command::new("verilator").arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}

fn scratch(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("qkhw-sim-{}-{k}-{tag}", std::process::id()))
}

impl Simulator for Verilator {
    fn name(&self) -> &'static str {
        "verilator"
    }

    fn checks_timing(&self) -> bool {
        true
    }

    fn run(&self, d: &DesignDir, codes: &[i128], n: usize, seed: u64, steady: bool, trace: Option<&Path>) -> Result<SimRun> {
        let (bin, build_secs) = self.build(d, false, trace.map(Trace::for_file))?;
        let i = &d.interface;
        let (per_out, _) = i.output.beat();
        let (inb, outb) = (scratch("in.bin"), scratch("out.bin"));
        std::fs::write(&inb, pack_inputs(i, codes).concat()).map_err(|e| Error::io(&inb, e))?;
        let t = Instant::now();
        let mut cmd = Command::new(&bin);
        cmd.arg(&inb).arg(&outb).arg(n.to_string()).arg(seed.to_string()).arg(if steady { "1" } else { "0" });
        if let Some(tr) = trace {
            cmd.args(["-1", "/dev/null"]).arg(tr);
        }
        let out = super::run_reporting(&mut cmd, n, &bin.display().to_string())?;
        let sim_secs = t.elapsed().as_secs_f64();
        let errors: Vec<String> = out.stderr.lines().map(str::to_string).collect();
        let bytes = std::fs::read(&outb).map_err(|e| Error::io(&outb, e))?;
        let _ = std::fs::remove_file(&inb);
        let _ = std::fs::remove_file(&outb);
        if out.status.code() == Some(2) {
            return Err(Error::Usage(format!("harness failed: {}", errors.join("; "))));
        }
        let outputs = unpack(&bytes, i.output.width, i.output.signed, per_out, (i.output.tdata_width / 8) as usize);
        let stream_timing = out.stdout.lines().find_map(|l| {
            let v: Vec<i64> = l.strip_prefix("stream ")?.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            (v.len() == 3 && v[0] >= 0 && v[2] >= 0).then(|| super::StreamTiming { latency_first: v[0] as u64, latency_last: v[1], interval: v[2] as u64 })
        });
        let first_beats = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("stream_firsts"))
            .map_or(vec![], |l| l.split_whitespace().filter_map(|w| w.parse().ok()).collect());
        let fifo_max = super::fifo_maxima(&out.stdout, d.fifos.len());
        Ok(SimRun { outputs, build_secs, sim_secs, errors, stream_timing, first_beats, fifo_max })
    }

    fn taps(&self, d: &DesignDir, codes: &[i128], n: usize, sample: usize) -> Result<Option<Vec<Vec<i128>>>> {
        let (bin, _) = self.build(d, true, None)?;
        let i = &d.interface;
        let (inb, outb, tapb) = (scratch("tin.bin"), scratch("tout.bin"), scratch("taps.bin"));
        // The samples up to the tapped one (each port's transfers one
        // after another: the file holds exactly the samples run).
        let m = (sample + 1).min(n);
        let per = codes.len() / n.max(1);
        std::fs::write(&inb, pack_inputs(i, &codes[..m * per]).concat()).map_err(|e| Error::io(&inb, e))?;
        let _ = Command::new(&bin)
            .arg(&inb)
            .arg(&outb)
            .arg(m.to_string())
            .arg("1")
            .arg("1")
            .arg(sample.to_string())
            .arg(&tapb)
            .output()
            .map_err(|e| Error::Usage(format!("cannot run {}: {e}", bin.display())))?;
        let raw = std::fs::read(&tapb).unwrap_or_default();
        let _ = std::fs::remove_file(&inb);
        let _ = std::fs::remove_file(&outb);
        let _ = std::fs::remove_file(&tapb);
        let mut taps: Vec<Vec<i128>> = vec![vec![]; d.taps.len()];
        let mut pos = 0;
        while pos + 4 <= raw.len() {
            let k = u32::from_le_bytes(raw[pos..pos + 4].try_into().unwrap_or([0; 4])) as usize;
            pos += 4;
            let Some(t) = d.taps.get(k) else { break };
            let nb = (t.width as usize * t.elements).div_ceil(8);
            if pos + nb > raw.len() {
                break;
            }
            // A streamed layer's tap comes one record per beat.
            taps[k].extend(unpack(&raw[pos..pos + nb], t.width, t.signed, t.elements, nb));
            pos += nb;
        }
        Ok(Some(taps))
    }
}

/// The variables of Verilator's make for a model compiled at `opt`
/// (Verilator's `-Os` if none); part of the build's cache key.
fn make_vars(opt: Option<&str>) -> String {
    let fast = opt.unwrap_or("-Os");
    // The model's "slow" files (construction, initial values, ROM
    // contents: run once) unoptimized whatever the rest: resnet8's took
    // 25.3 s of g++ at -O1 (the -CFLAGS of the build, which Verilator's
    // empty OPT_SLOW leaves them), 11.3 s at -O0, of a 44 s build, and it
    // simulates as fast.
    let mut vars = format!("OPT_FAST={fast} OPT_SLOW=-O0 OPT_GLOBAL={fast}");
    // A quick build (`-O0`) compiles the model as one translation unit
    // (Verilator's __ALL.cpp): each file's shared headers (verilated.h,
    // the model's) cost about 0.6 s of g++, most of an unoptimized file's
    // time (resnet8's 14 files: 15.8 s, as one 9.0 s).
    if fast == "-O0" {
        vars += " VM_PARALLEL_BUILDS=0";
    }
    vars
}

/// Whether `ccache` runs here (looked up once).
fn has_ccache() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| Command::new("ccache").arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// `QKHW_VERILATOR_OPT` (e.g. `-O0`): the C++ optimization of the
/// Verilated model instead of Verilator's `-Os` ([`Verilator::quick_build`]).
fn cxx_opt() -> Option<String> {
    std::env::var("QKHW_VERILATOR_OPT").ok().filter(|o| o.starts_with("-O") && o.len() <= 4 && o[2..].chars().all(|c| c.is_ascii_alphanumeric()))
}
