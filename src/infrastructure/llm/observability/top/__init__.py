"""`llm-wrappers top`'s view of a fleet: frames of rows computed from metrics scrapes or from
the shared Redis state (no I/O here but the optional `rich` rendering)."""
