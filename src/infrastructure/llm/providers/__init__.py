"""The chat models that talk to one instance: OpenAI-compatible, Anthropic, the offline mock."""
