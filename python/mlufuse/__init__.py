"""mlufuse from Python: tensors and devices, the layer-by-layer ops, tracing, compiled modules
called on NumPy arrays, the kernel cache and the fusion report, over libmlufuse.so (ctypes).

    import numpy as np, mlufuse
    m = mlufuse.compile("model.onnx", core_number=4)
    y = m(np.random.rand(1, 3, 224, 224).astype(np.float32))
"""
from . import cache, ops
from .custom_ops import load_custom_ops
from ._lib import lib as _clib
from .errors import (DeviceError, DtypeError, Error, InternalError, InvalidError, IOError, OutOfMemoryError,
                     ParseError, ShapeError, UnsupportedError)
from .deploy import OfflineModel, genoff, load_offline, quantize
from .graph import Graph, trace
from .module import Module, compile, from_torch, get_core_number, set_core_number
from .optimize import opt
from .runtime import (Queue, current_device, device_count, empty_cache, max_memory_allocated, memory_allocated,
                      memory_reserved, set_device, synchronize)
from .tensor import Tensor, mlu_device, parse_device as device, tensor

__version__ = _clib.mf_version().decode()

__all__ = ["Tensor", "tensor", "device", "mlu_device", "ops", "Graph", "trace", "Module", "compile", "from_torch",
           "set_core_number", "get_core_number", "opt", "cache", "Queue", "device_count", "set_device",
           "current_device", "synchronize", "memory_allocated", "max_memory_allocated", "memory_reserved",
           "empty_cache", "load_custom_ops", "quantize", "genoff", "load_offline", "OfflineModel", "Error", "InvalidError", "ShapeError", "DtypeError", "DeviceError", "OutOfMemoryError",
           "ParseError", "IOError", "UnsupportedError", "InternalError", "__version__"]
