"""`llm-wrappers top` in-process with the metrics page served by a stand-in fetch (no
sockets): one frame with --once, Ctrl-C ends the live view quietly, and bad options or a
missing extra are one line of error."""

from __future__ import annotations

import sys

import pytest

from infrastructure.llm.observability import top
from infrastructure.llm.observability.top import metrics_source

from conftest import RunCli

pytest.importorskip("prometheus_client", reason="the metrics extra is missing")

PAGE = """\
# TYPE llm_wrappers_calls_total counter
llm_wrappers_calls_total{outcome="ok",wrapper="g_wrapper"} 5.0
llm_wrappers_calls_total{outcome="error",wrapper="g_wrapper"} 1.0
# TYPE llm_wrappers_attempts_total counter
llm_wrappers_attempts_total{instance="dead#0",outcome="retryable",wrapper="g_wrapper"} 2.0
# TYPE llm_wrappers_breaker_state gauge
llm_wrappers_breaker_state{instance="dead#0",target="g.echelon1"} 2.0
"""
URL = "http://127.0.0.1:9464/metrics"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs fetched; each fetch answers PAGE."""
    fetched: list[str] = []

    def fetch(url: str, timeout: float) -> str:
        fetched.append(url)
        return PAGE

    monkeypatch.setattr(metrics_source, "http_get", fetch)
    return fetched


def test_once_prints_one_frame(served: list[str], cli: RunCli) -> None:
    outcome = cli("top", "--once", "--interval", "0", "--metrics-url", URL)
    assert outcome.code == 0, outcome.err
    assert served == [URL]
    lines = {line.split()[0]: line.split() for line in outcome.out.splitlines() if line.strip()}
    assert lines["g_wrapper"][:3] == ["g_wrapper", "0", "6"]
    assert lines["dead#0"][:2] == ["dead#0", "open"]


def test_ctrl_c_ends_the_live_view_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, cli: RunCli
) -> None:
    answers: list[str | BaseException] = [PAGE, PAGE, KeyboardInterrupt()]

    def fetch(url: str, timeout: float) -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(metrics_source, "http_get", fetch)
    outcome = cli("top", "--interval", "0.01", "--metrics-url", URL)
    assert (outcome.code, outcome.err) == (0, "")
    assert answers == [] and "g_wrapper" in outcome.out


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--key-prefix", "p:"], "error: --key-prefix goes with --redis\n"),
        (["--interval", "0", "--metrics-url", URL], "error: --interval must be > 0"),
    ],
)
def test_options_that_do_not_fit_are_one_line_of_error(
    argv: list[str], error: str, served: list[str], cli: RunCli
) -> None:
    outcome = cli("top", *argv)
    assert outcome.code == 1 and outcome.err.startswith(error) and outcome.err.count("\n") == 1
    assert served == []


@pytest.mark.parametrize("interval", ["-1", "soon", "nan"])
def test_an_interval_that_is_no_duration_is_a_usage_error(
    interval: str, cli: RunCli, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli("top", "--once", "--interval", interval, "--metrics-url", URL)
    assert exit_.value.code == 2
    assert "argument --interval: expected a" in capsys.readouterr().err


def test_without_rich_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, served: list[str], cli: RunCli
) -> None:
    for name in [n for n in sys.modules if n.partition(".")[0] == "rich"] + ["rich"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it fails as if not installed
    monkeypatch.delitem(sys.modules, f"{top.__name__}.render", raising=False)
    monkeypatch.delattr(top, "render", raising=False)
    outcome = cli("top", "--once", "--interval", "0", "--metrics-url", URL)
    assert outcome.code == 1
    assert outcome.err == (
        "error: llm-wrappers top needs rich: pip install 'langchain-llm-wrappers[top]'\n"
    )
