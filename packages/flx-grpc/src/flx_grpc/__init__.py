"""FLX's gRPC API: the ``grpc.aio`` server over the application's bus, and its client.

    async with serve_grpc(runtime, settings, ready) as endpoint: ...
    FlxGrpcClient("127.0.0.1:50051", token=...).list_pipelines()

The client lives in ``flx_grpc.client`` (it needs none of the server's imports).
"""

import os

# A process serving gRPC starts taps and targets as subprocesses; gRPC's fork handlers
# cannot run while its threads are busy and would only log "skipping fork() handlers" on
# each start. Set before grpc is first imported; an explicit setting wins.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from flx_grpc._health import Readiness as Readiness
from flx_grpc._server import (
    SERVICE_NAMES as SERVICE_NAMES,
    GrpcEndpoint as GrpcEndpoint,
    GrpcRefused as GrpcRefused,
    create_server as create_server,
    serve_grpc as serve_grpc,
)
