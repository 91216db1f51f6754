"""`llm-wrappers top --once` over a real metrics endpoint: a factory's wrappers call a healthy
and a dead simulator instance, and the frame shows the dead one's breaker open, the calls and
errors counted, a stream held open in flight on the healthy one and its p95, in-process and as
a process of its own."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.observability.top.render import MISSING

from conftest import RunCli, StartSim, openai_model, write_config

pytest.importorskip("prometheus_client", reason="the metrics extra is missing")
pytest.importorskip("rich", reason="the top extra is missing")

INSTANCE_COLUMNS = ("INSTANCE", "BREAKER", "FAILURES", "COOL-DOWN", "HEALTH")


@pytest.fixture
def metrics_url(tmp_path: Path, start_sim: StartSim, dead_url: str) -> Iterator[str]:
    """A served metrics page of wrappers that called a dead instance (its breaker opened)
    and a healthy one, with a stream held open on the healthy one."""
    models = {"dead": openai_model(dead_url), "good": openai_model(start_sim().base_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["dead"], "max_retries": 0},
            "echelon2": {"models": ["good"]},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 1}},
        }
    }
    directory = write_config(tmp_path / "llms", models, groups)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        server = factory.serve_metrics(0)
        try:
            llm = factory.get_wrapper("g_wrapper")
            for prompt in ("one", "two", "three"):  # dead#0 fails once, then its breaker is open
                llm.invoke(prompt)
            stream = llm.stream("held open")
            next(stream)  # good#0 serves it until it is closed
            try:
                yield f"http://127.0.0.1:{server.server_port}/metrics"
            finally:
                stream.close()
        finally:
            server.shutdown()


def words(line: str) -> list[str]:
    """A printed row's cells: a duration's unit stays with its number ("41 ms")."""
    cells: list[str] = []
    for word in line.replace("IN FLIGHT", "IN-FLIGHT").split():
        if word in ("ms", "s") and cells:
            cells[-1] += f" {word}"
        else:
            cells.append(word)
    return cells


def rows(frame: str) -> dict[str, dict[str, str]]:
    """The instances table of a printed frame: instance -> column -> cell."""
    lines = frame.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:5] == list(INSTANCE_COLUMNS))
    headers = words(lines[start])
    table = {}
    for line in lines[start + 1 :]:
        cells = words(line)
        if len(cells) != len(headers) or "#" not in cells[0]:  # the notes below the table
            break
        table[cells[0]] = dict(zip(headers, cells, strict=True))
    return table


def assert_shows_the_dead_instance(frame: str) -> dict[str, dict[str, str]]:
    """Check what both ways of running top show; return the instance rows."""
    instances = rows(frame)
    assert set(instances) == {"dead#0", "good#0"}, frame
    dead, good = instances["dead#0"], instances["good#0"]
    assert dead["BREAKER"] == "open" and good["BREAKER"] == "closed", frame
    assert int(dead["CALLS"]) == 1 and int(dead["ERRORS"]) == 1, frame
    assert dead["ERROR-KIND"] == "retryable", frame  # connection refused
    assert int(good["CALLS"]) == 3 and int(good["ERRORS"]) == 0, frame
    # The held stream: in flight on good#0 (its attempt is counted when the call ends).
    assert (dead["IN-FLIGHT"], good["IN-FLIGHT"]) == ("0", "1"), frame
    assert dead["P95"] == MISSING, frame  # it never answered
    [wrapper] = [line.split() for line in frame.splitlines() if line.startswith("g_wrapper ")]
    assert wrapper[:3] == ["g_wrapper", "1", "3"], frame  # the stream in flight, three calls
    assert "sk-test-secret" not in frame
    return instances


def test_top_once_in_process(metrics_url: str, cli: RunCli) -> None:
    outcome = cli("top", "--once", "--interval", "0", "--metrics-url", metrics_url)
    assert outcome.code == 0, outcome.err
    good = assert_shows_the_dead_instance(outcome.out)["good#0"]
    assert "counts since start" in outcome.out
    number, unit = good["P95"].split()  # over good#0's three answers since start
    assert float(number) > 0 and unit in ("ms", "s"), outcome.out


def test_top_once_as_a_process_of_its_own(metrics_url: str) -> None:
    here = str(Path(sys.executable).parent)
    command = shutil.which("llm-wrappers", path=here) or shutil.which("llm-wrappers")
    assert command, "llm-wrappers is not installed; run: pip install -e '.[dev,sim]'"
    result = subprocess.run(
        [command, "top", "--once", "--interval", "0.2", "--metrics-url", metrics_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    good = assert_shows_the_dead_instance(result.stdout)["good#0"]
    assert "rates over the last" in result.stdout
    assert good["P95"] == MISSING, result.stdout  # nothing answered between the two reads


def test_an_endpoint_nobody_serves_is_one_line_of_error(dead_url: str, cli: RunCli) -> None:
    url = dead_url.replace("/v1", "/metrics").replace("://", "://user:hunter2-password@")
    outcome = cli("top", "--once", "--interval", "0", "--metrics-url", url)
    assert outcome.code == 1
    assert outcome.err.count("\n") == 1 and outcome.err.startswith("error: cannot read metrics")
    assert "hunter2" not in outcome.err and "Traceback" not in outcome.err
