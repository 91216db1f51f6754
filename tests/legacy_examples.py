"""The legacy example configs (tests/data/legacy_configs/) and what their layout means, for the
migration tests of both tiers."""

from __future__ import annotations

# The legacy intent, written out by hand from docs/migration.md: for each starting target,
# the targets a call tries, in order.
EXPECTED_ROUTES: dict[str, dict[str, list[str]]] = {
    "global_chain": {
        "chat.echelon1": [
            "chat.echelon1",
            "chat.echelon2",
            "chat.echelon3",
            "backup.echelon1",
            "last_resort.echelon1",
        ],
        "chat.echelon2": [
            "chat.echelon2",
            "chat.echelon3",
            "backup.echelon1",
            "last_resort.echelon1",
        ],
        "chat.echelon3": ["chat.echelon3", "backup.echelon1", "last_resort.echelon1"],
        "summarize.echelon1": [
            "summarize.echelon1",
            "summarize.echelon2",
            "backup.echelon1",
            "last_resort.echelon1",
        ],
        "summarize.echelon2": ["summarize.echelon2", "backup.echelon1", "last_resort.echelon1"],
        "backup.echelon1": ["backup.echelon1", "last_resort.echelon1"],
        "last_resort.echelon1": ["last_resort.echelon1"],
    },
    "group_switch": {
        "primary.echelon1": ["primary.echelon1", "standby.echelon1", "emergency.echelon1"],
        "primary.echelon2": ["primary.echelon2", "standby.echelon1", "emergency.echelon1"],
        "standby.echelon1": ["standby.echelon1", "emergency.echelon1"],
        "standby.echelon2": ["standby.echelon2", "emergency.echelon1"],
        "emergency.echelon1": ["emergency.echelon1"],
        "special.echelon1": ["special.echelon1"],
        "special.echelon2": ["special.echelon2"],
    },
    "defaults_only": {
        "chat.echelon1": ["chat.echelon1", "chat.echelon2"],
        "chat.echelon2": ["chat.echelon2"],
    },
}

# How each pool retries, in the legacy intent.
EXPECTED_POOLS: dict[str, dict[str, tuple[str, int]]] = {
    "global_chain": {"chat_pool": ("simple_retry", 3)},
    "group_switch": {
        "primary_pool": ("instance_rotation", 4),
        "standby_pool": ("instance_rotation", 2),
    },
    "defaults_only": {"chat_pool": ("instance_rotation", 2)},
}
