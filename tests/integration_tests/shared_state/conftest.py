"""Fixtures for the shared state in Redis.

* `redis_url`: the machine's Redis (127.0.0.1:6379), or a server of this session's own when
  that one is not there; each test gets its own `key_prefix`, and its keys are deleted after.
* `redis_server`: a `redis-server` of the test's own on a free port, which the test may kill,
  restart on the same port, or pause: for outages.
* `make_state`: RedisStates on `redis_url` under the test's prefix (short leases), closed after.

Tests skip, saying why, only when no Redis can be reached or started at all.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

redis = pytest.importorskip("redis", reason="the redis extra is not installed")

from infrastructure.llm.clock import FakeClock  # noqa: E402
from infrastructure.llm.resilience.redis import RedisState  # noqa: E402

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
LEASE_TIME = 1.0
"""Lease time of the states tests build: a dead process's slots come back within a second."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """True when a Redis server answers PING at `url`."""
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


class RedisServer:
    """A redis-server of a test's own on a loopback port: no persistence, nothing shared."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start (or restart) the server on its port; returns once it answers."""
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5.0
        while not answers(self.url):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None

    def pause(self, seconds: float) -> None:
        """Hold every client's commands for `seconds` (CLIENT PAUSE), as a stalled server."""
        client = redis.Redis.from_url(self.url)
        try:
            client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        finally:
            client.close()


def _start_server() -> RedisServer:
    if shutil.which("redis-server") is None:
        pytest.skip("no Redis at 127.0.0.1:6379 and no redis-server binary to start one")
    return RedisServer().start()


@pytest.fixture(scope="session")
def _session_redis() -> Iterator[str]:
    """The machine's Redis, or one started for this session when it is not there."""
    if answers(MACHINE_REDIS):
        yield MACHINE_REDIS
        return
    server = _start_server()
    try:
        yield server.url
    finally:
        server.kill()


@pytest.fixture
def key_prefix() -> str:
    """A key prefix no other test uses."""
    return f"llm-wrappers-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_url(_session_redis: str, key_prefix: str) -> Iterator[str]:
    """A Redis URL for this test; every key under `key_prefix` is deleted after it."""
    yield _session_redis
    client = redis.Redis.from_url(_session_redis)
    try:
        names = list(client.scan_iter(match=f"{key_prefix}*", count=500))
        if names:
            client.delete(*names)
    finally:
        client.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis server of this test's own, killed after it."""
    server = _start_server()
    try:
        yield server
    finally:
        server.kill()


MakeState = Callable[..., RedisState]


@pytest.fixture
def make_state(redis_url: str, key_prefix: str, fake_clock: FakeClock) -> Iterator[MakeState]:
    """Build RedisStates (defaults: `redis_url`, `key_prefix`, LEASE_TIME, `fake_clock`);
    every one is closed after the test."""
    states: list[RedisState] = []

    def make(**kwargs: Any) -> RedisState:
        kwargs.setdefault("url", redis_url)
        kwargs.setdefault("key_prefix", key_prefix)
        kwargs.setdefault("lease_time", LEASE_TIME)
        kwargs.setdefault("clock", fake_clock)
        state = RedisState(**kwargs)
        states.append(state)
        return state

    yield make
    for state in states:
        state.close()
