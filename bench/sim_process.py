"""Run the simulator in a child process so benchmark clients and server don't share a GIL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def simulator_process(*faults: str, options: Sequence[str] = ()) -> Iterator[list[str]]:
    """Start one simulator instance per fault in a child process; yield their base URLs.

    `options` are further command-line flags, e.g. the vLLM model's (`--max-num-seqs 4`)."""
    command = [
        sys.executable,
        "-m",
        "infrastructure.llm.sim",
        "--instances",
        ",".join(faults),
        *options,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        urls = [process.stdout.readline().split("\t")[1].strip() for _ in faults]
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=10)
