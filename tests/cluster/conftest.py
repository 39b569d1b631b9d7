"""A cluster for the package's tests: a Redis server, three workers of
examples/cluster/app.py (Hypercorn's trio worker, uvicorn, Hypercorn's asyncio
worker) and nginx with examples/cluster/nginx.conf in front of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .processes import Cluster, running_cluster


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster of the tests that leave it whole; no worker may log a warning
    or an error, nor nginx an error."""
    with running_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster
        assert cluster.worker_problems() == {}
        assert cluster.nginx_errors() == [], cluster.nginx.log.text
