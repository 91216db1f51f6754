"""Adapters that let other agent frameworks call the wrappers as their own model backends."""
