"""Cross-check batch 6 (written independently of qkhw's examples and earlier batches).

k01 residual CNN (identity Add + 1x1 stride-2 shortcut, QBatchNormalization, GAP, softmax head)
k02 depthwise-separable CNN (QDepthwiseConv2D + 1x1 QConv2D, QBN, QAveragePooling2D), 4-6 bits
k03 Conv1D over (32,4), dilation 2, same + valid (QKeras v3 cannot run causal), MaxPooling1D, QDense
k04 two inputs (8x8x2 image, vector of 5) joined by Concatenate
k05 QLSTM (return_sequences=False) + QDense
k06 QGRU reset_after=True + QDense
k07 MLP with alpha='auto_po2' kernels, quantized_po2 activation and kernel
k08 CNN 'same' padding stride 2, channel Concatenate of two branches (odd channels), QDense
k09 QConv2DBatchnorm (folded), unsigned quantized_bits (keep_negative=False), odd channels
k10 QSeparableConv2D + QConv2DTranspose-free upsampling (UpSampling2D) + GlobalMaxPooling2D

Usage: python make_models6.py OUT [NAME ...]
Per model: NAME.keras, NAME.x.npy (NAME.x.1.npy for input 1), NAME.y.npy,
NAME.logits.npy (softmax models: outputs of the layer before the softmax).
No training: random (scaled) weights and random batch-norm statistics, fixed seeds.
"""
import _tf_env  # noqa: F401  (first: TensorFlow's environment)
from _untrained import bn, generate, qb, relu  # noqa: E402

import keras
from keras import layers as L
from qkeras import (QActivation, QAveragePooling2D, QBatchNormalization, QConv1D, QConv2D,
                    QConv2DBatchnorm, QDense, QDepthwiseConv2D, QGRU, QLSTM, QSeparableConv2D)
from qkeras.quantizers import quantized_bits, quantized_po2, quantized_relu, quantized_tanh, quantized_sigmoid


# ---------------------------------------------------------------- models
def k01():
    """residual CNN: identity Add + 1x1 stride-2 conv shortcut, QBN, quantized_relu, GAP, QDense softmax"""
    K = lambda: qb(8, 0)  # noqa: E731
    B = lambda: qb(8, 3)  # noqa: E731
    i = keras.Input((12, 12, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2D(8, 3, padding="same", kernel_quantizer=K(), bias_quantizer=B(), name="c0")(x)
    x = bn("bn0")(x)
    x = relu(8, 3, "r0")(x)
    # identity block
    y = QConv2D(8, 3, padding="same", kernel_quantizer=K(), bias_quantizer=B(), name="c1")(x)
    y = bn("bn1")(y)
    y = relu(8, 3, "r1")(y)
    y = QConv2D(8, 3, padding="same", kernel_quantizer=K(), bias_quantizer=B(), name="c2")(y)
    y = bn("bn2")(y)
    x = L.Add(name="add1")([x, y])
    x = relu(8, 3, "r2")(x)
    # downsampling block with projection shortcut
    y = QConv2D(12, 3, strides=2, padding="same", kernel_quantizer=K(), bias_quantizer=B(), name="c3")(x)
    y = bn("bn3")(y)
    y = relu(8, 3, "r3")(y)
    y = QConv2D(12, 3, padding="same", kernel_quantizer=K(), bias_quantizer=B(), name="c4")(y)
    y = bn("bn4")(y)
    s = QConv2D(12, 1, strides=2, kernel_quantizer=K(), bias_quantizer=B(), name="sc")(x)
    s = bn("bn_sc")(s)
    x = L.Add(name="add2")([s, y])
    x = relu(8, 3, "r4")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = QDense(5, kernel_quantizer=K(), bias_quantizer=B(), name="fc")(x)
    o = L.Activation("softmax", name="sm")(x)
    return keras.Model(i, o, name="k01")


def k02():
    """depthwise-separable CNN, QBN, QAveragePooling2D 2x2, 4-6 bit quantizers"""
    i = keras.Input((16, 16, 3), name="img")
    x = QActivation(qb(6, 2), name="in_q")(i)
    x = QDepthwiseConv2D(3, depthwise_quantizer=qb(4, 0), bias_quantizer=qb(6, 2), name="dw1")(x)
    x = bn("bn_dw1")(x)
    x = relu(4, 2, "r1")(x)
    x = QConv2D(8, 1, kernel_quantizer=qb(5, 0), bias_quantizer=qb(6, 2), name="pw1")(x)
    x = bn("bn_pw1")(x)
    x = relu(6, 2, "r2")(x)
    x = QAveragePooling2D(2, average_quantizer=qb(6, 2), name="ap")(x)          # 7x7x8
    x = QDepthwiseConv2D(3, strides=2, depth_multiplier=2, depthwise_quantizer=qb(4, 0),
                         bias_quantizer=qb(6, 2), name="dw2")(x)             # 3x3x16
    x = bn("bn_dw2")(x)
    x = relu(5, 2, "r3")(x)
    x = QConv2D(6, 1, kernel_quantizer=qb(5, 0), use_bias=False, name="pw2")(x)
    x = QActivation(qb(6, 2), name="q_pw2")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 2), name="fc")(x)
    return keras.Model(i, o, name="k02")


def k03():
    """Conv1D over (32,4): dilation 2 (same, valid; causal is refused by QKeras v3 predict), MaxPooling1D, QDense"""
    i = keras.Input((32, 4), name="seq")
    x = QActivation(qb(8, 3), name="in_q")(i)
    x = QConv1D(8, 3, dilation_rate=2, padding="same", kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="c1")(x)
    x = relu(6, 2, "r1")(x)
    x = L.MaxPooling1D(2, name="mp1")(x)                                     # 16x8
    x = QConv1D(6, 3, dilation_rate=2, padding="valid", kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="c2")(x)                       # 12x6
    x = relu(6, 2, "r2")(x)
    x = L.MaxPooling1D(3, strides=2, name="mp2")(x)                          # 5x6
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="k03")


def k04():
    """two inputs (8x8x2 image + vector of 5) joined by Concatenate"""
    a = keras.Input((8, 8, 2), name="img")
    b = keras.Input((5,), name="vec")
    x = QActivation(qb(8, 2), name="img_q")(a)
    x = QConv2D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)   # 6x6x4
    x = relu(6, 2, "r1")(x)
    x = L.MaxPooling2D(2, name="mp")(x)                                      # 3x3x4
    x1 = L.Flatten(name="flat")(x)
    x2 = L.GlobalAveragePooling2D(name="gap")(x)
    x2 = QActivation(qb(8, 2), name="gap_q")(x2)
    y = QActivation(qb(8, 3), name="vec_q")(b)
    y = QDense(6, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d_vec")(y)
    y = relu(6, 2, "r_vec")(y)
    z = L.Concatenate(name="cat")([x1, y, x2])
    z = QDense(8, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d1")(z)
    z = relu(8, 3, "r2")(z)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="out")(z)
    return keras.Model([a, b], o, name="k04")


def k05():
    """QLSTM(return_sequences=False) over (10,3) + QDense head"""
    i = keras.Input((10, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QLSTM(8, kernel_quantizer=qb(6, 0), recurrent_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
              state_quantizer=qb(8, 1), activation=quantized_tanh(6),
              recurrent_activation="hard_sigmoid", name="lstm")(x)
    o = QDense(4, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="k05")


def k06():
    """QGRU reset_after=True + QDense head, quantized_sigmoid recurrent activation"""
    i = keras.Input((10, 3), name="seq")
    x = QActivation(qb(6, 2), name="in_q")(i)
    x = QGRU(6, reset_after=True, kernel_quantizer=qb(4, 0), recurrent_quantizer=qb(4, 0),
             bias_quantizer=qb(6, 2), state_quantizer=qb(6, 1), activation=quantized_tanh(6),
             recurrent_activation=quantized_sigmoid(6), name="gru")(x)
    x = QDense(5, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d1")(x)
    x = relu(6, 2, "r1")(x)
    o = QDense(2, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="k06")


def k07():
    """MLP: auto_po2 kernels, quantized_po2 activation and quantized_po2 kernel"""
    i = keras.Input((16,), name="x")
    x = QActivation(qb(8, 3), name="in_q")(i)
    x = QDense(12, kernel_quantizer=quantized_bits(6, 0, 1, alpha="auto_po2"), bias_quantizer=qb(8, 3),
               name="d1")(x)
    x = QActivation(quantized_po2(4, max_value=4), name="po2_act")(x)
    x = QDense(10, kernel_quantizer=quantized_po2(5, 1), bias_quantizer=qb(8, 3), name="d2")(x)
    x = relu(6, 2, "r2")(x)
    x = QDense(8, kernel_quantizer=quantized_bits(4, 0, 1, alpha="auto_po2"), bias_quantizer=qb(8, 3),
               name="d3")(x)
    x = relu(8, 3, "r3")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="out")(x)
    return keras.Model(i, o, name="k07")


def k08():
    """CNN 'same' padding stride 2, channel Concatenate of two branches, QDense"""
    i = keras.Input((15, 15, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    a = QConv2D(6, 3, strides=2, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="ca")(x)                                                # 8x8x6
    a = relu(6, 2, "ra")(a)
    b = QConv2D(5, 1, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="cb")(x)  # 8x8x5
    b = relu(5, 1, "rb")(b)
    x = L.Concatenate(axis=-1, name="cat")([a, b])                           # 8x8x11
    x = QConv2D(4, 3, strides=2, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="c2")(x)                                                # 4x4x4
    x = relu(6, 2, "r2")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="k08")


def k09():
    """QConv2DBatchnorm (folded BN), unsigned input quantizer, odd channels, keep_negative=False activation"""
    i = keras.Input((9, 9, 1), name="img")
    x = QActivation(quantized_bits(8, 1, keep_negative=False, alpha=1), name="in_q")(i)
    x = QConv2DBatchnorm(7, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(10, 4), name="cbn")(x)  # 7x7x7
    x = relu(5, 1, "r1")(x)
    x = QConv2D(5, 2, strides=2, kernel_quantizer=qb(6, 0), use_bias=False, name="c2")(x)           # 3x3x5
    x = QActivation(quantized_bits(6, 2, keep_negative=False, alpha=1), name="uq")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    o = QActivation(qb(8, 3), name="out_q")(x)
    return keras.Model(i, o, name="k09")


def k10():
    """QSeparableConv2D + UpSampling2D + GlobalMaxPooling2D + QDense"""
    i = keras.Input((10, 10, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QSeparableConv2D(6, 3, padding="same", depthwise_quantizer=qb(6, 0), pointwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="sep")(x)
    x = relu(6, 2, "r1")(x)
    x = L.MaxPooling2D(2, name="mp")(x)                                      # 5x5x6
    x = L.UpSampling2D(2, name="up")(x)                                      # 10x10x6
    x = QConv2D(4, 3, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 4x4x4
    x = relu(6, 2, "r2")(x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="k10")


MODELS = [("k01", k01), ("k02", k02), ("k03", k03), ("k04", k04), ("k05", k05), ("k06", k06),
          ("k07", k07), ("k08", k08), ("k09", k09), ("k10", k10)]


# ---------------------------------------------------------------- weights and data
def main():
    generate(MODELS, "make_models6.py", 600)


if __name__ == "__main__":
    main()
