"""The C library through ctypes: finding libmlufuse.so, the prototypes of the functions the
package calls, and turning an mf_status into an exception.

ctypes.CDLL releases the GIL for the length of every call, so kernels run while other
Python threads go on."""
import ctypes
import ctypes.util
import os

from . import errors

c_int, c_int64, c_double, c_size_t, c_char_p, c_void_p = (
    ctypes.c_int, ctypes.c_int64, ctypes.c_double, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)
P = ctypes.POINTER

MF_MAX_RANK = 8
HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    """Where libmlufuse.so may be, most specific first."""
    env = os.environ.get("MLUFUSE_LIBRARY")
    if env:
        yield env
        return
    # installed: PREFIX/lib/python3/dist-packages/mlufuse -> PREFIX/lib
    yield os.path.join(HERE, "..", "..", "..", "libmlufuse.so.0")
    # the source tree: python/mlufuse -> build/
    yield os.path.join(HERE, "..", "..", "build", "libmlufuse.so.0")
    found = ctypes.util.find_library("mlufuse")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)  # pass libraries bind to it
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("mlufuse: libmlufuse.so not found (set MLUFUSE_LIBRARY); tried: " + ", ".join(tried))


lib = _load()
libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None


class Device(ctypes.Structure):
    _fields_ = [("type", c_int), ("index", c_int)]


class ModuleOptions(ctypes.Structure):
    _fields_ = [("core_number", c_int), ("opt_level", c_int), ("cpu", c_char_p),
                ("max_specializations", c_int), ("device", Device), ("fusion", c_int), ("winograd", c_int),
                ("progress", c_void_p), ("progress_ctx", c_void_p),
                ("on_kernel", c_void_p), ("on_kernel_ctx", c_void_p), ("compile_threads", c_int),
                ("passes", c_char_p), ("tier", c_int)]


class Conv2dParams(ctypes.Structure):
    _fields_ = [("stride", c_int64 * 2), ("padding", c_int64 * 2), ("dilation", c_int64 * 2),
                ("groups", c_int64)]


class Pool2dParams(ctypes.Structure):
    _fields_ = [("kernel", c_int64 * 2), ("stride", c_int64 * 2), ("padding", c_int64 * 2),
                ("dilation", c_int64 * 2), ("ceil_mode", c_int), ("count_include_pad", c_int)]


class CacheEntryInfo(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char * 65), ("ops", ctypes.c_char * 256), ("shapes", ctypes.c_char * 512),
                ("target", ctypes.c_char * 128), ("compiler", ctypes.c_char * 64), ("bytes", c_size_t),
                ("created", ctypes.c_long), ("last_used", ctypes.c_long), ("hits", ctypes.c_uint64),
                ("compile_ms", c_double), ("valid", c_int), ("problem", ctypes.c_char * 256)]


class KernelCacheStats(ctypes.Structure):
    _fields_ = [("hits", ctypes.c_uint64), ("misses", ctypes.c_uint64), ("compiled", ctypes.c_uint64),
                ("loaded", ctypes.c_uint64), ("entries", ctypes.c_uint64), ("compile_ms", c_double),
                ("load_ms", c_double)]


class OptOptions(ctypes.Structure):
    _fields_ = [("passes", c_char_p), ("fusion", c_int), ("fold_limit", c_size_t), ("verify", c_int),
                ("winograd", c_int), ("lanes", c_int), ("cpu", c_char_p), ("after_pass", c_void_p), ("ctx", c_void_p),
                ("qconv_winograd", c_int)]


class OptSummary(ctypes.Structure):
    _fields_ = [("nodes", c_int), ("segmented", c_int), ("subgraphs", c_int), ("cpu_ops", c_int),
                ("unfused_edges", c_int), ("planned", c_int), ("buffers", c_int), ("peak_bytes", c_size_t),
                ("naive_bytes", c_size_t), ("to_host", c_int), ("to_device", c_int), ("ms", c_double)]


class OptPassStats(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("nodes_before", c_int), ("nodes_after", c_int), ("changes", c_int),
                ("ms", c_double)]


class OptEdge(ctypes.Structure):
    _fields_ = [("from_", c_char_p), ("to", c_char_p), ("from_op", c_char_p), ("to_op", c_char_p),
                ("from_subgraph", c_int), ("to_subgraph", c_int), ("reason", c_char_p), ("text", c_char_p)]


T = c_void_p  # every handle (mf_tensor *, mf_graph *, ...) is opaque
PT = P(c_void_p)

# name: (restype, argtypes); restype c_int means an mf_status, checked by check().
_PROTOTYPES = {
    "mf_version": (c_char_p, []),
    "mf_last_error": (c_char_p, []),
    "mf_status_name": (c_char_p, [c_int]),
    "mf_dtype_name": (c_char_p, [c_int]),
    "mf_tensor_empty": (c_int, [c_int, c_int, P(c_int64), Device, PT]),
    "mf_tensor_from_data": (c_int, [c_int, c_int, P(c_int64), c_void_p, c_size_t, PT]),
    "mf_tensor_to": (c_int, [T, Device, PT]),
    "mf_tensor_free": (None, [T]),
    "mf_tensor_retain": (T, [T]),
    "mf_tensor_dtype": (c_int, [T]),
    "mf_tensor_rank": (c_int, [T]),
    "mf_tensor_shape": (P(c_int64), [T]),
    "mf_tensor_nbytes": (c_size_t, [T]),
    "mf_tensor_device": (Device, [T]),
    "mf_tensor_data_mut": (c_void_p, [T]),
    "mf_tensor_describe": (None, [T, c_char_p, c_size_t]),
    "mf_graph_destroy": (None, [T]),
    "mf_graph_parse": (c_int, [c_char_p, c_char_p, PT]),
    "mf_graph_load": (c_int, [c_char_p, PT]),
    "mf_graph_print": (c_int, [T, c_int, P(c_void_p)]),
    "mf_graph_num_nodes": (c_int, [T]),
    "mf_graph_num_inputs": (c_int, [T]),
    "mf_graph_num_outputs": (c_int, [T]),
    "mf_graph_input_type": (c_int, [T, c_int, P(c_int), P(c_int), P(c_int64)]),
    "mf_graph_interpret": (c_int, [T, c_int, PT, c_int, PT]),
    "mf_onnx_load": (c_int, [c_char_p, c_int64, PT]),
    "mf_onnx_parse": (c_int, [c_void_p, c_size_t, c_char_p, c_int64, PT]),
    "mf_trace_begin": (c_int, [c_int, PT]),
    "mf_trace_end": (c_int, [c_int, PT, PT]),
    "mf_trace_abort": (None, []),
    "mf_cpu_check": (c_int, [c_char_p]),
    "mf_module_default_options": (ModuleOptions, []),
    "mf_module_options_size": (c_size_t, []),
    "mf_module_create": (c_int, [T, P(ModuleOptions), PT]),
    "mf_module_run": (c_int, [T, c_int, PT, c_int, PT]),
    "mf_module_num_specializations": (c_int, [T]),
    "mf_module_destroy": (None, [T]),
    "mf_kernel_cache_get_stats": (None, [P(KernelCacheStats)]),
    "mf_kernel_cache_dir": (c_char_p, []),
    "mf_kernel_cache_list": (c_int, [c_char_p, P(P(CacheEntryInfo)), P(c_int)]),
    "mf_opt_default_options": (OptOptions, []),
    "mf_graph_optimize": (c_int, [T, P(OptOptions), PT]),
    "mf_opt_result_num_passes": (c_int, [T]),
    "mf_opt_result_pass": (P(OptPassStats), [T, c_int]),
    "mf_opt_result_summary": (OptSummary, [T]),
    "mf_opt_result_num_edges": (c_int, [T]),
    "mf_opt_result_edge": (P(OptEdge), [T, c_int]),
    "mf_opt_result_explain": (c_char_p, [T]),
    "mf_opt_result_free": (None, [T]),
    "mf_device_count": (c_int, []),
    "mf_set_device": (c_int, [c_int]),
    "mf_get_device": (c_int, []),
    "mf_device_sync": (c_int, [c_int]),
    "mf_memory_allocated": (c_size_t, [c_int]),
    "mf_max_memory_allocated": (c_size_t, [c_int]),
    "mf_memory_reserved": (c_size_t, [c_int]),
    "mf_memory_empty_cache": (c_int, [c_int]),
    "mf_queue_create": (c_int, [c_int, PT]),
    "mf_queue_destroy": (c_int, [T]),
    "mf_queue_sync": (c_int, [T]),
    "mf_queue_push_current": (c_int, [T]),
    "mf_queue_pop_current": (c_int, []),
    "mf_queue_enqueue_host": (c_int, [T, c_void_p, c_void_p]),
    "mf_conv2d": (c_int, [T, T, T, Conv2dParams, PT]),
    "mf_linear": (c_int, [T, T, T, PT]),
    "mf_matmul": (c_int, [T, T, PT]),
    "mf_add": (c_int, [T, T, c_double, PT]),
    "mf_sub": (c_int, [T, T, c_double, PT]),
    "mf_mul": (c_int, [T, T, PT]),
    "mf_div": (c_int, [T, T, PT]),
    "mf_clamp": (c_int, [T, c_double, c_double, PT]),
    "mf_hardtanh": (c_int, [T, c_double, c_double, PT]),
    "mf_add_scalar": (c_int, [T, c_double, PT]),
    "mf_mul_scalar": (c_int, [T, c_double, PT]),
    "mf_dropout": (c_int, [T, c_double, PT]),
    "mf_upsample_nearest2d": (c_int, [T, c_int64, c_int64, PT]),
    "mf_leaky_relu": (c_int, [T, c_double, PT]),
    "mf_cast": (c_int, [T, c_int, PT]),
    "mf_max_pool2d": (c_int, [T, Pool2dParams, PT]),
    "mf_avg_pool2d": (c_int, [T, Pool2dParams, PT]),
    "mf_adaptive_avg_pool2d": (c_int, [T, c_int64, c_int64, PT]),
    "mf_batch_norm": (c_int, [T, T, T, T, T, c_double, PT]),
    "mf_flatten": (c_int, [T, c_int, c_int, PT]),
    "mf_reshape": (c_int, [T, c_int, P(c_int64), PT]),
    "mf_permute": (c_int, [T, P(c_int), PT]),
    "mf_transpose": (c_int, [T, c_int, c_int, PT]),
    "mf_concat": (c_int, [c_int, PT, c_int, PT]),
    "mf_softmax": (c_int, [T, c_int, PT]),
    "mf_log_softmax": (c_int, [T, c_int, PT]),
    "mf_sum": (c_int, [T, c_int, P(c_int), c_int, PT]),
    "mf_mean": (c_int, [T, c_int, P(c_int), c_int, PT]),
}
UNARY_OPS = ("relu", "relu6", "sigmoid", "tanh", "hardswish", "hardsigmoid", "exp", "log", "neg", "abs",
             "sqrt")
for _op in UNARY_OPS:
    _PROTOTYPES["mf_" + _op] = (c_int, [T, PT])



_INT_RANGE = {c_int: (-2**31, 2**31 - 1), c_int64: (-2**63, 2**63 - 1), c_size_t: (0, 2**64 - 1)}


def int_arg(v, ctype, what):
    """v as an int that ctype holds: ctypes would wrap 2**32 + 4 to 4 in an argument, an
    array or a struct field without a word."""
    import operator
    try:
        i = operator.index(v)
    except TypeError:
        raise errors.InvalidError(f"{what} must be an int, not {v!r}", 1) from None
    lo, hi = _INT_RANGE[ctype]
    if not lo <= i <= hi:
        raise errors.InvalidError(f"{what} {i} is out of range ({lo} to {hi})", 1)
    return i


def int_array(values, ctype, what):
    """A ctypes array of ctype holding values, each range-checked (int_arg); at least one slot."""
    vals = [int_arg(v, ctype, what) for v in values]
    return (ctype * max(len(vals), 1))(*vals)


def _checked(f, name, args):
    """f with its int arguments range-checked first (int_arg)."""
    slots = [(i, a) for i, a in enumerate(args) if a in _INT_RANGE]

    def call(*a):
        for i, ctype in slots:  # ints and what ctypes takes for one (numpy ints: __index__)
            if i < len(a) and hasattr(type(a[i]), "__index__") and not isinstance(a[i], ctypes._SimpleCData):
                int_arg(a[i], ctype, f"{name[3:]}: argument {i}")
        return f(*a)
    call.__name__ = name
    return call


def declare(prototypes):
    """Sets restype and argtypes of each function named (name: (restype, argtypes)); a
    function taking ints is replaced by one that checks their range first."""
    for name, (res, args) in prototypes.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
        if any(a in _INT_RANGE for a in args):
            setattr(lib, name, _checked(f, name, args))


declare(_PROTOTYPES)


class Handle:
    """An owned C handle, released exactly once: by close() or when collected.  Using it
    after close() raises mlufuse.InvalidError."""
    __slots__ = ("_h", "__weakref__")
    kind = "object"

    def __init__(self, handle):
        self._h = handle

    def _release(self, h):
        raise NotImplementedError

    @property
    def handle(self):
        if not self._h:
            raise errors.InvalidError(f"the {self.kind} was closed", 1)
        return self._h

    def close(self):
        h, self._h = self._h, None
        if h:
            self._release(h)

    def __del__(self):
        if getattr(self, "_h", None):
            self.close()


if lib.mf_module_options_size() != ctypes.sizeof(ModuleOptions):
    raise ImportError(f"mlufuse: this package's ModuleOptions ({ctypes.sizeof(ModuleOptions)} bytes) does not "
                      f"match the library's mf_module_options ({lib.mf_module_options_size()} bytes)")


def last_error():
    return lib.mf_last_error().decode("utf-8", "replace")


def check(status, what=None):
    """Raises the mlufuse.Error subclass of a failed status, with the library's message."""
    if status != 0:
        msg = last_error()
        raise errors.from_status(status, f"{what}: {msg}" if what else msg)


def take_string(ptr):
    """A malloc'ed C string as str, freed."""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        libc.free(ptr)
