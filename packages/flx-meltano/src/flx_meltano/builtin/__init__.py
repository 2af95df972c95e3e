"""FLX's built-in Singer connectors, shipped as console scripts of this package.

``tap-flx-sample`` (deterministic synthetic data, incremental), ``target-flx-jsonl`` and
``target-flx-sqlite``. They import nothing of FLX outside this subpackage so they start fast,
and each also runs as ``python -m flx_meltano.builtin.<module>``.
"""
