"""Google Cloud Storage (`gs://bucket/path`): credentials and endpoint as pyarrow's GcsFileSystem takes them.

Credentials are Google's application default credentials, which pyarrow's library finds itself:
GOOGLE_APPLICATION_CREDENTIALS (a service-account or user JSON file) in the server's process
environment, or the file `gcloud auth application-default login` writes. `anonymous = true` in a
`[storage.NAME]` entry reads public buckets. An emulator is named as Google's own clients name it,
STORAGE_EMULATOR_HOST (or an entry's `endpoint`), and spoken to without credentials. With none of
these the call is refused before any request: the library would otherwise ask the metadata server
of a Google Cloud machine, which elsewhere only fails slowly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from data_platform.errors import NotConfiguredError

HOW_TO = (
    "Set GOOGLE_APPLICATION_CREDENTIALS (a service-account JSON file) in the server's environment or run "
    "`gcloud auth application-default login`; anonymous = true in a [storage.NAME] entry for public buckets; "
    "STORAGE_EMULATOR_HOST for an emulator (docs/lakes.md)."
)


def adc_file(env: Mapping[str, str]) -> Path:
    """Where gcloud keeps the application default credentials."""
    config = env.get("CLOUDSDK_CONFIG") or str(Path(env.get("HOME") or Path.home()) / ".config" / "gcloud")
    return Path(config) / "application_default_credentials.json"


def options(env: Mapping[str, str], entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """GcsFileSystem's arguments for one URL. `entry`: the storage entry's resolved values, if any."""
    endpoint = entry.get("endpoint") or env.get("STORAGE_EMULATOR_HOST")
    kw: dict[str, Any] = {}
    if endpoint:
        split = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        kw.update(endpoint_override=split.netloc, scheme=split.scheme)
    if entry.get("anonymous") is True or (endpoint and not entry.get("endpoint")):
        kw["anonymous"] = True  # a public bucket, or an emulator (which takes no credentials)
        return kw
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or adc_file(env).is_file():
        return kw  # the library's default credentials find them
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        raise NotConfiguredError(
            f"GOOGLE_APPLICATION_CREDENTIALS for {where} is set in the project's .env only: Google's "
            "library reads it from the server's process environment.",
            hint="Set it where the server starts (the MCP client's env), or run "
            "`gcloud auth application-default login`.",
        )
    raise NotConfiguredError(f"No credentials for Google Cloud Storage ({where}).", hint=HOW_TO)
