"""python-socketio servers on engineio_sc, run in-process by tests/live's ``serve``
fixture under Hypercorn's asyncio worker and uvicorn (python-socketio is
asyncio-only, so no trio here). ``clean_logs`` checks that neither side logged a
warning, an error or a traceback (see tests/clean_logs.py).
"""

from __future__ import annotations

import pytest

from ..clean_logs import clean_logs as clean_logs
from ..live.conftest import SERVERS
from ..live.conftest import serve as serve

ASYNCIO_SERVERS = [kind for kind in SERVERS if kind[1] == "asyncio"]


@pytest.fixture(
    params=ASYNCIO_SERVERS, ids=[f"{name}-{backend}" for name, backend in ASYNCIO_SERVERS]
)
def server_kind(request: pytest.FixtureRequest) -> tuple[str, str]:
    name, backend = request.param
    return name, backend


@pytest.fixture
def anyio_backend() -> str:
    """python-socketio runs on asyncio only."""
    return "asyncio"
