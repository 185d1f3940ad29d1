"""An S3-compatible server on loopback for the suite: moto's server mode, a real HTTP S3 API.

Nothing in the process is mocked: pyarrow's S3 client, pyiceberg and deltalake talk HTTP to
it exactly as to AWS, MinIO or R2. Any key and secret are accepted; buckets are made by tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from loopserver import free_port, serving

KEY = "lakes-test-key"
SECRET = "lakes-test-secret-9f3a"  # registered with the session's secret scan
PROFILE_SECRET = "lakes-profile-secret-71c2"  # an AWS profile's (test_lake_s3.py): registered too


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT

    def env(self) -> dict[str, str]:
        """The AWS variables a user sets for an S3-compatible endpoint."""
        return {
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
        }

    def filesystem(self):  # type: ignore[no-untyped-def]
        import pyarrow.fs as pafs

        return pafs.S3FileSystem(
            access_key=KEY,
            secret_key=SECRET,
            endpoint_override=self.endpoint.split("://")[1],
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
            allow_bucket_deletion=True,
        )


@contextmanager
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with serving(args, port, "moto server", env=env) as url:
        yield S3Server(url)
