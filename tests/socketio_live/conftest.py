"""engineio_sc.socketio served in-process by tests/live's ``serve`` fixture on
Hypercorn (trio and asyncio workers) and uvicorn. ``clean_logs`` checks that
neither side logged a warning, an error or a traceback (see tests/clean_logs.py).
"""

from __future__ import annotations

from ..clean_logs import clean_logs as clean_logs
from ..live.conftest import anyio_backend as anyio_backend
from ..live.conftest import serve as serve
from ..live.conftest import server_kind as server_kind
