"""The kernel cache: mlufuse.cache.ls() lists the on-disk entries, .stats() the process's map."""
import ctypes
import os

from . import _lib
from ._lib import check, lib


def directory():
    d = lib.mf_kernel_cache_dir()
    return d.decode() if d else None


def ls(path=None):
    """The entries of the on-disk cache (default: MLUFUSE_CACHE_DIR's), as dicts."""
    p = os.fsencode(path) if path else lib.mf_kernel_cache_dir()
    if not p:
        return []
    arr = ctypes.POINTER(_lib.CacheEntryInfo)()
    n = ctypes.c_int()
    check(lib.mf_kernel_cache_list(p, ctypes.byref(arr), ctypes.byref(n)), "cache ls")
    try:
        out = []
        for i in range(n.value):
            e = arr[i]
            out.append({"key": e.key.decode(), "ops": e.ops.decode(), "shapes": e.shapes.decode(),
                        "target": e.target.decode(), "compiler": e.compiler.decode(), "bytes": e.bytes,
                        "created": e.created, "last_used": e.last_used, "hits": e.hits,
                        "compile_ms": e.compile_ms, "valid": bool(e.valid), "problem": e.problem.decode()})
        return out
    finally:
        _lib.libc.free(ctypes.cast(arr, ctypes.c_void_p))


def stats():
    """Hits, misses, compiled and loaded kernels of this process's keyed instruction map."""
    s = _lib.KernelCacheStats()
    lib.mf_kernel_cache_get_stats(ctypes.byref(s))
    return {f: getattr(s, f) for f, _ in _lib.KernelCacheStats._fields_}
