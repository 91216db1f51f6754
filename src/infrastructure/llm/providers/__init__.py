"""The chat models that talk to one instance (OpenAI-compatible, Anthropic, the offline mock),
and the embeddings models of the registry with their hashed word feature vectors."""
