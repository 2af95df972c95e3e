"""Generated from protos/ by `python -m flx_grpc.compile`. Do not edit."""
