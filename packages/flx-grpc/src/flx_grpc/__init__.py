"""FLX's gRPC API: the ``grpc.aio`` server over the application's bus, and its client.

    async with serve_grpc(runtime, settings, ready) as endpoint: ...
    FlxGrpcClient("127.0.0.1:50051", token=...).list_pipelines()

The client lives in ``flx_grpc.client`` (it needs none of the server's imports).
"""

import os

# A process serving gRPC starts taps and targets as subprocesses. With gRPC's fork support
# on, such a child is sometimes killed (SIGABRT) between fork and exec; it must be off
# before grpc is first imported (processes that may import grpc earlier set it first too:
# flx serve, the test suite). An explicit setting wins.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from flx_grpc._health import Readiness as Readiness
from flx_grpc._server import (
    SERVICE_NAMES as SERVICE_NAMES,
    GrpcEndpoint as GrpcEndpoint,
    GrpcRefused as GrpcRefused,
    create_server as create_server,
    serve_grpc as serve_grpc,
)
