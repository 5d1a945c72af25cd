"""Devices, memory statistics and queues (mlufuse_runtime.h)."""
import ctypes

from ._lib import check, lib


def device_count():
    return lib.mf_device_count()


def set_device(index):
    check(lib.mf_set_device(int(index)), "set_device")


def current_device():
    return lib.mf_get_device()


def synchronize(device=0):
    check(lib.mf_device_sync(int(device)), "synchronize")


def memory_allocated(device=0):
    """Bytes in live blocks of the device's caching allocator."""
    return lib.mf_memory_allocated(int(device))


def max_memory_allocated(device=0):
    return lib.mf_max_memory_allocated(int(device))


def memory_reserved(device=0):
    return lib.mf_memory_reserved(int(device))


def empty_cache(device=0):
    check(lib.mf_memory_empty_cache(int(device)), "empty_cache")


class Queue:
    """A queue of an mlu; as a context manager it is the thread's current queue, on which
    layer-by-layer ops and module runs are enqueued."""

    def __init__(self, device=0):
        h = ctypes.c_void_p()
        check(lib.mf_queue_create(int(device), ctypes.byref(h)), "queue")
        self._h = h.value
        self._entered = 0

    def synchronize(self):
        check(lib.mf_queue_sync(self._h), "queue sync")

    def __enter__(self):
        check(lib.mf_queue_push_current(self._h), "queue")
        self._entered += 1
        return self

    def __exit__(self, *exc):
        self._entered -= 1
        check(lib.mf_queue_pop_current(), "queue")
        return False

    def close(self):
        if self._entered:
            from .errors import InvalidError
            raise InvalidError("queue: close() inside its own with-block (leave the block first)", 1)
        h, self._h = self._h, None
        if h:
            check(lib.mf_queue_destroy(h), "queue destroy")

    def __del__(self):
        if getattr(self, "_h", None) and not self._entered:
            self.close()
