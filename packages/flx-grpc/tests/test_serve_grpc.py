"""`flx serve` as a user starts it, over gRPC: the health service answers SERVING,
reflection lists FLX's services, and the Python client logs in, creates a pipeline, runs
it and streams its log to the end. The server is stopped by pid, whatever happens."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from flx_api.testing import free_port
from flx_cli.testing import FLX, ServeProcess, serve_environment
from flx_grpc import SERVICE_NAMES
from flx_grpc.client import FlxGrpcClient

EMAIL, PASSWORD = "admin@example.com", "correct horse battery staple"


def test_flx_serve_answers_grpc(flx_home: Path, tmp_path: Path) -> None:
    port = free_port()
    env = serve_environment(
        flx_home,
        FLX_ADMIN_EMAIL=EMAIL,
        FLX_ADMIN_PASSWORD=PASSWORD,
        FLX_GRPC_PORT=str(port),
    )
    target = f"127.0.0.1:{port}"
    with ServeProcess(env, "--json", cwd=tmp_path) as server:
        assert server.started()["grpc"] == target
        with grpc.insecure_channel(target) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=30, wait_for_ready=True
            )
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            listed = set(ProtoReflectionDescriptorDatabase(channel).get_services())
            assert set(SERVICE_NAMES) <= listed

        with FlxGrpcClient(target) as client:
            client.login(EMAIL, PASSWORD)
            made = client.create_pipeline(
                "served",
                extractor="tap-flx-sample",
                loader="target-flx-jsonl",
                config={"tap-flx-sample": {"rows": 10}},
            )
            assert [p.name for p in client.list_pipelines()] == [made.name]
            execution = client.run_pipeline("served")
            items = list(client.stream_logs(execution.id, timeout=120))
        assert items[-1].end.status == "succeeded", items[-1]
        assert "run succeeded" in "".join(i.chunk.data for i in items if i.HasField("chunk"))
        # The server's log has one line per call, with its request id.
        assert '"method": "/flx.v1.ExecutionService/StreamLogs"' in server.output
        assert server.stop() == 0


def test_a_grpc_port_in_use_is_one_line_and_exit_1(flx_home: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [FLX, "serve", "--port", "0"],
            env=serve_environment(flx_home, FLX_GRPC_PORT=str(port)),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: the gRPC port {port} on 127.0.0.1 is in use (another `flx serve`?): stop that "
        "process, choose another port with FLX_GRPC_PORT, or serve without gRPC (--api-only)"
    ]
