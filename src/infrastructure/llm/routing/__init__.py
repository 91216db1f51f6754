"""The routing engine: plans of targets, the attempts on them, hedging and the deadline."""
