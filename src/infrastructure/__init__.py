"""Infrastructure for LangChain/LangGraph applications: resilient LLM routing and graph nodes."""
