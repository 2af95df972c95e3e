"""FLX's built-in Singer connectors: console scripts, so the embedded demo needs no download.

``tap-flx-sample`` (synthetic, incremental), ``target-flx-jsonl``, ``target-flx-sqlite``.
They import nothing of FLX but this subpackage, so they start fast.
"""
