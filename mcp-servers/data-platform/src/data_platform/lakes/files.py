"""Which files a reader's `path` names: a file, a folder, a glob or a list, local or in object storage.

Local paths keep the allowed-roots rule (paths.py); URLs go through storage.py. Names starting
with `.` or `_` (`_SUCCESS`, `.crc`) are skipped as pyarrow.dataset skips them, and in a folder
holding files of several kinds only those with the format's extensions are kept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

from data_platform.config import Settings
from data_platform.errors import InputError, NotFoundError
from data_platform.lakes.storage import Location, Storage, scheme_of
from data_platform.paths import GLOB_CHARS, is_glob, resolve_dataset_path

EXTENSIONS = {
    "parquet": (".parquet", ".parq", ".pq"),
    "csv": (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".csv.zst", ".csv.bz2"),
    "json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"),
}
MAX_FILES = 100_000


@dataclass
class Files:
    """The files of one source: their filesystem, paths and sizes, the folder partitions start
    under, and how each is shown."""

    location: Location
    paths: list[str]
    sizes: dict[str, int]
    base: str | None = None
    single: bool = False  # one file named as such (not a folder, glob or list)
    local: bool = True
    shown_base: str | None = None  # paths relative to a table's folder are shown under this URL
    partitions: list[str] | None = None  # a table's partition columns, from its log (not its folders)
    listed: list[str] | None = None  # every file under `base` (hidden ones too): is it a table's?
    skipped: list[str] = field(default_factory=list)  # files of a folder without the format's extension

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def infos(self) -> list[pafs.FileInfo]:
        """The files with their sizes, as pyarrow.dataset takes them (it then asks for none)."""
        return [pafs.FileInfo(p, pafs.FileType.File, size=self.sizes.get(p)) for p in self.paths]

    def hive(self, path: str) -> list[tuple[str, str]]:
        """The `key=value` folders of one of the files, below `base`."""
        return hive_pairs(path[len(self.base) :]) if self.base and path.startswith(self.base) else []

    def url(self, path: str) -> str:
        if self.shown_base is not None:
            return f"{self.shown_base.rstrip('/')}/{path}"
        return path if self.local else self.location.child_url(path)


def hive_pairs(rel: str) -> list[tuple[str, str]]:
    """The `key=value` folders (hive partitions) of a file's path relative to its dataset, in order."""
    parts = (part.partition("=") for part in rel.strip("/").split("/")[:-1])
    return [(key, value) for key, eq, value in parts if eq]


def locate(text: str, settings: Settings, storage: Storage, *, for_write: bool = False) -> Location:
    """A path or URL as a filesystem location (local paths checked against the allowed roots)."""
    if scheme_of(text) not in (None, "file"):
        return storage.locate(text, for_write=for_write)
    real = resolve_dataset_path(text, settings)
    return Location(pafs.LocalFileSystem(), str(real), str(real))


def find_files(source: str | Sequence[str], settings: Settings, storage: Storage, fmt: str) -> Files:
    """Every file `source` names (a list: all of theirs, on one filesystem)."""
    items = [source] if isinstance(source, str) else list(source)
    if not items:
        raise InputError("The path list is empty.", hint="Give a file, a folder, a glob or a list of them.")
    found: Files | None = None
    for item in items:
        remote = scheme_of(item) not in (None, "file")
        loc = locate(item, settings, storage)
        one = _expand(loc, fmt, remote=remote)
        if not one.single or len(items) > 1:
            _refuse_table_files(item, loc, one, settings, remote=remote)
        if found is None:
            found = one
            continue
        if type(one.location.fs) is not type(found.location.fs):
            raise InputError("The listed paths are on different filesystems.", hint="Read them separately.")
        found.paths += [p for p in one.paths if p not in found.sizes]
        found.sizes.update(one.sizes)
        found.skipped += one.skipped
        found.single = False
        found.base = _common_base([found.base or "", one.base or ""])
    assert found is not None
    return found


def _expand(loc: Location, fmt: str, *, remote: bool) -> Files:
    fs, path = loc.fs, loc.path
    if is_glob(path):
        base, infos, every = glob_matches(loc)
        out = _files(loc, infos, base, remote=remote)
        out.listed = [i.path for i in every]
        return out
    found = listing(fs, path, loc)  # a folder or prefix: one listing (no HEAD request first)
    if not found:
        info = _info(fs, path, loc)
        if info.type == pafs.FileType.File:
            return Files(loc, [info.path], {info.path: info.size}, None, True, not remote)
        raise NotFoundError(f"Nothing at {loc.url}.", hint=_near(fs, path.rsplit("/", 1)[0], loc))
    infos = _visible(found, path)
    ext = EXTENSIONS.get(fmt, ())
    kept = [i for i in infos if i.path.lower().endswith(ext)]
    if not kept:
        names = sorted({"." + i.path.rsplit("/", 1)[-1].rsplit(".", 1)[-1] for i in infos if "." in i.path})
        shown = loc.url if remote else path
        raise NotFoundError(
            f"{loc.url} has no {fmt} files ({', '.join(ext)})"
            + (f"; it has {len(infos):,} other files ({', '.join(names[:5])})." if infos else "."),
            hint=f'A glob reads files of another extension as {fmt}: e.g. "{shown}/*{names[0]}".'
            if names
            else "list_files shows what is there.",
        )
    out = _files(loc, kept, path, remote=remote)
    out.listed = [i.path for i in found]
    out.skipped = [i.path for i in infos if i not in kept]
    return out


def _refuse_table_files(item: str, loc: Location, files: Files, settings: Settings, *, remote: bool) -> None:
    """Files inside a Delta or Iceberg table read as plain files would mix in the files the table's
    log has removed (older versions): refused, pointing at the table. The folder read (its listing
    shows a log) and each parent up to the allowed root or the bucket are checked."""
    start = files.base or files.paths[0].rsplit("/", 1)[0]
    stop = _top(start, settings, remote=remote)
    folder, below = start.rstrip("/"), ""
    base = (files.base or "").rstrip("/")
    while True:
        found = _table_at(loc.fs, folder, below, files.listed if folder == base else None, files.paths)
        if found:
            kind, table = found
            shown = _shown_path(table, loc, settings, remote=remote)
            if kind == "delta":
                raise InputError(
                    f"{item} lies inside the Delta table {shown}: its folder also keeps the files "
                    "the table's log has removed (older versions), so they are not read as plain files.",
                    hint=f'Read the table: read_parquet "{shown}" (as_of=N for version N).',
                )
            raise InputError(
                f"{item} lies inside the Iceberg table folder {shown}: its files include older "
                "snapshots, so they are not read as plain files.",
                hint='Read the table through its catalog: read_parquet "catalog.namespace.table" '
                "(list_files on a catalog names its tables).",
            )
        if folder == stop or "/" not in folder.strip("/"):
            return
        folder, below = folder.rsplit("/", 1)[0] or "/", folder.rsplit("/", 1)[1]


def _top(path: str, settings: Settings, *, remote: bool) -> str:
    """The highest folder checked for a table above `path`: the bucket, or the allowed root (or
    project folder) holding it."""
    if remote:
        return path.split("/", 1)[0]
    roots = [*settings.allowed_roots, settings.project_dir]
    held = [str(r) for r in roots if Path(path).is_relative_to(r)]
    return max(held, key=len) if held else path


def _table_at(
    fs: pafs.FileSystem, folder: str, below: str, listed: list[str] | None, read: list[str]
) -> tuple[str, str] | None:
    """(`delta`, its folder) when `folder` holds `_delta_log/`, (`iceberg`, ...) when it holds
    `metadata/` and the path goes down through its `data/`. With the folder's listing, tables below
    it holding files of `read` count too."""
    if listed is not None:
        rel = [p[len(folder) :].lstrip("/") for p in listed]
        logs = {
            r.rsplit("_delta_log/", 1)[0] for r in rel if r.startswith("_delta_log/") or "/_delta_log/" in r
        }
        metas = {
            r.rsplit("metadata/", 1)[0] for r in rel if r.endswith(".metadata.json") and "metadata/" in r
        }
        wanted = [p[len(folder) :].lstrip("/") for p in read]
        for kind, tops, under in (("delta", logs, ""), ("iceberg", metas, "data/")):
            for top in sorted(tops, key=len):
                if any(w.startswith(top + under) for w in wanted):
                    return kind, f"{folder}/{top}".rstrip("/")
        return None
    paths = [f"{folder}/_delta_log"] + ([f"{folder}/metadata"] if below == "data" else [])
    try:
        infos = fs.get_file_info(paths)
    except OSError:
        return None
    if infos[0].type == pafs.FileType.Directory:
        return "delta", folder
    if len(infos) > 1 and infos[1].type == pafs.FileType.Directory:
        return "iceberg", folder
    return None


def _shown_path(folder: str, loc: Location, settings: Settings, *, remote: bool) -> str:
    if remote:
        return loc.child_url(folder)
    path, project = Path(folder), settings.project_dir
    return str(path.relative_to(project)) if path.is_relative_to(project) else folder


def glob_matches(loc: Location) -> tuple[str, list[pafs.FileInfo], list[pafs.FileInfo]]:
    """A glob's base folder, the visible files it matches (none: an error), and every file under
    the base."""
    path = loc.path
    base = path[: path.index(next(c for c in path if c in GLOB_CHARS))].rsplit("/", 1)[0]
    pattern = _glob_regex(path)
    every = listing(loc.fs, base, loc)
    infos = _visible([i for i in every if pattern.fullmatch(i.path)], base)
    if not infos:
        raise NotFoundError(f"No file matches {loc.url}.", hint=_near(loc.fs, base, loc))
    return base, infos, every


def _files(loc: Location, infos: list[pafs.FileInfo], base: str, *, remote: bool) -> Files:
    infos = sorted((i for i in infos if i.size), key=lambda i: i.path)  # an empty file has no rows
    if not infos:
        raise NotFoundError(f"{loc.url} holds only empty files.", hint="list_files shows what is there.")
    return Files(loc, [i.path for i in infos], {i.path: i.size for i in infos}, base, False, not remote)


def _info(fs: pafs.FileSystem, path: str, loc: Location) -> pafs.FileInfo:
    try:
        return fs.get_file_info(path)
    except OSError as exc:
        raise storage_error(exc, loc.url) from None


def listing(fs: pafs.FileSystem, path: str, loc: Location) -> list[pafs.FileInfo]:
    """Every file under `path`, recursively (at most MAX_FILES)."""
    too_many = InputError(
        f"{loc.url} holds more than {MAX_FILES:,} files.", hint="Name a deeper folder or a glob."
    )
    if isinstance(fs, pafs.LocalFileSystem) and local_files_over(path, MAX_FILES):
        raise too_many  # pyarrow would first list all of them (the whole disk, for `/`)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except NotADirectoryError:
        return []  # one local file (object stores answer an empty listing): the caller looks it up
    except OSError as exc:
        raise storage_error(exc, loc.url) from None
    files = [i for i in infos if i.type == pafs.FileType.File]
    if len(files) > MAX_FILES:
        raise too_many
    return files


def local_files_over(path: str, limit: int) -> bool:
    """Whether the local folder holds more than `limit` files, counted as pyarrow's recursive
    listing counts them (through links to folders), stopping as soon as it is over."""
    count = 0
    folders = [path]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir():
                            folders.append(entry.path)
                        elif entry.is_file():
                            count += 1
                    except OSError:
                        continue
                    if count > limit:
                        return True
        except OSError:  # not a folder, gone, unreadable: pyarrow's listing says what it says
            continue
    return False


def _visible(infos: list[pafs.FileInfo], base: str) -> list[pafs.FileInfo]:
    """Skip names starting with . or _ below `base` (_SUCCESS, .crc, _delta_log), as pyarrow does."""
    out = []
    for i in infos:
        rel = i.path[len(base) :].lstrip("/") if i.path.startswith(base) else i.path
        if not any(part.startswith((".", "_")) for part in rel.split("/")):
            out.append(i)
    return out


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` and `?` within one folder, `**/` any depth, `[abc]` a set (as shell globs)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i)
            if j < 0:
                out += re.escape(c)
            else:
                out, i = out + "[" + pattern[i + 1 : j].replace("!", "^", 1) + "]", j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out)


def _common_base(paths: list[str]) -> str | None:
    parts = [p.split("/") for p in paths if p]
    if not parts:
        return None
    common = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return "/".join(common) or None


def _near(fs: pafs.FileSystem, folder: str, loc: Location) -> str:
    try:
        infos = fs.get_file_info(pafs.FileSelector(folder, recursive=False, allow_not_found=True))
    except OSError:
        infos = []
    names = sorted(Path(i.path).name + ("/" if i.type == pafs.FileType.Directory else "") for i in infos)
    shown = loc.child_url(folder) if loc.url != loc.path else folder
    if not names:
        return f"{shown} is empty or does not exist; list_files shows what is there."
    return f"In {shown}: {', '.join(names[:15])}{', ...' if len(names) > 15 else ''}."


def storage_error(exc: OSError, url: str) -> InputError:
    """An error of the storage service, said with what to do (no credentials in it)."""
    text = str(exc).splitlines()[0][:300]
    low = text.lower()
    if "access denied" in low or "forbidden" in low or "invalidaccesskeyid" in low or "signature" in low:
        hint = "The credentials were refused: check the key, secret and region (docs/lakes.md)."
    elif "nosuchbucket" in low or "bucket does not exist" in low:
        hint = "The bucket does not exist: check its name (list_files s3://bucket/ shows a bucket)."
    elif "connect" in low or "resolve" in low or "timeout" in low:
        hint = "The storage service did not answer: check the endpoint and the network."
    else:
        hint = "Check the URL and the storage entry (docs/lakes.md)."
    return InputError(f"Cannot reach {url}: {text}", hint=hint)
