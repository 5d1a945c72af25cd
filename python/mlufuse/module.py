"""Compiled modules: mlufuse.compile(graph | "model.onnx" | "model.mfir", core_number=..., cpu=...)
gives a Module that is called like a function on NumPy arrays or Tensors.  NumPy inputs give
NumPy outputs; Tensor inputs give Tensors on the module's device."""
import ctypes
import io
import threading

import numpy as np

from . import _lib
from ._lib import check, lib
from .graph import Graph
from .tensor import Tensor, as_tensor, parse_device

_core_number = 1
_core_lock = threading.Lock()


def set_core_number(n):
    """The default core_number of later compiles (the seed's ct.set_core_number): 1, 4 or 16."""
    global _core_number
    if n not in (1, 4, 16):
        from .errors import InvalidError
        raise InvalidError(f"core_number must be 1, 4 or 16, not {n!r}", 1)
    with _core_lock:
        _core_number = n


def get_core_number():
    return _core_number


class Module(_lib.Handle):
    """A compiled model.  Thread-safe: several threads may call one module at once."""
    __slots__ = ("graph", "device", "_calls", "_nin", "_nout")
    kind = "module"

    def __init__(self, handle, graph, device):
        super().__init__(handle)
        self.graph, self.device = graph, device
        self._nin, self._nout = graph.num_inputs, graph.num_outputs  # closing the graph leaves the module whole
        self._calls = {}  # (dtype, shape) of NumPy inputs -> what a call needs for them

    def _release(self, h):
        lib.mf_module_destroy(h)

    @property
    def num_specializations(self):
        return lib.mf_module_num_specializations(self.handle)

    def __call__(self, *inputs):
        h = self.handle
        if all(type(x) is np.ndarray for x in inputs):
            call = self._calls.get(tuple((x.dtype, x.shape) for x in inputs))
            if call is not None and all(x.flags.c_contiguous for x in inputs):
                return self._call_arrays(h, call, inputs)
        if len(inputs) != self._nin:
            from .errors import InvalidError
            raise InvalidError(f"the model takes {self._nin} inputs, not {len(inputs)}", 1)
        as_numpy = not any(isinstance(x, Tensor) for x in inputs)
        ins = [as_tensor(x, self.device) for x in inputs]
        hs = (ctypes.c_void_p * max(len(ins), 1))(*[t.handle for t in ins])
        n = self._nout
        outs = (ctypes.c_void_p * max(n, 1))()
        check(lib.mf_module_run(h, len(ins), hs, n, outs), "run")
        res = [Tensor(outs[i]) for i in range(n)]
        if as_numpy:
            res = [t.numpy() for t in res]
            if all(type(x) is np.ndarray for x in inputs) and len(self._calls) < 64:
                self._calls[tuple((x.dtype, x.shape) for x in inputs)] = _array_call(ins, res)
        return res[0] if n == 1 else tuple(res)

    def _call_arrays(self, h, call, arrays):
        """The fast path of a call on NumPy arrays whose dtypes and shapes were seen: shapes
        and dtype codes prepared, outputs copied into new arrays (no wrapper objects)."""
        in_specs, out_specs, in_array, out_array = call
        hs, outs, tmp, x = in_array(), out_array(), ctypes.c_void_p(), ctypes.c_void_p()  # per call: threads
        f = lib
        try:
            for i, (a, (code, rank, cshape)) in enumerate(zip(arrays, in_specs)):
                check(f.mf_tensor_from_data(code, rank, cshape, a.ctypes.data, a.nbytes, ctypes.byref(tmp)), "run")
                s = f.mf_tensor_to(tmp, self.device, ctypes.byref(x))
                f.mf_tensor_free(tmp)
                check(s, "run")
                hs[i] = x.value
            check(f.mf_module_run(h, len(arrays), hs, len(out_specs), outs), "run")
        finally:
            for i in range(len(arrays)):
                f.mf_tensor_free(hs[i])  # NULL is ignored
        res = []
        try:
            for i, (dtype, shape, nbytes) in enumerate(out_specs):
                check(f.mf_tensor_to(outs[i], _CPU, ctypes.byref(tmp)), "run")
                a = np.empty(shape, dtype)
                if nbytes:
                    ctypes.memmove(a.ctypes.data, f.mf_tensor_data_mut(tmp), nbytes)
                f.mf_tensor_free(tmp)
                res.append(a)
        finally:
            for i in range(len(out_specs)):
                f.mf_tensor_free(outs[i])
        return res[0] if len(res) == 1 else tuple(res)


_CPU = _lib.Device(0, 0)


def _array_call(ins, res):
    """What _call_arrays needs for inputs like ins and outputs like res."""
    from .tensor import dtype_code
    in_specs = [(dtype_code(t.dtype), len(t.shape), (ctypes.c_int64 * max(len(t.shape), 1))(*t.shape)) for t in ins]
    out_specs = [(a.dtype, a.shape, a.nbytes) for a in res]
    return in_specs, out_specs, ctypes.c_void_p * max(len(ins), 1), ctypes.c_void_p * max(len(res), 1)


def compile(model, core_number=None, cpu=None, opt_level=3, fusion=None, device="mlu:0", batch=0,
            compile_threads=0, winograd=None):  # noqa: A001 - the seed's verb
    """A Module for a Graph or a model file (.onnx, .mfir).  core_number: 1, 4 or 16 (default:
    set_core_number's); cpu: an LLVM CPU name (default this machine); fusion: None (from
    DISABLE_MLU_FUSION), True or False; winograd: None (from MLUFUSE_WINOGRAD), 0 (3x3 convs
    stay direct), 1 (Winograd where it wins, within a memory limit) or 2 (whatever the
    memory)."""
    graph = model if isinstance(model, Graph) else Graph.load(model, batch)
    o = lib.mf_module_default_options()
    o.core_number = _core_number if core_number is None else _lib.int_arg(core_number, ctypes.c_int, "core_number")
    o.opt_level = _lib.int_arg(opt_level, ctypes.c_int, "opt_level")
    cpu_b = cpu.encode() if cpu else None
    o.cpu = cpu_b
    o.fusion = -1 if fusion is None else int(bool(fusion))
    o.winograd = -1 if winograd is None else _lib.int_arg(winograd, ctypes.c_int, "winograd")
    o.device = parse_device(device)
    o.compile_threads = _lib.int_arg(compile_threads, ctypes.c_int, "compile_threads")
    out = ctypes.c_void_p()
    check(lib.mf_module_create(graph.handle, ctypes.byref(o), ctypes.byref(out)), "compile")
    return Module(out.value, graph, _lib.Device(o.device.type, o.device.index))


def from_torch(module, example_inputs, **compile_options):
    """Exports a torch.nn.Module through torch.onnx.export, in memory, and compiles it.
    Needs PyTorch (python3-torch); the rest of the package does not."""
    import torch  # only here: the package works without torch

    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    buf = io.BytesIO()
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, tuple(example_inputs), buf, opset_version=13)
    graph = Graph.from_onnx_bytes(buf.getvalue(), name=type(module).__name__)
    return compile(graph, **compile_options)


def numpy_inputs(*xs):
    return [np.ascontiguousarray(x) for x in xs]
