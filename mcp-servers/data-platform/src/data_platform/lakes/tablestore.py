"""The credentials the table libraries get for object storage: deltalake's storage options and
pyiceberg's FileIO properties, from the same places as the readers (storage.py), never shown.

Delta tables are served on s3:// and az://. On gs:// they are refused: deltalake's Google client
(the Rust object_store) speaks Cloud Storage's XML API (`GET /bucket?list-type=2`, object PUTs),
which the only Cloud Storage server this project can run on loopback, gcp-storage-emulator, does
not serve (it answers 501 Not Implemented), so the path could not be tested here; read as plain
Parquet the table would include files its log has removed.
"""

from __future__ import annotations

from data_platform.errors import InputError
from data_platform.lakes import azure
from data_platform.lakes.storage import SCHEMES, Storage, scheme_of

DELTA_KINDS = ("s3", "azure")  # storage.SCHEMES kinds deltalake gets credentials for here


def delta_served(text: str, url: str) -> None:
    """Refuse a Delta table where deltalake gets no credentials from this server (gs://)."""
    scheme = scheme_of(text) or ""
    if SCHEMES.get(scheme) not in DELTA_KINDS:
        raise InputError(
            f"{url}: Delta tables are read and written in local folders, s3:// and az:// here, not "
            f"{scheme}://: deltalake's Google client uses Cloud Storage's XML API, which this server "
            "cannot yet check against a test server (read as plain Parquet a table would include "
            "files its log has removed).",
            hint="Keep the table in a local folder, s3:// or az://; plain Parquet files and datasets "
            "on gs:// are read and written.",
        )


def delta_options(uri: str, storage: Storage) -> dict[str, str]:
    """deltalake's storage options for a URL, from the same credentials as the readers."""
    kind = SCHEMES.get(scheme_of(uri) or "")
    if kind == "azure":
        return azure.object_store(storage.azure_options(uri))
    if kind != "s3":
        return {}
    o = storage.s3_options(uri)
    opts = {"AWS_REGION": o["region"] or "us-east-1"}
    if o["key"]:
        opts.update(AWS_ACCESS_KEY_ID=o["key"], AWS_SECRET_ACCESS_KEY=o["secret"])
        if o["token"]:
            opts["AWS_SESSION_TOKEN"] = o["token"]
    if o["anonymous"]:
        opts["AWS_SKIP_SIGNATURE"] = "true"
    if o["endpoint"]:
        opts["AWS_ENDPOINT_URL"] = o["endpoint"]
        if o["endpoint"].startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    return opts
