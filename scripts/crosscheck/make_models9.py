"""Cross-check batch 9 (p01..p13; written independently of qkhw's source): streamed and folded
CNNs and MLPs a user would deploy.

p01 even kernels 'same' (2x2, 4x4), kernel (3,1) stride (1,2), MaxPooling2D(3, strides 2), Flatten, QDense
p02 conv 2x2 stride 3, AveragePooling2D(3, strides 2, same), MaxPooling2D(2, strides 1, same), 1x1 conv,
    GlobalAveragePooling2D, QDense softmax
p03 QDepthwiseConv2D dm=2 same + QBN, QSeparableConv2D stride 2 same, QDepthwiseConv2D stride 2 dm=2 valid,
    Flatten, QDense
p04 QDense on a 4-D tensor (per position) twice inside a CNN, MaxPooling2D, Flatten, QDense
p05 Add of three branches (identity skip after QActivation), nested residual, GlobalMaxPooling2D
p06 QConv2DBatchnorm, leaky quantized_relu, QDenseBatchnorm, quantized_bits keep_negative=False
p07 quantized_po2 kernels: tall kernel (5,3) stride (2,1) same, conv stride (1,2), AveragePooling2D,
    po2 QDense
p08 Conv1D time series (64,1): stride 2 same k4, valid k5, MaxPooling1D(3, strides 2), GlobalMaxPooling1D,
    softmax
p09 wide MLP 512 -> 64 -> 10
p10 CIFAR-like 32x32x3: conv 4x4 stride 2 same + QBN, MaxPooling2D(3, strides 2, same), conv 2x2 same
    leaky, AveragePooling2D, conv stride 2 same, Flatten, QDense softmax
p11 strides larger than the window; p12 Conv1D at stride 3 with a Dense per time step;
p13 a separable conv with depth multiplier 2 into a three-way Add

Usage: python make_models9.py OUT [NAME ...]
Per model: NAME.keras, NAME.x.npy, NAME.y.npy, NAME.logits.npy (softmax models). No training:
random (scaled) weights and batch-norm statistics, fixed seeds.
"""
import _tf_env  # noqa: F401  (first: TensorFlow's environment)
from _untrained import bn, generate, qb, relu  # noqa: E402

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import (QActivation, QConv1D, QConv2D, QDense, QDepthwiseConv2D,  # noqa: E402
                    QSeparableConv2D, QConv2DBatchnorm, QDenseBatchnorm)
from qkeras.quantizers import quantized_po2, quantized_relu  # noqa: E402


def conv(n, k, name, kb=6, ki=0, **kw):
    return QConv2D(n, k, kernel_quantizer=qb(kb, ki), bias_quantizer=qb(8, 3), name=name, **kw)


def dense(n, name, kb=6, ki=0):
    return QDense(n, kernel_quantizer=qb(kb, ki), bias_quantizer=qb(8, 3), name=name)


def p01():
    i = keras.Input((12, 12, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = conv(4, (2, 2), "c22", padding="same")(x)
    x = relu(6, 2, "r1")(x)
    x = conv(6, (4, 4), "c44", padding="same")(x)
    x = relu(6, 2, "r2")(x)                                   # 12x12x6
    x = conv(6, (3, 1), "c31", strides=(1, 2))(x)             # 10x6x6
    x = relu(6, 2, "r3")(x)
    x = L.MaxPooling2D(3, strides=2, name="mp")(x)            # 4x2x6
    x = L.Flatten(name="flat")(x)
    o = dense(4, "fc")(x)
    return keras.Model(i, o, name="p01")


def p02():
    i = keras.Input((15, 15, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = conv(6, (2, 2), "c_s3", strides=3)(x)                 # 5x5x6
    x = relu(6, 2, "r1")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same", name="ap")(x)  # 3x3x6
    x = QActivation(qb(8, 2), name="ap_q")(x)
    x = L.MaxPooling2D(2, strides=1, padding="same", name="mp")(x)     # 3x3x6
    x = conv(8, 1, "c1x1")(x)
    x = relu(6, 2, "r2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = QActivation(qb(8, 2), name="gap_q")(x)
    x = dense(4, "fc")(x)
    o = L.Activation("softmax", name="sm")(x)
    return keras.Model(i, o, name="p02")


def p03():
    i = keras.Input((12, 12, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QDepthwiseConv2D(3, depth_multiplier=2, padding="same", depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw1")(x)        # 12x12x6
    x = bn("bn1")(x)
    x = relu(6, 2, "r1")(x)
    x = QSeparableConv2D(8, 3, strides=2, padding="same", depthwise_quantizer=qb(6, 0),
                         pointwise_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="sep")(x)  # 6x6x8
    x = relu(6, 2, "r2")(x)
    x = QDepthwiseConv2D(3, strides=2, depth_multiplier=2, depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw2")(x)        # 2x2x16
    x = relu(6, 2, "r3")(x)
    x = L.Flatten(name="flat")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="p03")


def p04():
    i = keras.Input((8, 8, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = conv(4, 3, "c1")(x)                                   # 6x6x4
    x = relu(6, 2, "r1")(x)
    x = dense(5, "pd1")(x)                                    # 6x6x5
    x = relu(6, 2, "r2")(x)
    x = L.MaxPooling2D(2, name="mp")(x)                       # 3x3x5
    x = dense(3, "pd2")(x)                                    # 3x3x3
    x = relu(6, 2, "r3")(x)
    x = L.Flatten(name="flat")(x)
    o = dense(4, "fc")(x)
    return keras.Model(i, o, name="p04")


def p05():
    i = keras.Input((10, 10, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = conv(4, 3, "c0", padding="same")(x)
    r0 = relu(6, 2, "r0")(x)                                  # identity skip source
    b1 = relu(6, 2, "rb1")(conv(4, 3, "cb1", padding="same")(r0))
    b2 = relu(6, 2, "rb2")(conv(4, 1, "cb2")(r0))
    s = L.Add(name="add3")([r0, b1, b2])
    s = QActivation(qb(8, 3), name="s_q")(s)
    t = relu(6, 2, "rt")(conv(4, 3, "ct", padding="same")(s))
    t = L.Add(name="add_inner")([t, s])
    t = QActivation(qb(8, 3), name="t_q")(t)
    u = relu(6, 2, "ru")(conv(4, 3, "cu", padding="same")(t))
    u = L.Add(name="add_outer")([u, r0])
    u = QActivation(qb(8, 3), name="u_q")(u)
    x = L.GlobalMaxPooling2D(name="gmp")(u)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="p05")


def p06():
    i = keras.Input((9, 9, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2DBatchnorm(6, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="cbn")(x)  # 7x7x6
    x = QActivation(quantized_relu(6, 2, negative_slope=0.25), name="leaky")(x)
    x = L.MaxPooling2D(2, name="mp")(x)                       # 3x3x6
    x = L.Flatten(name="flat")(x)
    x = QDenseBatchnorm(8, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="dbn")(x)
    x = QActivation(qb(6, 2, keep_negative=False), name="uq")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="p06")


def p07():
    i = keras.Input((16, 8, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2D(4, (5, 3), strides=(2, 1), padding="same", kernel_quantizer=quantized_po2(4),
                bias_quantizer=qb(8, 3), name="cpo2")(x)      # 8x8x4
    x = relu(6, 2, "r1")(x)
    x = QConv2D(6, 3, strides=(1, 2), kernel_quantizer=quantized_po2(5, 1),
                bias_quantizer=qb(8, 3), name="cpo2b")(x)     # 6x3x6
    x = relu(6, 2, "r2")(x)
    x = L.AveragePooling2D((2, 1), name="ap")(x)              # 3x3x6
    x = QActivation(qb(8, 2), name="ap_q")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(4, kernel_quantizer=quantized_po2(5), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="p07")


def p08():
    i = keras.Input((64, 1), name="ts")
    x = QActivation(qb(8, 3), name="in_q")(i)
    x = QConv1D(8, 4, strides=2, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="c1")(x)                                 # 32x8
    x = relu(6, 2, "r1")(x)
    x = QConv1D(8, 5, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 28x8
    x = relu(6, 2, "r2")(x)
    x = L.MaxPooling1D(3, strides=2, name="mp")(x)            # 13x8
    x = QConv1D(12, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c3")(x)  # 11x12
    x = relu(6, 2, "r3")(x)
    x = L.GlobalMaxPooling1D(name="gmp")(x)
    x = dense(4, "fc")(x)
    o = L.Activation("softmax", name="sm")(x)
    return keras.Model(i, o, name="p08")


def p09():
    i = keras.Input((512,), name="feat")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = dense(64, "fc1")(x)
    x = relu(8, 3, "r1")(x)
    o = dense(10, "fc2")(x)
    return keras.Model(i, o, name="p09")


def p10():
    i = keras.Input((32, 32, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = conv(8, 4, "c1", strides=2, padding="same")(x)        # 16x16x8
    x = bn("bn1")(x)
    x = relu(6, 2, "r1")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="mp")(x)  # 8x8x8
    x = conv(8, 2, "c2", padding="same")(x)
    x = QActivation(quantized_relu(6, 2, negative_slope=0.125), name="leaky")(x)
    x = L.AveragePooling2D(2, name="ap")(x)                   # 4x4x8
    x = QActivation(qb(8, 2), name="ap_q")(x)
    x = conv(16, 3, "c3", strides=2, padding="same")(x)       # 2x2x16
    x = relu(6, 2, "r3")(x)
    x = L.Flatten(name="flat")(x)
    x = dense(10, "fc")(x)
    o = L.Activation("softmax", name="sm")(x)
    return keras.Model(i, o, name="p10")


MODELS = [("p01", p01), ("p02", p02), ("p03", p03), ("p04", p04), ("p05", p05), ("p06", p06),
          ("p07", p07), ("p08", p08), ("p09", p09), ("p10", p10)]

# ---- extras beyond the ten (added after p01..p10 all passed): strides larger than the window
def p11():
    i = keras.Input((17, 14, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = conv(6, (2, 3), "c23", strides=(3, 2), padding="same")(x)        # 6x7x6
    x = relu(6, 2, "r1")(x)
    x = L.AveragePooling2D((3, 2), strides=(1, 2), padding="same", name="ap")(x)  # 6x4x6
    x = QActivation(qb(8, 2), name="ap_q")(x)
    x = conv(8, (4, 2), "c42", padding="same")(x)                        # 6x4x8
    x = relu(6, 2, "r2")(x)
    x = L.MaxPooling2D(2, strides=3, name="mp")(x)                      # 2x1x8
    x = L.Flatten(name="flat")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="p11")


def p12():
    i = keras.Input((50, 2), name="ts")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv1D(6, 2, strides=3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)  # 17x6
    x = relu(6, 2, "r1")(x)
    x = L.AveragePooling1D(3, strides=2, padding="same", name="ap")(x)  # 9x6
    x = QActivation(qb(8, 2), name="ap_q")(x)
    x = QConv1D(8, 4, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 9x8
    x = relu(6, 2, "r2")(x)
    x = dense(4, "pd")(x)                                               # 9x4
    x = relu(6, 2, "r3")(x)
    x = L.Flatten(name="flat")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="p12")


def p13():
    i = keras.Input((13, 9, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QSeparableConv2D(6, (3, 3), strides=2, depth_multiplier=2, use_bias=False,
                         depthwise_quantizer=qb(6, 0), pointwise_quantizer=qb(6, 0), name="sep")(x)  # 6x4x6 (TF: separable strides must be equal)
    x = bn("bn1")(x)
    a = relu(6, 2, "ra")(x)
    b = L.MaxPooling2D(3, strides=1, padding="same", name="mp")(a)      # 6x4x6
    c = relu(6, 2, "rc")(conv(6, 1, "c1x1", strides=1)(a))
    x = L.Add(name="add3")([a, b, c])
    x = QActivation(qb(8, 3), name="add_q")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = QActivation(qb(8, 3), name="gap_q")(x)
    o = dense(4, "fc")(x)
    return keras.Model(i, o, name="p13")


MODELS += [("p11", p11), ("p12", p12), ("p13", p13)]


def _patch_qdensebatchnorm_reload():
    """QKeras 1.2.1's QDenseBatchnorm.get_config() emits BatchNormalization kwargs its __init__
    rejects, so keras.models.load_model fails on any saved QDenseBatchnorm. Drop them on the
    way in (only the reload check in generate() needs this; the saved file is untouched)."""
    orig = QDenseBatchnorm.__init__

    def init(self, *a, **kw):
        for k in ("synchronized", "renorm", "renorm_clipping", "renorm_momentum"):
            kw.pop(k, None)
        orig(self, *a, **kw)
    QDenseBatchnorm.__init__ = init


if __name__ == "__main__":
    _patch_qdensebatchnorm_reload()
    generate(MODELS, "make_models9.py", 900)
