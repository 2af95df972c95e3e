"""flx_cli."""
