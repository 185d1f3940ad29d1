"""A local listing over MAX_FILES is refused as soon as it is over, counted as pyarrow counts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from data_platform.config import load_settings
from data_platform.errors import InputError
from data_platform.lakes import files
from data_platform.lakes.storage import Storage


def _listed(folder: Path) -> int:
    infos = pafs.LocalFileSystem().get_file_info(pafs.FileSelector(str(folder), recursive=True))
    return sum(i.type == pafs.FileType.File for i in infos)


def test_files_are_counted_as_pyarrow_lists_them_through_links(tmp_path: Path) -> None:
    real = tmp_path / "real" / "sub"
    real.mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (real / name).write_text("x\n")
    top = tmp_path / "top"
    top.mkdir()
    (top / "linked").symlink_to(tmp_path / "real")  # a link to a folder: listed through
    (top / "one.csv").symlink_to(real / "a.csv")  # a link to a file: a file
    (top / "broken.csv").symlink_to(tmp_path / "gone.csv")  # a broken link: no file
    (top / "c.csv").write_text("x\n")
    assert _listed(top) == 4
    assert not files.local_files_over(str(top), 4)
    assert files.local_files_over(str(top), 3)


def test_a_folder_over_the_bound_is_refused_naming_what_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(6):
        (tmp_path / "data" / f"part={i}").mkdir(parents=True)
        (tmp_path / "data" / f"part={i}" / "p.csv").write_text("x\n1\n")
    settings = load_settings(project_dir=tmp_path)
    storage = Storage(settings)
    loc = files.locate("data", settings, storage)
    monkeypatch.setattr(files, "MAX_FILES", 6)
    assert len(files.listing(loc.fs, loc.path, loc)) == 6
    monkeypatch.setattr(files, "MAX_FILES", 5)
    with pytest.raises(InputError, match="more than 5 files") as refused:
        files.listing(loc.fs, loc.path, loc)
    assert "deeper folder or a glob" in (refused.value.hint or "")
