"""The unit tier: no sockets and no subprocesses, so it runs anywhere in seconds.

Every test here runs with network connections and child processes refused; a test that
needs either belongs in `tests/integration_tests`.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

_MOVE = "unit tests use no sockets and no subprocesses; move this test to tests/integration_tests"


class UnitTierIOError(RuntimeError):
    """A unit test tried to open a connection or listen."""


class UnitTierProcessError(PermissionError):
    """A unit test tried to start a process. An OSError, as a missing program would be, so
    libraries that probe for a tool and do without it (matplotlib asks `fc-list` for system
    fonts when it has no font cache yet) carry on without it."""


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise UnitTierIOError(_MOVE)


def _refuse_process(*args: Any, **kwargs: Any) -> NoReturn:
    raise UnitTierProcessError(_MOVE)


@pytest.fixture(autouse=True)
def no_sockets_or_subprocesses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse connect/bind/listen on every socket and the start of any child process.

    Socket pairs (which every asyncio event loop opens for itself) stay allowed.
    """
    for method in ("connect", "connect_ex", "bind", "listen"):
        monkeypatch.setattr(socket.socket, method, _refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse_process)
    yield
