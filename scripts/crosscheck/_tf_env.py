"""Import first, before TensorFlow or Keras: CPU-only, single-threaded,
quiet TensorFlow, so that QKeras's float32 results do not depend on the
machine's thread count (the batches' golden outputs are compared bit for
bit)."""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
