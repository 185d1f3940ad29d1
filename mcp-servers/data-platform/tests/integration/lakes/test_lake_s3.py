"""Object storage through the real server: an S3-compatible server on loopback (tests/s3server.py),
credentials from the AWS variables and from [storage.NAME] entries, prefixes read with pushdown,
refs written back (partitioned), listing, and errors that say what to do. No secret in any output."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_platform.config import load_settings
from data_platform.lakes.storage import Storage
from harness import call, call_error, inmemory, log_mark, log_since, text_of
from loopserver import new_bucket
from s3server import KEY, PROFILE_SECRET, SECRET
from test_lake_datasets import penguins, put_hive, same_rows

pytestmark = pytest.mark.anyio


def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    return new_bucket(s3.filesystem().create_dir)


async def test_s3_prefix_read_with_pruning_and_listing(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    b = bucket(s3)
    put_hive(s3.filesystem(), f"{b}/penguins")
    mark = log_mark()
    async with inmemory(project, s3.env()) as client:
        r = await call(client, "read_parquet", path=f"s3://{b}/penguins/")
        sc = r.structured_content
        assert sc["rows"] == 900 and sc["source"] == f"s3://{b}/penguins"
        assert {"species", "year"} <= {c["name"] for c in sc["columns"]}
        r = await call(client, "read_parquet", path=f"s3://{b}/penguins", where="year = 2009", name="y9")
        sc = r.structured_content
        assert sc["rows"] == 300 and (sc["scan"]["files_read"], sc["scan"]["files_total"]) == (3, 9)
        r = await call(client, "read_parquet", path=f"s3://{b}/penguins/*/year=2008/*.parquet", name="g")
        assert r.structured_content["rows"] == 300

        r = await call(client, "list_files", path=f"s3://{b}/penguins")
        text = text_of(r)
        assert "9 files" in text and "species" in text and "year" in text and "mass" in text

        refs = await call(client, "list_data")
        assert SECRET not in str(refs.structured_content) and KEY not in text_of(refs)
    assert SECRET not in log_since(mark)


async def test_ref_written_to_s3_partitioned_reads_back_identical(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    b = bucket(s3)
    async with inmemory(project, s3.env()) as client:
        import pyarrow.parquet as pq

        pq.write_table(penguins(), project / "p.parquet")
        await call(client, "read_parquet", path="p.parquet", name="p")
        w = await call(client, "to_parquet", data_ref="p", path=f"s3://{b}/out/p", partition_by=["species"])
        assert w.structured_content["rows"] == 900 and w.structured_content["path"] == f"s3://{b}/out/p"
        again = {"data_ref": "p", "path": f"s3://{b}/out/p", "partition_by": "species"}
        err = await call_error(client, "to_parquet", **again)
        assert "already exists" in err
        await call(client, "read_parquet", path=f"s3://{b}/out/p", name="back")
        assert await same_rows(client, "p", "back") == [{"missing": 0, "n": 900}]

        await call(client, "to_csv", data_ref="p", path=f"s3://{b}/out/p.csv")
        r = await call(client, "read_csv", path=f"s3://{b}/out/p.csv", name="csvback")
        assert r.structured_content["rows"] == 900


@pytest.mark.parametrize("end", [".gz", ".bz2", ".zst"])
async def test_compressed_csv_written_to_s3_holds_every_row(project: Path, s3, end: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 23: s3://b/x.csv.gz was compressed twice and cut (an empty gzip, reported as success)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    b = bucket(s3)
    table = penguins(20_000)  # more than one 64 KiB compressed block
    pq.write_table(table, project / "p.parquet")
    async with inmemory(project, s3.env()) as client:
        await call(client, "read_parquet", path="p.parquet", name="p")
        w = await call(client, "to_csv", data_ref="p", path=f"s3://{b}/out/p.csv{end}")
        fs = s3.filesystem()
        size = fs.get_file_info(f"{b}/out/p.csv{end}").size
        assert w.structured_content["size_bytes"] == size
        with fs.open_input_stream(f"{b}/out/p.csv{end}", compression=None) as raw:
            data = raw.read()
        codec = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}[end]
        types = pacsv.ConvertOptions(column_types=table.schema)
        back = pacsv.read_csv(pa.CompressedInputStream(pa.BufferReader(data), codec), convert_options=types)
        assert back.num_rows == 20_000 and back.equals(table)
        if end != ".zst":
            r = await call(client, "read_csv", path=f"s3://{b}/out/p.csv{end}", name="back")
            assert r.structured_content["rows"] == 20_000
        else:  # pyarrow's datasets do not decompress .zst CSV: said, not a garbled parse error
            err = await call_error(client, "read_csv", path=f"s3://{b}/out/p.csv{end}")
            assert "zstd-compressed CSV is not read" in err and ".csv.gz" in err
        await call(client, "to_parquet", data_ref="p", path=f"s3://{b}/out/p{end}")
        with fs.open_input_stream(f"{b}/out/p{end}", compression=None) as raw:
            assert pq.read_table(pa.BufferReader(raw.read())).equals(table)  # Parquet as it is


async def test_storage_entry_with_variables_and_read_only(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    b = bucket(s3)
    put_hive(s3.filesystem(), f"{b}/penguins")
    (project / ".data-platform").mkdir()
    (project / ".data-platform" / "connections.toml").write_text(
        f"""
[storage.lake]
url = "s3://{b}/"
endpoint = "{s3.endpoint}"
key = "${{LAKE_KEY}}"
secret = "${{LAKE_SECRET}}"
read_only = true
""",
        encoding="utf-8",
    )
    env = {"LAKE_KEY": KEY, "LAKE_SECRET": SECRET, "HOME": str(project)}
    async with inmemory(project, env) as client:
        r = await call(client, "read_parquet", path=f"s3://{b}/penguins", where="species = 'Adelie'")
        assert r.structured_content["rows"] == 300
        await call(client, "read_parquet", path=f"s3://{b}/penguins", name="p", columns=["id"])
        err = await call_error(client, "to_parquet", data_ref="p", path=f"s3://{b}/copy.parquet")
        assert "read-only" in err and "lake" in err
        # issue 23: Spark's s3a:// (and s3n://) is the same URL: the entry serves it, and the answer says so
        for scheme in ("s3a", "s3n"):
            r = await call(client, "read_parquet", path=f"{scheme}://{b}/penguins", where="year = 2009")
            assert (
                r.structured_content["rows"] == 300 and r.structured_content["source"] == f"s3://{b}/penguins"
            )
            said = text_of(r).splitlines()[0]
            assert f'read `path=["{scheme}://{b}/penguins"]` as `path=["s3://{b}/penguins"]`' in said
            err = await call_error(client, "to_parquet", data_ref="p", path=f"{scheme}://{b}/copy.parquet")
            assert "read-only" in err and "lake" in err
        r = await call(client, "list_files", path=f"s3a://{b}/penguins")
        assert "9 files" in text_of(r)
        # an entry for s3://BUCKET/ does not serve s3://BUCKETxyz/ (a prefix of the name, not of the path)
        err = await call_error(client, "read_parquet", path=f"s3://{b}xyz/penguins")
        assert "No credentials" in err


async def test_missing_credentials_and_bad_urls_say_what_to_do(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    async with inmemory(project, {"HOME": str(project)}) as client:
        err = await call_error(client, "read_parquet", path="s3://somebucket/data/")
        assert "No credentials" in err and "AWS_ACCESS_KEY_ID" in err and "[storage.NAME]" in err
        err = await call_error(client, "read_parquet", path="hdfs://nn/data/")
        assert "not served" in err
        err = await call_error(client, "read_parquet", path=f"s3://{KEY}:{SECRET}@bucket/x")
        assert "Credentials do not go in the URL" in err and SECRET not in err
    async with inmemory(project, s3.env()) as client:
        err = await call_error(client, "read_parquet", path="s3://no-such-bucket-here/x/")
        assert "Nothing at" in err or "does not exist" in err or "empty" in err


def aws_files(tmp: Path, endpoint: str) -> dict[str, str]:
    """A credentials file and a config file holding profile `lake` (its endpoint in the config)."""
    creds, config = tmp / "aws-credentials", tmp / "aws-config"
    creds.write_text(
        f"[default]\naws_access_key_id = other\naws_secret_access_key = other-secret\n\n"
        f"[lake]\naws_access_key_id = profile-key\naws_secret_access_key = {PROFILE_SECRET}\n",
        encoding="utf-8",
    )
    config.write_text(f"[profile lake]\nregion = eu-west-1\nendpoint_url = {endpoint}\n", encoding="utf-8")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config)}


@pytest.mark.parametrize("where", ["process environment", "project .env"])
async def test_aws_profile_from_the_environment_or_the_project_env(project: Path, s3, where: str) -> None:  # type: ignore[no-untyped-def]
    b = bucket(s3)
    put_hive(s3.filesystem(), f"{b}/penguins")
    profile = {"AWS_PROFILE": "lake", **aws_files(project.parent, s3.endpoint)}
    env = {"HOME": str(project)}
    if where == "project .env":  # read into the settings, never into os.environ (pyarrow's SDK misses it)
        (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in profile.items()), encoding="utf-8")
    else:
        env |= profile
    settings = load_settings(project, env, system_file=project / "none.env")
    options = Storage(settings).s3_options(f"s3://{b}/penguins")
    assert (options["key"], options["region"], options["endpoint"]) == (
        "profile-key",
        "eu-west-1",
        s3.endpoint,
    )
    assert PROFILE_SECRET in Storage(settings).secrets()  # redacted from every answer
    mark = log_mark()
    async with inmemory(project, env) as client:
        r = await call(client, "read_parquet", path=f"s3://{b}/penguins", where="year = 2008", name="p")
        assert r.structured_content["rows"] == 300
        refs = await call(client, "list_data")
        assert PROFILE_SECRET not in str(refs.structured_content) + text_of(r) + text_of(refs)
    assert PROFILE_SECRET not in log_since(mark)


async def test_aws_profile_missing_or_broken_says_so(project: Path) -> None:
    env = {"HOME": str(project), "AWS_PROFILE": "nope", **aws_files(project.parent, "http://127.0.0.1:9")}
    async with inmemory(project, env) as client:
        err = await call_error(client, "read_parquet", path="s3://somebucket/data/")
        assert "AWS profile 'nope' is in neither" in err and "aws-credentials" in err
        Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
            f"[lake\naws_secret_access_key = {PROFILE_SECRET}\n", encoding="utf-8"
        )
        err = await call_error(client, "read_parquet", path="s3://somebucket/data/")
        assert "is not valid INI" in err and PROFILE_SECRET not in err
    keys = {**env, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "given-secret"}
    storage = Storage(load_settings(project, keys, system_file=project / "none.env"))
    assert storage.s3_options("s3://b/x")["secret"] == "given-secret"  # the broken file is not needed
    assert "given-secret" in storage.secrets()  # and does not stop the redaction of the others


def test_one_s3_client_per_endpoint_and_credentials(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    """Reads reuse one S3 client (its open connections: a TLS handshake each on AWS); other
    credentials get their own."""
    storage = Storage(load_settings(project, s3.env(), system_file=project / "none.env"))
    first = storage.locate("s3://bucket-a/x").fs
    assert storage.locate("s3://bucket-b/y/").fs is first
    other = Storage(load_settings(project, {**s3.env(), "AWS_SECRET_ACCESS_KEY": "rotated-secret"}))
    assert other.locate("s3://bucket-a/x").fs is not first
    storage.close()
    assert storage.locate("s3://bucket-a/x").fs is not first
