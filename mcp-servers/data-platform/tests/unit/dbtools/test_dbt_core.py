"""Pure logic of the dbt core: findings, project discovery, lineage, bounded results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from data_platform.config import load_settings
from data_platform.dbtools.artifacts import NodeResult
from data_platform.dbtools.findings import DEPRECATIONS, clean_message, from_event
from data_platform.dbtools.lineage import lineage
from data_platform.dbtools.project import fingerprint, locate
from data_platform.dbtools.runner import QUIET_ENV, progress_of
from data_platform.dbtools.service import Compiled, DbtService, RunOutcome, Validation
from data_platform.errors import DbtError, InputError, NotConfiguredError, NotFoundError
from data_platform.render import bound
from data_platform.server.dbt_results import DbtRunResult
from shopproject import copy_shop, duckdb_env, make_deprecated

WRAPPED = (
    "\x1b[33m[WARNING]\x1b[0m[MissingArgumentsPropertyInGenericTestDeprecation]: Deprecated\n"
    "functionality\nFound top-level arguments to test `accepted_values` defined on 'stg_orders' in\n"
    "package 'shop' (models/staging/schema.yml). Arguments to generic tests should be\n"
    "nested under the `arguments` property."
)


def test_a_deprecation_event_becomes_a_clean_finding_with_file_and_fix() -> None:
    f = from_event("MissingArgumentsPropertyInGenericTestDeprecation", "D039", "warn", WRAPPED, {})
    assert f is not None and f.kind == "deprecation" and f.code == "D039"
    assert f.file == "models/staging/schema.yml"
    assert f.message.startswith("Found top-level arguments to test `accepted_values`")
    assert "\n" not in f.message and "\x1b" not in f.message and "WARNING" not in f.message
    assert "arguments:" in (f.fix or "")


def test_property_moved_names_the_key_in_its_fix_and_duplicate_keys_carry_a_line() -> None:
    moved = from_event(
        "PropertyMovedToConfigDeprecation", "D030", "warn", "Found `severity` ...", {"key": "severity"}
    )
    assert moved is not None and "`severity`" in (moved.fix or "")
    dup = from_event(
        "DuplicateYAMLKeysDeprecation",
        "D024",
        "warn",
        "Duplicate key 'description' in \"<unicode string>\", line 34, column 5 in file\n`models/x.yml`",
        {"file": "models/x.yml"},
    )
    assert dup is not None and dup.line == 34 and dup.file == "models/x.yml"
    assert "<unicode string>" not in dup.message


def test_the_summary_and_info_events_are_not_findings() -> None:
    assert from_event("DeprecationsSummary", "D028", "warn", "Summary", {}) is None
    assert from_event("MainReportVersion", "A001", "info", "Running with dbt", {}) is None


def test_every_catalogued_deprecation_is_a_real_dbt_event() -> None:
    import dbt.events.types as types

    missing = [name for name in DEPRECATIONS if not hasattr(types, name)]
    assert missing == []


def test_errors_keep_their_lines_and_get_advice() -> None:
    msg = "Encountered an error:\nParsing Error\n  Syntax error near line 14\n    mapping values are not"
    f = from_event("MainEncounteredError", "Z002", "error", msg, {})
    assert f is not None and f.kind == "error" and f.line == 14
    assert "\n" in f.message and "YAML" in (f.fix or "")
    assert clean_message("\x1b[31mboom\x1b[0m\n\n", wrapped=False) == "boom"


def test_progress_comes_from_result_events_with_index_and_total() -> None:
    step = progress_of(
        "LogModelResult", {"index": 3, "total": 9, "status": "success", "node_info": {"node_name": "m"}}
    )
    assert step is not None and (step.done, step.total, step.message) == (3, 9, "m: success")
    assert progress_of("LogTestResult", {"index": 1, "num_models": 4, "status": "pass"}) is not None
    assert progress_of("MainReportVersion", {}) is None


def test_project_is_found_walking_up_or_from_the_setting(tmp_path: Path) -> None:
    root = copy_shop(tmp_path)
    deep = root / "models" / "marts"
    found = locate(None, None, deep)
    assert found.root == root and found.name == "shop" and found.profiles_dir == root
    assert found.validation_path == root / "target" / ".data-platform"
    with pytest.raises(NotConfiguredError, match="DBT_PROJECT_DIR"):
        locate(None, None, tmp_path)
    with pytest.raises(NotConfiguredError, match=r"no dbt_project\.yml"):
        locate(tmp_path, None, deep)
    (root / "profiles.yml").unlink()
    assert locate(root, None, tmp_path).profiles_dir == Path("~/.dbt").expanduser()


def test_a_broken_dbt_project_yml_is_a_clear_error(tmp_path: Path) -> None:
    root = copy_shop(tmp_path)
    (root / "dbt_project.yml").write_text("name: shop\nmodels:\n  shop:\n - bad: [\n")
    with pytest.raises(DbtError, match=r"dbt_project.yml is not valid YAML at line \d"):
        locate(root, None, root)
    service = DbtService(load_settings(project_dir=tmp_path, environ={"DBT_PROJECT_DIR": str(root)}))
    with pytest.raises(DbtError, match="not valid YAML"):
        service.validate()


def test_the_fingerprint_changes_with_any_project_file_but_not_with_target(tmp_path: Path) -> None:
    root = copy_shop(tmp_path)
    project = locate(root, None, root)
    first = fingerprint(project)
    (root / "target").mkdir()
    (root / "target" / "manifest.json").write_text("{}")
    assert fingerprint(project) == first
    (root / "models" / "new.sql").write_text("select 1")
    assert fingerprint(project) != first
    assert fingerprint(project, "vars") != fingerprint(project)


@pytest.mark.slow
def test_a_new_process_reuses_the_findings_of_an_earlier_full_parse_until_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new server (a new DbtService) on a project parsed by an earlier one: dbt's partial parse
    plus the saved findings, with every deprecation; an edited file means a full parse again."""
    root = copy_shop(tmp_path)
    make_deprecated(root)
    for key, value in duckdb_env(root, tmp_path / "w.duckdb").items():
        monkeypatch.setenv(key, value)

    def session() -> Validation:
        return DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)})).validate()

    first = session()
    assert first.cached is False and first.ok and first.deprecations
    again = session()
    assert again.cached is True and again.findings == first.findings
    (root / "models" / "marts" / "revenue_by_country.sql").write_text("select 1 as edited\n")
    edited = session()
    assert edited.cached is False and edited.deprecations == first.deprecations


@pytest.mark.slow
def test_an_unchanged_project_is_answered_from_the_saved_parse_until_dbt_would_see_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new session on the files, variables and manifest the last clean parse left: its saved
    findings and manifest answer, without dbt. A variable the profile or a model reads, changed,
    or the manifest rewritten by another command, and dbt parses again."""
    root = copy_shop(tmp_path)
    make_deprecated(root)
    flagged = root / "models" / "marts" / "flagged.sql"
    flagged.write_text('select \'{{ env_var("SHOP_FLAG", "off") }}\' as flag\n')
    for key, value in duckdb_env(root, tmp_path / "w.duckdb").items():
        monkeypatch.setenv(key, value)
    manifest = root / "target" / ".data-platform" / "manifest.json"

    def service() -> DbtService:
        return DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))

    def written() -> int:
        return manifest.stat().st_mtime_ns

    first = service().validate()
    assert first.cached is False and first.ok and len(first.deprecations) == 4
    before = written()
    for name in QUIET_ENV:  # set for dbt by the first session's import: a new process has none
        monkeypatch.delenv(name, raising=False)
    again = service().validate()
    assert again.cached is True and again.seconds == 0.0 and again.findings == first.findings
    assert written() == before  # dbt did not run
    monkeypatch.setenv("SHOP_FLAG", "on")  # read by a model
    changed = service().validate()
    assert changed.seconds > 0 and written() != before and changed.findings == first.findings
    assert service().validate().seconds == 0.0  # the new parse is the saved one now
    monkeypatch.setenv("DP_TEST_PG_SCHEMA", "moved")  # read by the profile: the models' schema
    moved = service().validate()
    assert moved.seconds > 0 and moved.deprecations == first.deprecations
    nodes = json.loads(manifest.read_text())["nodes"]
    assert nodes["model.shop.flagged"]["schema"] == "moved"
    one = service()
    one.ls()  # a command given the kept parse (DbtService.parsed) writes no manifest: the stamp holds
    assert one.validate().seconds == 0.0
    one.compile("flagged")
    assert one.validate().seconds == 0.0
    service().validate(
        target="duckdb_prod"
    )  # another session rewrites the manifest: the stamp no longer holds
    assert one.validate().seconds > 0


@pytest.mark.slow
def test_commands_reuse_the_kept_parse_until_a_file_a_variable_or_the_target_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compile/show/ls run on the validation's parse kept in memory (dbt parses nothing), and
    never on a stale one: an edited model, a variable a model reads, another target or vars."""
    root = copy_shop(tmp_path)
    flagged = root / "models" / "marts" / "flagged.sql"
    flagged.write_text('select \'{{ env_var("SHOP_FLAG", "off") }}\' as flag, {{ var("n", 1) }} as n\n')
    for key, value in duckdb_env(root, tmp_path / "w.duckdb").items():
        monkeypatch.setenv(key, value)
    service = DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))

    def compiled(**kw: Any) -> Compiled:
        return service.compile("flagged", **kw)[0][0]

    kept = service.parsed()
    assert kept is not None and service.parsed() is kept  # one parse, reused
    assert "'off' as flag, 1 as n" in compiled().sql
    assert service.parsed() is kept and [r.name for r in service.ls(select="flagged")] == ["flagged"]
    # A failed --inline leaves no node behind in the kept parse (dbt drops it only on success).
    inline = service.compile_args(service.project(), None, None, "--no-write-json", "--no-introspect")
    assert not service.inproc.invoke([*inline, "--inline={{ run_query('select 1') }}"], manifest=kept).success
    assert service.inproc.invoke([*inline, "--inline=select 1 as y"], manifest=kept).success
    monkeypatch.setenv("SHOP_FLAG", "on")
    assert "'on' as flag" in compiled().sql and service.parsed() is not kept
    flagged.write_text('select {{ var("n", 1) }} as n\n')
    assert compiled().sql == "select 1 as n"
    other = compiled(target="duckdb_prod", vars={"n": 7})
    assert (other.sql, other.relation) == ("select 7 as n", "w.shop_prod")
    assert (compiled().sql, compiled().relation) == ("select 1 as n", "w.shop")
    (root / "models" / "marts" / "broken.sql").write_text("select {{ nope( }}\n")
    assert service.parsed() is None  # a project with errors: the command parses and says why
    with pytest.raises(DbtError, match="broken"):
        compiled()


@pytest.mark.slow
def test_two_first_calls_at_once_share_one_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up and the first call on a project never parsed: one dbt parse, not two."""
    from concurrent.futures import ThreadPoolExecutor

    root = copy_shop(tmp_path)
    make_deprecated(root)
    for key, value in duckdb_env(root, tmp_path / "w.duckdb").items():
        monkeypatch.setenv(key, value)
    service = DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: service.validate(), range(2)))
    assert sorted(v.cached for v in both) == [False, True]
    assert both[0].findings == both[1].findings and len(both[0].deprecations) == 4


@pytest.mark.slow
def test_the_early_parse_leaves_what_the_first_validation_answers_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` starts a project's first parse in a process of its own (dbtools/early.py): the
    server's first validation waits for it and answers from what it saved, every deprecation
    included, without dbt. A project parsed before, or the dbt tools off: no such process."""
    from data_platform.dbtools import early

    root = copy_shop(tmp_path)
    make_deprecated(root)
    for key, value in duckdb_env(root, tmp_path / "w.duckdb").items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(root)
    settings = load_settings()  # as `serve` does, and the process after it: the same environment
    early.start(settings.model_copy(update={"disabled": frozenset({"dbt"})}))
    assert early._pending == []
    early.start(settings)
    assert len(early._pending) == 1
    first = DbtService(settings).validate()  # waits for it
    assert early._pending == []
    assert first.cached is True and first.seconds == 0.0 and len(first.deprecations) == 4
    early.start(settings)  # parsed before: the warm-up's work
    assert early._pending == []


def _manifest() -> dict:
    def n(kind: str, name: str, **extra: object) -> dict:
        return {"resource_type": kind, "name": name, "original_file_path": f"{name}.sql", **extra}

    nodes = {
        "seed.p.a": n("seed", "a"),
        "seed.p.b": n("seed", "b"),
        "model.p.stg_a": n("model", "stg_a"),
        "model.p.stg_b": n("model", "stg_b"),
        "model.p.mart": n("model", "mart"),
        "test.p.unique_mart_id": n("test", "unique_mart_id"),
    }
    parents = {
        "model.p.stg_a": ["seed.p.a"],
        "model.p.stg_b": ["seed.p.b", "source.p.raw.t"],
        "model.p.mart": ["model.p.stg_a", "model.p.stg_b"],
        "test.p.unique_mart_id": ["model.p.mart"],
        "exposure.p.dash": ["model.p.mart"],
    }
    children: dict[str, list[str]] = {}
    for child, ps in parents.items():
        for p in ps:
            children.setdefault(p, []).append(child)
    return {
        "nodes": nodes,
        "sources": {"source.p.raw.t": {"resource_type": "source", "name": "t", "source_name": "raw"}},
        "exposures": {"exposure.p.dash": {"resource_type": "exposure", "name": "dash"}},
        "parent_map": parents,
        "child_map": children,
    }


def test_lineage_any_depth_both_ways_with_mermaid() -> None:
    lin = lineage(_manifest(), "mart")
    assert {(n.resource_type, n.name, n.distance) for n in lin.upstream} == {
        ("model", "stg_a", -1),
        ("model", "stg_b", -1),
        ("seed", "a", -2),
        ("seed", "b", -2),
        ("source", "raw.t", -2),
    }
    assert {n.name for n in lin.downstream} == {"unique_mart_id", "dash"}
    assert lin.mermaid.startswith("graph LR") and '[/"a"/]' in lin.mermaid and '[("raw.t")]' in lin.mermaid
    assert lin.mermaid.count("-->") == len(lin.edges) == 7
    one = lineage(_manifest(), "model.p.mart", direction="up", depth=1, include_tests=False)
    assert [n.name for n in one.upstream] == ["stg_a", "stg_b"] and one.downstream == []
    assert [n.name for n in lineage(_manifest(), "raw.t", direction="down").downstream] == [
        "stg_b",
        "mart",
        "dash",
        "unique_mart_id",
    ]


def test_lineage_of_an_unknown_node_suggests_a_name() -> None:
    with pytest.raises(NotFoundError, match='Did you mean "mart"'):
        lineage(_manifest(), "marts")


def test_a_run_of_500_nodes_gives_bounded_text_and_structured_content(tmp_path: Path) -> None:
    root = copy_shop(tmp_path)
    project = locate(root, None, root)
    nodes = [
        NodeResult(f"model.p.m{i}", f"m{i}", "model", "error" if i == 250 else "success", 0.1, 10)
        for i in range(500)
    ]
    outcome = RunOutcome(
        command="run",
        project=project,
        validation=Validation(project, [], 0.1, False, root / "m.json"),
        nodes=nodes,
        counts={"success": 499, "error": 1},
        returncode=1,
        seconds=12.0,
        run_results_path=root / "target" / "run_results.json",
    )
    result = DbtRunResult.of(outcome)
    assert result.success is False and result.nodes_total == 500
    assert len(result.nodes) == 200 and result.nodes[0].name == "m250"  # failures first
    assert len(json.dumps(result.model_dump(mode="json"))) < 40_000
    text = result.render()
    assert len(text) < 8_000 and "ERROR model m250" in text and "40 of 500 nodes shown" in text
    assert bound(text, 8_000) == text


def test_stack_traces_never_become_findings() -> None:
    from data_platform.dbtools.findings import clean_message, from_event

    trace = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nValueError: boom'
    assert from_event("MainStackTrace", "Z003", "error", trace, {}) is None
    kept = clean_message("Non-relative patterns are unsupported\n" + trace, wrapped=False)
    assert kept == "Non-relative patterns are unsupported"


def test_a_flag_inside_a_selection_is_refused_never_passed_to_dbt() -> None:
    """`select="orders --target prod"` would otherwise run against prod."""
    assert DbtService.selection("stg_orders+ tag:daily", "x") == [
        "--select", "stg_orders+", "tag:daily", "--exclude", "x",
    ]  # fmt: skip
    with pytest.raises(InputError, match=r"select takes dbt selectors, not flags: got --target"):
        DbtService.selection("orders --target prod", None)
    with pytest.raises(InputError, match=r"exclude takes dbt selectors, not flags: got -s"):
        DbtService.selection(None, "-s orders")


def test_a_state_with_a_nul_byte_is_refused_not_an_internal_error(tmp_path: Path) -> None:
    """The fuzz test's find: state="a\\x00b" reached git's argv (ValueError: embedded null byte)."""
    from data_platform.dbtools import state

    root = copy_shop(tmp_path)
    service = DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))
    for spec in ("a\x00b", "git:a\x00b", "target:a\x00b"):
        with pytest.raises(InputError, match="state contains a NUL byte"):
            state.resolve(service, spec)


def test_a_templated_profile_target_names_no_state_after_its_jinja(tmp_path: Path) -> None:
    """The state of a run is kept per target name: a profile whose `target:` is Jinja gives
    `default`, never a folder named after the unrendered template (as the dbt tools' `where` says)."""
    from data_platform.dbtools import state, target

    root = copy_shop(tmp_path)
    profiles = root / "profiles.yml"
    profiles.write_text(
        profiles.read_text().replace("  target: dev", "  target: \"{{ env_var('T', 'dev') }}\"", 1)
    )
    project = locate(root, root, root)
    assert target.target_name(project, None, None) is None
    assert state.target_name(project, None, None) == "default"
    assert (
        state.target_name(project, "prod", None) == "prod" and state.target_name(project, None, "ci") == "ci"
    )
    plain_root = copy_shop(tmp_path, "plain")
    plain = locate(plain_root, plain_root, plain_root)
    assert state.target_name(plain, None, None) == "dev"


@pytest.mark.parametrize("text", ["z" * 10_000, "z" * 300, "a/" + "z" * 300])
def test_a_state_no_file_system_could_name_is_refused_saying_what_works(tmp_path: Path, text: str) -> None:
    """Found by the fuzz: `state` longer than a file name can be was an internal error (OSError)."""
    from data_platform.dbtools.state import resolve

    root = copy_shop(tmp_path)
    service = DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))
    with pytest.raises(InputError, match="state='prod'") as err:
        resolve(service, text)
    assert len(str(err.value)) < 1000
