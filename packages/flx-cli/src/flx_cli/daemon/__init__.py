"""The FLX daemon: warm starts for `flx` commands (client, server and their protocol)."""
