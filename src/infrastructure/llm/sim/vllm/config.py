"""The parameters of one simulated vLLM instance, named after vLLM's engine arguments, and the
time model they define."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class VllmConfig:
    """How one simulated vLLM instance schedules and how fast it computes.

    vLLM's own names: `max_num_seqs` (requests running at once; later ones wait, first in
    first out), `block_size` (tokens per KV-cache block), `enable_prefix_caching`, and
    `num_gpu_blocks_override` (the KV cache's size in blocks, which real vLLM derives from
    `gpu_memory_utilization`). Simulator-only: `prefill_ms_per_token` (time to compute one
    prompt token not found in the prefix cache) and `decode_ms_per_token` (time per output
    token). A request's time to first token is its wait for a slot plus its prefill.
    """

    max_num_seqs: int = 256
    block_size: int = 16
    enable_prefix_caching: bool = True
    num_gpu_blocks_override: int = 4096
    prefill_ms_per_token: float = 0.1
    decode_ms_per_token: float = 10.0

    def __post_init__(self) -> None:
        _check_int(self, "max_num_seqs", 1)
        _check_int(self, "block_size", 1)
        _check_int(self, "num_gpu_blocks_override", 1)
        if not isinstance(self.enable_prefix_caching, bool):
            raise ValueError(
                f"enable_prefix_caching must be true or false, got {self.enable_prefix_caching!r}"
            )
        for name in ("prefill_ms_per_token", "decode_ms_per_token"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")

    def prefill_seconds(self, computed_tokens: int) -> float:
        """Time to compute `computed_tokens` prompt tokens (those the prefix cache lacked)."""
        return computed_tokens * self.prefill_ms_per_token / 1000.0

    def decode_seconds(self, output_tokens: int) -> float:
        """Time to generate `output_tokens` tokens after the first."""
        return output_tokens * self.decode_ms_per_token / 1000.0

    def with_options(self, text: str) -> VllmConfig:
        """This config with `key=value` pairs (comma-separated) applied, e.g.
        `max_num_seqs=4,decode_ms_per_token=2`; errors name the pair and the field."""
        changes: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(self)}
        for pair in (p.strip() for p in text.split(",")):
            if not pair:
                continue
            name, sep, value = (part.strip() for part in pair.partition("="))
            if not sep or not value:
                raise ValueError(f"expected key=value, got {pair!r} in {text!r}")
            if name not in fields:
                known = ", ".join(fields)
                raise ValueError(f"unknown vLLM option {name!r} in {text!r}; use one of: {known}")
            changes[name] = _convert(name, fields[name].type, value, text)
        try:
            return dataclasses.replace(self, **changes)
        except ValueError as error:
            raise ValueError(f"{error} (in {text!r})") from None


def _convert(name: str, kind: Any, value: str, text: str) -> Any:
    """Parse one option's value by its field's type name."""
    try:
        if kind == "bool":
            lowered = value.lower()
            if lowered not in _TRUE + _FALSE:
                raise ValueError
            return lowered in _TRUE
        if kind == "int":
            return int(value)
        return float(value)
    except ValueError:
        raise ValueError(f"{name} cannot be {value!r} (in {text!r})") from None


def _check_int(config: VllmConfig, name: str, minimum: int) -> None:
    """Raise ValueError unless field `name` is a whole number >= `minimum`."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
