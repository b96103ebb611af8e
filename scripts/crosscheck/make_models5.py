"""Cross-check batch 5 (written apart from qkhw's sources).

A: QBidirectional(merge_mode=None) -> two tensors, used in different ways.
B: unquantized float tails (average pooling over non power-of-two counts) joined
   with other branches at the model output.
C: layers qkhw does not build (TimeDistributed, Masking, keras Bidirectional,
   Lambda, Embedding, initial_state) -> `qkhw weights` vs model_save_quantized_weights.

Usage: python scripts/crosscheck/make_models5.py OUT [NAME ...]
Per model NAME: NAME.keras, NAME.x.npy (NAME.x.1.npy for input 1), NAME.y.npy
(NAME.y.K.npy for output K), NAME.qw.json (QKeras's model_save_quantized_weights
of the reloaded model, arrays as {dtype, shape, data}), and README.txt.
"""
import os

import _tf_env  # noqa: F401  (first: TensorFlow's environment)

import contextlib
import io
import json
import sys
import traceback

import numpy as np

import keras
from keras import layers as L
from qkeras import (QActivation, QBidirectional, QConv1D, QConv2D, QDense, QGRU, QLSTM,
                   QSimpleRNN)
from qkeras.quantizers import quantized_bits, quantized_relu, quantized_tanh
from qkeras.utils import _add_supported_quantized_objects, model_save_quantized_weights

GRU_SMALL = True   # set per model in main(): A models and c08 use the smaller GRU quantizers
if len(sys.argv) < 2:
    sys.exit("usage: make_models5.py OUT [NAME ...]")
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
# seeds as used when the files in /tmp/xc7 were written (the model list grew between runs)
SEEDS = {"a01": 0, "a02": 1, "a03": 2, "a04": 3, "a05": 4, "a06": 5, "a07": 6, "a08": 7,
         "b01": 7, "b02": 8, "b03": 9, "b04": 10, "b05": 11, "b06": 12, "c01": 13, "c02": 14,
         "c03": 15, "c04": 16, "c05": 17, "c06": 18, "c07": 19, "c08": 21}
keras.config.enable_unsafe_deserialization()


def qb(b, i, **kw):
    return quantized_bits(b, i, alpha=1, **kw)


K6 = lambda: qb(6, 0)           # noqa: E731  kernel / recurrent
B8 = lambda: qb(8, 3)           # noqa: E731  bias
S8 = lambda: qb(8, 1)           # noqa: E731  state


def inq(name="in_q"):
    return QActivation(qb(8, 2), name=name)


def rq(kind, units, name, **kw):
    """A quantized recurrent layer with the brief's quantizers."""
    cls = {"lstm": QLSTM, "gru": QGRU, "srnn": QSimpleRNN}[kind]
    args = dict(kernel_quantizer=K6(), recurrent_quantizer=K6(), bias_quantizer=B8(),
                state_quantizer=S8(), activation=quantized_tanh(6), name=name)
    if kind == "gru" and GRU_SMALL:
        # the brief's 6/8-bit quantizers make qkhw refuse every QGRU here (27 significant bits
        # needed, float32 has 24; see README): smaller ones
        args.update(kernel_quantizer=qb(4, 0), recurrent_quantizer=qb(4, 0), bias_quantizer=qb(6, 2),
                    state_quantizer=qb(6, 1))
    args.update(kw)
    return cls(units, **args)


def qd(units, name, **kw):
    return QDense(units, kernel_quantizer=K6(), bias_quantizer=B8(), name=name, **kw)


# ---------------------------------------------------------------- A
def a01_bilstm_none_both_out():
    """QBidirectional(QLSTM(4), merge_mode=None), last step; forward and backward tensors both model outputs."""
    i = keras.Input((6, 3))
    x = inq()(i)
    f, b = QBidirectional(rq("lstm", 4, "lstm"), merge_mode=None, name="bi")(x)
    return keras.Model(i, [f, b])


def a02_bigru_ra_seq_bwd_only():
    """QBidirectional(QGRU(5, reset_after=True, return_sequences=True), None); only the backward tensor used (QActivation > Flatten > QDense), forward unused."""
    i = keras.Input((7, 3))
    x = inq()(i)
    f, b = QBidirectional(rq("gru", 5, "gru", reset_after=True, return_sequences=True),
                          merge_mode=None, name="bi")(x)
    b = QActivation(qb(8, 1), name="q_b")(b)
    b = L.Flatten(name="flat")(b)
    o = qd(3, "out")(b)
    return keras.Model(i, o)


def a03_bigru_rafalse_gob_dense_concat():
    """QBidirectional(QGRU(4, reset_after=False, go_backwards=True) forward, backward_layer=QGRU(4, reset_after=False, go_backwards=False)), None, last step; fwd -> QDense (output 0); bwd -> Concatenate with GlobalMaxPooling1D(input q) and Add with fwd's QDense -> QActivation -> QDense (output 1). (QKeras refuses go_backwards=True on the forward layer without a custom backward layer.)"""
    i = keras.Input((6, 4))
    x = inq()(i)
    f, b = QBidirectional(rq("gru", 4, "gru", reset_after=False, go_backwards=True),
                          backward_layer=rq("gru", 4, "gru_b", reset_after=False, go_backwards=False),
                          merge_mode=None, name="bi")(x)
    df = qd(4, "dense_f")(f)
    gm = L.GlobalMaxPooling1D(name="gmp")(x)
    c = L.Concatenate(name="cat")([b, gm])                      # 8
    a = L.Add(name="add")([b, df])                              # 4
    z = L.Concatenate(name="cat2")([c, a])
    z = QActivation(qb(8, 2), name="q_z")(z)
    o = qd(2, "out")(z)
    return keras.Model(i, [df, o])


def a04_bisrnn_seq_gob_into_lstm():
    """QBidirectional(QSimpleRNN(4, return_sequences, go_backwards=True), backward_layer=QSimpleRNN(4, seq, go_backwards=False)), None: fwd sequence straight into a QLSTM(3); bwd -> QActivation -> QConv1D(k=1) -> Flatten; Concatenate -> QDense."""
    i = keras.Input((6, 3))
    x = inq()(i)
    f, b = QBidirectional(rq("srnn", 4, "srnn", return_sequences=True, go_backwards=True),
                          backward_layer=rq("srnn", 4, "srnn_b", return_sequences=True),
                          merge_mode=None, name="bi")(x)
    l = rq("lstm", 3, "lstm2")(f)
    b = QActivation(qb(8, 1), name="q_b")(b)
    b = QConv1D(2, 1, kernel_quantizer=K6(), bias_quantizer=B8(), name="conv_b")(b)
    b = L.Flatten(name="flat")(b)
    z = L.Concatenate(name="cat")([l, b])
    o = qd(2, "out")(z)
    return keras.Model(i, o)


def a05_bilstm_custom_bwd_seq():
    """QBidirectional(QLSTM(4, seq), backward_layer=QLSTM(4, seq, go_backwards, other quantizers)), None: output 0 = Flatten(Add(fwd, bwd)); bwd -> QActivation -> QGRU(3, reset_after=True) = output 1."""
    i = keras.Input((5, 3))
    x = inq()(i)
    fw = rq("lstm", 4, "lstm_f", return_sequences=True)
    bw = QLSTM(4, return_sequences=True, go_backwards=True, kernel_quantizer=qb(5, 0),
               recurrent_quantizer=qb(4, 0), bias_quantizer=qb(6, 2), state_quantizer=qb(7, 1),
               activation=quantized_tanh(5), name="lstm_b")
    f, b = QBidirectional(fw, backward_layer=bw, merge_mode=None, name="bi")(x)
    s = L.Flatten(name="flat")(L.Add(name="add")([f, b]))
    bq = QActivation(qb(8, 1), name="q_b")(b)
    g = rq("gru", 3, "gru2", reset_after=True)(bq)
    return keras.Model(i, [s, g])


def a06_bigru_seq_both_feed_rnn():
    """QBidirectional(QGRU(4, reset_after=False, seq), None): fwd (raw) -> QSimpleRNN(3), bwd -> QActivation -> QGRU(3, reset_after=True); Concatenate -> QDense. (bwd fed raw to the QGRU: qkhw refuses, 29 bits, see README)"""
    i = keras.Input((6, 3))
    x = inq()(i)
    f, b = QBidirectional(rq("gru", 4, "gru", reset_after=False, return_sequences=True),
                          merge_mode=None, name="bi")(x)
    r1 = rq("srnn", 3, "srnn2")(f)
    r2 = rq("gru", 3, "gru2", reset_after=True)(QActivation(qb(8, 1), name="q_b")(b))
    z = L.Concatenate(name="cat")([r1, r2])
    o = qd(2, "out")(z)
    return keras.Model(i, o)


def a07_bisrnn_custom_bwd_last():
    """QBidirectional(QSimpleRNN(4), backward_layer=QSimpleRNN(4, go_backwards, quantized_relu, other quantizers)), None, last step: fwd -> QDense (output 0), Concatenate(bwd, QDense(Flatten(input q))) (output 1)."""
    i = keras.Input((5, 2))
    x = inq()(i)
    bw = QSimpleRNN(4, go_backwards=True, kernel_quantizer=qb(5, 0), recurrent_quantizer=qb(6, 0),
                    bias_quantizer=qb(6, 2), state_quantizer=qb(8, 2), activation=quantized_relu(6, 2),
                    name="srnn_b")
    f, b = QBidirectional(rq("srnn", 4, "srnn_f"), backward_layer=bw, merge_mode=None, name="bi")(x)
    o0 = qd(2, "out0")(f)
    side = qd(3, "dense_side")(L.Flatten(name="flat")(x))
    o1 = L.Concatenate(name="cat")([b, side])
    return keras.Model(i, [o0, o1])


def a08_bisrnn_gob_concat():
    """As a04's QBidirectional (forward QSimpleRNN go_backwards=True, backward_layer go_backwards=False, sequences) but merge_mode='concat' -> Flatten (is the existing concat path affected too?)."""
    i = keras.Input((6, 3))
    x = inq()(i)
    z = QBidirectional(rq("srnn", 4, "srnn", return_sequences=True, go_backwards=True),
                       backward_layer=rq("srnn", 4, "srnn_b", return_sequences=True),
                       merge_mode="concat", name="bi")(x)
    return keras.Model(i, L.Flatten(name="flat")(z))


# ---------------------------------------------------------------- B
def qconv1d(f, k, name, **kw):
    return QConv1D(f, k, kernel_quantizer=K6(), bias_quantizer=B8(), name=name, **kw)


def qconv2d(f, k, name, **kw):
    return QConv2D(f, k, kernel_quantizer=K6(), bias_quantizer=B8(), name=name, **kw)


def b01_avgpool1d_3_concat():
    """QConv1D -> q -> [AveragePooling1D(3) | MaxPooling1D(3)] -> Concatenate(-1) -> Flatten (float output)."""
    i = keras.Input((15, 4))
    x = inq()(i)
    x = qconv1d(6, 3, "conv", padding="same")(x)
    x = QActivation(qb(8, 2), name="q1")(x)
    a = L.AveragePooling1D(3, name="avg3")(x)
    m = L.MaxPooling1D(3, name="max3")(x)
    z = L.Concatenate(axis=-1, name="cat")([a, m])
    return keras.Model(i, L.Flatten(name="flat")(z))


def b02_gap2d_36_concat_quant():
    """QConv2D on 6x6 -> q -> [GlobalAveragePooling2D (36) | GlobalMaxPooling2D | Flatten > QDense > q] -> Concatenate."""
    i = keras.Input((6, 6, 2))
    x = inq()(i)
    x = qconv2d(4, 3, "conv", padding="same")(x)
    x = QActivation(qb(8, 2), name="q1")(x)
    g = L.GlobalAveragePooling2D(name="gap")(x)
    m = L.GlobalMaxPooling2D(name="gmp")(x)
    d = QActivation(qb(8, 3), name="q_d")(qd(3, "dense")(L.Flatten(name="flat")(x)))
    return keras.Model(i, L.Concatenate(name="cat")([g, m, d]))


def b03_avgpool2d_5_axis1_reshape():
    """10x10: AveragePooling2D(5) and MaxPooling2D(5) -> Concatenate(axis=1) -> Reshape (output 0); MaxPooling2D(2) -> GlobalAveragePooling2D over 25 (output 1)."""
    i = keras.Input((10, 10, 2))
    x = inq()(i)
    x = qconv2d(3, 1, "conv")(x)
    x = QActivation(qb(8, 2), name="q1")(x)
    a = L.AveragePooling2D(5, name="avg5")(x)       # 2x2x3
    m = L.MaxPooling2D(5, name="max5")(x)
    z = L.Concatenate(axis=1, name="cat")([a, m])  # 4x2x3
    o0 = L.Reshape((8, 3), name="resh")(z)
    o1 = L.GlobalAveragePooling2D(name="gap25")(L.MaxPooling2D(2, name="max2")(x))
    return keras.Model(i, [o0, o1])


def b04_gap1d_9_keepdims_concat():
    """(9,3): GlobalAveragePooling1D(keepdims) (count 9) Concatenate(axis=1) with AveragePooling1D(3) -> Flatten, then Concatenate with a quantized Flatten branch -> Reshape."""
    i = keras.Input((9, 3))
    x = inq()(i)
    c = qconv1d(4, 1, "conv")(x)
    c = QActivation(qb(8, 2), name="q1")(c)
    g = L.GlobalAveragePooling1D(keepdims=True, name="gap")(c)    # 1x4
    a = L.AveragePooling1D(3, name="avg3")(c)                      # 3x4
    t = L.Flatten(name="flat_t")(L.Concatenate(axis=1, name="cat_t")([g, a]))   # 16
    c2 = QActivation(qb(6, 2), name="q2")(qconv1d(2, 3, "conv2")(x))            # 7x2
    z = L.Concatenate(name="cat")([t, L.Flatten(name="flat_q")(c2)])          # 30
    return keras.Model(i, L.Reshape((10, 3), name="resh")(z))


def b05_avgpool_same_padding():
    """AveragePooling2D(3, strides 2, padding same) on the quantized 7x7x3 input (edge counts 4, 6, 9) Concatenate(-1) MaxPooling2D(3,2,same) -> Flatten (output 0); AveragePooling1D(5, strides 2) over Reshape((49,3)) (output 1)."""
    i = keras.Input((7, 7, 3))
    x = inq()(i)
    a = L.AveragePooling2D(3, strides=2, padding="same", name="avg_same")(x)
    m = L.MaxPooling2D(3, strides=2, padding="same", name="max_same")(x)
    o0 = L.Flatten(name="flat")(L.Concatenate(name="cat")([a, m]))
    r = L.Reshape((49, 3), name="resh")(x)
    o1 = L.AveragePooling1D(5, strides=2, name="avg5")(r)
    return keras.Model(i, [o0, o1])


def b06_float_dense_tail():
    """Known inexact: AveragePooling1D(7) -> Flatten and GlobalAveragePooling1D (9) -> Concatenate -> unquantized Dense(3)."""
    i = keras.Input((9, 4))
    x = inq()(i)
    c = QActivation(qb(8, 2), name="q1")(qconv1d(4, 3, "conv", padding="same")(x))
    a = L.Flatten(name="flat")(L.AveragePooling1D(7, name="avg7")(c))
    g = L.GlobalAveragePooling1D(name="gap")(c)
    z = L.Concatenate(name="cat")([a, g])
    return keras.Model(i, L.Dense(3, name="dense_float")(z))


# ---------------------------------------------------------------- C
def c01_td_dense_then_qdense():
    """QLSTM(4, seq) -> TimeDistributed(QDense(3)) -> Flatten -> QDense(2)."""
    i = keras.Input((5, 4))
    x = inq()(i)
    x = rq("lstm", 4, "lstm", return_sequences=True)(x)
    x = L.TimeDistributed(qd(3, "td_inner"), name="td")(x)
    x = QActivation(qb(8, 2), name="q_td")(x)
    return keras.Model(i, qd(2, "out")(L.Flatten(name="flat")(x)))


def c02_masking_qlstm_qconv1d():
    """Masking(0) -> QLSTM(4, seq) -> QConv1D(k=2) -> Flatten -> QDense."""
    i = keras.Input((6, 3))
    x = L.Masking(0.0, name="mask")(i)
    x = inq()(x)
    x = rq("lstm", 4, "lstm", return_sequences=True)(x)
    x = qconv1d(3, 2, "conv")(x)
    return keras.Model(i, qd(2, "out")(L.Flatten(name="flat")(x)))


def c03_masking_conv1d_dense():
    """Masking(0) on input -> QConv1D -> QActivation -> Flatten -> QDense."""
    i = keras.Input((6, 3))
    x = L.Masking(0.0, name="mask")(i)
    x = qconv1d(4, 3, "conv")(x)
    x = QActivation(qb(8, 2), name="q1")(x)
    return keras.Model(i, qd(2, "out")(L.Flatten(name="flat")(x)))


def c04_keras_bidir_lambda():
    """keras Bidirectional(LSTM(4)) -> Lambda(x*0.5) -> QDense; plus a QBidirectional(QGRU) merge concat branch."""
    i = keras.Input((6, 3))
    x = inq()(i)
    kb = L.Bidirectional(L.LSTM(4), name="kbi")(x)
    lam = L.Lambda(lambda t: t * 0.5, name="lam")(kb)
    qbi = QBidirectional(rq("gru", 3, "gru", reset_after=True), name="qbi")(x)
    z = L.Concatenate(name="cat")([lam, QActivation(qb(8, 1), name="q_qbi")(qbi)])
    return keras.Model(i, qd(2, "out")(z))


def c05_embedding_conv():
    """Embedding(10, 4) on integer tokens (given as float32) -> QConv1D(3, 2) -> Flatten -> QDense."""
    i = keras.Input((8,))
    e = L.Embedding(10, 4, name="emb")(i)
    x = QActivation(qb(8, 2), name="q_e")(e)
    x = qconv1d(3, 2, "conv")(x)
    return keras.Model(i, qd(2, "out")(L.Flatten(name="flat")(x)))


def c06_gru_initstate_td_combo():
    """Two inputs: QGRU(4) with initial_state from QDense(second input); TimeDistributed(QDense) on the first input before it; QDense after."""
    i = keras.Input((5, 3), name="seq")
    v = keras.Input((2,), name="vec")
    x = inq()(i)
    x = L.TimeDistributed(qd(3, "td_inner"), name="td")(x)
    x = QActivation(qb(8, 2), name="q_td")(x)
    h0 = QActivation(qb(8, 1), name="q_h0")(qd(4, "h0_dense")(QActivation(qb(8, 2), name="in_q2")(v)))
    g = rq("gru", 4, "gru_init", reset_after=True)(x, initial_state=h0)
    return keras.Model([i, v], qd(2, "out")(g))


def c07_masking_td_multi_rnn():
    """Masking -> q -> QGRU(4, seq) -> TimeDistributed(QDense(3)) -> q -> QGRU(3, seq, reset_after=False) -> QLSTM(2) -> QDense (auto layer names of several recurrent layers)."""
    i = keras.Input((6, 3))
    x = inq()(L.Masking(0.0, name="mask")(i))
    x = rq("gru", 4, "g1", return_sequences=True, reset_after=True)(x)
    x = QActivation(qb(8, 2), name="q_td")(L.TimeDistributed(qd(3, "td_inner"), name="td")(x))
    x = rq("gru", 3, "g2", return_sequences=True, reset_after=False)(x)
    x = rq("lstm", 2, "l3")(x)
    return keras.Model(i, qd(2, "out")(x))


def c08_gru_initstate_only():
    """Two inputs: QGRU(4, reset_after=False) whose initial_state is QActivation(QDense(second input)), nothing else unsupported -> QDense."""
    i = keras.Input((5, 3), name="seq")
    v = keras.Input((2,), name="vec")
    x = inq()(i)
    h0 = QActivation(qb(8, 1), name="q_h0")(qd(4, "h0_dense")(QActivation(qb(8, 2), name="in_q2")(v)))
    g = rq("gru", 4, "gru_init", reset_after=False)(x, initial_state=h0)
    return keras.Model([i, v], qd(2, "out")(g))


MODELS = [f for n, f in sorted(globals().items()) if n[:1] in "abc" and n[1:3].isdigit()]


# ---------------------------------------------------------------- driver
def make_x(model, rng, name):
    xs = []
    for t in model.inputs:
        shp = (200,) + tuple(t.shape[1:])
        if name.startswith("c05"):
            xs.append(rng.integers(0, 10, size=shp).astype(np.float32))
        else:
            xs.append(rng.standard_normal(shp).astype(np.float32))
    return xs


def main(only):
    custom = {}
    _add_supported_quantized_objects(custom)
    readme = []
    for idx, fn in enumerate(MODELS):
        name = fn.__name__
        if only and name not in only:
            continue
        global GRU_SMALL
        GRU_SMALL = name.startswith("a") or name.startswith("c08")
        seed = 7000 + SEEDS[name[:3]]
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        try:
            m = fn()
            m._name = name
            # one epoch on noise so that biases are not all zero
            xtr = make_x(m, rng, name)
            outs = m.outputs
            ytr = [rng.standard_normal((200,) + tuple(o.shape[1:])).astype(np.float32) for o in outs]
            m.compile(optimizer=keras.optimizers.Adam(1e-2), loss=["mse"] * len(outs))
            m.fit(xtr if len(xtr) > 1 else xtr[0], ytr if len(ytr) > 1 else ytr[0],
                  epochs=1, batch_size=32, verbose=0)
            path = os.path.join(OUT, name + ".keras")
            m.save(path)
            xs = make_x(m, rng, name)
            for k, x in enumerate(xs):
                np.save(os.path.join(OUT, name + (".x.npy" if k == 0 else f".x.{k}.npy")), x)
            ys = m.predict(xs if len(xs) > 1 else xs[0], batch_size=32, verbose=0)
            ys = ys if isinstance(ys, (list, tuple)) else [ys]
            for k, y in enumerate(ys):
                np.save(os.path.join(OUT, name + (".y.npy" if k == 0 else f".y.{k}.npy")),
                        np.asarray(y, np.float32))
            # weights of a freshly reloaded model (model_save_quantized_weights mutates weights)
            m2 = keras.models.load_model(path, custom_objects=custom, compile=False, safe_mode=False)
            y2 = m2.predict(xs if len(xs) > 1 else xs[0], batch_size=32, verbose=0)
            y2 = y2 if isinstance(y2, (list, tuple)) else [y2]
            same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(ys, y2))
            import subprocess
            r = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "qweights5.py"), path,
                                os.path.join(OUT, name + ".qw.json")], capture_output=True, text=True)
            qwnote = (r.stdout.strip().splitlines() or ["?"])[-1]
            layers = " > ".join(f"{l.name}:{type(l).__name__}" for l in m.layers)
            desc = (f"{name}\n  {fn.__doc__.strip()}\n  in: {[tuple(t.shape[1:]) for t in m.inputs]}"
                    f" out: {[tuple(t.shape[1:]) for t in m.outputs]}\n  layers: {layers}\n"
                    f"  reload predict identical: {same}\n  qkeras weights: {qwnote}\n")
            print(desc, flush=True)
            readme.append(desc)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            readme.append(f"{name}\n  {fn.__doc__.strip()}\n  FAILED to build: {type(e).__name__}: {str(e)[:300]}\n")
            print(name, "FAILED", e, flush=True)
    if not only:
        with open(os.path.join(OUT, "README.txt"), "w") as f:
            f.write(__doc__ + "\nInputs: 200 standard-normal float32 (c05: integers 0..9 as float32).\n"
                    "Each model trained 1 epoch (Adam 1e-2, mse) on noise targets; seed 7000+index.\n\n")
            f.write("\n".join(readme))


if __name__ == "__main__":
    main(set(sys.argv[2:]))
