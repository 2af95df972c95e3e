"""One module per command group; registered lazily in flx_cli.app."""
