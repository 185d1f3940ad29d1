"""Iceberg catalogs: declared in the connection files or by pyiceberg's own variables, opened
with pyiceberg, their namespaces and tables listed, tables appended to or overwritten.

A SQL catalog lives in a PostgreSQL database (`uri = "postgresql://..."`, or `connection =
"NAME"` for a named connection: the password stays in one place) or a SQLite file; a relative
SQLite path or warehouse folder is taken from the project folder. An `s3://` warehouse gets
the same credentials as the readers (lakes/storage.py) unless the entry sets `s3.*` itself; so do
`gs://` and `az://` warehouses (tablestore.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from data_platform.config import Settings
from data_platform.errors import DataPlatformError, InputError, NotConfiguredError, NotFoundError
from data_platform.frames.engine import first_line
from data_platform.lakes.storage import Storage, scheme_of
from data_platform.lakes.tablestore import iceberg_io

if TYPE_CHECKING:
    from data_platform.lakes.tables import Mode, TableRef

ENV = re.compile(r"^PYICEBERG_CATALOG__([A-Za-z0-9_-]+?)__(.+)$")
HOW_TO = (
    'Declare one in .data-platform/connections.toml: [iceberg.NAME] with uri = "sqlite:///iceberg.db" '
    '(or postgresql://..., connection = "default", or a REST catalog\'s https:// URL) and warehouse = '
    '"folder or s3://bucket/path" (docs/lakes.md), or set PYICEBERG_CATALOG__NAME__URI.'
)


def declared(storage: Storage) -> dict[str, dict[str, Any]]:
    """Every catalog by name: pyiceberg's variables, then the files' [iceberg.NAME] entries."""
    out: dict[str, dict[str, Any]] = {}
    for var, value in storage.settings.environ.items():
        m = ENV.match(var)
        if m:
            key = ".".join(p.lower().replace("_", "-") for p in m.group(2).split("__"))
            out.setdefault(m.group(1).lower(), {})[key] = value
    for name, entry in storage.tables("iceberg").items():
        out[name] = {**out.get(name, {}), **entry}
    return out


def split_name(text: str, storage: Storage) -> tuple[str, tuple[str, ...]]:
    """(catalog, (namespace..., table)) from `catalog.ns.table`, or `ns.table` with one catalog."""
    names = declared(storage)
    parts = tuple(p for p in text.strip().split(".") if p)
    if parts and parts[0].lower() in names:
        return parts[0].lower(), parts[1:]
    if len(names) == 1:
        return next(iter(names)), parts
    if not names:
        raise NotConfiguredError(f"No Iceberg catalog is declared to find {text!r}.", hint=HOW_TO)
    raise NotFoundError(
        f"{text!r} names no catalog; catalogs: {', '.join(sorted(names))}.",
        hint="Name the table as catalog.namespace.table, or give a Delta table's folder or URL.",
    )


def properties(name: str, storage: Storage, settings: Settings, *, write: bool = False) -> dict[str, Any]:
    """pyiceberg's properties for a catalog (credentials resolved; never shown). Only a write may
    create anything: the catalog's tables, its SQLite file, the warehouse folder."""
    entry = declared(storage).get(name)
    if entry is None:
        raise NotConfiguredError(f"No Iceberg catalog named {name!r}.", hint=HOW_TO)
    where = f"iceberg {name!r}"
    props = {
        k: storage.substitute(v, where) for k, v in entry.items() if k not in ("read_only", "description")
    }
    connection = props.pop("connection", None)
    if connection:
        from data_platform.postgres.connections import Connections

        pg = Connections(settings).settings(str(connection)).postgres
        assert pg is not None
        props["uri"] = pg.url()
    uri = str(props.get("uri") or "")
    if not uri:
        raise NotConfiguredError(f"{where} has no uri.", hint=HOW_TO)
    if uri.startswith(("postgresql://", "postgres://")):
        uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
    elif uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{settings.project_dir / uri[len('sqlite:///') :]}"
    if uri.startswith("sqlite:///") and not write and not Path(uri[len("sqlite:///") :]).exists():
        raise NotFoundError(
            f"Iceberg catalog {name!r} has no tables yet ({uri[len('sqlite:///') :]} does not exist).",
            hint="write_table creates a table (and the catalog file) from a ref.",
        )
    props["uri"] = uri
    props.setdefault("type", "rest" if uri.startswith(("http://", "https://")) else "sql")
    props["init_catalog_tables"] = "true" if write else "false"
    if props["type"] == "rest" and props.get("credential") and "oauth2-server-uri" not in props:
        props["oauth2-server-uri"] = f"{uri.rstrip('/')}/v1/oauth/tokens"  # pyiceberg's default, said
    warehouse = props.get("warehouse")
    # A REST catalog's warehouse may be the name of a warehouse it serves (Polaris, Lakekeeper):
    # kept as given, never taken for a local folder.
    if isinstance(warehouse, str) and scheme_of(warehouse) is None and props["type"] != "rest":
        folder = Path(warehouse).expanduser()
        folder = folder if folder.is_absolute() else settings.project_dir / folder
        if write:
            folder.mkdir(parents=True, exist_ok=True)
        props["warehouse"] = folder.resolve().as_uri()
    if isinstance(warehouse, str) and scheme_of(warehouse) not in (None, "file"):
        props.update(iceberg_io(warehouse, props, storage))
    return props


def open_catalog(name: str, storage: Storage, settings: Settings, *, write: bool = False) -> Any:
    from pyiceberg.catalog import load_catalog

    props = properties(name, storage, settings, write=write)
    key = (name, tuple(sorted((k, str(v)) for k, v in props.items())))
    if key in storage.catalogs:  # one SQLAlchemy engine (its pool) per catalog, not one per call
        return storage.catalogs[key]
    try:
        storage.catalogs[key] = catalog = load_catalog(name, **props)
        return catalog
    except DataPlatformError:
        raise
    except Exception as exc:  # pyiceberg/SQLAlchemy/HTTP errors have no common base
        if props.get("type") == "rest" and isinstance(exc, OSError):  # requests' errors are OSErrors
            text = first_line(exc).lower()
            why = next((w for w in ("refused", "timed out") if w in text), None)
            raise InputError(
                f"Cannot reach the Iceberg REST catalog {name!r} at {props['uri']}: "
                + (f"connection {why}." if why else first_line(exc)[:300]),
                hint=f"Start the catalog server, or correct the uri of [iceberg.{name}] (docs/lakes.md).",
            ) from None
        hint = (
            "Check its uri, credential and warehouse"
            if props.get("type") == "rest"
            else "Check its uri and warehouse"
        )
        raise InputError(
            f"Cannot open the Iceberg catalog {name!r}: {first_line(exc)[:300]}",
            hint=f"{hint} (docs/lakes.md).",
        ) from None


def load_table(ref: TableRef, storage: Storage, settings: Settings) -> Any:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    assert ref.catalog is not None
    catalog = open_catalog(ref.catalog, storage, settings)
    try:
        return catalog.load_table(ref.identifier)
    except Exception as exc:  # a catalog never written to raises its driver's "no such table"
        missing = isinstance(exc, NoSuchTableError | NoSuchNamespaceError | ValueError)
        if not missing and not any(t in first_line(exc).lower() for t in ("no such table", "does not exist")):
            raise InputError(
                f"Cannot read the Iceberg catalog {ref.catalog!r}: {first_line(exc)[:300]}"
            ) from None
        known = listing(ref.catalog, storage, settings, catalog=catalog)[1][:15]
        raise NotFoundError(
            f"No Iceberg table {ref.shown}.",
            hint=f"Tables: {', '.join(known) or 'none'}. write_table creates one from a ref.",
        ) from None


def listing(
    name: str, storage: Storage, settings: Settings, namespace: str | None = None, catalog: Any = None
) -> tuple[list[str], list[str]]:
    """(namespaces, tables as `catalog.ns.table`) of a catalog, or of one namespace in it."""
    catalog = catalog or open_catalog(name, storage, settings)
    try:
        spaces = [".".join(ns) for ns in catalog.list_namespaces()]
        tables = []
        for ns in [namespace] if namespace else spaces:
            tables += [f"{name}.{'.'.join(t)}" for t in catalog.list_tables(ns)]
    except Exception as exc:  # SQLAlchemy/HTTP errors: a catalog never written to has no tables
        text = first_line(exc).lower()
        if "no such table" in text or "does not exist" in text:
            return [], []
        raise InputError(f"Cannot list the Iceberg catalog {name!r}: {first_line(exc)[:300]}") from None
    return spaces, tables


def describe(name: str, ident: tuple[str, ...], storage: Storage, settings: Settings) -> Any:
    """The table `ident` of catalog `name`, or None when it has none by that name."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    catalog = open_catalog(name, storage, settings)
    try:
        return catalog.load_table(ident)
    except (NoSuchTableError, NoSuchNamespaceError, ValueError):
        return None
    except Exception as exc:  # a catalog never written to raises its driver's "no such table"
        text = first_line(exc).lower()
        if "no such table" in text or "does not exist" in text:
            return None
        raise InputError(f"Cannot read the Iceberg catalog {name!r}: {first_line(exc)[:300]}") from None


def write_iceberg(
    ref: TableRef,
    data: pa.Table,
    storage: Storage,
    settings: Settings,
    mode: Mode,
    schema_mode: Any,
    rows: int,
) -> tuple[str, int, str]:
    """Append or overwrite (creating the table, and its namespace, when missing)."""
    from pyiceberg.exceptions import NoSuchTableError

    assert ref.catalog is not None
    catalog = open_catalog(ref.catalog, storage, settings, write=True)
    ident = ref.identifier
    if len(ident) < 2:
        raise InputError(f"{ref.shown}: name the table as namespace.table.", hint="e.g. sales.orders")
    try:
        table = catalog.load_table(ident)
        created = False
    except NoSuchTableError:
        catalog.create_namespace_if_not_exists(ident[:-1])
        table = catalog.create_table(ident, schema=data.schema)
        created = True
    current = table.schema().as_arrow()
    extra = [n for n in data.schema.names if n not in current.names]
    if extra and schema_mode != "merge":
        raise InputError(
            f"The ref has columns the Iceberg table {ref.shown} lacks: {', '.join(extra[:8])}.",
            hint="Pass merge_schema=true to add them to the table, or select the table's columns first.",
        )
    try:
        if extra:
            with table.update_schema() as update:
                update.union_by_name(data.schema)
        if mode == "overwrite":
            table.overwrite(data)
        else:
            table.append(data)
    except DataPlatformError:
        raise
    except Exception as exc:  # type mismatches, commit conflicts: pyiceberg has no common base
        raise InputError(
            f"Cannot write the Iceberg table {ref.shown}: {first_line(exc)[:300]}",
            hint="Cast the ref's columns to the table's types first (sql CAST), or check the catalog.",
        ) from None
    snapshot = table.current_snapshot()
    done = "created" if created else {"append": "appended to", "overwrite": "overwrote"}[mode]
    return done, rows, f"snapshot {snapshot.snapshot_id if snapshot else '-'}"
