"""Every test runs on trio and on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest
import trio.testing

# The assertions of the shared helpers (a server's clean exit, a Node.js driver's
# report, a bad request, clean logs) are the tests' own: pytest explains them as it
# does in a test module.
pytest.register_assert_rewrite(
    "tests.asgi_client",
    "tests.clean_logs",
    "tests.cluster.clients",
    "tests.cluster.processes",
    "tests.cluster.scenario",
    "tests.e2e.harness",
    "tests.helpers",
    "tests.node_driver",
    "tests.servers",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "virtual_time: on trio, the test runs on a MockClock (asyncio keeps real time)"
    )


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str | tuple[str, dict[str, object]]:
    """Real time on both backends (for tests that use real sockets); with the
    ``virtual_time`` mark, trio on a MockClock that jumps whenever every task waits."""
    if request.param == "trio" and request.node.get_closest_marker("virtual_time"):
        return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
    return str(request.param)
