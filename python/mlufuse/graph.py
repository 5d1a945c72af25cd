"""Graphs: loading .mfir and ONNX files, and recording op calls with mlufuse.trace.

    with mlufuse.trace(x) as tr:
        y = mlufuse.ops.relu(mlufuse.ops.conv2d(x, w))
        tr.outputs = [y]
    g = tr.graph
"""
import ctypes
import os

from ._lib import Handle, check, lib, take_string
from .tensor import Tensor, as_tensor


class Graph(Handle):
    """A static graph in mlufuse's IR; owns its mf_graph (freed exactly once)."""
    __slots__ = ()
    kind = "graph"

    def _release(self, h):
        lib.mf_graph_destroy(h)

    @staticmethod
    def load(path, batch=0):
        """A .mfir or .onnx file (batch > 0 replaces an ONNX model's batch dimension)."""
        out = ctypes.c_void_p()
        p = os.fsencode(path)
        if int(batch) < 0:
            from .errors import InvalidError
            raise InvalidError(f"batch must be 0 (the model's) or positive, not {batch}", 1)
        if str(path).endswith(".onnx"):
            check(lib.mf_onnx_load(p, int(batch), ctypes.byref(out)))
        else:
            check(lib.mf_graph_load(p, ctypes.byref(out)))  # the message names the file
        return Graph(out.value)

    @staticmethod
    def parse(text, name="<text>"):
        out = ctypes.c_void_p()
        check(lib.mf_graph_parse(text.encode(), name.encode(), ctypes.byref(out)), name)
        return Graph(out.value)

    @staticmethod
    def from_onnx_bytes(data, name="<memory>", batch=0):
        out = ctypes.c_void_p()
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        check(lib.mf_onnx_parse(buf, len(data), name.encode(), int(batch), ctypes.byref(out)), name)
        return Graph(out.value)

    def text(self, elide_constants=True):
        """The .mfir text."""
        p = ctypes.c_void_p()
        check(lib.mf_graph_print(self.handle, int(bool(elide_constants)), ctypes.byref(p)), "print")
        return take_string(p.value)

    def copy(self):
        return Graph.parse(self.text(elide_constants=False))

    @property
    def num_nodes(self):
        return lib.mf_graph_num_nodes(self.handle)

    @property
    def num_inputs(self):
        return lib.mf_graph_num_inputs(self.handle)

    @property
    def num_outputs(self):
        return lib.mf_graph_num_outputs(self.handle)

    def input_type(self, i):
        """(numpy dtype, shape) of input i."""
        from .tensor import array_dtype
        dt, rank = ctypes.c_int(), ctypes.c_int()
        shape = (ctypes.c_int64 * 8)()
        check(lib.mf_graph_input_type(self.handle, i, ctypes.byref(dt), ctypes.byref(rank), shape), "input_type")
        return array_dtype(dt.value), tuple(shape[:rank.value])

    def interpret(self, *inputs):
        """Runs the graph on the reference kernels (the oracle); returns Tensors."""
        ins = [as_tensor(x) for x in inputs]
        hs = (ctypes.c_void_p * max(len(ins), 1))(*[t.handle for t in ins])
        outs = (ctypes.c_void_p * max(self.num_outputs, 1))()
        check(lib.mf_graph_interpret(self.handle, len(ins), hs, self.num_outputs, outs), "interpret")
        return [Tensor(outs[i]) for i in range(self.num_outputs)]

    def __repr__(self):
        return f"mlufuse.Graph({self.num_nodes} nodes, {self.num_inputs} inputs, {self.num_outputs} outputs)" \
            if self._h else "mlufuse.Graph(closed)"


class trace:
    """Records the op calls of the with-block; set .outputs before it ends; .graph is the result.
    Inputs are Tensors (or arrays, copied to the cpu)."""

    def __init__(self, *inputs):
        self.inputs = [as_tensor(x) for x in inputs]
        self.outputs = None
        self.graph = None

    def __enter__(self):
        hs = (ctypes.c_void_p * max(len(self.inputs), 1))(*[t.handle for t in self.inputs])
        check(lib.mf_trace_begin(len(self.inputs), hs), "trace")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            lib.mf_trace_abort()
            return False
        outs = self.outputs
        if outs is None:
            lib.mf_trace_abort()
            from .errors import InvalidError
            raise InvalidError("trace: set tr.outputs = [tensors] inside the with-block", 1)
        if isinstance(outs, Tensor):
            outs = [outs]
        try:  # a closed tensor or an array among them: the trace must not stay active
            hs = (ctypes.c_void_p * max(len(outs), 1))(*[t.handle for t in outs])
        except Exception:
            lib.mf_trace_abort()
            raise
        g = ctypes.c_void_p()
        check(lib.mf_trace_end(len(outs), hs, ctypes.byref(g)), "trace")
        self.graph = Graph(g.value)
        return False
