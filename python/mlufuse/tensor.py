"""Tensors: mlufuse.tensor(ndarray), t.to("mlu:0"), t.cpu(), t.numpy().

A Tensor owns one reference to its mf_tensor and drops it exactly once (on close() or when
collected).  t.numpy() of a cpu tensor is a view of the tensor's memory (no copy; the array
keeps the tensor alive); of an mlu tensor it is a copy through the host."""
import ctypes

import numpy as np

from . import _lib
from ._lib import Device, check, lib

def _bfloat16():
    """NumPy has no bfloat16; ml_dtypes adds it.  Without ml_dtypes a bf16 tensor has no array type."""
    try:
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    except ImportError:
        return None


# mf_dtype, in the order of the C enum (checked against mf_dtype_name at import, below)
DTYPES = [np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.int8), np.dtype(np.int32),
          np.dtype(np.int64), np.dtype(np.bool_), np.dtype(np.uint8), np.dtype(np.int16),
          np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64), np.dtype(np.float64),
          _bfloat16()]
_C_NAMES = ["f32", "f16", "i8", "i32", "i64", "bool", "u8", "i16", "u16", "u32", "u64", "f64", "bf16"]
_CODE = {d: i for i, d in enumerate(DTYPES) if d is not None}

CPU, MLU = 0, 1


def dtype_code(dtype):
    """The mf_dtype of a NumPy dtype; mlufuse.DtypeError for one mlufuse has not."""
    d = np.dtype(dtype)
    if d.byteorder == ">":
        raise _dtype_error(f"big-endian {d} arrays are not supported; use .astype('<{d.kind}{d.itemsize}')")
    code = _CODE.get(d.newbyteorder("="))
    if code is None:
        raise _dtype_error(f"dtype {d} is not supported (float16/32/64, int8-int64, uint8-uint64, bool are)")
    return code


def array_dtype(code):
    """The NumPy dtype of mf_dtype code; mlufuse.DtypeError for bf16 without ml_dtypes."""
    d = DTYPES[code]
    if d is None:
        raise _dtype_error(f"{_C_NAMES[code]} has no NumPy dtype here (install ml_dtypes, or cast to float32)")
    return d


def _check_dtypes():
    """The mirror must name the library's dtypes in the library's order, and all of them."""
    names = [lib.mf_dtype_name(i).decode() for i in range(len(_C_NAMES) + 1)]
    if names[:-1] != _C_NAMES or names[-1] != "?":
        raise ImportError(f"mlufuse: this package's dtypes {_C_NAMES} do not match the library's {names}")


_check_dtypes()


def _dtype_error(msg):
    from .errors import DtypeError
    return DtypeError(msg, 3)


def parse_device(spec="cpu"):
    """A Device from "cpu", "mlu", "mlu:1", an int (an mlu index), or a Device."""
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return Device(MLU, _lib.int_arg(spec, ctypes.c_int, "device index"))
    if isinstance(spec, str):
        name, _, idx = spec.partition(":")
        if name == "cpu" and not idx:
            return Device(CPU, 0)
        if name == "mlu":
            try:
                return Device(MLU, _lib.int_arg(int(idx), ctypes.c_int, "device index") if idx else 0)
            except ValueError:
                pass
    from .errors import InvalidError
    raise InvalidError(f"bad device {spec!r}: expected 'cpu', 'mlu' or 'mlu:N'", 1)


def mlu_device(index=0):
    """The seed's ct.mlu_device(): the device "mlu:index"."""
    d = parse_device(index)
    if not 0 <= d.index < lib.mf_device_count():
        from .errors import DeviceError
        raise DeviceError(f"mlu:{index} does not exist ({lib.mf_device_count()} devices; MLUFUSE_NUM_DEVICES)", 4)
    return d


def device_name(d):
    return "cpu" if d.type == CPU else f"mlu:{d.index}"


class Tensor(_lib.Handle):
    """An mlufuse tensor (on the cpu or an mlu); close() drops its reference now."""
    __slots__ = ()
    kind = "tensor"

    def _release(self, h):
        lib.mf_tensor_free(h)

    @property
    def dtype(self):
        return array_dtype(lib.mf_tensor_dtype(self.handle))

    @property
    def shape(self):
        h = self.handle
        r = lib.mf_tensor_rank(h)
        s = lib.mf_tensor_shape(h)
        return tuple(s[i] for i in range(r))

    @property
    def device(self):
        return device_name(lib.mf_tensor_device(self.handle))

    def to(self, dev):
        """A copy on another device (the seed's .to(ct.mlu_device()))."""
        out = ctypes.c_void_p()
        check(lib.mf_tensor_to(self.handle, parse_device(dev), ctypes.byref(out)), "to")
        return Tensor(out.value)

    def cpu(self):
        return self.to("cpu")

    def numpy(self):
        """The data as a NumPy array: a view of a cpu tensor's memory, a copy of an mlu one's."""
        t = self if self.device == "cpu" else self.cpu()
        shape, dt = t.shape, t.dtype
        n = lib.mf_tensor_nbytes(t.handle)
        if n == 0:
            return np.zeros(shape, dt)
        ptr = lib.mf_tensor_data_mut(t.handle)
        buf = (ctypes.c_char * n).from_address(ptr)
        buf._mlufuse_owner = _Reference(t.handle)  # the array's base keeps the memory alive, close() or not
        return np.frombuffer(buf, dtype=dt).reshape(shape)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a.astype(dtype) if dtype is not None else a

    def __repr__(self):
        buf = ctypes.create_string_buffer(256)
        lib.mf_tensor_describe(self.handle, buf, 256) if self._h else None
        return f"mlufuse.Tensor({buf.value.decode() if self._h else 'closed'})"


class _Reference:
    """A reference of its own to a C tensor (mf_tensor_retain), dropped when collected: what
    a NumPy view holds, so Tensor.close() does not free the memory under it."""
    __slots__ = ("_h",)

    def __init__(self, handle):
        self._h = lib.mf_tensor_retain(handle)

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h and lib is not None:  # at interpreter exit the module's globals may be gone
            lib.mf_tensor_free(h)


def tensor(data, device="cpu"):
    """A new tensor holding a copy of data (a NumPy array or anything np.asarray takes; a
    Tensor is returned as it is, or moved), on device."""
    if isinstance(data, Tensor):
        return data if data.device == device_name(parse_device(device)) else data.to(device)
    a = data if isinstance(data, np.ndarray) else np.asarray(data)
    if isinstance(data, np.ndarray) and not a.flags.c_contiguous:
        from .errors import InvalidError
        raise InvalidError("the array is not C-contiguous: pass np.ascontiguousarray(a)", 1)
    if not a.flags.c_contiguous:  # what an array-like gave (a reversed memoryview, a.T): its elements in order
        a = np.ascontiguousarray(a)
    code = dtype_code(a.dtype)
    if a.ndim > _lib.MF_MAX_RANK:
        from .errors import ShapeError
        raise ShapeError(f"rank {a.ndim} is above mlufuse's {_lib.MF_MAX_RANK}", 2)
    shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
    out = ctypes.c_void_p()
    check(lib.mf_tensor_from_data(code, a.ndim, shape, a.ctypes.data_as(ctypes.c_void_p), a.nbytes,
                                  ctypes.byref(out)), "tensor")
    t = Tensor(out.value)
    return t if parse_device(device).type == CPU else t.to(device)


def as_tensor(x, dev=None):
    """x as a Tensor (arrays are copied in), on dev when given."""
    t = x if isinstance(x, Tensor) else tensor(x)
    if dev is not None and t.device != device_name(parse_device(dev)):
        t = t.to(dev)
    return t
