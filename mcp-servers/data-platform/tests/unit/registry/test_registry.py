"""The registry on its own: atomic, memory-mapped, validated, shared safely."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from data_platform.errors import AlreadyExistsError, CorruptRefError, InputError, NotFoundError, StorageError
from data_platform.registry import Registry, suggest_name
from data_platform.registry.reading import VALIDATED_XATTR
from residency import resident_mb, settled


def table(n: int = 5) -> pa.Table:
    return pa.table({"id": list(range(n)), "name": [f"n{i}" for i in range(n)]})


def test_put_get_roundtrip_and_metadata(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    info = reg.put(table(), name="people", source="test.csv")
    assert (info.name, info.rows, info.columns, info.source) == ("people", 5, 2, "test.csv")
    assert info.size_bytes == (tmp_path / "reg" / "people.arrow").stat().st_size
    got = reg.get("people")
    assert got.column("name").to_pylist() == [f"n{i}" for i in range(5)]
    assert (tmp_path / "reg" / ".gitignore").read_text().strip().endswith("*")


def test_survives_a_new_registry_object(tmp_path: Path) -> None:
    Registry(tmp_path).put(table(3), name="kept", source="x")
    again = Registry(tmp_path)
    assert again.names() == ["kept"]
    assert again.get("kept").num_rows == 3


def test_no_overwrite_without_asking(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.put(table(2), name="a", source="x")
    with pytest.raises(AlreadyExistsError, match="overwrite=true"):
        reg.put(table(9), name="a", source="y")
    assert reg.get("a").num_rows == 2
    reg.put(table(9), name="a", source="y", overwrite=True)
    assert reg.info("a").rows == 9


def test_auto_names_do_not_collide(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    names = [reg.put(table(1), source="s", default_name="Sales 2025.csv.gz").name for _ in range(3)]
    assert names == ["sales_2025", "sales_2025_2", "sales_2025_3"]
    assert suggest_name("2024-data.parquet") == "t_2024_data"


@pytest.mark.parametrize("bad", ["../../etc", "a/b", "", "x" * 65, "1abc", "a.b", "a\x00b", "é"])
def test_names_are_validated(tmp_path: Path, bad: str) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(InputError, match="Invalid data_ref name"):
        reg.put(table(), name=bad, source="x")
    with pytest.raises(InputError):
        reg.drop(bad)


def test_unknown_ref_suggests(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.put(table(), name="sales", source="x")
    with pytest.raises(NotFoundError, match='Did you mean "sales"'):
        reg.get("sale")


def test_failed_write_publishes_nothing(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(RuntimeError), reg.writer(name="half", schema=table().schema, source="x") as w:
        w.write(table())
        raise RuntimeError("crash mid-write")
    assert not reg.exists("half")
    assert list(tmp_path.glob(".tmp-*")) == []


def test_streaming_writer(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with reg.writer(name="big", schema=table().schema, source="chunks") as w:
        for _ in range(10):
            w.write(table(1000))
    assert w.info is not None and w.info.rows == 10_000
    assert sum(b.num_rows for b in reg.batches("big")) == 10_000


def test_a_big_streamed_ref_keeps_no_reserved_blocks(tmp_path: Path) -> None:
    """Blocks are reserved ahead of the writer (fallocate); the unused reserve must go at the end."""
    reg = Registry(tmp_path)
    batch = pa.table({"x": pa.array(range(1_000_000), pa.int64())})  # 8 MB a batch
    with reg.writer(name="big", schema=batch.schema, source="t") as w:
        for _ in range(5):
            w.write(batch)
    assert reg.get("big").num_rows == 5_000_000  # waits for a writer still copying
    assert reg.get("big").column("x")[4_999_999].as_py() == 999_999
    reg.close()  # the reserve is freed behind the answer, by the registry's flusher: wait for it
    st = reg.path("big").stat()
    assert st.st_size < 41 << 20 and st.st_blocks * 512 < st.st_size + (1 << 20)


def test_disk_full_mid_stream_is_a_storage_error_and_publishes_nothing(tmp_path: Path) -> None:
    # A real write failure on the writer thread (file size limit: EFBIG), in a child process.
    code = textwrap.dedent(
        """
        import resource, signal, sys
        from pathlib import Path
        import pyarrow as pa
        from data_platform.errors import StorageError
        from data_platform.registry import Registry
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        reg = Registry(Path(sys.argv[1]))
        reg.put(pa.table({"x": [1, 2, 3]}), name="small", source="t")
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))
        batch = pa.table({"x": list(range(100_000))})
        try:
            with reg.writer(name="big", schema=batch.schema, source="t") as w:
                for _ in range(100):
                    w.write(batch)
        except StorageError as exc:
            print("storage-error:", exc.message)
        print("exists:", reg.exists("big"), "small:", reg.get("small").num_rows)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "storage-error: Cannot write in the data registry folder" in out
    assert "exists: False small: 3" in out
    assert list(tmp_path.glob(".tmp-*")) == []


def test_background_flush_and_sync_writes(tmp_path: Path) -> None:
    fast = Registry(tmp_path / "fast")
    fast.put(table(), name="a", source="t")
    fast.drop("a")  # dropped before its flush ran: the flusher must shrug
    fast.put(table(7), name="b", source="t")
    fast.close()
    assert fast.get("b").num_rows == 7
    durable = Registry(tmp_path / "durable", sync_writes=True)
    assert durable.put(table(3), name="c", source="t").rows == 3
    # A child that writes and exits at once: its pending flush runs at exit, the ref is whole.
    code = "import sys,pyarrow as pa;from pathlib import Path;from data_platform.registry import Registry;"
    code += "Registry(Path(sys.argv[1])).put(pa.table({'x': list(range(100000))}), name='child', source='t')"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "fast")], check=True, timeout=120)
    assert Registry(tmp_path / "fast").get("child").num_rows == 100_000


def test_corrupt_ref_is_reported_and_others_still_work(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.put(table(), name="good", source="x")
    info = reg.put(table(1000), name="bad", source="x")
    data = info.path.read_bytes()
    info.path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptRefError, match="damaged"):
        reg.get("bad")
    good, bad = reg.list()
    assert [g.name for g in good] == ["good"]
    assert [b[0] for b in bad] == ["bad"]
    assert reg.drop("bad") is None
    assert reg.names() == ["good"]


def test_read_only_folder_gives_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permissions; a file where the folder should be fails the same way.
        target = tmp_path / "not_a_dir"
        target.write_text("x")
        reg = Registry(target)
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        reg = Registry(folder)
    with pytest.raises(StorageError, match="DATA_PLATFORM_REGISTRY_DIR"):
        reg.put(table(), name="x", source="x")


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    stale = tmp_path / f".tmp-{proc.pid}-abc.arrow"
    stale.write_bytes(b"partial")
    mine = tmp_path / f".tmp-{os.getpid()}-live.arrow"
    mine.write_bytes(b"in progress")
    Registry(tmp_path).put(table(), name="t", source="x")
    assert not stale.exists()
    assert mine.exists()


WRITER = textwrap.dedent(
    """
    import sys, time, pyarrow as pa
    from data_platform.registry import Registry
    reg = Registry(sys.argv[1])
    batch = pa.record_batch({"v": pa.array(range(200_000))})
    with reg.writer(name=sys.argv[2], schema=batch.schema, source="slow") as w:
        print("writing", flush=True)
        for _ in range(10_000):
            w.write(batch)
            time.sleep(0.01)
    """
)


def test_sigkill_mid_write_leaves_earlier_refs_intact(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.put(table(7), name="before", source="x")
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), "interrupted"], stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"writing"
        time.sleep(0.3)
        assert list(tmp_path.glob(".tmp-*")), "the writer should have a temp file open"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    after = Registry(tmp_path)
    assert after.names() == ["before"]
    assert after.get("before").num_rows == 7
    after.put(table(), name="next", source="x")  # opening for write cleans the dead writer's temp
    assert list(tmp_path.glob(".tmp-*")) == []


CONCURRENT = textwrap.dedent(
    """
    import sys, pyarrow as pa
    from data_platform.registry import Registry
    from data_platform.errors import AlreadyExistsError
    reg = Registry(sys.argv[1])
    t = pa.table({"who": [sys.argv[2]] * 1000})
    for i in range(40):
        reg.put(t, source=sys.argv[2], default_name="shared")
        try:
            reg.put(t, name="contended", source=sys.argv[2])
        except AlreadyExistsError:
            pass
        reg.put(t, name="replaced", source=sys.argv[2], overwrite=True)
        reg.get("replaced").column("who").to_pylist()
    """
)


def test_two_processes_share_one_folder(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(tmp_path), w]) for w in ("p1", "p2")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    reg = Registry(tmp_path)
    good, bad = reg.list()
    assert bad == []
    shared = [g for g in good if g.name.startswith("shared")]
    assert len(shared) == 80, "every auto-named put got its own ref"
    assert all(g.rows == 1000 for g in good)
    assert set(reg.get("replaced").column("who").to_pylist()) in ({"p1"}, {"p2"})


def test_damage_inside_the_data_is_caught_before_any_compute(tmp_path: Path) -> None:
    """Bytes overwritten in a string column's offsets must be an error, not a crash."""
    reg = Registry(tmp_path)
    info = reg.put(
        pa.table({"id": list(range(5000)), "txt": [f"v{i}" for i in range(5000)]}), name="m", source="x"
    )
    data = bytearray(info.path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = b"\xff" * 64
    info.path.write_bytes(bytes(data))
    with pytest.raises(CorruptRefError, match="damaged"):
        reg.get("m")
    with pytest.raises(CorruptRefError, match="damaged"):
        list(reg.batches("m"))
    reader = reg.reader("m")
    with pytest.raises(CorruptRefError):
        [reader.get_batch(i) for i in range(reader.num_record_batches)]


def test_a_version_validated_in_full_is_stamped_and_not_validated_again_by_another_process(
    tmp_path: Path,
) -> None:
    """A fresh server paid a full validation of every ref it read (~0.1 s a 300 MB ref): the first
    process to validate a file version stamps the file with it, and later processes trust that
    stamp; a write to the file voids it (another version), so damage is still found."""
    ref = Registry(tmp_path).put(
        pa.table({"id": list(range(5000)), "txt": [f"v{i}" for i in range(5000)]}), name="m", source="x"
    )
    try:
        os.setxattr(ref.path, "user.probe", b"1")
    except OSError:
        pytest.skip("this file system keeps no user attributes: nothing is stamped")
    assert VALIDATED_XATTR not in os.listxattr(ref.path)  # written here: known valid, no stamp needed
    other = Registry(tmp_path)  # another process: validated in full, stamped behind the answer
    assert other.get("m").num_rows == 5000
    other.close()
    st = ref.path.stat()
    assert os.getxattr(ref.path, VALIDATED_XATTR) == f"{st.st_mtime_ns}:{st.st_size}".encode()

    data = bytearray(ref.path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    ref.path.write_bytes(bytes(data))  # damaged in place: same inode and size, new mtime
    with pytest.raises(CorruptRefError, match="damaged"):
        Registry(tmp_path).get("m")
    # The stamp is what skips the work: one naming this version is trusted, damage and all.
    st = ref.path.stat()
    os.setxattr(ref.path, VALIDATED_XATTR, f"{st.st_mtime_ns}:{st.st_size}".encode())
    assert Registry(tmp_path).get("m").num_rows == 5000


def test_open_tables_are_reused_until_the_file_changes(tmp_path: Path) -> None:
    """A ref's mapping is kept between calls (no page faults again), never past a change of its file."""
    reg = Registry(tmp_path)
    reg.put(table(5), name="t", source="t")
    first = reg.get("t")
    assert reg.get("t") is first
    other = Registry(tmp_path)  # another process replaces it
    other.put(table(9), name="t", source="t", overwrite=True)
    assert reg.get("t").num_rows == 9 and first.num_rows == 5  # the old mapping stays valid for its holder
    reg.drop("t")
    with pytest.raises(NotFoundError):
        reg.get("t")
    for i in range(20):  # the cache stays bounded
        reg.put(table(1), name=f"r{i}", source="t")
        reg.get(f"r{i}")
    assert len(reg._tables) <= 16


def mapped(path: Path) -> bool:
    """Whether this process maps the file now (its pages count in its resident memory)."""
    return any(line.rstrip().endswith(str(path)) for line in Path("/proc/self/maps").read_text().splitlines())


def test_a_released_ref_leaves_the_process_and_is_mapped_again_on_use(tmp_path: Path) -> None:
    """release drops the kept mapping (a report draws after it: the ref's pages need not stay in
    the process meanwhile); the next get maps the file again, as it was."""
    reg = Registry(tmp_path)
    reg.put(table(5), name="t", source="t")
    path = reg.path("t")
    first = reg.get("t")
    assert mapped(path)
    reg.release("t")
    assert mapped(path)  # its holder still reads it
    del first
    assert settled(lambda: mapped(path), False)
    assert reg.get("t").equals(table(5)) and mapped(path)
    reg.release("nothing kept")  # a no-op


def test_validation_leaves_no_page_of_the_ref_in_the_process(tmp_path: Path) -> None:
    """The first get of a file version validates all its data; through the table's own mapping
    every page then stayed resident (a 314 MB ref: 1.0x of the profile's peak before it had
    read anything). Validated through a mapping of its own, dropped after, the table's mapping
    starts with only the file's header and footer pages."""
    big = pa.table(
        {"x": pa.array(range(2_000_000), pa.int64()), "s": [f"v{i % 1000}" for i in range(2_000_000)]}
    )
    Registry(tmp_path).put(big, name="t", source="t")  # written by another process: not validated here
    reg = Registry(tmp_path)
    path = reg.path("t")
    t = reg.get("t")
    assert settled(lambda: resident_mb(path) < 1, True)  # of ~27 MB
    assert t.column("x")[1_999_999].as_py() == 1_999_999  # damage: test_damage_inside_the_data_...


def test_a_column_read_alone_leaves_the_process_with_its_array(tmp_path: Path) -> None:
    """`column` reads one column of a kept table through a mapping of its own, gone with the
    array (a pass over the columns one at a time then holds one column's pages); where the ref's
    file is no longer the table's, or its batches are short (each read again costs), it is the
    table's own column."""
    reg = Registry(tmp_path)
    reg.put(table(40_000), name="t", source="t")
    path = reg.path("t")
    t = reg.get("t")

    def mappings() -> int:
        return Path("/proc/self/maps").read_text().count(str(path))

    before = mappings()
    col = reg.column("t", t, "name")
    assert col.equals(t.column("name")) and mappings() == before + 1
    del col
    assert settled(mappings, before)
    reg.put(table(3), name="t", source="t", overwrite=True)  # replaced: the table's own column
    assert reg.column("t", t, "id").to_pylist() == list(range(40_000)) and settled(mappings, before)
    reg.drop("t")
    assert reg.column("t", t, "id").to_pylist() == list(range(40_000))
    reg.put(pa.Table.from_batches(table(1_000).to_batches() * 50), name="short", source="t")
    short = reg.get("short")
    first = reg.column("short", short, "id").chunks[0]  # 50 batches of 1,000 rows: the table's own
    assert first.buffers()[1].address == short.column("id").chunks[0].buffers()[1].address


def test_open_tables_are_shared_safely_between_threads(tmp_path: Path) -> None:
    """Tools run on worker threads against one registry: the open-table cache must not race."""
    import threading

    reg = Registry(tmp_path)
    for i in range(20):
        reg.put(table(3), name=f"r{i}", source="t")
    errors: list[str] = []

    def work(k: int) -> None:
        try:
            for j in range(1000):
                assert reg.get(f"r{(j * k) % 20}").num_rows == 3
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(reg._tables) <= 16


# A big ref is named before its last bytes are copied; this slows the copy down on purpose
# (a writer seen through the registry module only: pyarrow itself is untouched).
SLOW_COPY = textwrap.dedent(
    """
    import os, time, types
    import pyarrow.ipc
    from data_platform import registry
    from data_platform.registry import writer

    class SlowWriter:
        def __init__(self, inner):
            self.inner = inner
        def write_table(self, t):
            time.sleep(float(os.environ.get("SLOW_COPY_S", "1.0")))
            self.inner.write_table(t)
        def write_batch(self, b):
            time.sleep(float(os.environ.get("SLOW_COPY_S", "1.0")))
            self.inner.write_batch(b)
        def close(self):
            self.inner.close()

    def slow_new_file(sink, schema):  # slow for ref files only, not for in-memory sizing
        writer = pyarrow.ipc.new_file(sink, schema)
        return SlowWriter(writer) if isinstance(sink, pyarrow.OSFile) else writer

    writer.ipc = types.SimpleNamespace(**{**vars(pyarrow.ipc), "new_file": slow_new_file})
    """
)
BIG = "pa.table({'x': pa.array(range(3_000_000), pa.int64())})"  # 24 MB: published early


def test_a_big_ref_is_answered_before_its_copy_ends_and_readers_wait_for_it(tmp_path: Path) -> None:
    import fcntl

    code = SLOW_COPY + textwrap.dedent(
        f"""
        import sys, time, pyarrow as pa
        from pathlib import Path
        reg = registry.Registry(Path(sys.argv[1]))
        big = {BIG}
        t0 = time.perf_counter()
        info = reg.put(big, name="big", source="t")
        print("answered", round(time.perf_counter() - t0, 3), info.rows, info.size_bytes, flush=True)
        sys.stdin.readline()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdin is not None
            _, seconds, rows, size = proc.stdout.readline().split()
            assert float(seconds) < 1.0 and rows == "3000000", "the answer waited for the copy"
            fd = os.open(tmp_path / "big.arrow", os.O_RDONLY)
            try:
                with pytest.raises(BlockingIOError):  # still being written, and locked as such
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            finally:
                os.close(fd)
            other = Registry(tmp_path)  # another process's view: it waits for the writer, then reads it whole
            assert other.get("big").column("x")[2_999_999].as_py() == 2_999_999
            assert [i.name for i in other.list()[0]] == ["big"]
            assert int(size) == (tmp_path / "big.arrow").stat().st_size, "the answered size is the file's"
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()


def test_exit_and_sigterm_wait_for_a_ref_still_being_written(tmp_path: Path) -> None:
    for how in ("exit", "sigterm"):
        code = SLOW_COPY + textwrap.dedent(
            f"""
            import sys, time, pyarrow as pa
            from pathlib import Path
            from data_platform.cli import finish_writes_on_sigterm
            reg = registry.Registry(Path(sys.argv[1]))
            finish_writes_on_sigterm(reg)
            reg.put({BIG}, name="{how}", source="t")
            print("answered", flush=True)
            if "{how}" == "sigterm":
                time.sleep(60)
            """
        )
        with subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "answered"
            if how == "sigterm":
                proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == (-signal.SIGTERM if how == "sigterm" else 0)
        ref = Registry(tmp_path).get(how)
        assert ref.num_rows == 3_000_000 and ref.column("x")[2_999_999].as_py() == 2_999_999


def test_a_copy_failing_after_the_answer_is_reported_on_next_use(tmp_path: Path) -> None:
    code = SLOW_COPY + textwrap.dedent(
        f"""
        import sys, pyarrow as pa
        from pathlib import Path
        from data_platform.errors import CorruptRefError
        def full_disk(self):
            raise OSError(28, "No space left on device")
        reg = registry.Registry(Path(sys.argv[1]))
        reg.put(pa.table({{"x": [1, 2, 3]}}), name="small", source="t")
        registry.RefWriter._close_file = full_disk
        print("rows", reg.put({BIG}, name="big", source="t").rows)
        reg.close()
        try:
            reg.get("big")
        except CorruptRefError as exc:
            print("then:", exc.message)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    )
    first, then = out.stdout.strip().splitlines()
    assert first == "rows 3000000"  # answered before the failure
    assert "writing failed after it was named: No space left on device" in then  # the reason, in-process
    assert "big could not be completed on disk: No space left on device" in out.stderr  # and logged
    reg = Registry(tmp_path)
    with pytest.raises(CorruptRefError, match="damaged"):
        reg.get("big")
    assert reg.get("small").num_rows == 3
    assert reg.drop("big") is None  # and it can be dropped and made again
    assert reg.put(table(2), name="big", source="t").rows == 2
    assert reg.get("big").num_rows == 2


@pytest.mark.skipif(
    not Path("/sys/kernel/mm/transparent_hugepage").is_dir(), reason="a kernel without transparent huge pages"
)
def test_a_process_with_a_registry_allocates_in_small_pages(tmp_path: Path) -> None:
    # pyarrow imported first (as any script may), then a registry: huge pages are off from then
    # on, for the process and the processes it starts (registry/pages.py says why). The child
    # inherits this process's flag (off once any registry was made here): it turns it on first.
    code = textwrap.dedent(
        """
        import ctypes, subprocess, sys
        from pathlib import Path
        ctypes.CDLL(None).prctl(41, 0, 0, 0, 0)  # PR_SET_THP_DISABLE: huge pages allowed
        import pyarrow
        def thp(text):
            return next(l.split()[1] for l in text.splitlines() if l.startswith("THP_enabled:"))
        before = thp(Path("/proc/self/status").read_text())
        from data_platform.registry import Registry
        Registry(Path(sys.argv[1]))
        child = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout
        print(before, thp(Path("/proc/self/status").read_text()), thp(child))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "0", "0"]
