"""flx_auth."""
