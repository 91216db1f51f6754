"""Tests of the configuration schemas and loader."""
