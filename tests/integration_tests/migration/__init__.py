"""Tests of the config migration that need the simulator: migrated configs answer real calls."""
