"""Resilience pieces the routing consults: circuit breakers, limits, shared state, error classes."""
