"""The Python package against the real QKeras (pinned in
tests/golden/requirements.txt), on in-memory models built here: predict
equal to model.predict on every float32 bit, quantized_weights() equal to
model_save_quantized_weights, write + verify, and errors raised as
qkhw.Error with the CLI's messages."""
import contextlib
import json
import re
import io
import subprocess
import sys
from pathlib import Path
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="the pinned QKeras environment (scripts/test.sh makes it)")
import qkeras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QBatchNormalization, QConv2D, QConv2DBatchnorm, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_po2, quantized_relu  # noqa: E402
from qkeras.utils import model_save_quantized_weights  # noqa: E402

import qkhw  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def qdense(units, name):
    """The Dense layer most test models use: 6-bit kernel, 8-bit bias."""
    return QDense(units, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name=name)


def train(model, x, outputs=1, steps=4):
    """A few optimizer steps on random targets, so the weights and the
    batch-norm statistics are no longer their initial values."""
    rng = np.random.default_rng(7)
    shapes = model.output_shape if outputs > 1 else [model.output_shape]
    ys = [rng.normal(size=(len(x), *s[1:])).astype(np.float32) for s in shapes]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, ys if outputs > 1 else ys[0], batch_size=len(x) // steps, epochs=1, verbose=0)
    return model


def mlp():
    keras.utils.set_random_seed(1)
    x = L.Input((16,), name="x")
    h = qdense(24, "fc1")(x)
    h = QActivation(quantized_relu(6, 2), name="relu1")(h)
    h = qdense(5, "fc2")(h)
    return keras.Model(x, h, name="py_mlp")


def cnn_bn():
    keras.utils.set_random_seed(2)
    x = L.Input((8, 8, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(x)
    h = QConv2DBatchnorm(4, (3, 3), kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(10, 4, alpha=1), name="conv1")(h)
    h = QActivation(quantized_relu(6, 2), name="relu1")(h)
    h = L.MaxPooling2D(2, name="pool")(h)
    h = L.Flatten(name="flat")(h)
    h = qdense(3, "fc")(h)
    return keras.Model(x, h, name="py_cnn_bn")


def po2():
    keras.utils.set_random_seed(3)
    x = L.Input((12,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="qin")(x)
    h = QDense(16, kernel_quantizer=quantized_po2(4, 1), bias_quantizer=quantized_po2(6), name="po2")(h)
    h = QActivation(quantized_relu(8, 3), name="relu")(h)
    h = QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha="auto_po2"), bias_quantizer=quantized_bits(8, 3, alpha=1), name="auto")(h)
    h = QActivation(quantized_relu(6, 2), name="relu2")(h)
    # (QDenseBatchnorm would be next, but QKeras's own
    # model_save_quantized_weights cannot clone it in Keras 3.)
    h = QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha="auto_po2"), bias_quantizer=quantized_bits(10, 4, alpha=1), name="out")(h)
    return keras.Model(x, h, name="py_po2")


def functional_add():
    keras.utils.set_random_seed(4)
    x = L.Input((10,), name="x")
    q = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(x)
    a = qdense(12, "a")(q)
    b = QDense(12, kernel_quantizer=quantized_bits(5, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="b")(q)
    h = L.Add(name="add")([a, b])
    h = QActivation(quantized_relu(6, 3), name="relu")(h)
    h = qdense(4, "out")(h)
    return keras.Model(x, h, name="py_add")


def two_outputs():
    keras.utils.set_random_seed(5)
    x = L.Input((8,), name="x")
    h = qdense(16, "shared")(x)
    h = QActivation(quantized_relu(6, 2), name="relu")(h)
    a = qdense(3, "head_a")(h)
    b = QDense(2, kernel_quantizer=quantized_bits(4, 1, alpha=1), name="head_b")(h)
    return keras.Model(x, [a, b], name="py_two_heads")


MODELS = {"mlp": (mlp, 1), "cnn_bn": (cnn_bn, 1), "po2": (po2, 1), "functional_add": (functional_add, 1), "two_outputs": (two_outputs, 2)}


def inputs(model, n=300, seed=11):
    shape = model.input_shape[1:]
    return np.random.default_rng(seed).uniform(-2, 2, (n, *shape)).astype(np.float32)


def same_bits(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    assert a.shape == b.shape, (a.shape, b.shape)
    bad = a.view(np.uint32) != b.view(np.uint32)
    assert not bad.any(), f"{int(bad.sum())} of {a.size} values differ; first at {np.argwhere(bad)[0]}: QKeras {a[bad][0]!r} qkhw {b[bad][0]!r}"


def compare_weights(path, gold, ours):
    if isinstance(gold, dict):
        assert list(gold) == list(ours), f"{path}: keys {list(gold)} vs qkhw {list(ours)}"
        for k in gold:
            compare_weights(f"{path}.{k}", gold[k], ours[k])
    elif isinstance(gold, (list, tuple)):
        assert len(gold) == len(ours), f"{path}: {len(gold)} entries vs qkhw {len(ours)}"
        for i, (g, o) in enumerate(zip(gold, ours)):
            compare_weights(f"{path}[{i}]", g, o)
    elif gold is None or isinstance(gold, (bool, str)):
        assert gold == ours, f"{path}: QKeras {gold!r} vs qkhw {ours!r}"
    else:
        g = np.asarray(keras.ops.convert_to_numpy(gold) if not isinstance(gold, np.ndarray) else gold).astype(np.float32)
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float32, f"{path}: qkhw gives {type(ours)}"
        assert g.shape == ours.shape, f"{path}: shape {g.shape} vs qkhw {ours.shape}"
        bad = (g.view(np.uint32) != ours.view(np.uint32)) & ~(np.isnan(g) & np.isnan(ours))
        assert not bad.any(), f"{path}: {int(bad.sum())} of {g.size} values differ"


@pytest.fixture(scope="module", params=list(MODELS))
def built(request):
    make, outputs = MODELS[request.param]
    model = make()
    x = inputs(model)
    train(model, x, outputs)
    return request.param, model, x


def test_predict_and_weights_equal_qkeras(built):
    name, model, x = built
    m = qkhw.load(model)  # in memory: Keras saves it, qkhw reads that file
    gold = model.predict(x, verbose=0)
    ours = m.predict(x)
    if isinstance(gold, list):
        assert isinstance(ours, list) and len(ours) == len(gold)
        for g, o in zip(gold, ours):
            same_bits(g, o)
    else:
        same_bits(gold, ours)
    # float64 and integer inputs are cast to float32 as Keras casts them.
    first = ours[0] if isinstance(ours, list) else ours
    same_bits(first, (m.predict(x.astype(np.float64))[0] if isinstance(ours, list) else m.predict(x.astype(np.float64))))
    xi = np.rint(x).astype(np.int32)
    gi = model.predict(xi.astype(np.float32), verbose=0)
    oi = m.predict(xi)
    same_bits(gi[0] if isinstance(gi, list) else gi, oi[0] if isinstance(oi, list) else oi)
    # Codes are the values' exact integers.
    codes = m.predict(x, codes=True)
    fmts = m.output_formats()
    for (layer, fmt), c, v in zip(fmts, codes if isinstance(codes, list) else [codes], ours if isinstance(ours, list) else [ours]):
        frac = int(fmt.split(",")[0].split("<")[1]) - int(fmt.split(",")[1].rstrip(">"))
        assert c.dtype == np.int64
        same_bits(v, (c.astype(np.float64) * 2.0 ** -frac).astype(np.float32))
    # model_save_quantized_weights changes the model's weights: it runs last.
    with contextlib.redirect_stdout(io.StringIO()):
        hw = model_save_quantized_weights(model)
    compare_weights(name, hw, m.quantized_weights())


def test_the_config_of_config_from_model_changes_nothing(built):
    _, model, x = built
    m = qkhw.load(model)
    cfg = qkhw.config_from_model(m)
    assert cfg["model"] == {"reuse_factor": 1, "strategy": "latency"} and cfg["layer"]
    base = m.predict(x[:50])
    with_cfg = m.predict(x[:50], config=cfg)
    for a, b in zip(base if isinstance(base, list) else [base], with_cfg if isinstance(with_cfg, list) else [with_cfg]):
        same_bits(a, b)


def test_a_reuse_factor_from_config_from_model_folds(tmp_path):
    """A reuse factor above 1 comes with strategy "resource", so the design
    folds (cross-check batch 10: "latency" unrolled it without a word)."""
    m = qkhw.load(mlp())
    cfg = qkhw.config_from_model(m, granularity="model", reuse_factor=3)
    assert cfg == {"model": {"reuse_factor": 3, "strategy": "resource"}}
    d = m.write("verilog", tmp_path / "r3", config=cfg)
    assert d.interface["initiation_interval"] >= 3, d.interface["initiation_interval"]


def test_dump_and_sparsity(built):
    name, model, x = built
    m = qkhw.load(model)
    d = m.dump(x[:20])
    codes = m.dump(x[:20], codes=True)
    checked = 0
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        assert layer.name in d and layer.name in codes, (layer.name, list(d))
        # dump gives each layer's exact value. A quantizer's output is
        # exactly what QKeras computes; an unquantized sum (a QDense on raw
        # float inputs) is rounded by TensorFlow's float32 matmul, so only
        # the quantized layers are compared with QKeras here (predict's
        # float32 tail reproduces TensorFlow at the outputs).
        if isinstance(layer, QActivation):
            gold = keras.Model(model.inputs, layer.output).predict(x[:20], verbose=0)
            same_bits(gold, d[layer.name])
            checked += 1
    assert checked >= 1
    total, per_layer = m.sparsity()
    from qkeras.utils import get_model_sparsity

    gt, gl = get_model_sparsity(model, per_layer=True)
    assert np.float32(total) == np.float32(gt)
    assert [(n, np.float32(s)) for n, s in per_layer] == [(n, np.float32(s)) for n, s in gl]


def test_write_and_verify_verilog_and_c(tmp_path):
    model = mlp()
    x = inputs(model, 64)
    train(model, x)
    m = qkhw.load(model)
    d = m.write("verilog", tmp_path / "rtl", reuse_factor=4)
    assert d.interface["initiation_interval"] == 4 and "py_mlp.v" in d.files
    assert all((d.path / f).is_file() for f in d.files)
    r = m.verify("verilog", x=x, random=200, design=d)
    assert r.ok and r.samples == 264 and r.initiation_interval == 4 and r.latency_cycles > 0, r
    r.raise_for_mismatch()
    c = m.verify("c", x=x, random=100)
    assert c.ok and c.samples == 164, c
    # A design of another input format is refused, not compared.
    with pytest.raises(qkhw.Error, match="input format|input_format"):
        m.verify("verilog", design=d, input_format="fixed<12,4>", random=10)
    # A design is verified as it was written: a flag that chooses the
    # design raises in keyword terms; so does another golden model (a
    # config dict write had and verify has not).
    with pytest.raises(qkhw.Error, match=r"^reuse_factor chooses the design `write` makes; design= verifies"):
        m.verify("verilog", design=d, reuse_factor=8, random=10)
    cd = m.write("verilog", tmp_path / "cfg", config={"layer": {"fc1": {"output": "fixed<12,6>"}}})
    with pytest.raises(qkhw.Error, match=r"another golden model .*gen's options: `config=\{\.\.\.\}`; here: none"):
        m.verify("verilog", design=cd, random=10)
    # pack_dsp=True is --pack-dsp: fc2's 5 output lanes (6-bit relu codes
    # times 8-bit weights) share slices two by two, fewer DSP48 for the
    # same interval.
    p = m.write("verilog", tmp_path / "packed", reuse_factor=4, pack_dsp=True)
    assert p.report["pack_dsp"] is True and p.interface["initiation_interval"] == 4
    layers = {l["layer"]: l for l in p.report["layers"]}
    plain = {l["layer"]: l for l in d.report["layers"]}
    assert layers["fc2"]["packed_multipliers"] > 0 and layers["fc2"]["dsp_estimate"] < plain["fc2"]["dsp_estimate"], (layers["fc2"], plain["fc2"])


def test_a_mismatch_is_reported_not_raised(tmp_path):
    model = mlp()
    m = qkhw.load(model)
    d = m.write("c", tmp_path / "c")
    assert "py_mlp.c" in d.files
    v = m.write("verilog", tmp_path / "v")
    # Break the design: one constant multiplier's literal, or (where the
    # constants are shared shift-adds) one adder, changes.
    top = v.path / "py_mlp_fc2.v"
    text = top.read_text()
    import re

    found = re.search(r"\* (\d+)'h([0-9a-f]+);", text)
    if found:
        digit = "%x" % (int(found.group(2)[-1], 16) ^ 1)
        bad = text[: found.end(2) - 1] + digit + text[found.end(2):]
    else:
        assert " + " in text, "no constant multiplier or adder to corrupt"
        bad = text.replace(" + ", " - ", 1)
    assert bad != text
    top.write_text(bad)
    # Icarus (no C++ build): the mismatch path is the simulator's report.
    r = m.verify("verilog", design=v, random=50, sim="iverilog")
    assert not r.ok and r.mismatched_samples > 0 and r.first_mismatch is not None
    with pytest.raises(qkhw.Error):
        r.raise_for_mismatch()


def test_errors_are_qkhw_errors_with_the_cli_message(tmp_path):
    assert issubclass(qkhw.Error, ValueError)
    with pytest.raises(qkhw.Error, match="No such file"):
        qkhw.load(tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(qkhw.Error, match="junk.keras"):
        qkhw.load(junk)
    m = qkhw.load(REPO / "examples" / "models" / "jet_tagger.keras")
    with pytest.raises(qkhw.Error, match=r"the model takes \(batch, 16\)"):
        m.predict(np.zeros((3, 5), np.float32))
    with pytest.raises(qkhw.Error, match="dtype"):
        m.predict(np.array([["a"] * 16]))
    with pytest.raises(qkhw.Error, match=r"unknown option `bogus` \(see help\(qkhw.Model.write\)"):
        m.write("verilog", tmp_path / "out", bogus=3)
    # A misspelt keyword in the keyword's spelling (cross-check batch 11:
    # the CLI's `--reuse-fact`).
    with pytest.raises(qkhw.Error, match="unknown option `reuse_fact`; did you mean reuse_factor\\?"):
        m.write("verilog", tmp_path / "out", reuse_fact=3)
    assert not (tmp_path / "out").exists()
    with pytest.raises(qkhw.Error, match="target `vhdl`"):
        m.write("vhdl", tmp_path / "out")
    with pytest.raises(qkhw.Error, match="outptu"):
        m.predict(np.zeros((1, 16), np.float32), config={"layer": {"fc1": {"outptu": "fixed<8,3>"}}})
    with pytest.raises(qkhw.Error, match="quantizer spec"):
        qkhw.quantize("quantized_bits(4,0", [0.5])
    with pytest.raises(qkhw.Error, match="internal_sigmoid"):
        qkhw.load(REPO / "examples" / "models" / "jet_tagger.keras", internal_sigmoid="soft")
    # The CLI's exact line.
    cli = subprocess.run([sys.executable, "-c", "from qkhw._cli import main; main()", "predict", str(tmp_path / "missing.keras"), "--input", "x.npy", "--output", "y.npy"], capture_output=True, text=True)
    assert cli.returncode == 2
    with pytest.raises(qkhw.Error) as e:
        qkhw.load(tmp_path / "missing.keras").predict(np.zeros((1, 16)))
    assert cli.stderr.strip() == f"error: {e.value}"


def test_quantize_matches_qkeras():
    x = np.linspace(-3, 3, 97, dtype=np.float32)
    for spec, q in [("quantized_bits(4,0,1,alpha=1)", quantized_bits(4, 0, 1, alpha=1)), ("quantized_relu(6,2)", quantized_relu(6, 2)), ("quantized_po2(4,1)", quantized_po2(4, 1))]:
        same_bits(keras.ops.convert_to_numpy(q(x)), qkhw.quantize(spec, x))
    y, hw = qkhw.quantize("quantized_bits(4,0,1,alpha=1)", x, codes=True)
    same_bits(y, hw["codes"].astype(np.float32) / 8)


def test_internal_sigmoid_follows_qkeras():
    from qkeras.quantizers import set_internal_sigmoid

    path = REPO / "examples" / "models" / "jet_tagger.keras"
    try:
        set_internal_sigmoid("smooth")
        assert qkhw.load(path).internal_sigmoid == "smooth"
        set_internal_sigmoid("real")
        assert qkhw.load(path).internal_sigmoid == "real"
    finally:
        set_internal_sigmoid("hard")
    assert qkhw.load(path).internal_sigmoid == "hard"


def test_console_script_is_the_cli(tmp_path):
    exe = Path(sys.executable).with_name("qkhw")
    assert exe.is_file(), "pip install did not install the qkhw command"
    v = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.strip() == f"qkhw {qkhw.__version__}"
    out = tmp_path / "w.json"
    r = subprocess.run([str(exe), "weights", str(REPO / "examples" / "models" / "jet_tagger.keras"), "--json", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '"fc1"' in out.read_text()
    bad = subprocess.run([str(exe), "gen", "nope.keras", "--target", "verilog", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: nope.keras")


def test_help_shows_docstrings():
    assert "golden model" in qkhw.Model.predict.__doc__
    assert "model_save_quantized_weights" in qkhw.Model.quantized_weights.__doc__
    assert qkhw.load.__doc__ and qkhw.Error.__doc__


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python"):]
    block = section[section.index("```python") + len("```python"): section.index("```", section.index("```python") + 3)]
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md (Python)", "exec"), {})
    assert (tmp_path / "jet_rtl" / "interface.json").is_file()


def test_example_script_runs(tmp_path):
    script = REPO / "examples" / "python" / "train_and_convert.py"
    r = subprocess.run([sys.executable, str(script), str(tmp_path / "rtl")], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "equal to model.predict" in r.stdout and "all equal to the golden model" in r.stdout, r.stdout


def test_an_in_memory_model_qkhw_refuses_is_named_not_its_temporary_file():
    keras.utils.set_random_seed(0)
    i = L.Input((6,), name="x")
    h = QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha=1), name="fc")(i)
    h = QActivation(quantized_bits(6, 2, alpha=1.1), name="act")(h)
    model = keras.Model(i, h, name="odd_alpha")
    with pytest.raises(qkhw.Error) as e:
        qkhw.load(model).predict(np.zeros((1, 6), np.float32))
    msg = str(e.value)
    assert "qkhw-model-" not in msg and "layer `act`" in msg and "29 significant bits" in msg, msg


def test_two_inputs_as_a_list_or_a_dict():
    keras.utils.set_random_seed(6)
    a_in = L.Input((5, 5, 2), name="img")
    b_in = L.Input((7,), name="feat")
    a = QActivation(quantized_bits(8, 2, alpha=1), name="qa")(a_in)
    a = L.Flatten(name="flat")(L.MaxPooling2D(2, name="pool")(QConv2DBatchnorm(2, (2, 2), kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(10, 4, alpha=1), name="conv")(a)))
    a = QActivation(quantized_relu(6, 2), name="ra")(a)
    b = qdense(5, "fb")(b_in)
    b = QActivation(quantized_relu(6, 3), name="rb")(b)
    h = L.Concatenate(name="cat")([a, b])
    h = qdense(3, "out")(h)
    h = QActivation(quantized_bits(8, 3, alpha=1), name="qout")(h)
    model = keras.Model([a_in, b_in], h, name="py_two_inputs")
    rng = np.random.default_rng(3)
    xa = rng.normal(size=(400, 5, 5, 2)).astype(np.float32)
    xb = rng.normal(size=(400, 7)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit([xa, xb], rng.normal(size=(400, 3)).astype(np.float32), epochs=1, batch_size=100, verbose=0)
    m = qkhw.load(model)
    assert [n for n, _ in m.inputs] == ["img", "feat"]
    gold = model.predict([xa, xb], verbose=0)
    same_bits(gold, m.predict([xa, xb]))
    same_bits(gold, m.predict({"feat": xb, "img": xa}))
    d = m.dump({"img": xa[:10], "feat": xb[:10]}, layers=["ra", "rb"])
    same_bits(keras.Model(model.inputs, model.get_layer("rb").output).predict([xa[:10], xb[:10]], verbose=0), d["rb"])
    with pytest.raises(qkhw.Error, match="give a list in that order or a dict by name"):
        m.predict(xa)
    with pytest.raises(qkhw.Error, match="no input named 'image'"):
        m.predict({"image": xa, "feat": xb})
    with pytest.raises(qkhw.Error, match="input `feat` has 400 samples, input `img` 10"):
        m.predict([xa[:10], xb])
    # The hardware targets take one array per input too.
    for target, sim in [("c", {}), ("verilog", {"sim": "iverilog"})]:
        r = m.verify(target, x={"feat": xb[:50], "img": xa[:50]}, random=20, **sim)
        assert r.ok and r.samples == 70, r.text


def test_input_names_that_clash_as_identifiers():
    """Input names equal but for case (C macros are upper case) or holding
    `__` (Verilator's C++ escapes it): C and Verilog still build and agree
    (a cross-check found both failing to compile)."""
    keras.utils.set_random_seed(8)
    ins = [L.Input((3,), name=n) for n in ["A", "a", "x__y_"]]
    qs = [QActivation(quantized_bits(8, 2, alpha=1), name=f"q{k}")(x) for k, x in enumerate(ins)]
    h = qdense(4, "out")(L.Concatenate(name="cat")(qs))
    model = keras.Model(ins, h, name="py_clash")
    m = qkhw.load(model)
    xs = [np.random.default_rng(k).normal(size=(30, 3)).astype(np.float32) for k in range(3)]
    for target in ["c", "hls", "verilog"]:
        r = m.verify(target, x=xs, random=10)
        assert r.ok and r.samples == 40, r.text
    with contextlib.redirect_stdout(io.StringIO()):
        hw = model_save_quantized_weights(model)
    compare_weights("two_inputs", hw, m.quantized_weights())


def test_rom_files_from_python(tmp_path):
    m = qkhw.load(REPO / "examples" / "models" / "jet_tagger.keras")
    out = m.rom(tmp_path / "roms", format="mem")
    names = sorted(p.name for p in out.iterdir())
    assert "manifest.json" in names and any(n.endswith(".mem") for n in names), names
    folded = m.rom(tmp_path / "folded", format="mem", layout="folded", reuse_factor=4)
    assert (folded / "manifest.json").is_file()
    with pytest.raises(qkhw.Error, match="--format mem or hex"):
        m.rom(tmp_path / "bad", format="coe", layout="folded", reuse_factor=4)


def _auto_po2(bits):
    return quantized_bits(bits, 0, alpha="auto_po2")


def _hw_equal(a, b, flat=False):
    """Two model_save_quantized_weights dicts equal bit for bit (``flat``:
    arrays compared as flat lists of values, whatever their shapes)."""
    # float32 values are exact in float64, so equal values compare equal.
    def shape(v):
        v = np.asarray(v)
        return v.astype(np.float64).ravel() if flat and v.dtype.kind == "f" else v
    assert a.keys() == b.keys(), (a.keys(), b.keys())
    for layer in a:
        assert a[layer].keys() == b[layer].keys(), layer
        for key in a[layer]:
            va, vb = a[layer][key], b[layer][key]
            if isinstance(va, list):
                assert len(va) == len(vb) and all(np.array_equal(shape(x), shape(y)) for x, y in zip(va, vb)), (layer, key)
            else:
                assert np.array_equal(shape(va), shape(vb)), (layer, key)


def test_freeze_equals_qkeras_clone_model_and_freeze_auto_po2_scale(tmp_path):
    """qkhw freeze on a chain QKeras's own function takes (QConv2D, a
    QBatchNormalization's inverse quantizer, QDepthwiseConv2D, QDense, all
    auto_po2): the file loads in QKeras, its post_training_scales are
    QKeras's, and model_save_quantized_weights of it equals QKeras's frozen
    model's, bit for bit."""
    from qkeras import QBatchNormalization, QDepthwiseConv2D
    from qkeras.utils import clone_model_and_freeze_auto_po2_scale, load_qmodel
    keras.utils.set_random_seed(11)
    inp = L.Input((6, 6, 2), name="x")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(inp)
    x = QConv2D(4, 3, kernel_quantizer=_auto_po2(6), bias_quantizer=quantized_bits(8, 3, alpha=1), name="conv")(x)
    x = QBatchNormalization(inverse_quantizer=quantized_bits(8, 2, alpha="auto_po2"), gamma_quantizer=None, variance_quantizer=None,
                            beta_quantizer=quantized_bits(8, 3, alpha=1), mean_quantizer=quantized_bits(8, 3, alpha=1), name="bn")(x)
    x = QActivation(quantized_relu(6, 2), name="r1")(x)
    x = QDepthwiseConv2D(3, depthwise_quantizer=_auto_po2(6), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dw")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(3, kernel_quantizer=_auto_po2(6), bias_quantizer=quantized_bits(8, 3, alpha=1), name="out")(x)
    model = keras.Model(inp, x, name="fz_chain")
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(128, 6, 6, 2)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(xs, rng.normal(size=(128, 3)).astype(np.float32), epochs=1, batch_size=32, verbose=0)
    m = qkhw.load(model)
    out = m.freeze(tmp_path / "frozen.keras")
    with contextlib.redirect_stdout(io.StringIO()):
        theirs, their_hw = clone_model_and_freeze_auto_po2_scale(model, quantize_model_weights=True)
        ours = load_qmodel(str(out), compile=False)
        our_hw = model_save_quantized_weights(ours)
        # QKeras's frozen model as its own .keras file reads back.
        theirs.save(tmp_path / "theirs.keras")
        their_file_hw = model_save_quantized_weights(load_qmodel(str(tmp_path / "theirs.keras"), compile=False))
    _hw_equal(their_file_hw, our_hw)
    # In memory, QKeras's scales keep their broadcast shape ([1, 1, 1, 4]);
    # read from any file they are flat: the same values.
    _hw_equal(their_hw, our_hw, flat=True)
    for name in ["conv", "bn", "dw", "out"]:
        mine = [q for q in ours.get_layer(name).quantizers if getattr(q, "alpha", None) == "auto_po2"]
        qk = [q for q in theirs.get_layer(name).quantizers if getattr(q, "alpha", None) == "auto_po2"]
        assert len(mine) == 1 and len(qk) == 1, name
        assert np.array_equal(np.asarray(mine[0].post_training_scale), np.asarray(qk[0].post_training_scale)), name
    # qkhw reads its own file back: the same hardware weights.
    again = qkhw.load(out)
    compare = again.quantized_weights()
    _hw_equal(m.quantized_weights(), compare)


def _train_and_freeze(model, seed, tmp_path):
    """One epoch on 128 random samples (so the auto_po2 scales are not the
    initial ones), then qkhw's freeze: (inputs, frozen file, the frozen
    model as QKeras loads it)."""
    from qkeras.utils import load_qmodel
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(128, *model.input_shape[1:])).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(xs, rng.normal(size=(128, *model.output_shape[1:])).astype(np.float32), epochs=1, batch_size=32, verbose=0)
    out = qkhw.load(model).freeze(tmp_path / "frozen.keras")
    return xs, out, load_qmodel(str(out), compile=False)


def test_freeze_keeps_branches_and_layers_qkeras_refuses(tmp_path):
    """QKeras's function rebuilds a single-input chain of four classes and
    fails on a QConv1D; qkhw freezes a branchy model with one in place: the
    file loads in QKeras and predicts exactly what the original does (the
    frozen scales are the ones auto_po2 computes on these weights)."""
    from qkeras import QConv1D
    keras.utils.set_random_seed(12)
    inp = L.Input((8, 3), name="seq")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(inp)
    a = QConv1D(4, 3, kernel_quantizer=_auto_po2(6), bias_quantizer=quantized_bits(8, 3, alpha=1), name="c1")(x)
    a = QActivation(quantized_relu(6, 2), name="ra")(a)
    b = QConv1D(4, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="c2")(x)
    b = QActivation(quantized_relu(6, 2), name="rb")(b)
    h = L.Flatten(name="flat")(L.Add(name="add")([a, b]))
    h = QDense(3, kernel_quantizer=_auto_po2(5), bias_quantizer=quantized_bits(8, 3, alpha=1), name="out")(h)
    model = keras.Model(inp, h, name="fz_branch")
    xs, out, ours = _train_and_freeze(model, 1, tmp_path)
    assert ours.get_layer("c1").kernel_quantizer_internal.post_training_scale is not None
    assert ours.get_layer("out").kernel_quantizer_internal.post_training_scale is not None
    same_bits(model.predict(xs, verbose=0), ours.predict(xs, verbose=0))
    with pytest.raises(qkhw.Error, match="nothing to freeze"):
        qkhw.load(out).freeze(tmp_path / "again.keras")
    assert not (tmp_path / "again.keras").exists()


def test_freeze_takes_recurrent_layers(tmp_path):
    """auto_po2 kernel, recurrent and bias quantizers of a QLSTM (QKeras's
    own freeze fails on it; qkhw's said "nothing to freeze", found by a
    cross-check): each gets its scale in the cell's config, the file loads
    in QKeras and predicts bit for bit what the original does."""
    from qkeras import QLSTM
    keras.utils.set_random_seed(15)
    inp = L.Input((6, 3), name="seq")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(inp)
    x = QLSTM(4, kernel_quantizer=_auto_po2(5), recurrent_quantizer=_auto_po2(5), bias_quantizer=_auto_po2(8),
              state_quantizer=quantized_bits(8, 2, alpha=1), activation="quantized_tanh(6)", name="lstm")(x)
    model = keras.Model(inp, QDense(2, kernel_quantizer=quantized_bits(6, 0, alpha=1), name="out")(x), name="fz_lstm")
    xs, _, ours = _train_and_freeze(model, 2, tmp_path)
    # (QKeras reloads a QLSTM under an automatic name, `qlstm_1`.)
    cell = next(layer for layer in ours.layers if isinstance(layer, QLSTM)).cell
    for q in [cell.kernel_quantizer_internal, cell.recurrent_quantizer_internal, cell.bias_quantizer_internal]:
        assert q.post_training_scale is not None
    same_bits(model.predict(xs, verbose=0), ours.predict(xs, verbose=0))


def test_freeze_gives_each_layer_of_a_shared_quantizer_its_own_scale(tmp_path):
    """One auto_po2 quantizer object passed to three QDense layers: Keras
    saves the second and third with one `shared_object_id` and loads them
    as one object. `freeze` gave each its own scale but kept the id, so
    QKeras loaded the second's scale for the third too (186 of 300 values
    wrong, or a shape error where the layers' widths differ; a held-out
    cross-check found it). Each layer now gets its own object: the file
    predicts in QKeras exactly what the original does."""
    from qkeras.utils import load_qmodel
    keras.utils.set_random_seed(1)
    kq = quantized_bits(6, 2, alpha="auto_po2")
    inp = L.Input((8,), name="x")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="qin")(inp)
    x = QActivation(quantized_relu(6, 2), name="r0")(QDense(6, kernel_quantizer=kq, name="d0")(x))
    x = QActivation(quantized_relu(6, 2), name="r1")(QDense(10, kernel_quantizer=kq, name="d1")(x))
    x = QDense(4, kernel_quantizer=kq, name="d2")(x)
    model = keras.Model(inp, x, name="fz_shared")
    model.set_weights([np.random.default_rng(k).normal(0, 1.5, w.shape).astype(np.float32) for k, w in enumerate(model.get_weights())])
    model.save(tmp_path / "shared.keras")
    assert '"shared_object_id"' in zipfile.ZipFile(tmp_path / "shared.keras").read("config.json").decode()
    out = qkhw.load(str(tmp_path / "shared.keras")).freeze(tmp_path / "frozen.keras")
    ours = load_qmodel(str(out), compile=False)
    assert ours.get_layer("d1").kernel_quantizer_internal is not ours.get_layer("d2").kernel_quantizer_internal
    xs = np.random.default_rng(9).uniform(-4, 4, (50, 8)).astype(np.float32)
    same_bits(model.predict(xs, verbose=0), ours.predict(xs, verbose=0))


def test_an_auto_po2_inverse_quantizer_differs_where_the_notice_says():
    """QKeras itself is inconsistent for a QBatchNormalization whose
    inverse_quantizer has alpha="auto_po2": its call quantizes the inverse
    as a (1, C) tensor (a scale per channel), model_save_quantized_weights
    as one vector (one scale), which is bn_inv, the hardware weights qkhw
    computes. The notice names the channels whose inverse differs, and
    model.predict differs from qkhw in exactly those channels (a held-out
    cross-check found the silent difference)."""
    from qkeras import QBatchNormalization
    keras.utils.set_random_seed(5)
    inp = L.Input((6,), name="x")
    x = QBatchNormalization(inverse_quantizer=quantized_bits(8, 2, alpha="auto_po2"), gamma_quantizer=None, variance_quantizer=None,
                            beta_quantizer=None, mean_quantizer=None, name="bn")(inp)
    x = QActivation(quantized_relu(6, 2), name="relu")(x)
    model = keras.Model(inp, x, name="bn_auto_inv")
    bn = model.get_layer("bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([np.array([1, 1.2, .9, 1.1, 1, 1.3], np.float32), beta, mean, np.array([.757, .65, .89, 1.22, .447, 1.05], np.float32)])
    xs = np.random.default_rng(3).uniform(-4, 4, (64, 6)).astype(np.float32)
    with pytest.warns(qkhw.Notice, match=r"layer `bn`: .* differ in channels 0, 3, 5") as rec:
        ours = qkhw.load(model).predict(xs)
    theirs = model.predict(xs, verbose=0)
    assert len([w for w in rec if "inverse" in str(w.message)]) == 1
    bad = sorted({int(c) for c in np.argwhere(ours != theirs)[:, 1]})
    assert bad == [0, 3, 5], bad
    # `bn qkeras` computes what model.predict computes, its (1, C) inverse
    # included: every value equal (a cross-check: it quantized the inverse
    # as the tables do and matched them, not predict).
    # (Inputs on a 2^-4 grid: float32 holds the batch norm's input exactly.)
    xg = np.round(xs * 16) / 16
    same = qkhw.load(model).predict(xg, config={"model": {"bn": "qkeras"}})
    theirs_g = model.predict(xg, verbose=0)
    assert (same == theirs_g).all(), int((same != theirs_g).sum())
    assert (qkhw.load(model).predict(xg) != theirs_g).any(), "the tables differ from predict on these inputs too"
    # The tables are what model_save_quantized_weights gives.
    with contextlib.redirect_stdout(io.StringIO()):
        theirs_w = model_save_quantized_weights(model)
    _hw_equal(qkhw.load(model).quantized_weights(), theirs_w)


def test_an_activation_with_a_frozen_auto_po2_scale_runs_bit_exact():
    """An activation quantized_bits(alpha="auto_po2") with a
    post_training_scale (what `freeze` writes on a weight quantizer, set on
    an activation): QKeras rounds |x| / scale half away from zero on the
    grid, clamps symmetrically and multiplies back. One power-of-two scale
    runs bit-exact (it was refused, a held-out cross-check); one per channel
    is refused with the reason."""
    keras.utils.set_random_seed(0)
    xs = np.random.default_rng(1).uniform(-4, 4, (200, 6)).astype(np.float32)
    for pts in (np.float32(4.0), np.float32(0.5), np.full(5, 0.25, np.float32)):
        inp = L.Input((6,), name="x")
        y = QActivation(quantized_bits(8, 3, alpha=1), name="qin")(inp)
        y = QDense(5, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="d")(y)
        y = QActivation(quantized_bits(6, 2, alpha="auto_po2", post_training_scale=pts), name="qa")(y)
        model = keras.Model(inp, y, name="pts_act")
        m = qkhw.load(model)
        same_bits(model.predict(xs, verbose=0), m.predict(xs))
        r = m.verify("c", x=xs[:50], random=50)
        assert r.ok, r.text
    inp = L.Input((6,), name="x")
    y = QDense(5, name="d")(inp)
    y = QActivation(quantized_bits(6, 2, alpha="auto_po2", post_training_scale=np.array([0.5, 1, 0.25, 1, 2], np.float32)), name="qa")(y)
    with pytest.raises(qkhw.Error, match="not one power of two for every channel"):
        qkhw.load(keras.Model(inp, y, name="pts_vec")).predict(xs)


def test_outputs_joined_in_c_widen_in_the_result_type():
    """Two outputs brought to one format: the coarser one is shifted left.
    The C backend shifted it in its own type (int32 here), which UBSan
    caught as a signed overflow (a cross-check found it); it widens first."""
    keras.utils.set_random_seed(13)
    inp = L.Input((64,), name="x")
    wide = QDense(4, kernel_quantizer=quantized_bits(8, 7, alpha=1), bias_quantizer=quantized_bits(8, 7, alpha=1), name="wide")(inp)
    fine = QActivation(quantized_bits(16, 1, alpha=1), name="fine")(qdense(2, "small")(inp))
    model = keras.Model(inp, [wide, fine], name="py_join_wide")
    model.get_layer("wide").set_weights([np.full((64, 4), 100.0, np.float32), np.zeros(4, np.float32)])
    x = np.full((4, 64), 31.9, np.float32)
    x[1] *= -1
    r = qkhw.load(model).verify("c", x=x, random=20)
    assert r.ok, r.text


def test_average_into_its_own_quantizer_and_hswish_in_hardware():
    """A QAveragePooling2D with its own activation (the sum, the unused
    product and the quantizer in one layer: the Verilog module built the
    unused product's stage, so its latency was one too many) and a
    quantized_hswish after a global average (not monotone: its table was
    refused); both found by a cross-check."""
    from qkeras import QAveragePooling2D
    from qkeras.quantizers import quantized_hswish
    keras.utils.set_random_seed(14)
    inp = L.Input((6, 6, 2), name="x")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="q_in")(inp)
    x = QConv2D(3, 3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="c")(x)
    x = QActivation(quantized_relu(6, 2), name="r")(x)
    p = QAveragePooling2D((3, 3), activation=quantized_relu(3, 2), name="pool")(x)
    g = QActivation(quantized_hswish(6, 2), name="hs")(L.GlobalAveragePooling2D(name="gap")(x))
    model = keras.Model(inp, [L.Flatten(name="f")(p), g], name="py_avg_act")
    xs = np.random.default_rng(5).normal(size=(64, 6, 6, 2)).astype(np.float32) * 2
    m = qkhw.load(model)
    y = m.predict(xs)
    same_bits(model.predict(xs, verbose=0)[0], y[0])
    # Icarus: an unrolled CNN is a long Verilator build.
    for target, sim in [("c", {}), ("verilog", {"sim": "iverilog"})]:
        r = m.verify(target, x=xs, random=50, **sim)
        assert r.ok, r.text


def test_bn_qkeras_equals_predict_of_a_float32_batch_norm():
    """config {"model": {"bn": "qkeras"}} (the CLI's --bn qkeras): a
    standalone QBatchNormalization as model.predict computes it, in float32
    with TensorFlow's 1/sqrt, where the exact tables (the default) round
    some values to the other side of the relu's ties."""
    keras.utils.set_random_seed(8)
    i = L.Input((6, 6, 1), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="q")(i)
    h = QConv2D(8, (3, 3), kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="conv")(h)
    bn = QBatchNormalization(name="bn")
    h = QActivation(quantized_relu(8, 2), name="relu")(bn(h))
    model = keras.Model(i, L.Flatten(name="flat")(h))
    # A large-variance batch norm after QKeras's po2 quantizers (as
    # examples/models/dscnn_bn's bn1).
    values = {"gamma": [64.0] * 8, "beta": [0.5] * 8, "moving_mean": [1.0, -1.0, 2.0, -2.0] * 2, "moving_variance": [4096.0] * 8}
    for w in bn.weights:
        w.assign(np.array(values[w.name], np.float32))
    x = np.random.default_rng(4).normal(size=(3000, 6, 6, 1)).astype(np.float32)
    gold = model.predict(x, verbose=0)
    m = qkhw.load(model)
    same_bits(gold, m.predict(x, config={"model": {"bn": "qkeras"}}))
    assert (m.predict(x) != gold).sum() > 0


def _gold_entry(v):
    """A JSON entry of tests/golden/weights_skipped (QKeras's dict, from
    gen_weights_skipped.py) as the Python objects quantized_weights gives."""
    if isinstance(v, dict) and "dtype" in v:
        return np.asarray(v["data"], np.float32).reshape(v["shape"])
    if isinstance(v, dict):
        return {k: _gold_entry(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_gold_entry(x) for x in v]
    return v


def test_keep_unbuilt_gives_quantized_weights_of_models_qkhw_does_not_build():
    golden = REPO / "tests" / "golden" / "weights_skipped"
    for name, layer in [("timedistributed", "td"), ("masking", "mask"), ("keras_bidirectional", "bi")]:
        path = golden / f"{name}.keras"
        with pytest.raises(qkhw.Error):
            qkhw.load(path)
        m = qkhw.load(path, keep_unbuilt=True)
        with pytest.warns(qkhw.Notice, match=f"layer `{layer}`"):
            ours = m.quantized_weights()
        gold = json.loads((golden / f"{name}.weights.json").read_text())["weights"]
        compare_weights(name, _gold_entry(gold), ours)
        # The golden model still refuses the model, naming a layer it does
        # not build and its class once.
        x = [np.zeros([1, *shape], np.float32) for _n, shape in m.inputs]
        with pytest.raises(qkhw.Error) as e:
            m.predict(x if len(x) > 1 else x[0])
        said = re.search(r"layer `[^`]+`: \((\w+)\) ", str(e.value))
        assert said and f"({said[1]}) ({said[1]})" not in str(e.value), str(e.value)
