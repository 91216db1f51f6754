"""What operators watch: Prometheus metrics of a factory's wrappers."""
