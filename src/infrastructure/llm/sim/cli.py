"""Command line: run one or several simulated instances in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import replace

from infrastructure.llm.sim.faults import FAULT_SYNTAX, FaultMode
from infrastructure.llm.sim.server import DEFAULT_MODEL, SimServer


def main(argv: list[str] | None = None) -> int:
    """Start the instances, print `<mode> <base_url>` for each, serve until Ctrl-C/SIGTERM."""
    args = _parser().parse_args(argv)
    faults = args.instances or [args.mode]
    if args.seed is not None:
        faults = [replace(fault, seed=args.seed) for fault in faults]
    servers: list[SimServer] = []
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        for index, fault in enumerate(faults):
            port = args.port + index if args.port else 0
            server = SimServer(fault, host=args.host, port=port, model_name=args.model)
            servers.append(server.start())
            print(f"{fault.mode}\t{server.base_url}", flush=True)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    """The argument parser; fault syntax errors are reported with FaultMode's message."""
    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.llm.sim",
        description="OpenAI-compatible simulator with fault modes, on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, help="port; instances take consecutive ports (0: random)"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model name listed by /v1/models")
    parser.add_argument("--seed", type=int, help="seed for random faults (error rate, slow)")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument(
        "--mode",
        type=_fault,
        default=FaultMode(),
        help=f"fault: {FAULT_SYNTAX}",
    )
    modes.add_argument(
        "--instances",
        type=_faults,
        help='comma-separated faults, one instance each, e.g. "healthy,error_rate:0.3,hang" '
        "(a status message cannot contain a comma here)",
    )
    return parser


def _fault(text: str) -> FaultMode:
    """Parse one fault for argparse."""
    try:
        return FaultMode.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _faults(text: str) -> list[FaultMode]:
    """Parse a comma-separated list of faults for argparse."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("--instances needs at least one fault")
    return [_fault(part) for part in parts]
