"""The unit tier's guard: connections and child processes are refused, the latter as the
OSError a missing program raises, so a library probing for a tool does without it."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from .conftest import UnitTierIOError, UnitTierProcessError


def test_a_connection_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(UnitTierIOError):
        sock.connect(("127.0.0.1", 9))


def test_a_child_process_is_refused_as_an_os_error() -> None:
    with pytest.raises(UnitTierProcessError) as refused:
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    assert isinstance(refused.value, OSError)
