"""The response cache: exact and semantic lookups of answers already given, in this process
or in Redis, consulted by the wrappers before they route a call."""
