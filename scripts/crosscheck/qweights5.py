"""Fresh process: load MODEL.keras, write QKeras's model_save_quantized_weights as JSON
(arrays as {dtype, shape, data}); prints one line."""
import os, sys
for k, v in dict(KERAS_BACKEND="tensorflow", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
                 TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1").items():
    os.environ[k] = v
import contextlib, io, json
import numpy as np
import keras
keras.config.enable_unsafe_deserialization()
from qkeras.utils import _add_supported_quantized_objects, model_save_quantized_weights


def enc(v):
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float):
        return {"pyfloat": v}
    a = np.asarray(keras.ops.convert_to_numpy(v))
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.reshape(-1).tolist()}


c = {}
_add_supported_quantized_objects(c)
m = keras.models.load_model(sys.argv[1], custom_objects=c, compile=False, safe_mode=False)
try:
    with contextlib.redirect_stdout(io.StringIO()):
        qw = model_save_quantized_weights(m)
    json.dump(enc(qw), open(sys.argv[2], "w"))
    print(f"{len(qw)} layers: {list(qw)}")
except Exception as e:  # noqa: BLE001
    if os.path.exists(sys.argv[2]):
        os.remove(sys.argv[2])
    print(f"model_save_quantized_weights FAILED: {type(e).__name__}: {str(e)[:160]}")
