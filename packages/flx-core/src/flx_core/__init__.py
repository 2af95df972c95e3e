"""flx_core."""
