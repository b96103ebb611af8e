"""The pinned TensorFlow settings every golden generator runs under
(single-threaded, no oneDNN, CPU): import it before TensorFlow loads.
Values already in the environment win."""
import os

for key, value in {
    "KERAS_BACKEND": "tensorflow",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "CUDA_VISIBLE_DEVICES": "-1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}.items():
    os.environ.setdefault(key, value)
