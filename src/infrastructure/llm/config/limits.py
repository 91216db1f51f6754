"""Limits on one config file, so that a hostile or broken file fails fast with a clear issue.

A real config file is a few KB with at most a few hundred YAML nodes, nested a few levels
deep (the largest example in configs/llms/ is 2.5 KB). The limits are far above that, and low
enough that a file just under all of them still loads, or fails, in about half a second:
PyYAML's pure-Python parser (used because the node count is kept while composing) handles
some 40,000 nodes or 2 MB of text per second.

- `MAX_FILE_BYTES`: a larger file is rejected from its size alone, before it is read.
- `MAX_NODES`: the YAML nodes of a file counted as the tree would be once every alias is
  expanded, so an alias bomb ("billion laughs": a few hundred bytes standing for 10^9 nodes)
  is rejected while it is parsed, before anything walks the expanded tree.
- `MAX_DEPTH`: how deeply mappings and lists may nest; checked while parsing, long before
  Python's recursion limit.
"""

from __future__ import annotations

MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 100


def too_many_nodes_message() -> str:
    """The issue for a file whose expanded tree has more than `MAX_NODES` nodes."""
    return f"file expands to more than {MAX_NODES} nodes (YAML aliases?); the limit is {MAX_NODES}"


def too_deep_message() -> str:
    """The issue for a file nesting mappings and lists more than `MAX_DEPTH` levels deep."""
    return f"file nests more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}"
