"""A real uvicorn server on 127.0.0.1 (ephemeral port) for the web tests, stopped at the end.

The session's server reads a bill database made here from the bill fixtures (tests/bills/fixtures.py,
imported with ``flopbill bill import``'s own function), so ``/api/bills/`` and ``/bills`` have lines.

flopbill is imported inside functions here and in these test modules, not at collection, so collecting the
web tests stays cheap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn


class LiveServer:
    """A uvicorn server in a background thread; ``url`` is its base address on loopback."""

    def __init__(self, **app_kwargs: object) -> None:
        from flopbill.web import create_app

        config = uvicorn.Config(
            create_app(**app_kwargs),  # type: ignore[arg-type]
            host="127.0.0.1",
            port=0,
            access_log=False,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def bills_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bill database holding the four provider fixtures (CUR, GCP, Azure, FOCUS)."""
    from bills import fixtures
    from flopbill.bills import db, ingest

    folder = tmp_path_factory.mktemp("bills")
    path = folder / "bills.duckdb"
    con = db.connect(path)
    try:
        ingest.import_files(con, fixtures.write_all(folder))
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def live_server(bills_db: Path) -> Iterator[LiveServer]:
    """The session's server. Session fixtures start before the per-test settings of tests/conftest.py,
    so the CLI (imported here for the first time in a run that starts with these tests) gets the same
    terminal width those settings give the CLI tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "200")
        mp.setenv("NO_COLOR", "1")
        import flopbill.cli.app  # noqa: F401
    from flopbill.web.app import Limits

    # Time limits well above the defaults (10 s / 30 s): the suite shares its CPUs, and a heavy request that
    # is slow only because of that load must not read as a 504 in the fuzz tests. The limits themselves are
    # tested with their own app (test_openapi_and_errors.py).
    with LiveServer(bills_db=bills_db, limits=Limits(timeout_s=120.0, heavy_timeout_s=300.0)) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c
