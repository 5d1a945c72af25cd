"""Shared fixtures: the shared models folder (../shared/models beside the project)."""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("MF_SHARED_DIR", os.path.join(ROOT, "..", "shared"))


@pytest.fixture
def models():
    d = os.path.join(SHARED, "models")
    if not os.path.isdir(d):
        pytest.fail(f"the shared models are missing: {d}")
    return d
