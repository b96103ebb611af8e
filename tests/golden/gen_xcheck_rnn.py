#!/usr/bin/env python3
"""Cross-check recurrent models, written apart from qkhw by a review session
(not designed around its code): 16 small QKeras models with QSimpleRNN,
QLSTM, QGRU (both reset_after, use_bias False, go_backwards) and
QBidirectional (every merge_mode), 300 standard-normal inputs each and
QKeras's model.predict. tests/xcheck_rnn.rs runs them through qkhw.
"""
# Run: KERAS_BACKEND=tensorflow TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
#      TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=3 CUDA_VISIBLE_DEVICES=-1 \
#      python tests/golden/gen_xcheck_rnn.py [names...]
import os, sys, json
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
from qkeras import QSimpleRNN, QLSTM, QGRU, QBidirectional, QDense, QActivation
from qkeras.quantizers import quantized_bits, quantized_tanh, quantized_sigmoid, quantized_relu

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xcheck_rnn")
os.makedirs(OUT, exist_ok=True)

def kq(): return quantized_bits(6, 0, alpha=1)
def bq(): return quantized_bits(8, 3, alpha=1)
def sq(): return quantized_bits(8, 1, alpha=1)
def rq(**kw):
    d = dict(kernel_quantizer=kq(), recurrent_quantizer=kq(), bias_quantizer=bq())
    d.update(kw); return d
def dense(n): return QDense(n, kernel_quantizer=kq(), bias_quantizer=bq())
def inq(bits=8): return QActivation(quantized_bits(bits, 2, alpha=1))

MODELS = {}
def model(T, F, desc):
    def deco(fn):
        MODELS[fn.__name__] = (T, F, desc, fn); return fn
    return deco

@model(5, 3, "QSimpleRNN(4) return_sequences=False, no state quantizer")
def a01_srnn_last(x):
    return QSimpleRNN(4, **rq())(x)

@model(6, 4, "QSimpleRNN(6) return_sequences=True go_backwards=True, state q; QDense(2) per step")
def a02_srnn_seq_back(x):
    x = QSimpleRNN(6, return_sequences=True, go_backwards=True, **rq(state_quantizer=sq()))(x)
    return dense(2)(x)

@model(8, 2, "QSimpleRNN(5) activation=quantized_relu(6,2), 6-bit input q; QDense(3)")
def a03_srnn_relu(x):
    x = QSimpleRNN(5, activation=quantized_relu(6, 2), **rq())(x)
    return dense(3)(x)

@model(4, 3, "QLSTM(4) use_bias=False, default activations (quantized_tanh / hard_sigmoid), state q")
def a04_lstm_nobias(x):
    return QLSTM(4, use_bias=False, kernel_quantizer=kq(), recurrent_quantizer=kq(), state_quantizer=sq())(x)

@model(5, 4, "QLSTM(6) recurrent_activation=quantized_sigmoid(8), activation=quantized_tanh(8), return_sequences=True, state q")
def a05_lstm_qsig_seq(x):
    return QLSTM(6, activation=quantized_tanh(8), recurrent_activation=quantized_sigmoid(8),
                 return_sequences=True, **rq(state_quantizer=sq()))(x)

@model(6, 5, "QGRU(5) reset_after=True, state q; QDense(2)")
def a06_gru_ra(x):
    x = QGRU(5, reset_after=True, **rq(state_quantizer=sq()))(x)
    return dense(2)(x)

@model(7, 3, "QGRU(4) reset_after=False use_bias=False, go_backwards=True, state q")
def a07_gru_nra_nobias(x):
    return QGRU(4, reset_after=False, use_bias=False, go_backwards=True,
                kernel_quantizer=kq(), recurrent_quantizer=kq(), state_quantizer=sq())(x)

@model(4, 3, "QBidirectional(QLSTM(3), concat) return_sequences=True; QDense(2) per step")
def a08_bi_lstm_concat(x):
    x = QBidirectional(QLSTM(3, return_sequences=True, **rq(state_quantizer=sq())), merge_mode="concat")(x)
    return dense(2)(x)

@model(5, 2, "QBidirectional(QGRU(4, reset_after=True), sum) return_sequences=True; QDense(3) per step")
def a09_bi_gru_sum(x):
    x = QBidirectional(QGRU(4, reset_after=True, return_sequences=True, **rq(state_quantizer=sq())), merge_mode="sum")(x)
    return dense(3)(x)

@model(3, 4, "QBidirectional(QSimpleRNN(5), mul) return_sequences=True; QDense(2) per step")
def a10_bi_srnn_mul(x):
    x = QBidirectional(QSimpleRNN(5, return_sequences=True, **rq()), merge_mode="mul")(x)
    return dense(2)(x)

@model(6, 3, "QBidirectional(QGRU(3, reset_after=False), ave) return_sequences=True; QDense(2) per step")
def a11_bi_gru_ave(x):
    x = QBidirectional(QGRU(3, reset_after=False, return_sequences=True, **rq(state_quantizer=sq())), merge_mode="ave")(x)
    return dense(2)(x)

@model(5, 3, "QLSTM(4, rs=True) -> QActivation(quantized_bits(6,1)) -> QGRU(3) -> QDense(2); both state q")
def a12_stack_lstm_gru(x):
    x = QLSTM(4, return_sequences=True, **rq(state_quantizer=sq()))(x)
    x = QActivation(quantized_bits(6, 1, alpha=1))(x)
    x = QGRU(3, **rq(state_quantizer=sq()))(x)
    return dense(2)(x)

@model(6, 2, "QBidirectional(QLSTM(2), ave) return_sequences=False, 6-bit input q")
def a13_bi_lstm_ave_last(x):
    return QBidirectional(QLSTM(2, **rq(state_quantizer=sq())), merge_mode="ave")(x)

def kq4(): return quantized_bits(4, 0, alpha=1)
def bq6(): return quantized_bits(6, 2, alpha=1)
def sq6(): return quantized_bits(6, 1, alpha=1)

@model(6, 5, "QGRU(4) reset_after=True, smaller quantizers (kernel/rec 4-bit, bias (6,2), state (6,1)), 6-bit input q")
def a14_gru_ra_small(x):
    return QGRU(4, reset_after=True, kernel_quantizer=kq4(), recurrent_quantizer=kq4(), bias_quantizer=bq6(), state_quantizer=sq6())(x)

@model(5, 2, "QBidirectional(QGRU(3, reset_after=False), sum) rs=True, smaller quantizers, 6-bit input q; QDense(2) per step")
def a15_bi_gru_sum_small(x):
    x = QBidirectional(QGRU(3, reset_after=False, return_sequences=True, kernel_quantizer=kq4(), recurrent_quantizer=kq4(),
                            bias_quantizer=bq6(), state_quantizer=sq6()), merge_mode="sum")(x)
    return dense(2)(x)

@model(7, 3, "QGRU(4) reset_after=False use_bias=False go_backwards=True, kernel/rec (6,0), state (6,1), 6-bit input q")
def a16_gru_nra_nobias_6bitstate(x):
    return QGRU(4, reset_after=False, use_bias=False, go_backwards=True,
                kernel_quantizer=kq(), recurrent_quantizer=kq(), state_quantizer=sq6())(x)

@model(20, 2, "QBidirectional(QGRU(1) reset_after=False rec_act=quantized_sigmoid(8), ave) rs=False, state q (one unit: a crash until the 1-row recurrent kernel kept its two axes)")
def a17_bi_gru1_nra_qsig(x):
    return QBidirectional(QGRU(1, reset_after=False, recurrent_activation=quantized_sigmoid(8), **rq(state_quantizer=sq())), merge_mode="ave")(x)

def build(name):
    T, F, desc, fn = MODELS[name]
    keras.utils.set_random_seed(sum(name.encode()) + 7)
    rng = np.random.default_rng(int.from_bytes(name.encode(), "little") % (2**32))
    inp = keras.Input((T, F), name="x")
    bits = 6 if name in ("a03_srnn_relu", "a13_bi_lstm_ave_last") or name >= "a14" else 8
    out = fn(inq(bits)(inp))
    m = keras.Model(inp, out, name=name)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    xt = rng.standard_normal((256, T, F)).astype(np.float32)
    yt = rng.standard_normal((256,) + tuple(m.output.shape[1:])).astype(np.float32)
    m.fit(xt, yt, epochs=1, batch_size=64, verbose=0)
    x = rng.standard_normal((300, T, F)).astype(np.float32)
    y = m.predict(x, batch_size=100, verbose=0)
    m.save(f"{OUT}/{name}.keras")
    np.save(f"{OUT}/{name}.x.npy", x)
    np.save(f"{OUT}/{name}.y.npy", y)
    print(name, "T", T, "F", F, "out", y.shape, "params", m.count_params(), "|", desc, flush=True)
    return dict(name=name, T=T, F=F, desc=desc, out=list(y.shape), input_bits=bits)

if __name__ == "__main__":
    names = sys.argv[1:] or list(MODELS)
    meta = {}
    if os.path.exists(f"{OUT}/meta.json"):
        meta = json.load(open(f"{OUT}/meta.json"))
    for n in names:
        meta[n] = build(n)
    json.dump(meta, open(f"{OUT}/meta.json", "w"), indent=1)
