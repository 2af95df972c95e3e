"""The engine's use cases."""
