"""The golden JSON encoding of a `model_save_quantized_weights` dict,
shared by make_models.py and keras2/make_keras2.py (qkhw writes the same
format with `qkhw weights --json`).

Arrays (NumPy or TF tensors) become {"dtype", "shape", "data"} with the
values flattened in C order; floats are Python floats (their shortest
repr round-trips to the float32), NaN/inf the strings "nan"/"inf"/"-inf".
"""
import math

import numpy as np


def encode(v):
    """The golden JSON encoding of one value of the weights dict."""
    if isinstance(v, (bool, np.bool_)) and not isinstance(v, np.ndarray):
        return bool(v)
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        return {str(k): encode(x) for k, x in v.items()}
    a = np.asarray(v)

    def num(x):
        if a.dtype.kind == "f":
            x = float(x)
            if math.isnan(x):
                return "nan"
            if math.isinf(x):
                return "inf" if x > 0 else "-inf"
            return x
        if a.dtype.kind == "b":
            return bool(x)
        return int(x)

    return {"dtype": a.dtype.name, "shape": list(a.shape),
            "data": [num(x) for x in a.reshape(-1).tolist()]}


# QDenseBatchnorm.get_config() merges its BatchNormalization's config, whose
# keys below its constructor refuses: the layer neither reloads nor clones,
# and model_save_quantized_weights clones the model first.
