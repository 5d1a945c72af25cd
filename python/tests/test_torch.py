"""PyTorch interop, where python3-torch is installed: from_torch exports through
torch.onnx.export in memory and compiles; torchvision's resnet18 matches PyTorch within 1e-3."""
import numpy as np
import pytest

import mlufuse

torch = pytest.importorskip("torch", reason="python3-torch is not installed")
torchvision = pytest.importorskip("torchvision", reason="python3-torchvision is not installed")


def test_from_torch_resnet18_matches_pytorch():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        want = net(x).numpy()
    m = mlufuse.from_torch(net, x)
    got = m(x.numpy())
    assert np.abs(got - want).max() <= 1e-3 * max(1.0, np.abs(want).max())
