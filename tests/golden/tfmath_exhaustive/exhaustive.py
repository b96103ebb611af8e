#!/usr/bin/env python3
"""Exhaustive check: qkhw's tfmath (through shim.rs) against TensorFlow's
float32 log / tanh / sigmoid on every float32 bit pattern. Prints the
mismatch count per function (NaN == NaN). See shim.rs for the commands."""
import numpy as np, tensorflow as tf, ctypes, sys, time
L = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else '/tmp/tfm/libtfm.so')
def rs(name, x):
    y = np.empty_like(x); getattr(L, name)(x.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(x.size)); return y
fns = {'log': tf.math.log, 'tanh': tf.math.tanh, 'sigmoid': tf.math.sigmoid}
CH = 1 << 24
mism = {k: 0 for k in fns}; nanbits = {k: 0 for k in fns}; examples = {k: [] for k in fns}
t0 = time.time()
for c in range(1 << 8):
    bits = np.arange(c * CH, (c + 1) * CH, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    tx = tf.constant(x)
    for k, f in fns.items():
        t = f(tx).numpy(); r = rs('q_' + k, x)
        tb, rb = t.view(np.uint32), r.view(np.uint32)
        ne = tb != rb
        if ne.any():
            bothnan = np.isnan(t) & np.isnan(r)
            nanbits[k] += int((ne & bothnan).sum())
            d = ne & ~bothnan
            n = int(d.sum())
            if n:
                mism[k] += n
                if len(examples[k]) < 10:
                    idx = np.nonzero(d)[0][:10 - len(examples[k])]
                    examples[k] += [(hex(bits[i]), hex(tb[i]), hex(rb[i])) for i in idx]
    if c % 32 == 31: print(c + 1, 'chunks', round(time.time() - t0), 's', mism, flush=True)
print('MISMATCHES (NaN==NaN):', mism)
print('NaN payload differences only:', nanbits)
print('examples (x, tf, rust):', examples)
