"""The FLX daemon: warm starts for `flx run` (client, server and their protocol)."""
