"""User-given file paths, resolved and confined to the allowed folders.

A model writes these paths, so every file tool goes through `resolve_path`:
relative paths are taken from the project folder, `~` is expanded, symbolic
links are followed, and only then is the real path checked against
`settings.allowed_roots` (so a link cannot smuggle a path out).
"""

from __future__ import annotations

import os
from pathlib import Path

from data_platform.config import Settings
from data_platform.errors import InputError, NotFoundError
from data_platform.lakes.storage import check_scheme, scheme_of


def _roots_text(settings: Settings) -> str:
    return ", ".join(str(r) for r in settings.allowed_roots) or "(none)"


def resolve_path(path: str, settings: Settings, *, for_write: bool = False, folder: bool = False) -> Path:
    """The real, allowed path for `path` (a folder too when `folder`); raises InputError/NotFoundError
    with what to do."""
    try:
        return _resolve(path, settings, for_write=for_write, folder=folder)
    except OSError as exc:  # e.g. a name too long, a permission denied while looking
        reason = exc.strerror or type(exc).__name__
        shown = path if len(path) <= 120 else path[:120] + "..."
        raise InputError(
            f"Cannot use the path {shown!r}: {reason}.", hint="Give a shorter, valid file path."
        ) from exc


GLOB_CHARS = "*?["


def is_glob(path: str) -> bool:
    """Whether `path` is a glob pattern (`data/*/*.parquet`), read as the files it matches."""
    return any(c in path for c in GLOB_CHARS)


def resolve_dataset_path(path: str, settings: Settings) -> Path:
    """A local folder, file or glob pattern (`data/*/*.parquet`): its real path when it exists,
    else its deepest existing folder (the glob's base), each checked against the allowed roots."""
    text = path.strip() if isinstance(path, str) else path
    if isinstance(text, str) and is_glob(text):
        head = text.split("/")
        cut = next(i for i, part in enumerate(head) if is_glob(part))
        base = "/".join(head[:cut]) or "."
        real = resolve_path(base, settings, folder=True)
        return real / "/".join(head[cut:])
    return resolve_path(path, settings, folder=True)


def _resolve(path: str, settings: Settings, *, for_write: bool, folder: bool = False) -> Path:
    if not isinstance(path, str) or not path.strip():
        raise InputError("The path is empty.", hint="Give a file path, e.g. data/sales.csv.")
    if "\x00" in path:
        raise InputError("The path contains a NUL byte.", hint="Give a plain file path.")
    check_scheme(path)
    if scheme_of(path) == "file":
        path = path.strip()[len("file://") :]
    elif scheme_of(path) is not None:
        raise InputError(
            f"{path.strip()[:120]} is object storage; this tool takes a local path.",
            hint="read_parquet/read_csv/read_json, to_parquet/to_csv, list_files and write_table "
            "take s3://, gs:// and az:// URLs.",
        )
    try:
        raw = Path(path.strip()).expanduser()
    except RuntimeError:  # `~name/...` where no user is called `name`
        raise InputError(
            f"Cannot use the path {path!r}: there is no user named {path.strip()[1:].split('/')[0]!r} "
            "for `~name` to mean.",
            hint="Write ~/ for your home folder, or a path relative to the project.",
        ) from None
    full = raw if raw.is_absolute() else settings.project_dir / raw
    try:
        real = Path(os.path.realpath(full))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot resolve the path {path!r}: {exc}.") from exc
    if settings.allowed_roots and not any(real.is_relative_to(root) for root in settings.allowed_roots):
        action = "write to" if for_write else "read"
        raise InputError(
            f"Not allowed to {action} {real}: it is outside the allowed folders ({_roots_text(settings)}).",
            hint="Use a path inside the project, or add its folder to DATA_PLATFORM_ALLOWED_ROOTS.",
        )
    if not for_write:
        if not real.exists():
            parent = real.parent
            near = sorted(p.name for p in parent.iterdir())[:15] if parent.is_dir() else []
            raise NotFoundError(
                f"File not found: {real}.",
                hint=(f"Files in {parent}: {', '.join(near)}." if near else f"{parent} has no files.")
                + " Paths are relative to the project folder "
                + f"{settings.project_dir}.",
            )
        if real.is_dir() and not folder:
            raise InputError(f"{real} is a folder, not a file.", hint="Give the path of a file inside it.")
    elif real.is_dir() and not folder:
        raise InputError(f"{real} is a folder.", hint="Give a file name to write, e.g. out/result.parquet.")
    return real
