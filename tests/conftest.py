"""Every test runs on trio and on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Real time on both backends (for tests that use real sockets)."""
    return str(request.param)
