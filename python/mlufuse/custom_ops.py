"""mlufuse.load_custom_ops(decl, lib): operators of your own (docs/custom_ops.md), declared by
schema in the text file decl and implemented by C functions in the shared library lib, for
every model read afterwards (ONNX nodes of a custom domain, custom.NAME in .mfir)."""
import ctypes

from ._lib import check, lib

lib.mf_custom_ops_load.restype = ctypes.c_int
lib.mf_custom_ops_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]


def load_custom_ops(decl, library):
    """Loads the declarations of the file decl and the library that implements them;
    returns how many ops decl declares.  Raises mlufuse.ParseError (with file:line:col) for
    a malformed declaration, mlufuse.IOError for an unreadable file or library, and
    mlufuse.InvalidError for a missing symbol or a conflicting declaration."""
    n = ctypes.c_int()
    check(lib.mf_custom_ops_load(str(decl).encode(), str(library).encode(), ctypes.byref(n)), "load_custom_ops")
    return n.value
