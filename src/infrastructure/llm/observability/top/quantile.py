"""A quantile estimated from cumulative histogram buckets, the way Prometheus's
`histogram_quantile` does: linear within the bucket the rank falls in."""

from __future__ import annotations

import math
from collections.abc import Sequence


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The `q` quantile (0..1) of cumulative `buckets` (upper bound, count at or under it),
    ending with `inf`; None when they hold no observation. A rank in the `+Inf` bucket gives
    the highest finite bound: nothing better is known."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank and count > below:
            break
        lower, below = bound, count
    if math.isinf(bound):
        return lower
    return lower + (bound - lower) * (rank - below) / (count - below)
