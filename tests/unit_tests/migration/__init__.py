"""Tests of the config migration: legacy layout in, per-file fallback out, nothing lost."""
