"""A dataset read planned before it runs: partitions pruned and Parquet row groups skipped by
`where` (lakes/pushdown.py), the columns kept, and what will be read counted (files, bytes, row
groups of how many) for the answer; with `nrows`, only the row groups holding the first rows.
Local text columns dictionary-encoded in every kept row group are decoded as dictionaries.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from data_platform import work
from data_platform.errors import InputError
from data_platform.frames.engine import first_line
from data_platform.frames.sources import check_columns
from data_platform.lakes.files import Files, storage_error
from data_platform.lakes.pushdown import scan_filter
from data_platform.render import human_bytes

FOOTER_THREADS = 8
DICTIONARY_INDEX_BYTES = 2  # compressed bytes a value of a dictionary-encoded chunk's data pages, at most
# Rows a kept file must average for a dictionary decode: a re-made piece reads its footer again
# (~25-55 us locally), a text column decoded as a dictionary saves ~5 ns a row.
DICTIONARY_FILE_ROWS = 20_000


@dataclass
class ScanCounts:
    """What a scan read out of what the source holds."""

    files_read: int
    files_total: int
    bytes_read: int
    bytes_total: int
    row_groups_read: int | None = None
    row_groups_total: int | None = None

    def sentence(self) -> str:
        text = (
            f"Read {self.files_read:,} of {self.files_total:,} files, "
            f"{human_bytes(self.bytes_read)} of {human_bytes(self.bytes_total)}"
        )
        if self.row_groups_total:
            text += f" ({self.row_groups_read:,} of {self.row_groups_total:,} row groups)"
        return text + "."


@dataclass
class Plan:
    """A dataset narrowed to what one read needs."""

    dataset: ds.Dataset
    fragments: list[ds.Fragment]
    filter: ds.Expression | None
    columns: list[str]
    counts: ScanCounts
    rows: int | None  # exact when known before reading (Parquet footers, a partition-only filter)
    partitions: list[str]
    file_bytes: dict[str, int] | None = None  # what each kept file adds to bytes_read
    file_groups: dict[str, int] | None = None  # and to row_groups_read


def plan(
    dataset: ds.Dataset,
    files: Files,
    *,
    where: str | None,
    columns: list[str] | None,
    nrows: int | None = None,
) -> Plan:
    """Prune partitions and row groups by `where`, keep `columns`, count what will be read (with
    `nrows` and a row count known from the footers: only the row groups holding the first rows)."""
    schema = dataset.schema
    check_columns(columns, schema.names, files.location.url)
    partitions = _partition_names(dataset, files)
    expr, used = scan_filter(where, schema, files.location.url) if where else (None, [])
    wanted = list(columns or schema.names)
    try:
        kept = list(dataset.get_fragments(filter=expr) if expr is not None else dataset.get_fragments())
        parquet = isinstance(dataset.format, ds.ParquetFileFormat)
        if parquet:
            _footers(kept, files)
        _same_columns(kept, schema, partitions, files)
        if parquet:
            return _plan_parquet(dataset, files, kept, expr, wanted, used, partitions, nrows)
    except OSError as exc:
        raise storage_error(exc, files.location.url) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"Cannot read {files.location.url}: {first_line(exc)}") from None
    read = sum(files.sizes.get(f.path, 0) for f in kept)
    counts = ScanCounts(len(kept), len(files.paths), read, files.total_bytes)
    return Plan(
        dataset,
        kept,
        expr,
        wanted,
        counts,
        None,
        partitions,
        {f.path: files.sizes.get(f.path, 0) for f in kept},
    )


def _footers(kept: list[ds.Fragment], files: Files) -> None:
    """Read the kept files' footers once (the scan reuses them): in parallel in object storage,
    one request each; in turn on local disk, where a footer costs less than starting a thread."""
    if isinstance(files.location.fs, pafs.LocalFileSystem) or len(kept) < 2:
        for frag in kept:
            frag.ensure_complete_metadata()
        return
    with ThreadPoolExecutor(min(FOOTER_THREADS, len(kept))) as pool:
        list(pool.map(lambda f: f.ensure_complete_metadata(), kept))


def _same_columns(kept: list[ds.Fragment], schema: pa.Schema, partitions: list[str], files: Files) -> None:
    """Files whose columns differ would be read with nulls where a column is missing: refused."""
    want = [n for n in schema.names if n not in partitions]
    for frag in kept[:2_000]:
        work.check()
        md = getattr(frag, "metadata", None) if isinstance(frag, ds.ParquetFileFragment) else None
        names = md.schema.to_arrow_schema().names if md is not None else frag.physical_schema.names
        if sorted(names) != sorted(want):
            missing = [n for n in want if n not in names][:5]
            extra = [n for n in names if n not in want][:5]
            diff = "; ".join(
                part
                for part in (
                    f"lacks {', '.join(missing)}" if missing else "",
                    f"has {', '.join(extra)}" if extra else "",
                )
                if part
            )
            raise InputError(
                f"{files.url(frag.path)} has other columns than the dataset's first file ({diff}).",
                hint="Name the files of one schema with a glob or a list, or read them one by one.",
            )


def _plan_parquet(
    dataset: ds.Dataset,
    files: Files,
    kept: list[ds.Fragment],
    expr: ds.Expression | None,
    wanted: list[str],
    used: list[str],
    partitions: list[str],
    nrows: int | None,
) -> Plan:
    needed = set(wanted) | set(used)
    pieces: list[ds.Fragment] = []
    groups_total = groups_read = rows = read = total = 0  # total: the rows of every kept group
    split = expr is not None and not set(used) <= set(partitions)  # row statistics can skip groups
    exact = expr is None or set(used) <= set(partitions)
    file_bytes: dict[str, int] = {}
    file_groups: dict[str, int] = {}
    cut: set[int] = set()  # pieces holding only their first row groups (nrows reached)
    texts = _text_columns(dataset.schema, wanted, partitions) if files.local else set()
    for frag in kept:
        work.check()
        md = frag.metadata
        groups_total += md.num_row_groups
        chosen = frag.split_by_row_group(filter=expr, schema=dataset.schema) if split else [frag]
        ids = [rg.id for piece in chosen for rg in piece.row_groups] if split else None
        ids = list(range(md.num_row_groups)) if ids is None else ids
        if not ids:
            continue
        total += sum(md.row_group(i).num_rows for i in ids)
        if nrows is not None and exact:  # every row of a kept group is read: stop at nrows
            if rows >= nrows:
                continue
            first = _first_groups(md, ids, nrows - rows)
            if len(first) < md.num_row_groups:
                ids, chosen = first, [frag.subset(row_group_ids=first)]
                cut.add(id(chosen[0]))
        pieces.extend(chosen)
        groups_read += len(ids)
        rows += sum(md.row_group(i).num_rows for i in ids)
        paths = [md.schema.column(j).path for j in range(md.num_columns)]
        file_bytes[frag.path] = _chunk_bytes(md, paths, ids, needed)
        file_groups[frag.path] = len(ids)
        read += file_bytes[frag.path]
        texts = {c for c in texts if _dictionary_only(md, paths, ids, c)}
    files_read = len({p.path for p in pieces})
    counts = ScanCounts(files_read, len(files.paths), read, files.total_bytes, groups_read, groups_total)
    if rows < DICTIONARY_FILE_ROWS * files_read:
        texts = set()  # small files: reading each footer again costs more than the decode saves
    pieces = _as_dictionaries(pieces, dataset, texts, split, cut)
    return Plan(
        dataset, pieces, expr, wanted, counts, total if exact else None, partitions, file_bytes, file_groups
    )


def _first_groups(md: pq.FileMetaData, ids: list[int], need: int) -> list[int]:
    """The first of `ids` that hold `need` rows."""
    out, rows = [], 0
    for i in ids:
        out.append(i)
        rows += md.row_group(i).num_rows
        if rows >= need:
            break
    return out


def _chunk_bytes(md: pq.FileMetaData, paths: list[str], groups: list[int], needed: set[str]) -> int:
    """Compressed bytes of the needed columns' chunks in the kept row groups (what is fetched)."""
    cols = [j for j, path in enumerate(paths) if path.split(".")[0] in needed]
    return sum(md.row_group(g).column(j).total_compressed_size for g in groups for j in cols)


def _text_columns(schema: pa.Schema, wanted: list[str], partitions: list[str]) -> set[str]:
    """The read's text and binary file columns: those a dictionary decode can speed up."""
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    return {c for c in wanted if c not in partitions and any(k(schema.field(c).type) for k in kinds)}


def _dictionary_only(md: pq.FileMetaData, paths: list[str], groups: list[int], column: str) -> bool:
    """Whether `column` is dictionary-encoded in each of these row groups with no page fallen back
    to plain (what a writer does once the dictionary passes its size limit, ~1 MB): its data pages
    then hold only indices, at most DICTIONARY_INDEX_BYTES a value."""
    if column not in paths:
        return False  # a nested column, or one this file lacks
    j = paths.index(column)
    for g in groups:
        chunk = md.row_group(g).column(j)
        start = chunk.dictionary_page_offset
        if not chunk.has_dictionary_page or start is None or chunk.data_page_offset < start:
            return False
        data_pages = chunk.total_compressed_size - (chunk.data_page_offset - start)
        if data_pages > DICTIONARY_INDEX_BYTES * max(chunk.num_values, 1):
            return False
    return True


def _as_dictionaries(
    pieces: list[ds.Fragment], dataset: ds.Dataset, columns: set[str], split: bool, cut: set[int]
) -> list[ds.Fragment]:
    """The pieces re-made to decode `columns` as dictionaries; the scan casts them back to the
    dataset's type (values and type unchanged). Indices plus one cast cost ~10% less CPU than
    decoding each value (bench_lakes.py: 28 -> 26 ms for 5 columns, one text). Only local files:
    a re-made piece reads its footer again (there, from the page cache)."""
    if not columns or not pieces:
        return pieces
    old = dataset.format
    fmt = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(
            dictionary_columns=sorted(columns),
            coerce_int96_timestamp_unit=old.read_options.coerce_int96_timestamp_unit,
            binary_type=old.read_options.binary_type,
            list_type=old.read_options.list_type,
        ),
        default_fragment_scan_options=old.default_fragment_scan_options,
    )
    groups = [[rg.id for rg in p.row_groups] if split or id(p) in cut else None for p in pieces]
    return [
        fmt.make_fragment(p.path, dataset.filesystem, p.partition_expression, g)
        for p, g in zip(pieces, groups, strict=True)
    ]


def _partition_names(dataset: ds.Dataset, files: Files) -> list[str]:
    """The hive keys in the files' folders (`year=2024/`) that became columns, or a table's own."""
    if files.partitions is not None:
        return [k for k in files.partitions if k in dataset.schema.names]
    found: dict[str, None] = {}
    for path in files.paths[:1000]:
        for key, _ in files.hive(path):
            found.setdefault(key, None)
    return [k for k in found if k in dataset.schema.names]
