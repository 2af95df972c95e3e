"""With a certificate and key configured, the gRPC port speaks TLS: a client that trusts
the certificate logs in and calls; a plain-text client gets nowhere."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flx_grpc.client import FlxGrpcClient

from .conftest import EMAILS, PASSWORD, Role, Running, start


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, bytes]]:
    home = tmp_path_factory.mktemp("grpc-tls")
    cert, key = self_signed(home)
    for running in start(home, tls=True, grpc_tls_cert=cert, grpc_tls_key=key):
        yield running, cert.read_bytes()


def test_the_grpc_port_speaks_tls_when_a_certificate_is_set(
    tls_server: tuple[Running, bytes],
) -> None:
    server, certificate = tls_server
    assert server.server.endpoint is not None and server.server.endpoint.tls
    port = server.server.endpoint.port
    with FlxGrpcClient(f"localhost:{port}", secure=True, root_certificates=certificate) as flx:
        flx.login(EMAILS[Role.VIEWER], PASSWORD)
        assert flx.current_user().email == EMAILS[Role.VIEWER]
    with FlxGrpcClient(f"127.0.0.1:{port}") as plain, pytest.raises(grpc.RpcError) as caught:
        plain.login(EMAILS[Role.VIEWER], PASSWORD)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
