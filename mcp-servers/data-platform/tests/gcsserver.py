"""A Google Cloud Storage server on loopback for the suite: gcp-storage-emulator (PyPI, a dev
dependency), a real HTTP JSON API.

Nothing in the process is mocked: pyarrow's GCS client speaks HTTP to it as to Google. Emulators
take no credentials, so the server is named as Google's own clients name one, STORAGE_EMULATOR_HOST.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from loopserver import free_port, serving


@dataclass(frozen=True)
class GcsServer:
    endpoint: str  # http://127.0.0.1:PORT

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def filesystem(self):  # type: ignore[no-untyped-def]
        import pyarrow.fs as pafs

        return pafs.GcsFileSystem(
            anonymous=True, endpoint_override=self.endpoint.split("://")[1], scheme="http"
        )

    def create_bucket(self, name: str) -> None:
        """Through the JSON API (pyarrow's client wants a project id from the environment for this)."""
        url = f"{self.endpoint}/storage/v1/b?project=lakes-test"
        request = urllib.request.Request(url, data=json.dumps({"name": name}).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.status


@contextmanager
def gcs_server() -> Iterator[GcsServer]:
    port = free_port()
    args = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
            "--in-memory"]  # fmt: skip
    with serving(args, port, "the GCS emulator") as url:
        yield GcsServer(url)
