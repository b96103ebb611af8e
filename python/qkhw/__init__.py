"""qkhw: QKeras models to bit-exact, verified hardware, from Python.

The same Rust library as the ``qkhw`` command, one import away::

    import qkhw
    m = qkhw.load(keras_model)            # or a .keras / .h5 path
    y = m.predict(x)                      # bit-exact golden model
    w = m.quantized_weights()             # = model_save_quantized_weights
    d = m.write("verilog", "build/rtl", reuse_factor=4)
    r = m.verify("verilog", design=d, random=1000)
    r.raise_for_mismatch()

Every failure raises :class:`qkhw.Error` (a ``ValueError``) with the one-line
message the command line prints.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import _qkhw
from ._qkhw import Error, __version__

__all__ = [
    "Error",
    "Notice",
    "Model",
    "Design",
    "Report",
    "load",
    "quantize",
    "quantize_model",
    "config_from_model",
    "run",
    "__version__",
]

class Notice(UserWarning):
    """What the CLI prints as ``note:``: where the golden model's result
    needs a word (a QKeras float32 step it reproduces, or a documented
    difference from ``model.predict``). Issued by :meth:`Model.predict`."""


#: The hardware targets of :meth:`Model.write` and :meth:`Model.verify`.
TARGETS = ("verilog", "c", "hls")

_SIGMOIDS = ("hard", "smooth", "real")


def _qkeras_sigmoid() -> str:
    """QKeras's process-wide ``set_internal_sigmoid`` mode, if QKeras is
    imported; else ``"hard"`` (QKeras's default)."""
    q = sys.modules.get("qkeras.quantizers")
    if q is None:
        return "hard"
    current = getattr(q, "_sigmoid", None)
    if current is getattr(q, "smooth_sigmoid", object()):
        return "smooth"
    if current is getattr(q, "hard_sigmoid", object()) or current is None:
        return "hard"
    return "real"


def _float32(x: Any, what: str = "x") -> np.ndarray:
    """Cast inputs as Keras does: float32 as is, float64 and integers
    rounded to float32; anything else is an error."""
    a = np.asarray(x)
    if a.dtype == np.float32:
        return np.ascontiguousarray(a)
    if a.dtype == np.float64 or a.dtype.kind in "iu" or a.dtype == np.float16:
        return np.ascontiguousarray(a, dtype=np.float32)
    raise Error(f"{what}: dtype {a.dtype} is not a number array (give float32, float64 or integers)")


def _config_json(config: Mapping[str, Any] | str | os.PathLike | None) -> str | None:
    """A config dict (the ``--config`` TOML schema: ``model``, ``layer``,
    ``input`` tables) as JSON text for the native side."""
    if config is None:
        return None
    if isinstance(config, (str, os.PathLike)):
        p = Path(config)
        text = p.read_text() if p.exists() else None
        if text is None:
            raise Error(f"{p}: config file not found")
        if p.suffix.lower() == ".json":
            return text
        import tomllib

        try:
            return json.dumps(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            raise Error(f"{p}: {e}") from None
    if not isinstance(config, Mapping):
        raise Error(f"config: expected a dict like {{'layer': {{'fc1': {{'reuse_factor': 4}}}}}}, not {type(config).__name__}")
    return json.dumps(config)


def run(*args: str) -> int:
    """Run the ``qkhw`` command line in-process (``qkhw.run("gen", ...)``)
    and return its exit code (1: a verification found differences). A
    failing command raises :class:`Error` with the CLI's message."""
    return _qkhw.run_cli(["qkhw", *map(str, args)])


def _option_args(options: Mapping[str, Any], tmp: Path) -> list[str]:
    """``reuse_factor=4`` -> ``--reuse-factor 4``; ``True`` -> a bare flag,
    ``False`` / ``None`` -> left out; a config dict -> a JSON file."""
    out: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif key == "config" and isinstance(value, Mapping):
            p = tmp / "config.json"
            p.write_text(_config_json(value) or "{}")
            out += [flag, str(p)]
        elif key == "budget" and isinstance(value, Mapping):
            out += [flag, ",".join(f"{k}={v}" for k, v in value.items())]
        else:
            out += [flag, str(value)]
    return out


def _in_python_terms(e: Error, options: Mapping[str, Any], command: str) -> Error:
    """The CLI's "unknown option `--reuse-fact`; did you mean
    --reuse-factor?" for a keyword argument, in the keyword's spelling."""
    m = re.match(r"unknown option `--([A-Za-z0-9-]+)`(?:; did you mean --([A-Za-z0-9-]+)\?)?", str(e))
    if not m or m.group(1).replace("-", "_") not in options:
        return e
    hint = f"; did you mean {m.group(2).replace('-', '_')}?" if m.group(2) else ""
    method = {"gen": "write", "verify": "verify"}.get(command, command)
    return Error(f"unknown option `{m.group(1).replace('-', '_')}`{hint} (see help(qkhw.Model.{method}) and `qkhw {command} --help`)")


def _design_terms(e: Error) -> Error:
    """The CLI's refusals of ``verify --design`` (another golden model than
    the design's, or a flag that chooses the design) in keyword terms:
    ``--reuse-factor`` as ``reuse_factor``, ``--design`` as ``design=``,
    a config dict's temporary file as ``config={...}``."""
    msg = str(e)
    if "--design" not in msg and "another golden model" not in msg:
        return e
    msg = re.sub(r"--config \S*qkhw-[^/\s]+/config\.json", "config={...}", msg)
    msg = msg.replace("--design", "design=").replace("the design `gen` makes", "the design `write` makes").replace("to gen,", "to write,")
    msg = re.sub(r"--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)", lambda m: m.group(1).replace("-", "_"), msg)
    return Error(msg)


def _target(target: str) -> str:
    t = str(target).lower()
    if t not in TARGETS:
        raise Error(f"target `{target}`: supported targets are {', '.join(TARGETS)}")
    return t


@dataclass
class Design:
    """A generated design folder: :meth:`Model.write`'s result."""

    target: str
    path: Path
    #: Every file written, relative to :attr:`path` (the folder's manifest).
    files: list[str]
    #: ``report.json`` (Verilog: per-layer latency, II, operators, ROM
    #: bits, resource estimate); empty for targets that write none.
    report: dict = field(default_factory=dict)
    #: ``interface.json`` (Verilog: ports, formats, latency, II).
    interface: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Design":
        """Read a folder ``qkhw gen`` (or :meth:`Model.write`) wrote."""
        p = Path(path)
        manifest = p / "qkhw-manifest.json"
        if not manifest.is_file():
            raise Error(f"{p}: not a qkhw design folder (no qkhw-manifest.json)")
        m = json.loads(manifest.read_text())
        load = lambda name: json.loads((p / name).read_text()) if (p / name).is_file() else {}  # noqa: E731
        return cls(target=m.get("target", ""), path=p, files=list(m.get("files", [])), report=load("report.json"), interface=load("interface.json"))


@dataclass
class Report:
    """What :meth:`Model.verify` found. A mismatch raises nothing by
    itself: check :attr:`ok` or call :meth:`raise_for_mismatch`."""

    ok: bool
    samples: int
    #: The samples run again at full rate (a streamed design: the first
    #: ``max(64, 4 × timing_samples)``; 0 for C and HLS).
    full_rate_samples: int
    mismatched_samples: int
    #: ``{"sample", "output", "expected", "actual", "layer", "note"}`` of the
    #: first differing output, or None.
    first_mismatch: dict | None
    simulator: str
    latency_cycles: int
    initiation_interval: int
    inferences_per_second: float
    build_seconds: float
    sim_seconds: float
    harness_errors: list[str]
    text: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    def raise_for_mismatch(self) -> None:
        """Raise :class:`Error` unless every sample was equal."""
        if not self.ok:
            raise Error(self.text.strip() or f"{self.mismatched_samples} of {self.samples} samples differ")

    def __bool__(self) -> bool:
        return self.ok


class _Renamed:
    """The native model of an in-memory Keras model: its errors name the
    model, not the temporary file Keras saved it to."""

    def __init__(self, native: Any, path: Path, label: str):
        self._native, self._path, self._label = native, str(path), label

    def rename(self, e: Error) -> Error:
        return Error(str(e).replace(self._path, self._label))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._native, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except Error as e:
                raise self.rename(e) from None

        return call


class Model:
    """A QKeras model read by qkhw (see :func:`load`)."""

    def __init__(self, native: "_qkhw.NativeModel", path: Path, internal_sigmoid: str, keep: tempfile.TemporaryDirectory | None = None, label: str | None = None):
        self._m = _Renamed(native, path, label) if label else native
        self.path = path
        self.internal_sigmoid = internal_sigmoid
        self._keep = keep  # the temporary .keras of an in-memory model

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}{tuple(s)}" for n, s in self.inputs)
        outs = ", ".join(f"{n}{tuple(s)}" for n, s in self.outputs)
        return f"<qkhw.Model {self.name}: {ins} -> {outs}>"

    @property
    def name(self) -> str:
        """The model's name."""
        return self._m.name

    @property
    def sha256(self) -> str:
        """SHA-256 of the model file (generated files carry it)."""
        return self._m.sha256

    @property
    def inputs(self) -> list[tuple[str, list[int]]]:
        """``[(name, shape without the batch axis)]``."""
        return self._m.inputs()

    @property
    def outputs(self) -> list[tuple[str, list[int]]]:
        """``[(name, shape without the batch axis)]``."""
        return self._m.outputs()

    def _xs(self, x: Any) -> list[np.ndarray]:
        """The input arrays in model order, from an array (one input), a
        list or tuple (model order) or a dict by input name."""
        names = [n for n, _ in self.inputs]
        if isinstance(x, Mapping):
            unknown = [k for k in x if k not in names]
            if unknown:
                raise Error(f"{self.name}: no input named {unknown[0]!r}; the inputs are {', '.join(names)}")
            missing = [n for n in names if n not in x]
            if missing:
                raise Error(f"{self.name}: input {missing[0]!r} not given")
            return [_float32(x[n], n) for n in names]
        if isinstance(x, (list, tuple)) and len(names) > 1:
            if len(x) != len(names):
                raise Error(f"{self.name}: {len(x)} input arrays for {len(names)} inputs ({', '.join(names)})")
            return [_float32(a, n) for a, n in zip(x, names)]
        if len(names) > 1:
            raise Error(f"{self.name} has {len(names)} inputs ({', '.join(names)}): give a list in that order or a dict by name")
        if isinstance(x, (list, tuple)) and len(x) == 1 and np.asarray(x[0]).ndim >= 2:
            x = x[0]
        return [_float32(x)]


    def predict(
        self,
        x: Any,
        codes: bool = False,
        input_format: str | None = None,
        config: Mapping[str, Any] | str | None = None,
        output_head: str | None = None,
        threads: int = 0,
    ) -> np.ndarray | list[np.ndarray]:
        """The bit-exact golden model: what ``model.predict(x)`` returns
        (float32), or the integer codes (int64, value = code x 2^-frac)
        with ``codes=True``; each notice of the run (the CLI's ``note:``
        lines) as a :class:`Notice` warning. A model with several outputs gives a list.
        ``x``: an array, or for a model with several inputs a list in model
        order or a dict by input name.

        ``input_format`` (``"fixed<16,6>"``, ``"ap_fixed<16,6>"``) quantizes
        the inputs first, as the hardware sees them; ``config`` is a
        per-layer precision dict (see :func:`config_from_model`).
        """
        arrays, _meta, notes = self._m.predict(self._xs(x), codes, input_format, _config_json(config), output_head, threads)
        for note in notes:
            warnings.warn(note, Notice, stacklevel=2)
        return arrays[0] if len(arrays) == 1 else arrays

    def output_formats(self, input_format: str | None = None, config: Mapping[str, Any] | str | None = None) -> list[tuple[str, str]]:
        """``[(layer, fixed-point format)]`` of the outputs' integer codes."""
        zeros = [np.zeros([1, *shape], np.float32) for _n, shape in self.inputs]
        _a, meta, _n = self._m.predict(zeros, True, input_format, _config_json(config), None, 1)
        return [(layer, fmt) for layer, fmt, _frac in meta]

    def quantized_weights(self) -> dict[str, dict[str, Any]]:
        """``qkeras.utils.model_save_quantized_weights(model)``: per layer,
        its hardware weights (float32 arrays), bit for bit. A layer of a
        ``load(..., keep_unbuilt=True)`` model that qkhw does not build is
        left out as QKeras leaves it out (it has no quantizers), with a
        :class:`Notice` warning, or raises (it has)."""
        d, notes = self._m.quantized_weights()
        for note in notes:
            warnings.warn(note, Notice, stacklevel=2)
        return d

    def sparsity(self) -> tuple[float, list[tuple[str, float]]]:
        """``qkeras.utils.get_model_sparsity(model, per_layer=True)``."""
        return self._m.sparsity()

    def inspect(self) -> list[dict[str, Any]]:
        """Per layer: class, shapes, quantizers, hardware formats,
        parameters, MACs, sparsity (``qkhw inspect --json``'s records)."""
        return json.loads(self._m.inspect_json())["layers"]

    def inspect_model(self) -> dict[str, Any]:
        """The whole ``qkhw inspect --json`` document (totals included)."""
        return json.loads(self._m.inspect_json())

    def dump(
        self,
        x: Any,
        layers: Iterable[str] | None = None,
        codes: bool = False,
        input_format: str | None = None,
        config: Mapping[str, Any] | str | None = None,
        threads: int = 0,
    ) -> dict[str, np.ndarray]:
        """Every layer's output (QKeras's ``quantized_model_dump``): layer
        name -> float32 array, or int64 codes with ``codes=True`` (an error
        for a layer wider than 64 bits)."""
        outs, _notes = self._m.layer_outputs(self._xs(x), list(layers or []), input_format, _config_json(config), threads)
        if not codes:
            return {name: values for name, _fmt, values, _c in outs}
        res = {}
        for name, fmt, _v, c in outs:
            if c is None:
                raise Error(f"layer `{name}` is {fmt}: its codes do not fit in int64 (dump(codes=False) gives its values)")
            res[name] = c
        return res

    def debug(self, x: Any, input_format: str | None = None, config: Mapping[str, Any] | str | None = None, plot: str | os.PathLike | None = None, threads: int = 0) -> str:
        """``qkhw debug``'s report (QKeras's ``quantized_model_debug``):
        per-layer ranges and how often each quantizer saturates."""
        return self._m.debug(self._xs(x), input_format, _config_json(config), threads, None if plot is None else Path(plot))

    def _cli(self, command: str, target: str | None, options: Mapping[str, Any], tmp: Path, extra: Sequence[str] = ()) -> int:
        which = ["--target", _target(target)] if target is not None else []
        args = [command, str(self.path), *which, *extra, *_option_args(options, tmp), "--internal-sigmoid", self.internal_sigmoid]
        try:
            return run(*args)
        except Error as e:
            e = _in_python_terms(self._m.rename(e) if isinstance(self._m, _Renamed) else e, options, command)
            raise (_design_terms(e) if command == "verify" else e) from None

    def write(self, target: str, output_dir: str | os.PathLike, force: bool = False, **options: Any) -> Design:
        """Generate a design (``qkhw gen``): ``target`` is ``"verilog"``,
        ``"c"`` or ``"hls"``; options are the CLI's flags with underscores
        (``reuse_factor=4``, ``part="xc7z020"``, ``budget={"dsp": 220}``,
        ``clock_period=10``, ``no_dsp=True``, ``pack_dsp=True``, ``pipeline_levels=2``,
        ``axis_names=True``, ``flavor="vitis"``, ``input_format=...``,
        ``config={...}``). An unknown option raises :class:`Error`."""
        out = Path(output_dir)
        with tempfile.TemporaryDirectory(prefix="qkhw-") as tmp:
            self._cli("gen", target, {**options, "force": force}, Path(tmp), ["--out", str(out)])
        return Design.read(out)

    def verify(
        self,
        target: str,
        x: Any = None,
        random: int = 0,
        seed: int = 1,
        design: Design | str | os.PathLike | None = None,
        **options: Any,
    ) -> Report:
        """Prove a design equal to the golden model (``qkhw verify``): on
        the inputs ``x`` (through the hardware input quantizer) and/or
        ``random`` random input codes (1000 when neither is given), in
        Verilator (``sim="iverilog"`` for Icarus), compiled C or HLS C
        simulation. ``design``: a folder :meth:`write` made, verified as it
        was written: give the options that set its arithmetic
        (``config``, ``input_format``, ``output_head``, ``bn``) as
        :meth:`write` had them (a difference raises :class:`Error`), and
        none that choose its architecture (``reuse_factor``, ``io``,
        ``budget``, ...: they raise). Without ``design`` one is generated
        from ``options`` (the same as :meth:`write`'s)."""
        with tempfile.TemporaryDirectory(prefix="qkhw-") as tmp_s:
            tmp = Path(tmp_s)
            extra = ["--json", str(tmp / "report.json")]
            if x is not None:
                # One file per model input, passed by name.
                for k, ((name, _shape), a) in enumerate(zip(self.inputs, self._xs(x))):
                    np.save(tmp / f"x{k}.npy", a)
                    extra += ["--input", f"{name}={tmp / f'x{k}.npy'}" if len(self.inputs) > 1 else str(tmp / f"x{k}.npy")]
            if random:
                extra += ["--random", str(int(random))]
            if seed != 1:
                extra += ["--seed", str(int(seed))]
            if design is not None:
                extra += ["--design", str(design.path if isinstance(design, Design) else design)]
            self._cli("verify", target, options, tmp, extra)
            r = json.loads((tmp / "report.json").read_text())
        text = f"{r['simulator']} on {r['top']}: {r['samples']} samples, {r['mismatched_samples']} differ"
        if r.get("first_mismatch"):
            fm = r["first_mismatch"]
            text += f"; first: sample {fm['sample']} output {fm['output']}: expected {fm['expected']}, got {fm['actual']}" + (f" (layer {fm['layer']})" if fm.get("layer") else "")
        for e in r.get("harness_errors", []):
            text += f"; {e}"
        return Report(
            ok=bool(r["passed"]),
            samples=r["samples"],
            full_rate_samples=r["full_rate_samples"],
            mismatched_samples=r["mismatched_samples"],
            first_mismatch=r["first_mismatch"],
            simulator=r["simulator"],
            latency_cycles=r["latency_cycles"],
            initiation_interval=r["initiation_interval"],
            inferences_per_second=r["inferences_per_second"],
            build_seconds=r["build_seconds"],
            sim_seconds=r["sim_seconds"],
            harness_errors=r["harness_errors"],
            text=text,
            raw=r,
        )

    def freeze(self, path: str | os.PathLike) -> Path:
        """``qkhw freeze``: QKeras's ``clone_model_and_freeze_auto_po2_scale``.
        Writes a ``.keras`` file whose auto_po2 weight quantizers carry their
        current scales as ``post_training_scale`` (float weights unchanged),
        checked to give the same hardware weights; returns its path."""
        with tempfile.TemporaryDirectory(prefix="qkhw-") as tmp:
            self._cli("freeze", None, {}, Path(tmp), ["--out", str(path)])
        return Path(path)

    def rom(self, output_dir: str | os.PathLike, format: str = "mem", layout: str | None = None, reuse_factor: int | None = None, config: Mapping[str, Any] | None = None) -> Path:
        """Write bit-exact weight ROMs (``qkhw rom``): ``format`` is mem,
        hex, coe, mif or c; ``layout="folded"`` with ``reuse_factor`` writes
        the words a folded layer reads."""
        with tempfile.TemporaryDirectory(prefix="qkhw-") as tmp:
            self._cli("rom", None, {"layout": layout, "reuse_factor": reuse_factor, "config": config}, Path(tmp), ["--format", format, "--out", str(output_dir)])
        return Path(output_dir)


def load(model_or_path: Any, internal_sigmoid: str | None = None, keep_unbuilt: bool = False) -> Model:
    """Read a QKeras model: a path (``.keras``, legacy ``.h5``, or a model
    JSON with its weights beside it) or an in-memory Keras / QKeras model,
    which Keras itself saves to a temporary ``.keras`` that qkhw then
    reads (no second model parser in Python).

    ``internal_sigmoid``: QKeras's ``set_internal_sigmoid`` mode for
    quantized_tanh / quantized_sigmoid; ``None`` takes QKeras's current
    process-wide setting when QKeras is imported, else ``"hard"``.

    ``keep_unbuilt``: keep the layers qkhw does not build (TimeDistributed,
    Masking, Keras's own Bidirectional, ...) instead of raising, as
    ``qkhw weights`` and ``qkhw inspect`` do: ``quantized_weights()``,
    ``inspect()`` and ``sparsity()`` then work, and ``predict`` and the
    hardware targets raise, naming the layer.
    """
    sigmoid = _qkeras_sigmoid() if internal_sigmoid is None else internal_sigmoid
    if sigmoid not in _SIGMOIDS:
        raise Error(f"internal_sigmoid `{sigmoid}`: one of {', '.join(_SIGMOIDS)}")
    if isinstance(model_or_path, (str, os.PathLike)):
        p = Path(model_or_path)
        return Model(_qkhw.NativeModel(p, sigmoid, keep_unbuilt), p, sigmoid)
    if not hasattr(model_or_path, "save") or not hasattr(model_or_path, "layers"):
        raise Error(f"load: expected a path or a Keras model, not {type(model_or_path).__name__}")
    keep = tempfile.TemporaryDirectory(prefix="qkhw-model-")
    name = getattr(model_or_path, "name", None) or "model"
    p = Path(keep.name) / f"{name}.keras"
    try:
        model_or_path.save(p)
    except Exception as e:  # Keras's own error, as one line
        keep.cleanup()
        raise Error(f"model `{name}`: Keras could not save it to .keras: {e}") from e
    label = f"in-memory model `{name}`"
    try:
        native = _qkhw.NativeModel(p, sigmoid, keep_unbuilt)
    except Error as e:
        keep.cleanup()
        # Name the model, not the temporary file Keras saved it to.
        raise Error(str(e).replace(str(p), label)) from None
    return Model(native, p, sigmoid, keep, label)


def quantize_model(
    model: Any,
    config: Mapping[str, Any] | str | os.PathLike,
    activation_bits: int,
    out: str | os.PathLike,
    fold_bn: bool = False,
) -> Path:
    """``qkhw quantize-model``: QKeras's ``model_quantize`` with
    ``transfer_weights=True`` on a float Keras model (a ``.keras`` path or an
    in-memory model, which Keras saves first). ``config`` is QKeras's
    ``quantizer_config`` dict (or a JSON file); ``fold_bn`` is
    ``enable_bn_folding`` with the trained weights moved into the folded
    layers. Writes a QKeras ``.keras`` file and returns its path; the CLI's
    report goes to stdout."""
    with tempfile.TemporaryDirectory(prefix="qkhw-") as tmp:
        if isinstance(model, (str, os.PathLike)):
            src = Path(model)
        elif hasattr(model, "save") and hasattr(model, "layers"):
            src = Path(tmp) / f"{getattr(model, 'name', None) or 'model'}.keras"
            try:
                model.save(src)
            except Exception as e:  # Keras's own error, as one line
                raise Error(f"model `{getattr(model, 'name', '?')}`: Keras could not save it to .keras: {e}") from e
        else:
            raise Error(f"quantize_model: expected a path or a Keras model, not {type(model).__name__}")
        if isinstance(config, Mapping):
            cfg = Path(tmp) / "quantizer_config.json"
            cfg.write_text(json.dumps(config))
        elif isinstance(config, (str, os.PathLike)):
            cfg = Path(config)
        else:
            raise Error(f"quantize_model: config is a quantizer_config dict or a JSON file, not {type(config).__name__}")
        args = ["quantize-model", str(src), "--config", str(cfg), "--activation-bits", str(activation_bits), "--out", str(out)]
        try:
            run(*args, *(["--fold-bn"] if fold_bn else []))
        except Error as e:
            # Name what the caller gave, not this function's temporary files.
            msg = str(e)
            if isinstance(config, Mapping):
                msg = msg.replace(str(cfg), "the quantizer_config dict")
            if src.parent == Path(tmp):
                msg = msg.replace(str(src), f"model `{getattr(model, 'name', 'model')}`")
            raise Error(msg) from None
    return Path(out)


def quantize(spec: str, x: Any, internal_sigmoid: str = "hard", codes: bool = False):
    """Apply one QKeras quantizer (``"quantized_bits(4,0,1)"``) bit-exactly.
    Returns the float32 values, or with ``codes=True`` a pair ``(values,
    hw)`` where ``hw`` is a dict: ``codes`` (int64), ``signs`` (po2),
    ``scale`` (auto scales) and ``encoding``."""
    y, hw = _qkhw.quantize(spec, _float32(x), internal_sigmoid, codes)
    if not codes:
        return y
    c, signs, scale, enc = hw
    return y, {"codes": c, "signs": signs, "scale": scale, "encoding": enc}


def config_from_model(model: Model | Any, granularity: str = "name", reuse_factor: int = 1, strategy: str | None = None) -> dict[str, Any]:
    """A filled-in per-layer configuration to edit and pass as ``config=``
    (the ``--config`` TOML schema as a dict), like hls4ml's
    ``config_from_keras_model``: ``granularity="model"`` gives only the
    ``model`` table; ``"name"`` adds a ``layer`` table per layer with a
    hardware format, holding its exact format (the default qkhw uses).
    ``strategy`` defaults to ``"resource"`` (folded) when ``reuse_factor``
    is more than 1 and ``"latency"`` (unrolled) otherwise: "latency" keeps
    every layer unrolled whatever its reuse factor."""
    if granularity not in ("model", "name"):
        raise Error(f"granularity `{granularity}`: one of model, name")
    if strategy is None:
        strategy = "resource" if reuse_factor > 1 else "latency"
    m = model if isinstance(model, Model) else load(model)
    cfg: dict[str, Any] = {"model": {"reuse_factor": reuse_factor, "strategy": strategy}}
    if granularity == "name":
        layers = {}
        for rec in m.inspect():
            fmt = rec.get("output_format")
            if fmt and rec.get("class") not in ("InputLayer",):
                layers[rec["name"]] = {"output": fmt}
        cfg["layer"] = layers
    return cfg
