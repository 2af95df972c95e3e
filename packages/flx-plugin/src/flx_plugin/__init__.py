"""flx_plugin."""
