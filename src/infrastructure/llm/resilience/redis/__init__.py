"""The shared state in Redis (`RedisState`), for replicas that must share limits, breakers,
cool-downs and instance health. Needs the `redis` extra: `pip install
'langchain-llm-wrappers[redis]'`; this package imports without it."""

from infrastructure.llm.resilience.redis.state import RedisState

__all__ = ["RedisState"]
