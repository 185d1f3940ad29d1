"""Races and leaks from the issue 22 review, each shown by a test that failed before its fix.

The interleavings are made deterministic rather than hoped for: a registry that lets "another
call" act at the one moment that matters, and a pyarrow sort held at a known point.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from data_platform.registry import Registry

LEFT = pa.table({"id": [1, 2, 3], "v": [1.0, 2.0, 3.0]})
RIGHT = pa.table({"id": [2, 3, 4], "v": [2.0, 3.5, 4.0]})


class AnotherDiffMeanwhile(Registry):
    """Another diff publishes the name this one was just told is free (once per name): what two
    diffs at once do when each asks for a free name first and passes it explicitly after."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.raced: set[str] = set()

    def unique_name(self, base: str) -> str:
        name = super().unique_name(base)
        if base not in self.raced:
            self.raced.add(base)
            Registry.put(self, pa.table({"x": [1]}), name=name, source="the other diff")
        return name


def test_two_diffs_at_once_never_fail_on_an_example_name(tmp_path: Path) -> None:
    from data_platform.diffing import service
    from data_platform.frames.engine import Engine

    registry = AnotherDiffMeanwhile(tmp_path / "reg")
    Registry.put(registry, LEFT, name="before", source="test")
    Registry.put(registry, RIGHT, name="after", source="test")
    sides = [service.resolve_side(n, None, False, registry) for n in ("before", "after")]

    def no_connection(name: str | None):  # both sides are refs: no database is asked
        raise AssertionError(name)

    engine = Engine()
    try:
        out = service.run_diff(*sides, ["id"], tolerance=None, settings_for=no_connection, registry=registry,
                               engine=engine)  # fmt: skip
    finally:
        engine.close()
    # Before the fix: AlreadyExistsError "data_ref `diff_changed` already exists".
    assert set(out.examples) == {"only_left", "only_right", "changed"}
    for kind, name in out.examples.items():
        assert name == f"diff_{kind}_2"  # the other diff kept `diff_<kind>`; this one took the next
        assert registry.info(name).source.startswith("diff before vs after")
    registry.close()


class DroppedMeanwhile(Registry):
    """Another tool thread drops the ref while this one is reading it for `info` or `get`."""

    drop_now = False

    def _open_reader(self, name: str):  # type: ignore[no-untyped-def]
        got = super()._open_reader(name)
        if self.drop_now:
            self.drop_now = False
            Registry.drop(self, name)
        return got


def test_a_ref_dropped_while_being_read_leaves_nothing_cached(tmp_path: Path) -> None:
    """The info, validation and table caches were changed from tool threads and writer callbacks
    without a lock, so an entry stored after a drop stayed for a ref that no longer exists."""
    registry = DroppedMeanwhile(tmp_path / "reg")
    other = Registry(tmp_path / "reg")  # writes as another process would: nothing cached here yet
    for read in (registry.info, registry.get):
        other.put(LEFT, name="t", source="test")
        registry.drop_now = True
        read("t")  # served from the file it opened, as a reader racing a drop is
        assert not registry.exists("t")
        # Before the fix: `t` -> the dropped file's info (and validation, mapped table) stayed.
        assert [c for c in (registry._info_cache, registry._validated, registry._tables) if "t" in c] == []
    registry.put(RIGHT, name="t", source="again")
    assert registry.info("t").source == "again" and registry.get("t").equals(RIGHT)
    registry.close()
    other.close()
