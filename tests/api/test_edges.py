"""The API's edges: the key is checked and the body capped before any body is read (finding 7)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.plugins.api import Keys

HUNDRED_MB = 100 * 1024 * 1024


def _raw_post(
    base_url: str, path: str, headers: dict[str, str], first_bytes: bytes
) -> tuple[int, dict[str, str]]:
    """POST declaring a 100 MB body but sending only ``first_bytes``: the status the server answers
    with while the rest of the body has not been sent (it would wait forever if it read the body)."""
    url = urlsplit(base_url)
    assert url.hostname is not None
    assert url.port is not None
    head = [f"POST {path} HTTP/1.1", f"Host: {url.hostname}", "Content-Type: application/json",
            f"Content-Length: {HUNDRED_MB}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]  # fmt: skip
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall("\r\n".join(head).encode() + first_bytes)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection without answering"
            data += chunk
        status_line, *header_lines = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        return int(status_line.split()[1]), fields


def test_anonymous_huge_body_is_refused_before_it_is_read(api_server: str, keys: Keys) -> None:
    status, headers = _raw_post(api_server, "/v1/organisations", {}, b'{"slug": "x", "name": "' + b"a" * 1024)
    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    wrong = {"Authorization": "Bearer htg_abcdefgh_" + "x" * 40}
    status, _ = _raw_post(api_server, "/v1/organisations", wrong, b"{")
    assert status == 401


def test_declared_oversize_body_is_a_413_before_it_is_read(api_server: str, keys: Keys) -> None:
    status, headers = _raw_post(api_server, "/v1/organisations", keys["admin"], b"{")
    assert status == 413
    assert headers["content-type"] == "application/problem+json"


def test_streamed_oversize_body_is_cut_off_with_a_413(api_client: TestClient, keys: Keys) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"slug": "big", "name": "'
        for _ in range(40):
            yield b"a" * 65536  # 2.5 MB in all, past the 1 MiB default, with no Content-Length
        yield b'"}'

    response = api_client.post(
        "/v1/organisations", content=body(), headers={**keys["admin"], "Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "/problems/payload-too-large"
    small = api_client.post("/v1/organisations", content=json.dumps({"slug": "small", "name": "S"}),
                            headers={**keys["admin"], "Content-Type": "application/json"})  # fmt: skip
    assert small.status_code == 201, small.text
