"""Tensors: every dtype round-trips, numpy() of a cpu tensor is a view, devices move data,
bad arrays raise mlufuse errors, handles are freed once."""
import ctypes

import numpy as np
import pytest

import mlufuse
from mlufuse._lib import lib


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int32, np.int64, np.bool_, np.uint8,
                                   np.int16, np.uint16, np.uint32, np.uint64, np.float64])
def test_dtypes_round_trip_through_the_mlu(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    t = mlufuse.tensor(a).to("mlu:0")
    assert t.device == "mlu:0" and t.shape == (2, 3, 4) and t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.cpu().numpy(), a)


def test_numpy_of_a_cpu_tensor_is_a_view():
    t = mlufuse.tensor(np.ones((4, 4), np.float32))
    a = t.numpy()
    assert a.ctypes.data == lib.mf_tensor_data_mut(t.handle)  # no copy
    del t  # the array keeps the tensor's memory alive
    assert a.sum() == 16


def test_scalars_and_empty_tensors():
    assert mlufuse.tensor(np.float32(2.5)).numpy() == 2.5
    e = mlufuse.tensor(np.zeros((0, 3), np.float32)).to("mlu:0")
    assert e.shape == (0, 3) and e.numpy().shape == (0, 3)


def test_bad_arrays_raise():
    with pytest.raises(mlufuse.DtypeError, match="complex64"):
        mlufuse.tensor(np.zeros(3, np.complex64))
    with pytest.raises(mlufuse.DtypeError, match="big-endian"):
        mlufuse.tensor(np.zeros(3, ">f4"))
    with pytest.raises(mlufuse.InvalidError, match="C-contiguous"):
        mlufuse.tensor(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(mlufuse.ShapeError, match="rank 9"):
        mlufuse.tensor(np.zeros((1,) * 9, np.float32))
    with pytest.raises(mlufuse.InvalidError, match="bad device"):
        mlufuse.tensor(np.zeros(3, np.float32), device="gpu")
    with pytest.raises(mlufuse.DeviceError):
        mlufuse.tensor(np.zeros(3, np.float32)).to("mlu:7")
    with pytest.raises(mlufuse.DeviceError, match="mlu:5 does not exist"):
        mlufuse.mlu_device(5)


def test_errors_carry_status_and_message():
    with pytest.raises(mlufuse.Error) as e:
        mlufuse.ops.add(np.zeros((2, 3), np.float32), np.zeros((4,), np.float32))
    assert e.value.status == 2 and "add" in e.value.message  # MF_ERR_SHAPE


def test_close_frees_once_and_later_use_raises():
    before = mlufuse.memory_allocated()
    t = mlufuse.tensor(np.ones(1 << 16, np.float32)).to(mlufuse.mlu_device(0))
    assert mlufuse.memory_allocated() >= before + (1 << 18)
    t.close()
    t.close()  # a second close is a no-op
    assert mlufuse.memory_allocated() == before
    with pytest.raises(mlufuse.InvalidError, match="closed"):
        t.shape
