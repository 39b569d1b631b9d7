"""Every test runs on trio and on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest

# The assertions of the shared helpers (a server's clean exit, a Node.js driver's
# report) are the tests' own: pytest explains them as it does in a test module.
pytest.register_assert_rewrite("tests.servers", "tests.node_driver")


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Real time on both backends (for tests that use real sockets)."""
    return str(request.param)
