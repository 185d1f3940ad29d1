"""Object storage: which filesystem a URL needs, with credentials from where users keep them.

`s3://` (AWS, or any S3-compatible endpoint: MinIO, R2), `gs://` (gcs.py) and `az://` (azure.py) are served by
pyarrow.fs; any other scheme is refused with what works. Credentials, later wins:
1. the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION;
   AWS_ENDPOINT_URL(_S3) as the endpoint, which pyarrow itself ignores), then the AWS_PROFILE
   profile (or `default`) of ~/.aws/credentials and ~/.aws/config, read by aws.py so that one
   named in the project's .env counts too;
2. named entries beside the named connections (docs/lakes.md), chosen by the longest `url` prefix:

    [storage.lake]
    url = "s3://analytics/"            # the URLs this entry serves
    endpoint = "http://127.0.0.1:9000"  # S3-compatible servers; http:// or https://
    region = "eu-west-1"
    key = "${LAKE_KEY}"                 # ${VAR}: from the environment, never written in the file
    secret = "${LAKE_SECRET}"
    read_only = true                    # writers refuse this prefix

Secrets go to redaction (`secrets()`); the URL kept in ref metadata is the user's URL, which
never holds them (a `user:pass@` in it is refused).
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from data_platform.config import Settings
from data_platform.errors import InputError, NotConfiguredError
from data_platform.lakes import aws, azure, gcs
from data_platform.tomlfiles import TomlFiles

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
SCHEMES = {"s3": "s3", "s3a": "s3", "s3n": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure"}
_S3_ALIASES = re.compile(r"^\s*s3[an]://", re.IGNORECASE)  # Hadoop/Spark's names for the same s3:// URL
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEYS = {"url", "endpoint", "region", "key", "secret", "token", "anonymous", "read_only", "description"}
_SECRET_KEYS = ("secret", "token", "credential", "password", "account-key", "account_key", "sas")
CLIENTS = 8  # object-storage clients kept open (one per endpoint and credentials)
# Credentials the AWS SDK's own chain finds without keys (web identity, containers).
_SDK_VARS = (
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
HOW_TO = (
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or declare "
    '[storage.NAME] with url = "s3://bucket/", key = "${VAR}", secret = "${VAR}" (and endpoint for '
    "MinIO/R2) in .data-platform/connections.toml (docs/lakes.md); anonymous = true for public buckets."
)


def scheme_of(text: str) -> str | None:
    """`s3` for `s3://bucket/x`; None for a local path (a Windows drive letter is no scheme)."""
    m = _SCHEME.match(text.strip()) if isinstance(text, str) else None
    return m.group(1).lower() if m else None


def canonical(text: str) -> str:
    """`s3a://b/x` and `s3n://b/x` (Spark's habit) as `s3://b/x`: one URL for entries and answers."""
    return _S3_ALIASES.sub("s3://", text, count=1).strip() if _S3_ALIASES.match(text) else text


def _under(url: str, prefix: str) -> bool:
    """`s3://lake/x` is under `s3://lake`; `s3://lakehouse/x` is not."""
    return url == prefix or url.startswith(prefix + "/")


def check_scheme(text: str) -> None:
    """Refuse a URL whose scheme no filesystem here serves (never read it as a local path)."""
    scheme = scheme_of(text)
    if scheme is not None and scheme not in SCHEMES and scheme != "file":
        raise InputError(
            f"{scheme}:// URLs are not served here ({text.strip()[:120]}).",
            hint="Use s3:// (AWS, MinIO, R2), gs://, az:// or a local path; download other URLs first.",
        )


@dataclass(frozen=True)
class Location:
    """Where a URL points: its filesystem, the path inside it, and the URL as shown."""

    fs: pafs.FileSystem
    path: str
    url: str
    read_only: bool = False
    entry: str | None = None

    def child_url(self, path: str) -> str:
        """The shown URL of a path of this filesystem (`s3://bucket/key`)."""
        scheme = self.url.split("://", 1)[0]
        return f"{scheme}://{path}"


@dataclass
class Entry:
    name: str
    url: str
    values: dict[str, Any] = field(default_factory=dict)


class Storage:
    """The storage entries of one server (files re-read when they change) and the filesystems."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._files = TomlFiles()
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], pafs.FileSystem] = {}  # by kind and options, secrets included
        self.catalogs: dict[Any, Any] = {}  # opened Iceberg catalogs by their properties (catalogs.py)

    def close(self) -> None:
        """Release the opened catalogs' connection pools and storage clients (at the server's shutdown)."""
        for catalog in self.catalogs.values():
            engine = getattr(catalog, "engine", None)  # a SQL catalog's SQLAlchemy engine
            if engine is not None:
                engine.dispose()
        self.catalogs.clear()
        with self._lock:
            self._clients.clear()

    def entries(self) -> list[Entry]:
        out: dict[str, Entry] = {}
        for path, data in self._tomls():
            for name, values in (data.get("storage") or {}).items():
                where = f"storage {name!r} ({path})"
                if not isinstance(values, dict) or not isinstance(values.get("url"), str):
                    raise InputError(
                        f'{where}: no url (url = "s3://bucket/prefix/").', hint="See docs/lakes.md."
                    )
                unknown = sorted(set(values) - _KEYS)
                if unknown:
                    raise InputError(
                        f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}.",
                        hint="See docs/lakes.md.",
                    )
                out[str(name)] = Entry(str(name), values["url"].strip(), dict(values))
        return list(out.values())

    def tables(self, section: str) -> dict[str, dict[str, Any]]:
        """The `[section.NAME]` tables of the connection files (later files win, key by key)."""
        out: dict[str, dict[str, Any]] = {}
        for path, data in self._tomls():
            for name, values in (data.get(section) or {}).items():
                if not isinstance(values, dict):
                    raise InputError(
                        f"{path}: [{section}.{name}] must be a table.", hint="See docs/lakes.md."
                    )
                out[str(name).lower()] = {**out.get(str(name).lower(), {}), **values}
        return out

    def substitute(self, value: Any, where: str) -> Any:
        """`${VAR}` in a string value, from the environment (an unset one is an error)."""
        return self._value(Entry(where, "", {"v": value}), "v")

    def _tomls(self) -> list[tuple[Path, dict[str, Any]]]:
        return [(p, self._files.read(p, "docs/lakes.md")) for p in self.settings.connection_files]

    def _value(self, entry: Entry, key: str) -> Any:
        value = entry.values.get(key)
        if not isinstance(value, str):
            return value
        missing = [v for v in _VAR.findall(value) if v not in self.settings.environ]
        if missing:
            raise NotConfiguredError(
                f"storage {entry.name!r}: ${{{missing[0]}}} is not set in the environment.",
                hint="Set it (or put it in the project's .env) and call again.",
            )
        return _VAR.sub(lambda m: self.settings.environ[m.group(1)], value)

    def entry_for(self, url: str) -> Entry | None:
        url = canonical(url)
        matches = [e for e in self.entries() if e.url and _under(url, canonical(e.url).rstrip("/"))]
        return max(matches, key=lambda e: len(e.url), default=None)

    def secrets(self) -> list[str]:
        """Every key and secret of the entries and the AWS environment (for redaction)."""
        env = self.settings.environ
        out = {env.get(k, "") for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")} | azure.secrets(env)
        try:
            prof = aws.profile(env)
            out.update({prof.secret or "", prof.token or ""})
        except InputError:
            pass
        try:
            for e in self.entries():
                for k in ("key", "secret", "token"):
                    try:
                        v = self._value(e, k)
                    except NotConfiguredError:
                        continue
                    if isinstance(v, str) and k != "key":
                        out.add(v)
        except InputError:
            pass
        out |= self._catalog_secrets()
        return sorted((s for s in out if s and len(s) >= 4), key=len, reverse=True)

    def _catalog_secrets(self) -> set[str]:
        """The Iceberg catalogs' credentials (a REST `credential` = `client_id:secret`, `token`,
        `s3.secret-access-key`, `adls.account-key`...), in their entries and pyiceberg's variables."""
        out: set[str] = set()
        values = [(k, v) for k, v in self.settings.environ.items() if k.startswith("PYICEBERG_CATALOG__")]
        with contextlib.suppress(InputError):
            values += [(k, v) for entry in self.tables("iceberg").values() for k, v in entry.items()]
        for key, value in values:
            if (
                isinstance(value, str)
                and any(p in key.lower() for p in _SECRET_KEYS)
                and "expires" not in key
            ):
                try:
                    value = self.substitute(value, "iceberg")
                except NotConfiguredError:
                    continue
                out |= {value, value.partition(":")[2]}  # a client credential's secret alone too
        return out

    def locate(self, url: str, *, for_write: bool = False) -> Location:
        """The filesystem and path for an object-storage URL (credentials resolved, never shown)."""
        url = canonical(url.strip())
        check_scheme(url)
        scheme = scheme_of(url)
        kind = SCHEMES.get(scheme or "")
        parts = urlsplit(url)
        if kind is None:
            raise InputError(f"{url[:120]} is not an object-storage URL.", hint="Give s3://bucket/path.")
        if "@" in parts.netloc:
            raise InputError(
                "Credentials do not go in the URL (they would be shown and stored).",
                hint="Use the environment or a [storage.NAME] entry (docs/lakes.md).",
            )
        if not parts.netloc:
            raise InputError(f"{url[:120]} names no bucket.", hint=f"Give {scheme}://bucket/path.")
        entry = self.entry_for(url)
        read_only = bool(entry and entry.values.get("read_only") is True)
        if for_write and read_only:
            assert entry is not None
            raise InputError(
                f"storage {entry.name!r} is read-only: nothing is written under {entry.url}.",
                hint="Write to another prefix, or set read_only = false in its entry.",
            )
        path = (parts.netloc + parts.path).rstrip("/") if parts.path != "/" else parts.netloc
        if kind == "s3":
            fs = self._s3(url)
        elif kind == "gcs":
            fs = self._client(pafs.GcsFileSystem, self.gcs_options(url))
        else:
            fs = self._client(pafs.AzureFileSystem, self.azure_options(url))
        shown = f"{scheme}://{path}"
        return Location(fs, path, shown, read_only, entry.name if entry else None)

    def s3_options(self, url: str) -> dict[str, Any]:
        """The resolved S3 settings for `url` (key, secret, token, endpoint URL, region, anonymous):
        what the table libraries need too. Raises when there are no credentials anywhere."""
        entry = self.entry_for(url)
        env = self.settings.environ

        def e(k: str) -> Any:
            return self._value(entry, k) if entry else None

        anonymous = e("anonymous") is True
        key, secret, token = e("key"), e("secret"), e("token")
        if not key and not anonymous:
            key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
            token = token or env.get("AWS_SESSION_TOKEN")
        try:
            prof = aws.profile(env) if not anonymous else None
        except InputError:
            if not (key and secret):
                raise
            prof = None  # a broken AWS file does not matter when the keys are given
        if prof is not None and not (key and secret) and prof.key and prof.secret:
            key, secret, token = prof.key, prof.secret, prof.token
        if not anonymous and not (key and secret):
            where = f" (storage {entry.name!r} has no key/secret)" if entry else ""
            if aws.named(env) and prof is not None and not prof.found:
                raise NotConfiguredError(
                    f"AWS profile {prof.name!r} is in neither {prof.files[0]} nor {prof.files[1]}{where}.",
                    hint="Name a profile those files hold (AWS_SHARED_CREDENTIALS_FILE and "
                    "AWS_CONFIG_FILE name other files). " + HOW_TO,
                )
            sdk = (prof is not None and prof.found) or any(env.get(v) for v in _SDK_VARS)
            if not sdk:  # else SSO, role_arn, credential_process, web identity: the AWS SDK's chain
                raise NotConfiguredError(f"No credentials for object storage{where}.", hint=HOW_TO)
        endpoint = e("endpoint") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        endpoint = endpoint or (prof.endpoint if prof else None)
        if endpoint and "://" not in endpoint:
            endpoint = "https://" + endpoint
        region = e("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        region = region or (prof.region if prof else None)
        region = region or ("us-east-1" if endpoint else None)  # S3-compatible servers: no lookup
        return {
            "anonymous": anonymous,
            "key": key if key and secret and not anonymous else None,
            "secret": secret if key and secret and not anonymous else None,
            "token": token or None,
            "endpoint": endpoint,
            "region": region,
        }

    def _s3(self, url: str) -> pafs.S3FileSystem:
        o = self.s3_options(url)
        kw: dict[str, Any] = {"anonymous": o["anonymous"], "connect_timeout": 5, "request_timeout": 60}
        if o["key"]:
            kw.update(access_key=o["key"], secret_key=o["secret"], session_token=o["token"])
        if o["endpoint"]:
            split = urlsplit(o["endpoint"])
            kw.update(endpoint_override=split.netloc, scheme=split.scheme)
        if o["region"]:
            kw["region"] = o["region"]
        return self._client(pafs.S3FileSystem, kw)

    def gcs_options(self, url: str) -> dict[str, Any]:
        """GcsFileSystem's arguments for `url` (endpoint, anonymous): the table libraries' too."""
        entry = self.entry_for(url)
        values = {k: self._value(entry, k) for k in ("endpoint", "anonymous")} if entry else {}
        return gcs.options(self.settings.environ, values, url[:120])

    def azure_options(self, url: str) -> dict[str, Any]:
        """AzureFileSystem's arguments for `url` (account, key or SAS token, endpoint; secrets
        included, never shown): what the table libraries need too (azure.object_store)."""
        entry = self.entry_for(url)
        values = {k: self._value(entry, k) for k in ("key", "secret", "token", "endpoint")} if entry else {}
        if entry and entry.values.get("anonymous") is True:
            raise InputError(
                f"storage {entry.name!r}: anonymous = true is for s3:// and gs:// only.",
                hint="Give the Azure account (key), and its key (secret) or a SAS token (token).",
            )
        return azure.options(self.settings.environ, values, url[:120])

    def _client(self, kind: Any, kw: dict[str, Any]) -> pafs.FileSystem:
        """One client per kind and options, kept: its connections (and TLS) are reused."""
        key = (kind, *sorted(kw.items()))
        with self._lock:
            fs = self._clients.pop(key, None)
            fs = kind(**kw) if fs is None else fs
            self._clients[key] = fs  # the most recently used last
            while len(self._clients) > CLIENTS:
                self._clients.pop(next(iter(self._clients)))
        return fs
