"""Cross-check batch 7 (written independently of qkhw's source, examples and earlier batches;
streaming `--io stream` and folding `--reuse-factor` in mind, on CNN shapes a user would build).

m01 conv autoencoder: Conv2D + MaxPooling2D down, UpSampling2D 2, (2,1) and (1,2) up, image output
m02 U-Net-like: encoder conv (QBN) -> MaxPooling -> conv -> UpSampling2D -> channel Concatenate
    with the encoder skip -> conv -> GlobalAveragePooling2D -> QActivation -> QDense
m03 one 5x5x4 stream read by Flatten, GlobalMaxPooling2D, GlobalAveragePooling2D (+QActivation)
    and QGlobalAveragePooling2D(average_quantizer) -> Concatenate -> QDense head
m04 Conv1D over (16,3): MaxPooling1D, UpSampling1D, residual Add, Flatten, QDense
m05 MobileNet-v1-like on 15x15: 2x (QDepthwiseConv2D stride 2 'same' + QBN + quantized_relu +
    pointwise QConv2D (+QBN)), quantized_po2 pointwise kernel, AveragePooling2D over the whole map
m06 residual block on 11x13: strided 3x3 main path, strided 1x1 QConv2D shortcut, QBN on both,
    Flatten, QDense softmax
m07 AveragePooling2D(3, strides 2, padding='same') on 9x9 (border counts 4/6/9) + QActivation
m08 ZeroPadding2D asymmetric + dilated QConv2D (dilation 2) + Cropping2D asymmetric + strided conv
m09 two images (12x12x2, 7x9x3), each reduced by global pooling, Concatenate, QDense softmax
m10 UpSampling2D right after the input quantizer, feeding both a conv path and a skip Add

Usage: python make_models7.py OUT [NAME ...]
Per model: NAME.keras, NAME.x.npy (NAME.x.1.npy for input 1), NAME.y.npy,
NAME.logits.npy (softmax models: outputs of the layer before the softmax).
No training: random (scaled) weights and random batch-norm statistics, fixed seeds.
"""
import _tf_env  # noqa: F401  (first: TensorFlow's environment)
from _untrained import bn, generate, qb, relu  # noqa: E402

import keras
from keras import layers as L
from qkeras import (QActivation, QConv1D, QConv2D, QDense, QDepthwiseConv2D,
                    QGlobalAveragePooling2D)
from qkeras.quantizers import quantized_po2, quantized_relu


# ---------------------------------------------------------------- models
def m01():
    """conv autoencoder 16x16x1 -> 4x4x8 -> 16x16x1 image (UpSampling2D 2, (2,1), (1,2))"""
    i = keras.Input((16, 16, 1), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="e1")(x)
    x = relu(6, 2, "re1")(x)
    x = L.MaxPooling2D(2, name="mp1")(x)                                     # 8x8x4
    x = QConv2D(8, 3, padding="same", kernel_quantizer=qb(5, 0), bias_quantizer=qb(8, 3), name="e2")(x)
    x = relu(5, 2, "re2")(x)
    x = L.MaxPooling2D(2, name="mp2")(x)                                     # 4x4x8
    x = L.UpSampling2D(2, name="up1")(x)                                     # 8x8x8
    x = QConv2D(6, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d1")(x)
    x = relu(6, 2, "rd1")(x)
    x = L.UpSampling2D((2, 1), name="up2")(x)                                # 16x8x6
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d2")(x)
    x = relu(6, 2, "rd2")(x)
    x = L.UpSampling2D((1, 2), name="up3")(x)                                # 16x16x4
    x = QConv2D(1, 3, padding="same", kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="out")(x)
    o = QActivation(qb(8, 3), name="out_q")(x)
    return keras.Model(i, o, name="m01")


def m02():
    """U-Net-like: skip from encoder concatenated (channel axis) after UpSampling2D"""
    i = keras.Input((12, 12, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    s = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="enc1")(x)
    s = bn("bn_enc1")(s)
    s = relu(6, 2, "r_enc1")(s)                                              # 12x12x4 (skip)
    x = L.MaxPooling2D(2, name="mp")(s)                                      # 6x6x4
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="mid")(x)
    x = relu(5, 1, "r_mid")(x)
    x = L.UpSampling2D(2, name="up")(x)                                      # 12x12x4
    x = L.Concatenate(axis=-1, name="cat")([x, s])                           # 12x12x8
    x = QConv2D(6, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="dec1")(x)
    x = relu(6, 2, "r_dec1")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = QActivation(qb(8, 2), name="gap_q")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="m02")


def m03():
    """one stream read by Flatten, GMP, GAP and QGAP(average_quantizer), concatenated"""
    i = keras.Input((12, 12, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)  # 10x10x4
    x = relu(6, 2, "r1")(x)
    x = L.MaxPooling2D(2, name="mp")(x)                                      # 5x5x4
    a = L.Flatten(name="flat")(x)                                            # 100
    b = L.GlobalMaxPooling2D(name="gmp")(x)                                  # 4
    c = L.GlobalAveragePooling2D(name="gap")(x)                              # 4 (mean of 25)
    c = QActivation(qb(8, 2), name="gap_q")(c)
    d = QGlobalAveragePooling2D(average_quantizer=qb(8, 0), name="qgap")(x)  # sum * q(1/25)
    z = L.Concatenate(name="cat")([a, b, c, d])
    z = QDense(6, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d1")(z)
    z = relu(8, 3, "r2")(z)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(z)
    return keras.Model(i, o, name="m03")


def m04():
    """Conv1D: MaxPooling1D, UpSampling1D, residual Add, Flatten, QDense"""
    i = keras.Input((16, 3), name="seq")
    x = QActivation(qb(8, 3), name="in_q")(i)
    x = QConv1D(6, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)
    s = relu(6, 2, "r1")(x)                                                  # 16x6
    x = L.MaxPooling1D(2, name="mp")(s)                                      # 8x6
    x = QConv1D(6, 3, padding="same", kernel_quantizer=qb(4, 0), bias_quantizer=qb(6, 2), name="c2")(x)
    x = relu(4, 1, "r2")(x)
    x = L.UpSampling1D(2, name="up")(x)                                      # 16x6
    x = L.Add(name="add")([x, s])
    x = relu(6, 2, "r3")(x)
    x = QConv1D(4, 5, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c3")(x)  # 6x4
    x = relu(6, 2, "r4")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(4, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="m04")


def m05():
    """MobileNet-v1-like: 2x (dw stride 2 same + QBN + relu + pw), AveragePooling2D whole map"""
    i = keras.Input((15, 15, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QDepthwiseConv2D(3, strides=2, padding="same", depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw1")(x)             # 8x8x3
    x = bn("bn_dw1")(x)
    x = relu(6, 2, "r_dw1")(x)
    x = QConv2D(6, 1, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="pw1")(x)
    x = bn("bn_pw1")(x)
    x = relu(6, 2, "r_pw1")(x)
    x = QDepthwiseConv2D(3, strides=2, padding="same", depthwise_quantizer=qb(5, 0),
                         bias_quantizer=qb(8, 3), name="dw2")(x)             # 4x4x6
    x = bn("bn_dw2")(x)
    x = relu(6, 2, "r_dw2")(x)
    x = QConv2D(8, 1, kernel_quantizer=quantized_po2(4, 1), bias_quantizer=qb(8, 3), name="pw2")(x)
    x = bn("bn_pw2")(x)
    x = relu(7, 3, "r_pw2")(x)
    x = L.AveragePooling2D(4, name="ap")(x)                                  # 1x1x8
    x = L.Flatten(name="flat")(x)
    o = QDense(4, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="m05")


def m06():
    """residual block on 11x13 with strided 1x1 shortcut, QBN both paths, softmax head"""
    i = keras.Input((11, 13, 3), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2D(6, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c0")(x)
    x = bn("bn0")(x)
    x = relu(6, 2, "r0")(x)
    y = QConv2D(8, 3, strides=2, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="c1")(x)                                                # 6x7x8
    y = bn("bn1")(y)
    y = relu(6, 2, "r1")(y)
    y = QConv2D(8, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(y)
    y = bn("bn2")(y)
    s = QConv2D(8, 1, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="sc")(x)  # 6x7x8
    s = bn("bn_sc")(s)
    x = L.Add(name="add")([y, s])
    x = relu(6, 2, "r2")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    o = L.Activation("softmax", name="sm")(x)
    return keras.Model(i, o, name="m06")


def m07():
    """AveragePooling2D(3, strides 2, padding='same') on 9x9: border averages over 4/6 values"""
    i = keras.Input((9, 9, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)
    x = relu(6, 2, "r1")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same", name="ap_same")(x)  # 5x5x4
    x = QActivation(qb(8, 2), name="ap_q")(x)
    x = QConv2D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 3x3x4
    x = relu(6, 2, "r2")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="m07")


def m08():
    """ZeroPadding2D asymmetric + dilated conv + Cropping2D asymmetric + strided conv"""
    i = keras.Input((12, 12, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = L.ZeroPadding2D(((1, 2), (0, 3)), name="zp")(x)                      # 15x15x2
    x = QConv2D(6, 3, dilation_rate=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="dil")(x)                                               # 11x11x6
    x = relu(6, 2, "r1")(x)
    x = L.Cropping2D(((1, 0), (2, 1)), name="crop")(x)                       # 10x8x6
    x = QConv2D(4, 3, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 4x3x4
    x = relu(6, 2, "r2")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="m08")


def m09():
    """two images of different sizes, each reduced by global pooling, Concatenate, softmax head"""
    a = keras.Input((12, 12, 2), name="big")
    b = keras.Input((7, 9, 3), name="small")
    x = QActivation(qb(8, 2), name="big_q")(a)
    x = QConv2D(4, 3, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="cb")(x)  # 5x5x4
    x = relu(6, 2, "rb")(x)
    x = L.GlobalAveragePooling2D(name="gap_b")(x)
    x = QActivation(qb(8, 2), name="gap_b_q")(x)
    y = QActivation(qb(6, 2), name="small_q")(b)
    y = QConv2D(5, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="cs")(y)
    y = bn("bn_s")(y)
    y = relu(6, 2, "rs")(y)
    y = L.GlobalMaxPooling2D(name="gmp_s")(y)
    z = L.Concatenate(name="cat")([x, y])
    z = QDense(6, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d1")(z)
    z = relu(8, 3, "r1")(z)
    z = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(z)
    o = L.Activation("softmax", name="sm")(z)
    return keras.Model([a, b], o, name="m09")


def m10():
    """UpSampling2D right after the input quantizer, feeding a conv path and a skip Add"""
    i = keras.Input((6, 6, 3), name="img")
    x = QActivation(qb(6, 2), name="in_q")(i)
    u = L.UpSampling2D(2, name="up")(x)                                      # 12x12x3
    y = QConv2D(3, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(u)
    y = bn("bn1")(y)
    y = relu(6, 2, "r1")(y)
    x = L.Add(name="add")([u, y])
    x = QActivation(qb(7, 3), name="add_q")(x)
    x = QConv2D(4, 3, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 5x5x4
    x = relu(6, 2, "r2")(x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    o = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(i, o, name="m10")


MODELS = [("m01", m01), ("m02", m02), ("m03", m03), ("m04", m04), ("m05", m05), ("m06", m06),
          ("m07", m07), ("m08", m08), ("m09", m09), ("m10", m10)]


# ---------------------------------------------------------------- weights and data
def main():
    generate(MODELS, "make_models7.py", 700)


if __name__ == "__main__":
    main()
