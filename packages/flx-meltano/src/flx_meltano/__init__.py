"""flx_meltano."""
