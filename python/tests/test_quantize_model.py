"""qkhw quantize-model against QKeras's own model_quantize (pinned QKeras
1.2.1) on five float Keras models: an MLP, a CNN with batch norms, a
depthwise CNN, a functional model with Add, an LSTM. Where QKeras works as
documented, qkhw's file loads in QKeras and gives the same layer classes,
quantizer configs, hardware weights (model_save_quantized_weights) and
model.predict outputs (every float32 bit); where QKeras breaks, each test
says what qkhw does instead and checks it against QKeras layers given the
same weights by hand."""
import contextlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="the pinned QKeras environment (scripts/test.sh makes it)")
from keras import layers as L  # noqa: E402
from qkeras.utils import load_qmodel, model_quantize, model_save_quantized_weights  # noqa: E402

import qkhw  # noqa: E402

# The float models, their training and grid inputs are the golden
# generator's (tests/golden/gen_quantize_model.py), so both check the same
# conversions.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "golden"))
from gen_quantize_model import BITS, CNN_CONFIG, MLP_CONFIG, inputs, trained  # noqa: E402
from gen_quantize_model import cnn as cnn_bn  # noqa: E402
from gen_quantize_model import mlp  # noqa: E402


def same(a, b):
    """Nested dicts / lists of arrays equal element for element."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


def hardware(model):
    if isinstance(model, keras.Sequential):
        # QKeras's graph walk wants an InputLayer first (a Sequential's
        # layers start after it).
        model = keras.Model(model.inputs, model.outputs)
    with contextlib.redirect_stdout(io.StringIO()):
        return model_save_quantized_weights(model)


def quantizer_configs(model):
    """Per layer: class and every quantizer / activation in its config."""
    out = []
    for layer in model.layers:
        cfg = layer.get_config()
        keys = sorted(k for k in cfg if "quantizer" in k or k in ("activation", "recurrent_activation"))
        out.append((layer.__class__.__name__, {k: json.dumps(cfg[k], sort_keys=True, default=str) for k in keys}))
    return out


def ours(tmp_path, model, config, bits, fold_bn=False, name="q.keras"):
    out = qkhw.quantize_model(model, config, bits, tmp_path / name, fold_bn=fold_bn)
    return load_qmodel(str(out), compile=False), out


def assert_same_model(a, b, x, names=True):
    assert [l.__class__.__name__ for l in a.layers] == [l.__class__.__name__ for l in b.layers]
    if names:
        assert [l.name for l in a.layers] == [l.name for l in b.layers]
    assert quantizer_configs(a) == quantizer_configs(b)
    assert same(list(hardware(a).values()), list(hardware(b).values()))
    ya, yb = a.predict(x, verbose=0), b.predict(x, verbose=0)
    assert ya.tobytes() == yb.tobytes()


def depthwise_cnn():
    keras.utils.set_random_seed(3)
    i = keras.Input((9, 9, 3), name="img")
    x = L.Conv2D(8, 3, activation="relu", name="c1")(i)
    x = L.DepthwiseConv2D(3, name="dw")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(name="r")(x)
    x = L.Conv2D(8, 1, name="pw")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return trained(keras.Model(i, L.Dense(3, name="out")(x), name="float_dw"), 3)


def functional_add():
    keras.utils.set_random_seed(4)
    i = keras.Input((12,), name="x")
    a = L.Dense(8, activation="relu", name="a")(i)
    b = L.Dense(8, name="b")(i)
    b = L.Activation("sigmoid", name="bs")(b)
    h = L.Add(name="add")([a, b])
    return trained(keras.Model(i, L.Dense(2, name="out")(h), name="float_add"), 4)


def lstm():
    keras.utils.set_random_seed(5)
    i = keras.Input((6, 3), name="seq")
    h = L.LSTM(5, name="rnn")(i)
    return trained(keras.Model(i, L.Dense(2, name="out")(h), name="float_lstm"), 5)


def test_mlp_per_class_and_per_name(tmp_path):
    """A per-class QDense entry, a per-name override with its own
    activation_quantizer, QActivation per activation name: identical to
    QKeras in classes, quantizer configs, hardware weights and predict;
    qkhw's golden model runs the file and equals QKeras on every bit."""
    m = mlp()
    cfg = MLP_CONFIG
    q, out = ours(tmp_path, m, cfg, 6)
    theirs = model_quantize(m, cfg, 6, transfer_weights=True)
    x = inputs(m, 10)
    assert_same_model(q, theirs, x)
    y = theirs.predict(x, verbose=0)
    assert qkhw.load(out).predict(x).tobytes() == y.tobytes()


@pytest.mark.parametrize("fold", [False, True])
def test_cnn_with_batch_norm(tmp_path, fold):
    """Without folding: identical to QKeras ("QBatchNormalization": {} is a
    QBatchNormalization without quantizers, as in QKeras). With folding,
    QKeras's enable_bn_folding leaves the folded layers' weights random
    (it transfers none): qkhw moves the trained kernel, bias (zeros where
    the float layer had none) and statistics into each QConv2DBatchnorm;
    checked against QKeras's own folded model given those weights by hand."""
    m = cnn_bn()
    cfg = CNN_CONFIG
    q, out = ours(tmp_path, m, cfg, 6, fold_bn=fold)
    x = inputs(m, 20)
    theirs = model_quantize(m, cfg, 6, transfer_weights=True, enable_bn_folding=fold)
    if fold:
        assert [l.name for l in q.layers if l.__class__.__name__ == "QConv2DBatchnorm"] == ["c1", "c2"]
        assert "bn1" not in [l.name for l in q.layers]
        # QKeras's folded layers hold fresh weights, not the trained ones.
        assert not np.array_equal(theirs.get_layer("c1").get_weights()[0], m.get_layer("c1").get_weights()[0])
        for conv, bn in (("c1", "bn1"), ("c2", "bn2")):
            w = m.get_layer(conv).get_weights()
            kernel, bias = w[0], (w[1] if len(w) > 1 else np.zeros(w[0].shape[-1], np.float32))
            layer = theirs.get_layer(conv)
            # kernel, bias, iteration (kept), then the batch norm's four
            layer.set_weights([kernel, bias, layer.get_weights()[2], *m.get_layer(bn).get_weights()])
        for layer in theirs.layers:
            if layer.get_weights() and layer.__class__.__name__ != "QConv2DBatchnorm":
                layer.set_weights(m.get_layer(layer.name).get_weights())
    assert_same_model(q, theirs, x)
    assert qkhw.load(out).predict(x).tobytes() == theirs.predict(x, verbose=0).tobytes()


def test_depthwise_cnn_default_entry(tmp_path):
    """QKeras never reads "default" (nothing is quantized by it); qkhw
    applies it to every weight layer without its own entry, with the
    docstring's `kernel` / `bias` keys: the same as QKeras given the
    equivalent per-class entries. With --fold-bn the DepthwiseConv2D keeps
    its batch norm (QKeras's QDepthwiseConv2DBatchnorm does not reload
    from a .keras file: shown here), so the file equals the unfolded one."""
    m = depthwise_cnn()
    cfg = {
        "default": {"kernel": "quantized_bits(5,0,1)", "bias": "quantized_bits(6,2,1)"},
        "QActivation": {"relu": "quantized_relu(6,2)"},
        "QGlobalAveragePooling2D": {"average_quantizer": "quantized_bits(8,2,1)"},
        "QBatchNormalization": {},
    }
    expanded = {
        "QConv2D": {"kernel_quantizer": "quantized_bits(5,0,1)", "bias_quantizer": "quantized_bits(6,2,1)"},
        "QDepthwiseConv2D": {"depthwise_quantizer": "quantized_bits(5,0,1)", "bias_quantizer": "quantized_bits(6,2,1)"},
        "QDense": {"kernel_quantizer": "quantized_bits(5,0,1)", "bias_quantizer": "quantized_bits(6,2,1)"},
        **{k: v for k, v in cfg.items() if k != "default"},
    }
    x = inputs(m, 30)
    # QKeras ignores "default": the convolutions and the Dense stay float.
    ignored = model_quantize(m, cfg, 6, transfer_weights=True)
    assert [l.__class__.__name__ for l in ignored.layers if l.name in ("c1", "dw", "pw", "out")] == ["Conv2D", "DepthwiseConv2D", "Conv2D", "Dense"]
    q, out = ours(tmp_path, m, cfg, 6)
    theirs = model_quantize(m, expanded, 6, transfer_weights=True)
    assert_same_model(q, theirs, x)
    assert qkhw.load(out).predict(x).tobytes() == theirs.predict(x, verbose=0).tobytes()
    # --fold-bn: nothing to fold here but the depthwise layer, which stays.
    q2, _ = ours(tmp_path, m, cfg, 6, fold_bn=True, name="q2.keras")
    assert_same_model(q2, theirs, x)
    folded = model_quantize(m, expanded, 6, transfer_weights=True, enable_bn_folding=True)
    assert "QDepthwiseConv2DBatchnorm" in [l.__class__.__name__ for l in folded.layers]
    folded.save(tmp_path / "theirs.keras")
    with pytest.raises(ValueError, match="expected 3 variables, but received 4"):
        load_qmodel(str(tmp_path / "theirs.keras"), compile=False)


def test_functional_add_and_leaky_relu(tmp_path):
    """A functional model with two branches joined by Add, a sigmoid
    Activation and a layer's own relu (activation_bits): identical to
    QKeras. A Keras 3 LeakyReLU crashes QKeras's model_quantize (it reads
    `alpha`); qkhw turns it into QActivation(quantized_relu(N,
    negative_slope=s)), equal to that QKeras layer built by hand."""
    m = functional_add()
    cfg = {"QDense": BITS, "QActivation": {"sigmoid": "quantized_sigmoid(6)"}}
    q, out = ours(tmp_path, m, cfg, 7)
    theirs = model_quantize(m, cfg, 7, transfer_weights=True)
    x = inputs(m, 40)
    assert_same_model(q, theirs, x)
    assert qkhw.load(out).predict(x).tobytes() == theirs.predict(x, verbose=0).tobytes()

    keras.utils.set_random_seed(6)
    i = keras.Input((5,), name="x")
    h = L.LeakyReLU(negative_slope=0.25, name="leaky")(L.Dense(6, name="d")(i))
    leaky = trained(keras.Model(i, L.Dense(2, name="out")(h)), 6)
    with pytest.raises(KeyError, match="alpha"):
        model_quantize(leaky, {"QDense": BITS, "QActivation": ""}, 6, transfer_weights=True)
    q, _ = ours(tmp_path, leaky, {"QDense": BITS, "QActivation": ""}, 6, name="leaky.keras")
    from qkeras import QActivation, QDense
    from qkeras.quantizers import quantized_relu
    j = keras.Input((5,), name="x")
    hand = keras.Model(j, QDense(2, name="out", **BITS)(QActivation(quantized_relu(6, negative_slope=0.25), name="leaky")(QDense(6, name="d", **BITS)(j))))
    for layer in hand.layers:
        if layer.get_weights():
            layer.set_weights(leaky.get_layer(layer.name).get_weights())
    assert_same_model(q, hand, inputs(leaky, 41))


def test_lstm(tmp_path):
    """An LSTM becomes a QLSTM with kernel, recurrent, bias and state
    quantizers and quantized_tanh(N) for its tanh: QKeras's own result in
    classes, quantizer configs, hardware weights and predict. QKeras's QLSTM
    names itself `qlstm` whatever its config says (in model_quantize's
    result and when it loads qkhw's file); the file keeps `rnn`."""
    m = lstm()
    cfg = {"QLSTM": {**BITS, "recurrent_quantizer": "quantized_bits(4,0,1)", "state_quantizer": "quantized_bits(8,1,1)"}, "QDense": BITS}
    q, out = ours(tmp_path, m, cfg, 6)
    theirs = model_quantize(m, cfg, 6, transfer_weights=True)
    assert theirs.layers[1].name.startswith("qlstm") and q.layers[1].name.startswith("qlstm")
    with zipfile.ZipFile(out) as z:
        assert [l["config"]["name"] for l in json.loads(z.read("config.json"))["config"]["layers"]] == ["seq", "rnn", "out"]
    assert_same_model(q, theirs, inputs(m, 50), names=False)
    # qkhw reads its own file back.
    assert qkhw.load(out).inputs == [("seq", [6, 3])]


def test_errors_write_nothing(tmp_path):
    """A config key that is neither a layer nor a class, an unknown
    parameter, a quantizer qkhw cannot read, a QAdaptiveActivation entry:
    one clear error each, and no file."""
    m = mlp()
    src = tmp_path / "float.keras"
    m.save(src)
    out = tmp_path / "q.keras"
    for cfg, msg in [
        ({"QDens": BITS}, "`QDens` is neither a layer of the model"),
        ({"QDense": {"kernel": "quantized_bits(4)"}}, "unknown parameter `kernel`"),
        ({"QDense": {"kernel_quantizer": "quantized_bitz(4)"}}, "quantized_bitz"),
        ({"QAdaptiveActivation": "relu"}, "QAdaptiveActivation"),
    ]:
        with pytest.raises(qkhw.Error, match=msg) as e:
            qkhw.quantize_model(src, cfg, 6, out)
        # The message names the dict, not a temporary file (a cross-check).
        assert "qkhw-" not in str(e.value) and "quantizer_config.json" not in str(e.value), str(e.value)
        assert not out.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["float.keras"]
