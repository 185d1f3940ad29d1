"""Azure Blob Storage (`az://container/path`): the account, its credential and endpoint, from where
users keep them, as pyarrow's AzureFileSystem takes them.

Later wins: the environment (AZURE_STORAGE_CONNECTION_STRING, then AZURE_STORAGE_ACCOUNT_NAME /
AZURE_STORAGE_ACCOUNT_KEY / AZURE_STORAGE_SAS_TOKEN, or the Azure CLI's AZURE_STORAGE_ACCOUNT /
AZURE_STORAGE_KEY), then a `[storage.NAME]` entry (`key` = account name, `secret` = account key,
`token` = SAS token, `endpoint` = the blob endpoint: Azurite's `http://127.0.0.1:10000`).
A service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET) works too. With none
of these the call is refused before any request: pyarrow's default credential chain would ask the
cloud's metadata endpoint, which off Azure only times out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from data_platform.errors import NotConfiguredError

AZURITE_ACCOUNT = "devstoreaccount1"  # the emulator's well-known account (UseDevelopmentStorage=true)
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
HOW_TO = (
    "Set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_TOKEN, or "
    'AZURE_STORAGE_CONNECTION_STRING), or declare [storage.NAME] with url = "az://container/", '
    'key = "<account>", secret = "${VAR}" (and endpoint for Azurite) in .data-platform/connections.toml '
    "(docs/lakes.md)."
)


def connection_string(text: str) -> dict[str, str]:
    """`AccountName=a;AccountKey=k;BlobEndpoint=...` as a dict (keys as Azure spells them)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key.strip()] = value.strip()
    if out.get("UseDevelopmentStorage", "").lower() == "true":
        out = {"AccountName": AZURITE_ACCOUNT, "AccountKey": AZURITE_KEY,
               "BlobEndpoint": f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}", **out}  # fmt: skip
    return out


def options(env: Mapping[str, str], entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """AzureFileSystem's arguments for one URL: account, key or SAS token, endpoint (secrets included:
    never shown). `entry`: the storage entry's resolved values, if one serves the URL."""
    conn = connection_string(env.get("AZURE_STORAGE_CONNECTION_STRING", ""))
    account = (
        entry.get("key")
        or conn.get("AccountName")
        or env.get("AZURE_STORAGE_ACCOUNT_NAME")
        or env.get("AZURE_STORAGE_ACCOUNT")
    )
    if entry.get("key"):  # the entry's account: only its own credentials apply
        key, sas = entry.get("secret"), entry.get("token")
    else:
        key = conn.get("AccountKey") or env.get("AZURE_STORAGE_ACCOUNT_KEY") or env.get("AZURE_STORAGE_KEY")
        sas = conn.get("SharedAccessSignature") or env.get("AZURE_STORAGE_SAS_TOKEN")
    endpoint = entry.get("endpoint") or conn.get("BlobEndpoint")
    if not account:
        raise NotConfiguredError(f"No Azure storage account for {where}.", hint=HOW_TO)
    principal = all(env.get(v) for v in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"))
    if not (key or sas or principal):
        raise NotConfiguredError(
            f"No credentials for Azure storage account {account!r} ({where}).", hint=HOW_TO
        )
    kw: dict[str, Any] = {"account_name": account}
    if key:
        kw["account_key"] = key
    elif sas:
        kw["sas_token"] = sas.lstrip("?")
    else:
        kw.update(
            client_id=env["AZURE_CLIENT_ID"],
            tenant_id=env["AZURE_TENANT_ID"],
            client_secret=env["AZURE_CLIENT_SECRET"],
        )
    if endpoint:
        kw.update(_endpoint(endpoint, account))
    return kw


def _endpoint(url: str, account: str) -> dict[str, str]:
    """`https://acct.blob.core.windows.net` -> authority `.blob.core.windows.net` (pyarrow prefixes
    the account); an emulator's `http://127.0.0.1:10000[/acct]` -> that host (the account goes in
    the path)."""
    split = urlsplit(url if "://" in url else f"https://{url}")
    host = split.netloc
    if host.lower().startswith(f"{account.lower()}.blob."):
        host = host[len(account) :]
    scheme = split.scheme or "https"
    return {
        "blob_storage_authority": host,
        "dfs_storage_authority": host.replace(".blob.", ".dfs.", 1),
        "blob_storage_scheme": scheme,
        "dfs_storage_scheme": scheme,
    }


def secrets(env: Mapping[str, str]) -> set[str]:
    """The Azure secrets in the environment, for redaction."""
    conn = env.get("AZURE_STORAGE_CONNECTION_STRING", "")
    parsed = connection_string(conn)
    names = (
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_SECRET",
    )
    return {conn, parsed.get("AccountKey", ""), parsed.get("SharedAccessSignature", "")} | {
        env.get(n, "") for n in names
    }


def object_store(kw: Mapping[str, Any]) -> dict[str, str]:
    """deltalake's storage options (the Rust object_store's Azure keys) from `options()`' arguments:
    the same account, credential and endpoint. An emulator's endpoint keeps the account in its path
    (`http://127.0.0.1:10000/acct`), as pyarrow speaks to it."""
    names = {
        "account_name": "azure_storage_account_name",
        "account_key": "azure_storage_account_key",
        "sas_token": "azure_storage_sas_key",
        "client_id": "azure_storage_client_id",
        "client_secret": "azure_storage_client_secret",
        "tenant_id": "azure_storage_tenant_id",
    }
    out = {names[k]: str(v) for k, v in kw.items() if k in names and v}
    authority = kw.get("blob_storage_authority")
    if authority:
        scheme, account = kw.get("blob_storage_scheme") or "https", kw["account_name"]
        where = f"{account}{authority}" if authority.startswith(".") else f"{authority}/{account}"
        out["azure_storage_endpoint"] = f"{scheme}://{where}"
        if scheme == "http":
            out["azure_allow_http"] = "true"
    return out
