"""Running pipelines: preparing a run, the execution lifecycle, the local executor."""
