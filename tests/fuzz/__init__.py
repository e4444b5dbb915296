"""Schema-driven fuzzing of the running service."""
