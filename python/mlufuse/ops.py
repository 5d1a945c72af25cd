"""The layer-by-layer ops (mlufuse.h): each runs at once on the device of its inputs and, inside
mlufuse.trace, is recorded as a graph node.  Inputs are Tensors (NumPy arrays are copied to
the device of the first Tensor input, or the cpu); results are new Tensors."""
import ctypes

from . import _lib
from ._lib import check, lib
from .tensor import Tensor, as_tensor


def _pair(v, name):
    if isinstance(v, int) and not isinstance(v, bool):
        v = _lib.int_arg(v, ctypes.c_int64, name)
        return (v, v)
    t = tuple(v)
    if len(t) != 2 or not all(isinstance(i, int) for i in t):
        from .errors import InvalidError
        raise InvalidError(f"{name} must be an int or two ints, not {v!r}", 1)
    return tuple(_lib.int_arg(i, ctypes.c_int64, name) for i in t)


def _inputs(*xs):
    """Tensors of xs (None stays None), on the device of the first Tensor among them."""
    dev = next((x.device for x in xs if isinstance(x, Tensor)), None)
    return [None if x is None else as_tensor(x, dev) for x in xs]


def _h(t):
    return None if t is None else t.handle


def _call(name, *args):
    out = ctypes.c_void_p()
    check(getattr(lib, "mf_" + name)(*args, ctypes.byref(out)), name)
    return Tensor(out.value)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    x, weight, bias = _inputs(x, weight, bias)
    p = _lib.Conv2dParams(_pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation"),
                          _lib.int_arg(groups, ctypes.c_int64, "groups"))
    return _call("conv2d", x.handle, weight.handle, _h(bias), p)


def linear(x, weight, bias=None):
    x, weight, bias = _inputs(x, weight, bias)
    return _call("linear", x.handle, weight.handle, _h(bias))


def matmul(a, b):
    a, b = _inputs(a, b)
    return _call("matmul", a.handle, b.handle)


def add(a, b, alpha=1.0):
    a, b = _inputs(a, b)
    return _call("add", a.handle, b.handle, float(alpha))


def sub(a, b, alpha=1.0):
    a, b = _inputs(a, b)
    return _call("sub", a.handle, b.handle, float(alpha))


def mul(a, b):
    a, b = _inputs(a, b)
    return _call("mul", a.handle, b.handle)


def div(a, b):
    a, b = _inputs(a, b)
    return _call("div", a.handle, b.handle)


def _unary(name):
    def op(x):
        (x,) = _inputs(x)
        return _call(name, x.handle)
    op.__name__ = name
    op.__doc__ = f"mf_{name}(x)"
    return op


for _name in _lib.UNARY_OPS:
    globals()[_name] = _unary(_name)


def clamp(x, min=float("-inf"), max=float("inf")):  # noqa: A002 - torch's names
    (x,) = _inputs(x)
    return _call("clamp", x.handle, float(min), float(max))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    (x,) = _inputs(x)
    return _call("hardtanh", x.handle, float(min_val), float(max_val))


def add_scalar(x, s):
    (x,) = _inputs(x)
    return _call("add_scalar", x.handle, float(s))


def mul_scalar(x, s):
    (x,) = _inputs(x)
    return _call("mul_scalar", x.handle, float(s))


def dropout(x, p=0.5):
    """Inference: the identity."""
    (x,) = _inputs(x)
    return _call("dropout", x.handle, float(p))


def upsample_nearest2d(x, scale_factor):
    (x,) = _inputs(x)
    sh, sw = _pair(scale_factor, "scale_factor")
    return _call("upsample_nearest2d", x.handle, sh, sw)


def leaky_relu(x, negative_slope=0.01):
    (x,) = _inputs(x)
    return _call("leaky_relu", x.handle, float(negative_slope))


def cast(x, dtype):
    from .tensor import dtype_code
    (x,) = _inputs(x)
    return _call("cast", x.handle, dtype_code(dtype))


def _pool(name, x, kernel_size, stride, padding, dilation=1, ceil_mode=False, count_include_pad=True):
    (x,) = _inputs(x)
    k = _pair(kernel_size, "kernel_size")
    p = _lib.Pool2dParams(k, _pair(stride if stride is not None else k, "stride"), _pair(padding, "padding"),
                          _pair(dilation, "dilation"), int(bool(ceil_mode)), int(bool(count_include_pad)))
    return _call(name, x.handle, p)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return _pool("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _pool("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode, count_include_pad)


def adaptive_avg_pool2d(x, output_size):
    (x,) = _inputs(x)
    h, w = _pair(output_size, "output_size")
    return _call("adaptive_avg_pool2d", x.handle, h, w)


def batch_norm(x, weight, bias, mean, var, eps=1e-5):
    x, weight, bias, mean, var = _inputs(x, weight, bias, mean, var)
    return _call("batch_norm", x.handle, _h(weight), _h(bias), mean.handle, var.handle, float(eps))


def flatten(x, start_dim=1, end_dim=-1):
    (x,) = _inputs(x)
    return _call("flatten", x.handle, int(start_dim), int(end_dim))


def reshape(x, shape):
    (x,) = _inputs(x)
    shape = tuple(int(d) for d in shape)
    return _call("reshape", x.handle, len(shape), _lib.int_array(shape, ctypes.c_int64, "reshape: shape"))


def permute(x, perm):
    (x,) = _inputs(x)
    perm = tuple(int(d) for d in perm)
    if len(perm) != len(x.shape):
        from .errors import InvalidError
        raise InvalidError(f"permute: {len(perm)} dims for a rank-{len(x.shape)} tensor", 1)
    return _call("permute", x.handle, _lib.int_array(perm, ctypes.c_int, "permute: perm"))


def transpose(x, dim0, dim1):
    (x,) = _inputs(x)
    return _call("transpose", x.handle, int(dim0), int(dim1))


def concat(xs, dim=0):
    xs = _inputs(*xs)
    hs = (ctypes.c_void_p * max(len(xs), 1))(*[t.handle for t in xs])
    return _call("concat", len(xs), hs, int(dim))


def softmax(x, dim=-1):
    (x,) = _inputs(x)
    return _call("softmax", x.handle, int(dim))


def log_softmax(x, dim=-1):
    (x,) = _inputs(x)
    return _call("log_softmax", x.handle, int(dim))


def _reduce(name, x, dim, keepdim):
    (x,) = _inputs(x)
    dims = () if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    return _call(name, x.handle, len(dims), _lib.int_array(dims, ctypes.c_int, f"{name}: dim"), int(bool(keepdim)))


def sum(x, dim=None, keepdim=False):  # noqa: A001 - torch's name
    return _reduce("sum", x, dim, keepdim)


def mean(x, dim=None, keepdim=False):
    return _reduce("mean", x, dim, keepdim)
