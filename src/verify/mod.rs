//! `qkhw verify`: simulate a generated design on every vector and compare
//! it with the golden model bit for bit. Simulators sit behind one trait
//! ([`Simulator`]): Verilator (C++ harness, random back-pressure, per-layer
//! taps for localization) and Icarus Verilog (plain Verilog-2005 bench).

pub mod cc;
pub mod hls;
pub mod icarus;
pub mod verilator;

use std::path::{Path, PathBuf};

use crate::backend::verilog::{Interface, Tap};
use crate::error::{Error, Result};
use crate::golden::{self, Keep};
use crate::plan::Plan;

/// A design on disk: its folder, files and interface.
#[derive(Debug, Clone)]
pub struct DesignDir {
    pub dir: PathBuf,
    pub files: Vec<String>,
    /// ROM contents read by `$readmemh` (`// mem:` lines of `files.f`).
    pub memories: Vec<String>,
    pub interface: Interface,
    /// Layer outputs the design exposes under `QKHW_TAPS` (empty for a
    /// folder without a report).
    pub taps: Vec<Tap>,
    /// A streaming design's FIFOs (report.json), probed by the harness.
    pub fifos: Vec<crate::backend::verilog::FifoInfo>,
}

impl DesignDir {
    /// The bytes of the design's Verilog files.
    pub fn verilog_bytes(&self) -> u64 {
        self.files.iter().filter_map(|f| std::fs::metadata(self.dir.join(f)).ok()).map(|m| m.len()).sum()
    }

    /// Read a folder written by `qkhw gen` (or committed by a user).
    pub fn read(dir: &Path) -> Result<DesignDir> {
        let rd = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| Error::io(dir.join(name), e));
        let list = rd("files.f")?;
        let files: Vec<String> = list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("//")).map(str::to_string).collect();
        let memories: Vec<String> = list.lines().filter_map(|l| l.trim().strip_prefix("// mem:")).map(|m| m.trim().to_string()).collect();
        let interface: Interface = serde_json::from_str(&rd("interface.json")?)
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.join("interface.json").display())))?;
        let report = rd("report.json").ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let taps = report.as_ref().and_then(|v| serde_json::from_value(v["taps"].clone()).ok()).unwrap_or_default();
        // The harness reads each FIFO's probe by its instance name, so
        // only identifiers are taken.
        let fifos: Vec<crate::backend::verilog::FifoInfo> = report.as_ref().and_then(|v| serde_json::from_value(v["fifos"].clone()).ok()).unwrap_or_default();
        let fifos = fifos.into_iter().filter(|f| !f.instance.is_empty() && f.instance.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).collect();
        Ok(DesignDir { dir: dir.to_path_buf(), files, memories, interface, taps, fifos })
    }

    /// The `-D` define that points `$readmemh` at this folder (compiled
    /// into a build, so the folder is part of the cache key too).
    pub fn rom_dir_define(&self) -> Option<String> {
        if self.memories.is_empty() {
            return None;
        }
        let abs = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        Some(format!("-DQKHW_ROM_DIR=\"{}\"", abs.display()))
    }

    /// SHA-256 over every file's name and contents: the build cache key.
    pub fn hash(&self, extra: &str) -> Result<String> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for f in self.files.iter().chain(&self.memories) {
            let p = self.dir.join(f);
            h.update(f.as_bytes());
            h.update(std::fs::read(&p).map_err(|e| Error::io(&p, e))?);
        }
        h.update(extra.as_bytes());
        Ok(crate::keras::hex(&h.finalize())[..24].to_string())
    }
}

/// What a simulator run produced.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// Output codes, `n × elements`.
    pub outputs: Vec<i128>,
    pub build_secs: f64,
    pub sim_secs: f64,
    /// Harness complaints (TLAST, latency, initiation interval).
    pub errors: Vec<String>,
    /// A streaming design's timing measured in the steady run.
    pub stream_timing: Option<StreamTiming>,
    /// Each sample's first input beat (its cycle) in the steady run of a
    /// streaming design; empty when not measured.
    pub first_beats: Vec<u64>,
    /// The most words each FIFO of a streaming design held (in the order
    /// of [`DesignDir::fifos`]; empty when not measured).
    pub fifo_max: Vec<u64>,
}

/// The `fifo K MAX` lines a harness prints: the most words FIFO `K` of `n`
/// held.
fn fifo_maxima(stdout: &str, n: usize) -> Vec<u64> {
    let mut max = vec![0; n];
    for l in stdout.lines() {
        let v: Vec<u64> = l.strip_prefix("fifo ").map(|r| r.split_whitespace().filter_map(|w| w.parse().ok()).collect()).unwrap_or_default();
        if let [k, m] = v[..]
            && let Some(slot) = max.get_mut(k as usize)
        {
            *slot = m;
        }
    }
    max
}

/// A FIFO's depth next to the largest occupancy verification saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FifoOccupancy {
    pub name: String,
    pub capacity: usize,
    pub minimum: usize,
    /// The most words it held in either run (random gaps, full rate).
    pub max_seen: u64,
    /// The most it held in the full-rate run, and what the report states
    /// for that run (the generator's timing simulation).
    pub full_rate_seen: Option<u64>,
    pub full_rate_stated: Option<usize>,
}

/// A streaming design's timing as simulated with the input offered at
/// full rate and the output always ready: the largest over the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StreamTiming {
    /// Cycles from a sample's first input beat to its first output beat.
    pub latency_first: u64,
    /// Cycles from a sample's last input beat to its last output beat
    /// (negative where the output is complete first: see
    /// [`crate::arch::timing::FullRate::latency_last`]).
    pub latency_last: i64,
    /// Cycles between the first input beats of consecutive samples.
    pub interval: u64,
}

/// A simulator qkhw can drive.
pub trait Simulator {
    fn name(&self) -> &'static str;
    /// Whether the steady run checks latency and the initiation interval.
    fn checks_timing(&self) -> bool {
        false
    }
    /// Simulate `n` samples of input codes; `steady` holds back-pressure
    /// off and checks latency and the initiation interval.
    fn run(&self, d: &DesignDir, codes: &[i128], n: usize, seed: u64, steady: bool, trace: Option<&Path>) -> Result<SimRun>;
    /// Layer outputs for one sample (steady run), by tap index.
    fn taps(&self, _d: &DesignDir, _codes: &[i128], _n: usize, _sample: usize) -> Result<Option<Vec<Vec<i128>>>> {
        Ok(None)
    }
}

/// Element codes packed little-endian into whole bytes, per sample.
pub fn pack(codes: &[i128], width: u32, per: usize, bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; codes.len() / per.max(1) * bytes];
    for (s, sample) in codes.chunks(per).enumerate() {
        let base = s * bytes;
        for (k, &c) in sample.iter().enumerate() {
            for b in 0..width as usize {
                if (c >> b) & 1 == 1 {
                    let bit = k * width as usize + b;
                    out[base + bit / 8] |= 1 << (bit % 8);
                }
            }
        }
    }
    out
}

/// Input codes (a sample's inputs side by side, model order) as each
/// input port's transfers: per port, every transfer packed ([`pack`]),
/// one after another (a streamed port's sample in its beats).
pub fn pack_inputs(i: &Interface, codes: &[i128]) -> Vec<Vec<u8>> {
    let ports = i.input_ports();
    let sizes: Vec<usize> = ports.iter().map(|(_, p)| p.shape.iter().product()).collect();
    let per: usize = sizes.iter().sum::<usize>().max(1);
    let mut at = 0;
    let mut out = vec![];
    for ((_, p), &m) in ports.iter().zip(&sizes) {
        let mine: Vec<i128> = codes.chunks(per).flat_map(|s| s[at..at + m].iter().copied()).collect();
        out.push(pack(&mine, p.width, p.beat().0, (p.tdata_width / 8) as usize));
        at += m;
    }
    out
}

/// The inverse of [`pack`], sign-extending when `signed`.
pub fn unpack(bytes: &[u8], width: u32, signed: bool, per: usize, stride: usize) -> Vec<i128> {
    let n = bytes.len() / stride.max(1);
    let mut out = Vec::with_capacity(n * per);
    for s in 0..n {
        for k in 0..per {
            let mut v: i128 = 0;
            for b in 0..width as usize {
                let bit = k * width as usize + b;
                if bytes[s * stride + bit / 8] >> (bit % 8) & 1 == 1 {
                    v |= 1 << b;
                }
            }
            if signed && width < 128 && (v >> (width - 1)) & 1 == 1 {
                v -= 1 << width;
            }
            out.push(v);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub sample: usize,
    pub output: usize,
    pub expected: i128,
    pub actual: i128,
    /// The first layer whose output differs, where taps allow telling.
    pub layer: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub simulator: String,
    pub top: String,
    /// The back-pressure seed of a streamed (Verilog) run; None where the
    /// target is called once per sample (C, HLS C-sim).
    pub seed: Option<u64>,
    pub samples: usize,
    /// The samples of the run at full rate: all of them, or for a
    /// streamed design the first [`full_rate_samples`]; 0 where the
    /// target has no handshakes (C, HLS C-sim).
    pub full_rate_samples: usize,
    pub mismatched_samples: usize,
    pub first: Option<Mismatch>,
    pub harness_errors: Vec<String>,
    pub build_secs: f64,
    pub sim_secs: f64,
    /// Steady-state simulation throughput (inferences per second).
    pub throughput: f64,
    pub latency_cycles: u32,
    pub initiation_interval: u32,
    pub timing_checked: bool,
    /// Why a streaming design's timing was not checked exactly (a run
    /// shorter than `timing_samples`, or a design that states lower
    /// bounds): what the text says instead of "as interface.json states".
    pub timing_unchecked: Option<String>,
    /// A streaming design's measured timing (steady run).
    pub stream_timing: Option<StreamTiming>,
    /// The steady state interface.json states, where the full-rate run
    /// reached it and measured exactly that.
    pub steady_checked: Option<crate::arch::timing::Steady>,
    /// Why a stated steady state was not checked (a full-rate run too
    /// short to reach it), said rather than passed over.
    pub steady_unchecked: Option<String>,
    /// A streaming design's FIFOs with the largest occupancy seen.
    pub fifos: Vec<FifoOccupancy>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.mismatched_samples == 0 && self.harness_errors.is_empty()
    }

    /// The report as JSON (`verify --json`, the Python package's
    /// `Report`): codes wider than 53 bits are written as decimal strings
    /// so that no JSON reader rounds them.
    pub fn json(&self, name: &str) -> serde_json::Value {
        let code = |c: i128| if c.unsigned_abs() < 1 << 53 { serde_json::json!(c as i64) } else { serde_json::json!(c.to_string()) };
        serde_json::json!({
            "model": name,
            "passed": self.passed(),
            "simulator": self.simulator,
            "top": self.top,
            "seed": self.seed,
            "samples": self.samples,
            "full_rate_samples": self.full_rate_samples,
            "mismatched_samples": self.mismatched_samples,
            "first_mismatch": self.first.as_ref().map(|m| serde_json::json!({
                "sample": m.sample,
                "output": m.output,
                "expected": code(m.expected),
                "actual": code(m.actual),
                "layer": m.layer,
                "note": m.note,
            })),
            "harness_errors": self.harness_errors,
            "build_seconds": self.build_secs,
            "sim_seconds": self.sim_secs,
            "inferences_per_second": self.throughput,
            "latency_cycles": self.latency_cycles,
            "initiation_interval": self.initiation_interval,
            "timing_checked": self.timing_checked,
            "timing_unchecked": self.timing_unchecked,
            "stream_timing": self.stream_timing,
            "steady_checked": self.steady_checked,
            "steady_unchecked": self.steady_unchecked,
            "fifos": self.fifos,
        })
    }

    pub fn text(&self) -> String {
        // Whole numbers, but slow simulations (Icarus on a large design)
        // keep two significant digits rather than printing 0.
        fn rate(r: f64) -> String {
            if r >= 10.0 { format!("{r:.0}") } else { format!("{r:.2}") }
        }
        let mut s = match self.seed {
            Some(seed) => format!(
                "{} on {}: {} samples (seed {seed}), random gaps and back-pressure, then steady: ",
                self.simulator, self.top, self.samples
            ),
            None => format!("{} on {}: {} samples: ", self.simulator, self.top, self.samples),
        };
        if self.passed() {
            s += &format!(
                "all equal to the golden model{}\nbuild {:.1} s, simulation {} inferences/s\n",
                if self.timing_checked && self.stream_timing.is_none() {
                    format!("; latency {} cycles and initiation interval {} checked", self.latency_cycles, self.initiation_interval)
                } else {
                    String::new()
                },
                self.build_secs,
                rate(self.throughput)
            );
            if let Some(t) = &self.stream_timing {
                s += &format!(
                    "streamed at full rate{}: {} cycles per sample (first input beat to first input beat), latency {} cycles first beat to first beat, {} last beat to last beat{}\n",
                    if self.full_rate_samples < self.samples { format!(" (the first {} samples)", self.full_rate_samples) } else { String::new() },
                    t.interval,
                    t.latency_first,
                    t.latency_last,
                    crate::arch::timing::last_latency_note(t.latency_last).to_string()
                        + &match (&self.timing_unchecked, self.timing_checked) {
                            (_, true) => ", as interface.json states".to_string(),
                            (Some(why), false) => format!(", {why}"),
                            (None, false) => String::new(),
                        }
                        + &match (self.steady_checked, &self.steady_unchecked) {
                            (Some(st), _) => format!("; the steady state {st}, as stated"),
                            (None, Some(why)) => format!("; {why}"),
                            (None, None) => String::new(),
                        }
                );
            }
            for f in &self.fifos {
                let full_rate = match (f.full_rate_seen, f.full_rate_stated) {
                    (Some(seen), Some(said)) => format!(", {seen} at full rate (the report: {said})"),
                    _ => String::new(),
                };
                s += &format!("FIFO `{}`: {} words (deadlock-free minimum {}), at most {} held{full_rate}\n", f.name, f.capacity, f.minimum, f.max_seen);
            }
        } else {
            s += &format!("{} samples differ\n", self.mismatched_samples);
            if let Some(m) = &self.first {
                s += &format!(
                    "first mismatch: sample {}, output {}: expected code {}, got {}; {}{}\n",
                    m.sample,
                    m.output,
                    m.expected,
                    m.actual,
                    m.layer.as_ref().map_or(String::new(), |l| format!("first differing layer: `{l}`; ")),
                    m.note
                );
            }
            for e in &self.harness_errors {
                s += &format!("harness: {e}\n");
            }
        }
        s
    }

    /// A JUnit XML report (one test case) for CI systems.
    pub fn junit(&self, name: &str) -> String {
        let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        let failure = if self.passed() {
            String::new()
        } else {
            format!("<failure message=\"{}\">{}</failure>", esc(self.text().lines().nth(1).unwrap_or("mismatch")), esc(&self.text()))
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"qkhw verify\" tests=\"1\" failures=\"{}\" time=\"{:.3}\">\n  <testcase classname=\"qkhw.verify.{}\" name=\"{}\" time=\"{:.3}\">{}<system-out>{}</system-out></testcase>\n</testsuite>\n",
            u8::from(!self.passed()),
            self.build_secs + self.sim_secs,
            esc(&self.simulator),
            esc(name),
            self.build_secs + self.sim_secs,
            failure,
            esc(&self.text())
        )
    }
}

/// Random input codes over the whole input format (the hardware must be
/// right on every code, not only on likely ones).
pub fn random_codes(n: usize, per: usize, fmt: crate::fxp::FixedFormat, seed: u64) -> Vec<i128> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    let (lo, hi) = (fmt.min_code(), fmt.max_code());
    let span = (hi - lo + 1) as u128;
    (0..n * per)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let r = ((s as u128) << 64 | s.rotate_left(17) as u128) % span;
            lo + r as i128
        })
        .collect()
}

/// Random codes for each input (`(elements, format)` per input, model
/// order), `n` samples each: input `k` draws from its own stream (seed
/// `seed + k * 0x9E3779B9`; the first input's is [`random_codes`]'s).
pub fn random_parts(inputs: &[(usize, crate::fxp::FixedFormat)], n: usize, seed: u64) -> Vec<Vec<i128>> {
    inputs.iter().enumerate().map(|(k, &(per, fmt))| random_codes(n, per, fmt, seed.wrapping_add(k as u64 * 0x9E37_79B9))).collect()
}

/// Per-input codes (`parts[k]`: `n` samples of `sizes[k]` elements) side
/// by side per sample, in model order: the layout `verify`, the golden
/// model's [`crate::golden::run`] and the hardware's packed inputs use.
pub fn interleave(mut parts: Vec<Vec<i128>>, sizes: &[usize], n: usize) -> Vec<i128> {
    if parts.len() == 1 {
        return parts.swap_remove(0);
    }
    let mut codes = Vec::with_capacity(n * sizes.iter().sum::<usize>());
    for s in 0..n {
        for (p, &m) in parts.iter().zip(sizes) {
            codes.extend_from_slice(&p[s * m..(s + 1) * m]);
        }
    }
    codes
}

/// `n` samples of random input codes for `plan`, every input over its
/// whole format ([`random_parts`], [`interleave`]).
pub fn random_inputs(plan: &Plan, n: usize, seed: u64) -> Vec<i128> {
    let sizes = plan.in_sizes();
    let each: Vec<(usize, crate::fxp::FixedFormat)> = plan.inputs.iter().zip(&sizes).map(|(&s, &m)| (m, plan.steps[s].fmt)).collect();
    interleave(random_parts(&each, n, seed), &sizes, n)
}

/// Simulate and compare. `codes` are input codes at the design's input
/// format, `n` samples.
pub fn verify(sim: &dyn Simulator, d: &DesignDir, plan: &Plan, codes: &[i128], n: usize, seed: u64, trace: Option<&Path>) -> Result<Report> {
    let g = golden::run(plan, codes, n, Keep::Outputs, 0)?;
    let o = plan.outputs[0];
    let expected = g.codes(o);
    let per: usize = plan.steps[o].shape.iter().product();
    let random = sim.run(d, codes, n, seed, false, trace)?;
    let full = full_rate_samples(d, n);
    let steady = sim.run(d, &codes[..full * plan.in_size()], full, seed, true, None)?;
    let mut harness_errors = random.errors.clone();
    harness_errors.extend(steady.errors.iter().cloned());
    harness_errors.extend(stream_timing_errors(d, steady.stream_timing, full));
    let steady_checked = steady_state_checked(d, &steady.first_beats);
    if let Some(Err(e)) = &steady_checked {
        harness_errors.push(e.clone());
    }
    // A FIFO holding more at full rate than the generator simulated would
    // mean the design does not run as its report states; a run as long
    // as `timing_samples` sees exactly what it states.
    let exact = d.interface.timing_samples.is_some_and(|k| full >= k as usize);
    for (f, &seen) in d.fifos.iter().zip(&steady.fifo_max) {
        if let Some(said) = f.full_rate_held.filter(|&said| seen > said as u64 || (exact && seen != said as u64)) {
            harness_errors.push(format!("FIFO `{}` held {seen} words at full rate, the report says {}{said}", f.name, if exact { "" } else { "at most " }));
        }
    }
    let (mut first, bad) = mismatches(&[(expected, &random.outputs), (&expected[..full * per], &steady.outputs)], per);
    if let Some(m) = first.as_mut() {
        localize(sim, d, plan, codes, n, m)?;
    }
    Ok(Report {
        simulator: sim.name().into(),
        top: d.interface.top.clone(),
        seed: Some(seed),
        samples: n,
        full_rate_samples: full,
        mismatched_samples: bad.len(),
        first,
        harness_errors,
        build_secs: random.build_secs + steady.build_secs,
        sim_secs: random.sim_secs + steady.sim_secs,
        throughput: full as f64 / steady.sim_secs.max(1e-9),
        latency_cycles: d.interface.latency_cycles,
        initiation_interval: d.interface.initiation_interval,
        // A streaming design's timing is checked where interface.json
        // states it exactly and the run is long enough to see it.
        timing_checked: sim.checks_timing() && (steady.stream_timing.is_none() || exact),
        timing_unchecked: {
            let i = &d.interface;
            let stated = format!("{} / {} / {}", i.initiation_interval, i.latency_cycles, i.latency_last_cycles.unwrap_or(0));
            match (steady.stream_timing.is_some(), i.timing_samples) {
                (true, Some(k)) if !exact => Some(format!("at most what interface.json states ({stated}), which a run of {k} samples or more sees exactly (this run: {n})")),
                (true, None) => Some(format!("not checked: interface.json's figures ({stated}) are the largest over the generator's simulated samples, whose timing did not repeat (a longer run can see more, a shorter one less)")),
                _ => None,
            }
        },
        stream_timing: steady.stream_timing,
        steady_checked: steady_checked.as_ref().is_some_and(|c| c.is_ok()).then_some(d.interface.steady).flatten(),
        steady_unchecked: match (d.interface.steady, &steady_checked, steady.stream_timing.is_some()) {
            (Some(st), None, true) => {
                let needs = st.samples_to_check();
                Some(format!(
                    "the steady state ({st} from sample {} on) not checked: the full-rate run of {full} samples does not reach it ({needs} needed{})",
                    st.from,
                    if needs > steady_check_max_samples(&st) { format!(", more than the {} verify runs at full rate", steady_check_max_samples(&st)) } else { ": a run of that many samples checks it".to_string() }
                ))
            }
            _ => None,
        },
        fifos: d
            .fifos
            .iter()
            .enumerate()
            .filter_map(|(k, f)| {
                let seen = random.fifo_max.get(k).copied().max(steady.fifo_max.get(k).copied())?;
                Some(FifoOccupancy { name: f.name.clone(), capacity: f.capacity, minimum: f.minimum, max_seen: seen, full_rate_seen: steady.fifo_max.get(k).copied(), full_rate_stated: f.full_rate_held })
            })
            .collect(),
    })
}

/// Verilog this large (all of a design's files) takes a simulator's build
/// a minute or more: the unrolled zoo_conv2d's 5.2 MB about 40 s of
/// Verilator, a cross-check's unrolled 12x12 residual CNN (36 MB, 1.05 M
/// lines) 413 s at `-O0`, when its streamed design built in 10 s; cross-
/// check batch 7's unrolled CNNs of 4.3, 9.1, 9.8 and 11.7 MB took 134,
/// 410, 518 and 481 s (optimized builds, two cores shared).
pub const LARGE_VERILOG_BYTES: u64 = 4_000_000;

/// A one-line note for a design whose Verilog (`bytes` in all) is at least
/// [`LARGE_VERILOG_BYTES`]: its build takes minutes with no progress to
/// show, and a folded or streamed design of the same model is smaller.
pub fn large_design_note(top: &str, bytes: u64, sim: &str) -> Option<String> {
    (bytes >= LARGE_VERILOG_BYTES).then(|| {
        format!("{top}'s Verilog is {:.1} MB: the {sim} build takes minutes (unrolled CNNs of 9 to 12 MB took 7 to 9 minutes on two cores); the model folded at a larger --reuse-factor R, or streamed (--io stream), makes a smaller design", bytes as f64 / 1e6)
    })
}

/// The samples a streamed design runs at full rate: the first
/// `max(64, 4 × timing_samples)` of `n`. That run measures the interval,
/// the latencies and the FIFOs' occupancy, all of which repeat from the
/// `timing_samples`-th sample on (the generator's simulation found the
/// state that repeats); every sample's results are compared in the run
/// with random gaps and back-pressure. The full-rate run of every sample
/// doubled the simulation of the large CNNs (ResNet-8: about 4 images/s).
/// A design without `timing_samples` (parallel ports) runs every sample.
pub fn full_rate_samples(d: &DesignDir, n: usize) -> usize {
    match d.interface.timing_samples {
        Some(k) => {
            // Far enough to check the steady state where it is reached
            // within a few hundred samples.
            let steady = d.interface.steady.map_or(0, |st| st.samples_to_check().min(steady_check_max_samples(&st)));
            n.min((4 * k as usize).max(64).max(steady))
        }
        None => n,
    }
}

/// The most samples the full-rate run of a streaming design runs to reach
/// its steady state `st` (a design that settles later is checked up to
/// the largest interval and latencies): 512, or as many as take two
/// million cycles (a short interval can settle over more samples:
/// cross-check batch 10's q05 at R = 6 repeats 133 samples every 19,152
/// cycles from sample 403 on, 537 samples of 144 cycles to check).
pub fn steady_check_max_samples(st: &crate::arch::timing::Steady) -> usize {
    let per_sample = (st.cycles / st.samples.max(1) as u64).max(1);
    STEADY_CHECK_MAX_SAMPLES.max((STEADY_CHECK_MAX_CYCLES / per_sample) as usize)
}

/// See [`steady_check_max_samples`].
pub const STEADY_CHECK_MAX_SAMPLES: usize = 512;
/// See [`steady_check_max_samples`].
pub const STEADY_CHECK_MAX_CYCLES: u64 = 2_000_000;

/// Where a streaming design's timing measured at full rate differs from
/// what its `interface.json` states. The statement is the largest over
/// any run of `timing_samples` samples or more; a shorter run can only
/// see less.
fn stream_timing_errors(d: &DesignDir, measured: Option<StreamTiming>, n: usize) -> Vec<String> {
    let i = &d.interface;
    let (Some(m), Some(last), Some(k)) = (measured, i.latency_last_cycles, i.timing_samples) else {
        return vec![];
    };
    let exact = n >= k as usize;
    [("interval", m.interval as i64, i64::from(i.initiation_interval)), ("first-beat latency", m.latency_first as i64, i64::from(i.latency_cycles)), ("last-beat latency", m.latency_last, last)]
        .into_iter()
        .filter(|&(_, got, said)| if exact { got != said } else { got > said })
        .map(|(what, got, said)| format!("streamed at full rate: {what} {got} cycles, interface.json says {said}"))
        .collect()
}

/// Whether the steady run's first input beats show the steady state
/// interface.json states (`steady`): its last `samples` samples take
/// exactly `cycles` cycles. None where there is nothing to check (no
/// steady state stated, or a run too short to reach it: `from` samples
/// and a period more).
fn steady_state_checked(d: &DesignDir, firsts: &[u64]) -> Option<Result<(), String>> {
    let st = d.interface.steady?;
    let n = firsts.len();
    if n < st.samples_to_check() {
        return None;
    }
    let got = firsts[n - 1] - firsts[n - 1 - st.samples];
    Some(if got == st.cycles {
        Ok(())
    } else {
        Err(format!("streamed at full rate: the last {} samples took {got} cycles, interface.json's steady state says {}", st.samples, st.cycles))
    })
}

/// Compare each run's output codes with the golden ones (`per` per
/// sample): the first difference and the set of differing samples (a run
/// that came back short counts as one more).
fn mismatches(runs: &[(&[i128], &[i128])], per: usize) -> (Option<Mismatch>, std::collections::BTreeSet<usize>) {
    let mut first = None;
    let mut bad = std::collections::BTreeSet::new();
    for &(expected, run) in runs {
        for (i, (&e, &a)) in expected.iter().zip(run.iter()).enumerate() {
            if e != a {
                bad.insert(i / per);
                if first.is_none() {
                    first = Some(Mismatch { sample: i / per, output: i % per, expected: e, actual: a, layer: None, note: String::new() });
                }
            }
        }
        if run.len() != expected.len() {
            bad.insert(usize::MAX);
        }
    }
    (first, bad)
}

/// Name the first layer whose output differs from the golden model.
fn localize(sim: &dyn Simulator, d: &DesignDir, plan: &Plan, codes: &[i128], n: usize, m: &mut Mismatch) -> Result<()> {
    if d.taps.is_empty() {
        m.note = "this design folder has no layer taps (report.json): reported at the output".into();
        return Ok(());
    }
    let Some(taps) = sim.taps(d, codes, n, m.sample)? else {
        m.note = "this simulator has no layer taps: reported at the output".into();
        return Ok(());
    };
    let in_size = plan.in_size();
    let one = &codes[m.sample * in_size..(m.sample + 1) * in_size];
    let g = golden::run(plan, one, 1, Keep::Layers, 1)?;
    for (k, t) in d.taps.iter().enumerate() {
        let want = g.steps.get(t.step).and_then(|s| s.as_ref());
        let got = taps.get(k);
        if let (Some(w), Some(h)) = (want, got)
            && w != h {
                m.layer = Some(t.layer.clone());
                m.note = match w.iter().zip(h).position(|(a, b)| a != b) {
                    Some(j) => format!("at its element {j}: expected {}, got {}", w[j], h[j]),
                    // A streamed layer whose beats were lost or never handed over.
                    None => format!("it gave {} values where {} were expected", h.len(), w.len()),
                };
                return Ok(());
            }
    }
    m.note = "every layer tap agrees; the difference is in the output path".into();
    Ok(())
}

/// `verify --target c`: compile with UBSan, run every vector, compare.
pub fn verify_c(m: &crate::backend::c::CModel, plan: &Plan, codes: &[i128], n: usize, dir: &Path) -> Result<Report> {
    let per: usize = plan.steps[plan.outputs[0]].shape.iter().product();
    let (outs, build, sim) = cc::run(m, dir, codes, n, per)?;
    compare_codes("gcc (C99, UBSan)", &m.name, plan, codes, n, outs, build, sim)
}

/// `verify --target hls`: C-simulation against the flavor's open-source
/// fixed-point headers (ap_types or ac_types).
#[allow(clippy::too_many_arguments)]
pub fn verify_hls(files: &[(String, String)], name: &str, flavor: crate::backend::hls::Flavor, plan: &Plan, codes: &[i128], n: usize, dir: &Path, cache: &Path) -> Result<Report> {
    let (outs, build, sim) = hls::run(files, name, flavor, dir, cache, codes, n)?;
    let types = if flavor == crate::backend::hls::Flavor::Catapult { "ac_types" } else { "ap_types" };
    compare_codes(&format!("g++ HLS C-sim ({flavor}, {types})"), name, plan, codes, n, outs, build, sim)
}

#[allow(clippy::too_many_arguments)]
fn compare_codes(tool: &str, name: &str, plan: &Plan, codes: &[i128], n: usize, outs: Vec<i128>, build: f64, sim: f64) -> Result<Report> {
    let g = golden::run(plan, codes, n, Keep::Outputs, 0)?;
    let o = plan.outputs[0];
    let expected = g.codes(o);
    let per: usize = plan.steps[o].shape.iter().product();
    let (mut first, bad) = mismatches(&[(expected, &outs)], per);
    if let Some(m) = first.as_mut() {
        m.note = "no layer taps in this target: reported at the output".into();
    }
    Ok(Report::per_sample(tool, name, n, first, bad.len(), build, sim))
}

impl Report {
    /// The report of a target called once per sample (C, HLS C-sim): no
    /// handshakes, so no seed, timing or FIFOs.
    fn per_sample(tool: &str, name: &str, n: usize, first: Option<Mismatch>, mismatched_samples: usize, build: f64, sim: f64) -> Report {
        Report {
            simulator: tool.into(),
            top: name.to_string(),
            seed: None,
            samples: n,
            full_rate_samples: 0,
            mismatched_samples,
            first,
            harness_errors: vec![],
            build_secs: build,
            sim_secs: sim,
            throughput: n as f64 / sim.max(1e-9),
            latency_cycles: 0,
            initiation_interval: 1,
            timing_checked: false,
            timing_unchecked: None,
            stream_timing: None,
            steady_checked: None,
            steady_unchecked: None,
            fifos: vec![],
        }
    }
}

/// What a simulator process left: its exit status, its stdout without the
/// progress lines, and its stderr.
pub(crate) struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run a simulator process that prints `progress K` lines (K of `n` samples
/// out so far) on stdout, showing a progress bar once the run takes more
/// than a second.
pub(crate) fn run_reporting(cmd: &mut std::process::Command, n: usize, what: &str) -> Result<Finished> {
    use std::io::{BufRead, Read};
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| Error::Usage(format!("cannot run {what}: {e}")))?;
    // stderr drains on its own thread so a chatty process never blocks.
    let mut err = child.stderr.take();
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let bar = crate::golden::Progress::new(n as u64);
    let mut stdout = String::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(std::result::Result::ok) {
            match line.strip_prefix("progress ").and_then(|k| k.trim().parse::<u64>().ok()) {
                Some(k) => bar.set(k),
                None => {
                    stdout.push_str(&line);
                    stdout.push('\n');
                }
            }
        }
    }
    let status = child.wait().map_err(|e| Error::Usage(format!("{what}: {e}")))?;
    drop(bar);
    let stderr = drain.join().unwrap_or_default();
    Ok(Finished { status, stdout, stderr })
}

/// Run a compiled harness that reads input codes and writes output codes
/// (`BIN IN OUT N`), each one int64 word or two (low, then high) as
/// `words` says for (inputs, outputs); returns the codes and the run time.
pub(crate) fn run_code_harness(bin: &Path, dir: &Path, codes: &[i128], n: usize, words: (usize, usize), what: &str) -> Result<(Vec<i128>, f64)> {
    let mut bytes = Vec::with_capacity(codes.len() * 8 * words.0);
    for &c in codes {
        bytes.extend((c as i64).to_le_bytes());
        if words.0 == 2 {
            bytes.extend(((c >> 64) as i64).to_le_bytes());
        }
    }
    std::fs::write(dir.join("in.bin"), bytes).map_err(|e| Error::io(dir.join("in.bin"), e))?;
    let t = std::time::Instant::now();
    let run = std::process::Command::new(bin)
        .arg(dir.join("in.bin"))
        .arg(dir.join("out.bin"))
        .arg(n.to_string())
        .output()
        .map_err(|e| Error::Usage(format!("cannot run {what}: {e}")))?;
    let secs = t.elapsed().as_secs_f64();
    if !run.status.success() {
        return Err(Error::Usage(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&run.stderr).lines().take(6).collect::<Vec<_>>().join("; ")
        )));
    }
    let raw = std::fs::read(dir.join("out.bin")).map_err(|e| Error::io(dir.join("out.bin"), e))?;
    let word = |c: &[u8]| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
    Ok((
        raw.chunks(8 * words.1)
            .map(|c| if words.1 == 2 { ((word(&c[8..]) as i128) << 64) | (word(&c[..8]) as u64 as i128) } else { word(c) as i128 })
            .collect(),
        secs,
    ))
}

#[cfg(test)]
mod report_tests {
    use super::{large_design_note, steady_check_max_samples, Report, LARGE_VERILOG_BYTES, STEADY_CHECK_MAX_SAMPLES};
    use crate::arch::timing::Steady;

    /// A steady state of short samples is checked however many samples it
    /// takes to reach, up to two million cycles: cross-check batch 10's q05
    /// at R = 6 (537 samples of 144 cycles) was said unchecked past 512; a
    /// long sample keeps the 512.
    #[test]
    fn a_short_sample_s_steady_state_is_checked_past_512_samples() {
        let q05 = Steady { samples: 133, cycles: 19_152, from: 403 };
        assert_eq!(q05.samples_to_check(), 537);
        assert_eq!(steady_check_max_samples(&q05), 2_000_000 / 144);
        let resnet8 = Steady { samples: 1, cycles: 36_864, from: 8 };
        assert_eq!(steady_check_max_samples(&resnet8), STEADY_CHECK_MAX_SAMPLES);
    }

    /// Only a design of the threshold's size or more gets the note, which
    /// names the design, its size and what makes a smaller one.
    #[test]
    fn a_large_design_gets_a_note_before_its_build() {
        assert_eq!(large_design_note("k01", LARGE_VERILOG_BYTES - 1, "verilator"), None);
        let n = large_design_note("k01", 36_200_000, "verilator").unwrap();
        assert!(n.starts_with("k01's Verilog is 36.2 MB: the verilator build takes minutes (") && n.contains("--reuse-factor R") && n.contains("--io stream"), "{n}");
    }

    /// A slow simulation's rate keeps its digits: Icarus on a large
    /// streamed design ran at 0.11 inferences/s and the report said 0.
    #[test]
    fn slow_rates_are_not_printed_as_zero() {
        let mut r = Report::per_sample("icarus", "m", 10, None, 0, 0.4, 94.0);
        assert!(r.text().contains("simulation 0.11 inferences/s"), "{}", r.text());
        r.throughput = 27846.4;
        assert!(r.text().contains("simulation 27846 inferences/s"), "{}", r.text());
    }
}
