"""Assertions shared by the tests of the sans-IO core."""

from __future__ import annotations

from engineio_sc.exceptions import ErrorCode, ProtocolError


def assert_bad_request(error: BaseException) -> None:
    """``error`` is the protocol error answered with 400 and
    ``{"code": 3, "message": "Bad request"}``, with a detail for the log line."""
    assert isinstance(error, ProtocolError), repr(error)
    assert error.code is ErrorCode.BAD_REQUEST
    assert error.status == 400
    assert error.message == "Bad request"
    assert error.detail, "no detail for the log line"
