"""mlufuse.Error and its subclasses, one per mf_status; each carries the status code and the
library's message (mf_last_error())."""


class Error(Exception):
    """A failed mlufuse call: .status is the mf_status, .message the library's message."""
    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidError(Error, ValueError):
    status = 1


class ShapeError(Error, ValueError):
    status = 2


class DtypeError(Error, TypeError):
    status = 3


class DeviceError(Error):
    status = 4


class OutOfMemoryError(Error, MemoryError):
    status = 5


class ParseError(Error):
    status = 6


class IOError(Error, OSError):  # noqa: A001 - the library's MF_ERR_IO
    status = 7


class UnsupportedError(Error):
    status = 8


class InternalError(Error):
    status = 9


_BY_STATUS = {c.status: c for c in (InvalidError, ShapeError, DtypeError, DeviceError, OutOfMemoryError,
                                    ParseError, IOError, UnsupportedError, InternalError)}


def from_status(status, message):
    cls = _BY_STATUS.get(status, Error)
    return cls(message, status)
