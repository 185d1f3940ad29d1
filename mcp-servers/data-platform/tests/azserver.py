"""An Azure Blob Storage server on loopback for the suite: Azurite's blob service, the emulator
Microsoft publishes (npm, pinned in tests/azurite/, installed by scripts/setup-azurite.sh).

Nothing in the process is mocked: pyarrow's Azure client speaks the Blob REST API to it over HTTP,
with a shared-key signature, as to Azure. The account and its key are the suite's own (not the
emulator's well-known ones), so the secret scan catches a key that leaks.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopserver import free_port, serving

AZURITE = Path(__file__).parent / "azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "lakesacct"
ACCOUNT_KEY = base64.b64encode(
    b"lakes-azure-account-key-5d1e0b7c"
).decode()  # registered with the secret scan


@dataclass(frozen=True)
class AzureServer:
    endpoint: str  # http://127.0.0.1:PORT

    def env(self) -> dict[str, str]:
        """The variables a user sets for an account on an emulator (a connection string)."""
        return {
            "AZURE_STORAGE_CONNECTION_STRING": (
                f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.endpoint}/{ACCOUNT};"
            )
        }

    def filesystem(self):  # type: ignore[no-untyped-def]
        import pyarrow.fs as pafs

        host = self.endpoint.split("://")[1]
        return pafs.AzureFileSystem(
            account_name=ACCOUNT,
            account_key=ACCOUNT_KEY,
            blob_storage_authority=host,
            dfs_storage_authority=host,
            blob_storage_scheme="http",
            dfs_storage_scheme="http",
        )


@contextmanager
def azure_server() -> Iterator[AzureServer]:
    assert AZURITE.exists(), "Azurite is not installed: run scripts/setup-azurite.sh"
    port = free_port()
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{ACCOUNT_KEY}"}
    args = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
            "--skipApiVersionCheck", "--silent"]  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="azurite-") as where,
        serving(args, port, "Azurite", env=env, cwd=where) as url,
    ):
        yield AzureServer(url)
