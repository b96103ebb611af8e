#!/usr/bin/env python3
"""Float Keras models for `qkhw quantize-model` and QKeras's own
`model_quantize` results on them, so that tests/quantize_model.rs checks
qkhw against QKeras without Python.

Run (pinned versions in requirements.txt):
    python tests/golden/gen_quantize_model.py
Writes
  examples/float_models/mlp.keras, mlp.qconfig.json   a Sequential MLP
      (Dense relu, Dense tanh, Dense + Activation relu, Dense) and a
      quantizer_config with a per-class QDense entry, a per-name override
      with its own activation_quantizer and a QActivation entry;
  examples/float_models/cnn.keras, cnn.qconfig.json   a functional CNN
      (Conv2D + BatchNormalization + Activation relu, Conv2D without bias +
      BatchNormalization + ReLU, MaxPooling2D, Flatten, Dense) and a
      per-class config with "QBatchNormalization": {};
  tests/golden/quantize_model/
      mlp_inputs.npy, cnn_inputs.npy   256 inputs on a grid of 1/8 (|x| < 8):
                                       QKeras's float32 sums are exact there;
      mlp_outputs.npy       model_quantize(mlp, config, 6,
                            transfer_weights=True).predict(inputs);
      cnn_outputs.npy       the same for cnn (activation_bits 6);
      cnn_fold_outputs.npy  model_quantize(..., enable_bn_folding=True) with
                            the trained weights set by hand into each
                            QConv2DBatchnorm (QKeras transfers none): what
                            `--fold-bn` must give;
      bn_out_fold_outputs.npy  the same for examples/float_models/bn_out.keras
                            (Conv2D + BatchNormalization(scale=False), ReLU,
                            Conv2D + BatchNormalization(center=False) as the
                            model's only output), whose folded layers get
                            gamma 1 / beta 0 (QKeras's QConv2DBatchnorm runs
                            only with both), on cnn_inputs.npy.
Both models are trained a few steps (seeded) so no weight is at its
initial value.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras.utils import model_quantize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "examples", "float_models")
OUT = os.path.join(HERE, "quantize_model")

BITS = {"kernel_quantizer": "quantized_bits(4,0,1)", "bias_quantizer": "quantized_bits(6,2,1)"}
MLP_CONFIG = {
    "QDense": BITS,
    "fc2": {"kernel_quantizer": "quantized_bits(6,0,1)", "bias_quantizer": "quantized_bits(8,3,1)", "activation_quantizer": "quantized_tanh(6)"},
    "QActivation": {"relu": "quantized_relu(5,1)"},
}
CNN_CONFIG = {"QConv2D": BITS, "QDense": BITS, "QActivation": {"relu": "quantized_relu(6,2)"}, "QBatchNormalization": {}}


def trained(model, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, *model.input_shape[1:])).astype(np.float32)
    y = rng.normal(size=(64, *model.output_shape[1:])).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return model


def inputs(model, seed, n=256):
    x = np.random.default_rng(seed).normal(size=(n, *model.input_shape[1:])) * 2
    return (np.round(np.clip(x, -7.5, 7.5) * 8) / 8).astype(np.float32)


def mlp():
    keras.utils.set_random_seed(1)
    return trained(keras.Sequential([
        keras.Input((10,)),
        L.Dense(16, activation="relu", name="fc1"),
        L.Dense(12, activation="tanh", name="fc2"),
        L.Dense(8, name="fc3"),
        L.Activation("relu", name="act3"),
        L.Dense(3, name="out"),
    ], name="float_mlp"), 1)


def cnn():
    keras.utils.set_random_seed(2)
    i = keras.Input((10, 10, 2), name="img")
    x = L.Conv2D(6, 3, name="c1")(i)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.Activation("relu", name="r1")(x)
    x = L.Conv2D(8, 3, use_bias=False, name="c2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.ReLU(name="r2")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flat")(x)
    return trained(keras.Model(i, L.Dense(4, name="out")(x), name="float_cnn"), 2)


def bn_out():
    keras.utils.set_random_seed(3)
    i = keras.Input((10, 10, 2), name="img")
    x = L.Conv2D(6, 3, name="c1")(i)
    x = L.BatchNormalization(scale=False, name="bn1")(x)
    x = L.ReLU(name="r1")(x)
    x = L.Conv2D(4, 3, name="c2")(x)
    return trained(keras.Model(i, L.BatchNormalization(center=False, name="bn2")(x), name="float_bn_out"), 3)


def main():
    os.makedirs(OUT, exist_ok=True)
    m = mlp()
    m.save(os.path.join(MODELS, "mlp.keras"))
    with open(os.path.join(MODELS, "mlp.qconfig.json"), "w") as f:
        json.dump(MLP_CONFIG, f, indent=1)
    x = inputs(m, 10)
    np.save(os.path.join(OUT, "mlp_inputs.npy"), x)
    np.save(os.path.join(OUT, "mlp_outputs.npy"), model_quantize(m, MLP_CONFIG, 6, transfer_weights=True).predict(x, batch_size=64, verbose=0))

    c = cnn()
    c.save(os.path.join(MODELS, "cnn.keras"))
    with open(os.path.join(MODELS, "cnn.qconfig.json"), "w") as f:
        json.dump(CNN_CONFIG, f, indent=1)
    x = inputs(c, 20)
    np.save(os.path.join(OUT, "cnn_inputs.npy"), x)
    np.save(os.path.join(OUT, "cnn_outputs.npy"), model_quantize(c, CNN_CONFIG, 6, transfer_weights=True).predict(x, batch_size=64, verbose=0))
    folded = model_quantize(c, CNN_CONFIG, 6, transfer_weights=True, enable_bn_folding=True)
    for conv, bn in (("c1", "bn1"), ("c2", "bn2")):
        w = c.get_layer(conv).get_weights()
        bias = w[1] if len(w) > 1 else np.zeros(w[0].shape[-1], np.float32)
        layer = folded.get_layer(conv)
        assert layer.__class__.__name__ == "QConv2DBatchnorm"
        # kernel, bias, iteration (kept), then the batch norm's four
        layer.set_weights([w[0], bias, layer.get_weights()[2], *c.get_layer(bn).get_weights()])
    for layer in folded.layers:
        if layer.get_weights() and layer.__class__.__name__ != "QConv2DBatchnorm":
            layer.set_weights(c.get_layer(layer.name).get_weights())
    np.save(os.path.join(OUT, "cnn_fold_outputs.npy"), folded.predict(x, batch_size=64, verbose=0))

    b = bn_out()
    b.save(os.path.join(MODELS, "bn_out.keras"))
    folded = model_quantize(b, {"QConv2D": BITS}, 6, transfer_weights=True, enable_bn_folding=True)
    for conv, bn in (("c1", "bn1"), ("c2", "bn2")):
        w = b.get_layer(conv).get_weights()
        src = b.get_layer(bn)
        stats = src.get_weights()
        gamma = stats.pop(0) if src.scale else np.ones(w[0].shape[-1], np.float32)
        beta = stats.pop(0) if src.center else np.zeros(w[0].shape[-1], np.float32)
        layer = folded.get_layer(conv)
        assert layer.__class__.__name__ == "QConv2DBatchnorm"
        layer.set_weights([w[0], w[1], layer.get_weights()[2], gamma, beta, *stats])
    np.save(os.path.join(OUT, "bn_out_fold_outputs.npy"), folded.predict(x, batch_size=64, verbose=0))
    print("wrote", OUT, "and", MODELS)


if __name__ == "__main__":
    main()
