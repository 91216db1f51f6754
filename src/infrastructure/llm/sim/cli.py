"""Command line: run one or several simulated instances in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import fields, replace

from infrastructure.llm.sim.faults import FAULT_SYNTAX, FaultMode
from infrastructure.llm.sim.server import DEFAULT_MODEL, SimServer
from infrastructure.llm.sim.vllm import VllmConfig

_VLLM_FIELDS = tuple(field.name for field in fields(VllmConfig))


def main(
    argv: list[str] | None = None, on_started: Callable[[Sequence[str]], None] | None = None
) -> int:
    """Start the instances, print `<mode> <base_url>` for each, call `on_started` with their
    URLs, serve until Ctrl-C/SIGTERM. A port that cannot be bound is a one-line error (1)."""
    args = _parser().parse_args(argv)
    faults = args.instances or [args.mode]
    if args.seed is not None:
        faults = [replace(fault, seed=args.seed) for fault in faults]
    try:
        models = _vllm_configs(args, len(faults))
    except ValueError as error:
        _parser().error(str(error))
    servers: list[SimServer] = []
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        for index, fault in enumerate(faults):
            port = args.port + index if args.port else 0
            server = SimServer(
                fault, host=args.host, port=port, model_name=args.model, vllm=models[index]
            )
            try:
                servers.append(server.start())
            except OSError as error:
                reason = os.strerror(error.errno) if error.errno else str(error)
                print(
                    f"error: cannot listen on {args.host}:{port}: {reason} "
                    "(pick another --port, or 0 for free ones)",
                    file=sys.stderr,
                )
                return 1
            print(f"{fault.mode}\t{server.base_url}", flush=True)
        if on_started is not None:
            on_started([server.base_url for server in servers])
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
    vllm = parser.add_argument_group(
        "vLLM model",
        "simulate vLLM instances: request slots with a queue, a prefix cache, prefill and "
        "decode times, and GET /metrics with vLLM's metric names. Any of these flags turns "
        "it on for every instance.",
    )
    vllm.add_argument("--vllm", action="store_true", help="simulate vLLM with default settings")
    defaults = VllmConfig()
    vllm.add_argument(
        "--max-num-seqs",
        type=int,
        help=f"requests running at once; more wait (default {defaults.max_num_seqs})",
    )
    vllm.add_argument(
        "--block-size", type=int, help=f"tokens per KV-cache block (default {defaults.block_size})"
    )
    vllm.add_argument(
        "--enable-prefix-caching",
        action=argparse.BooleanOptionalAction,
        help="reuse cached prompt blocks (default on)",
    )
    vllm.add_argument(
        "--num-gpu-blocks-override",
        type=int,
        help=f"KV-cache size in blocks (default {defaults.num_gpu_blocks_override})",
    )
    vllm.add_argument(
        "--prefill-ms-per-token",
        type=float,
        help=f"time per uncached prompt token (default {defaults.prefill_ms_per_token})",
    )
    vllm.add_argument(
        "--decode-ms-per-token",
        type=float,
        help=f"time per output token (default {defaults.decode_ms_per_token})",
    )
    vllm.add_argument(
        "--vllm-instance",
        action="append",
        default=[],
        metavar="N:KEY=VALUE[,KEY=VALUE]",
        help="settings for instance N alone (0-based, in --instances order), e.g. "
        f"'2:decode_ms_per_token=40,max_num_seqs=4'; keys: {', '.join(_VLLM_FIELDS)}",
    )
    return parser


def _vllm_configs(args: argparse.Namespace, count: int) -> list[VllmConfig | None]:
    """Each instance's vLLM config (None for all when no vLLM flag is given).

    The common flags apply to every instance; `--vllm-instance` then overrides one instance.
    """
    common = {name: getattr(args, name) for name in _VLLM_FIELDS if getattr(args, name) is not None}
    if not (args.vllm or common or args.vllm_instance):
        return [None] * count
    base = VllmConfig(**common)
    models: list[VllmConfig | None] = [base] * count
    for text in args.vllm_instance:
        number, sep, options = text.partition(":")
        if not sep or not number.strip().isdigit():
            raise ValueError(f"--vllm-instance {text!r}: expected N:key=value[,key=value]")
        index = int(number)
        if index >= count:
            raise ValueError(
                f"--vllm-instance {text!r}: there are only {count} instances (0..{count - 1})"
            )
        try:
            models[index] = base.with_options(options)
        except ValueError as error:
            raise ValueError(f"--vllm-instance {text!r}: {error}") from None
    return models


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
