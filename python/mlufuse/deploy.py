"""Around a module: mlufuse.quantize (int8 after calibration, mlufuse_quant.h) and offline
models — mlufuse.genoff writes a .mfo file (mlufuse_offline.h), mlufuse.load_offline runs one
with the runtime alone."""
import ctypes
import os

import numpy as np

from . import _lib
from ._lib import check, lib
from .graph import Graph
from .tensor import DTYPES, Tensor, tensor

_METHODS = {"minmax": 0, "percentile": 1, "entropy": 2}
MAX_CHANNELS = 16


class QuantizeOptions(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("per_channel", ctypes.c_int), ("ubsw_pairs", ctypes.c_int),
                ("ubsw_max_error", ctypes.c_double), ("method", ctypes.c_int),
                ("percentile", ctypes.c_double), ("ncalib", ctypes.c_int), ("calib", ctypes.POINTER(ctypes.c_void_p)),
                ("nmean", ctypes.c_int), ("nstd", ctypes.c_int), ("mean", ctypes.c_float * MAX_CHANNELS),
                ("std", ctypes.c_float * MAX_CHANNELS), ("firstconv", ctypes.c_int), ("cpu", ctypes.c_char_p)]


class GenoffOptions(ctypes.Structure):
    _fields_ = [("core_number", ctypes.c_int), ("cpus", ctypes.c_char_p), ("meta", ctypes.c_char_p)]


class OfflineOptions(ctypes.Structure):
    _fields_ = [("core_number", ctypes.c_int), ("host_features", ctypes.c_char_p)]


_lib.declare({
    "mf_quantize_default_options": (QuantizeOptions, []),
    "mf_quantize": (ctypes.c_int, [_lib.T, ctypes.POINTER(QuantizeOptions), _lib.PT]),
    "mf_genoff": (ctypes.c_int, [_lib.T, ctypes.POINTER(GenoffOptions), ctypes.c_char_p]),
    "mf_offline_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(OfflineOptions), _lib.PT]),
    "mf_offline_destroy": (None, [_lib.T]),
    "mf_offline_num_inputs": (ctypes.c_int, [_lib.T]),
    "mf_offline_num_outputs": (ctypes.c_int, [_lib.T]),
    "mf_offline_meta": (ctypes.c_char_p, [_lib.T, ctypes.c_char_p]),
    "mf_offline_level": (ctypes.c_char_p, [_lib.T]),
    "mf_offline_run": (ctypes.c_int, [_lib.T, ctypes.c_int, _lib.PT, ctypes.c_int, _lib.PT]),
})


def _graph(model):
    return model if isinstance(model, Graph) else Graph.load(model)


def quantize(model, calib, per_channel=True, method="minmax", percentile=99.99, mean=None, std=None,
             firstconv=False, cpu=None, ubsw_pairs=False, ubsw_max_error=None):
    """An int8 Graph of model (a Graph or a file) calibrated on calib: a list of input sets,
    each an array (one-input models) or a tuple of arrays.  mean/std: the seed's per-channel
    normalization of input 0, which the quantized model then takes raw (firstconv folds it
    into the first convolution).  ubsw_pairs: conv weights limited for AVX2's vpmaddubsw, in
    the layers whose weights' relative rounding error stays within ubsw_max_error (None: the
    library's default, 0: every layer)."""
    g = _graph(model)
    if method not in _METHODS:
        from .errors import InvalidError
        raise InvalidError(f"method must be one of {', '.join(_METHODS)}, not {method!r}", 1)
    sets = [s if isinstance(s, (tuple, list)) else (s,) for s in calib]
    bad = [i for i, s in enumerate(sets) if len(s) != g.num_inputs]
    if bad:  # the library reads num_inputs arrays a set
        from .errors import InvalidError
        raise InvalidError(f"calibration set {bad[0]} has {len(sets[bad[0]])} arrays; the model takes "
                           f"{g.num_inputs} inputs", 1)
    tensors = [tensor(x) for s in sets for x in s]
    o = lib.mf_quantize_default_options()
    o.per_channel, o.method, o.percentile = int(bool(per_channel)), _METHODS[method], float(percentile)
    o.ncalib = len(sets)
    arr = (ctypes.c_void_p * max(len(tensors), 1))(*[t.handle for t in tensors])
    o.calib = ctypes.cast(arr, ctypes.POINTER(ctypes.c_void_p))
    for name, vals in (("mean", mean), ("std", std)):
        if vals is not None:
            vals = list(np.atleast_1d(np.asarray(vals, np.float32)))
            if len(vals) > MAX_CHANNELS:
                from .errors import InvalidError
                raise InvalidError(f"{name}: at most {MAX_CHANNELS} channels", 1)
            setattr(o, "n" + name, len(vals))
            getattr(o, name)[:len(vals)] = vals
    o.firstconv = int(bool(firstconv))
    o.ubsw_pairs = int(bool(ubsw_pairs))
    if ubsw_max_error is not None:
        o.ubsw_max_error = float(ubsw_max_error)
    cpu_b = cpu.encode() if cpu else None
    o.cpu = cpu_b
    out = ctypes.c_void_p()
    check(lib.mf_quantize(g.handle, ctypes.byref(o), ctypes.byref(out)), "quantize")
    return Graph(out.value)


def genoff(model, path, core_number=1, cpus=None, meta=None):
    """Compiles model (a Graph or a file) and writes the offline model file path (.mfo) with
    code for each CPU level in cpus ("host,x86-64-v3" by default); meta: {key: value} recorded
    in the file (input_format, mean, std, ...)."""
    g = _graph(model)
    for k, v in (meta or {}).items():  # one key=value line each: a newline or '=' would make others
        if not str(k) or any(c in str(k) for c in "=\n") or "\n" in str(v):
            from .errors import InvalidError
            raise InvalidError(f"meta: key {k!r} (no '=' or newline, not empty) or its value (no newline)", 1)
    meta_b = "".join(f"{k}={v}\n" for k, v in (meta or {}).items()).encode() or None
    cpus_b = cpus.encode() if cpus else None
    o = GenoffOptions(_lib.int_arg(core_number, ctypes.c_int, "core_number"), cpus_b, meta_b)
    check(lib.mf_genoff(g.handle, ctypes.byref(o), os.fsencode(path)), "genoff")


class OfflineModel(_lib.Handle):
    """A loaded .mfo file, run with the runtime alone: called on arrays, gives arrays."""
    __slots__ = ()
    kind = "offline model"

    def _release(self, h):
        lib.mf_offline_destroy(h)

    @property
    def level(self):
        return lib.mf_offline_level(self.handle).decode()

    def meta(self, key):
        v = lib.mf_offline_meta(self.handle, key.encode())
        return v.decode() if v is not None else None

    def __call__(self, *inputs):
        h = self.handle
        ins = [x if isinstance(x, Tensor) else tensor(x) for x in inputs]
        n = lib.mf_offline_num_outputs(h)
        hs = (ctypes.c_void_p * max(len(ins), 1))(*[t.handle for t in ins])
        outs = (ctypes.c_void_p * max(n, 1))()
        check(lib.mf_offline_run(h, len(ins), hs, n, outs), "offline run")
        res = [Tensor(outs[i]).numpy() for i in range(n)]
        return res[0] if n == 1 else tuple(res)


def load_offline(path, core_number=0):
    o = OfflineOptions(_lib.int_arg(core_number, ctypes.c_int, "core_number"), None)
    out = ctypes.c_void_p()
    check(lib.mf_offline_load(os.fsencode(path), ctypes.byref(o), ctypes.byref(out)), "load_offline")
    return OfflineModel(out.value)
