"""The committed generated code is what the protos generate, and the check names the files
that a change of a proto leaves stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flx_grpc import compile as compiler


def test_the_check_passes_on_the_committed_code_and_names_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert compiler.check() == 0
    protos = tmp_path / "protos"
    shutil.copytree(compiler.PROTOS_DIR, protos)
    proto = protos / "flx" / "v1" / "schedule_service.proto"
    text = proto.read_text()
    proto.write_text(
        text.replace(
            "message ListSchedulesRequest {", "message ListSchedulesRequest {\n  bool extra = 9;", 1
        )
    )
    capsys.readouterr()
    assert compiler.check(protos) == 1
    stale = capsys.readouterr().out
    assert "flx/v1/schedule_service_pb2.py" in stale and "flx/v1/schedule_service_pb2.pyi" in stale
    assert "pipeline_service" not in stale
