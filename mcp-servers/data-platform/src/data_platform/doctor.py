"""`data-platform doctor`: what is configured and reachable, secrets masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data_platform.config import Settings
from data_platform.errors import DataPlatformError
from data_platform.registry import Registry


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def render(self) -> str:
        return "\n".join(f"[{'ok' if c.ok else '!!'}] {c.name}: {c.detail}" for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


def find_dbt_project(settings: Settings) -> Path | None:
    """DBT_PROJECT_DIR, else the nearest folder upwards holding dbt_project.yml."""
    if settings.dbt_project_dir:
        return settings.dbt_project_dir
    for folder in (settings.project_dir, *settings.project_dir.parents):
        if (folder / "dbt_project.yml").is_file():
            return folder
    return None


def check_postgres(settings: Settings) -> Check:
    """The same connect-and-classify path the Postgres tools use: one message, one fix."""
    from data_platform.errors import DataPlatformError
    from data_platform.postgres.connection import HOW_TO_CONFIGURE, status
    from data_platform.redact import redact

    if settings.postgres is None:
        return Check("postgres", False, "not configured: " + HOW_TO_CONFIGURE)
    try:
        s = status(settings)
    except DataPlatformError as exc:
        reason = str(exc.details.get("reason", "error")).replace("_", " ")
        return Check("postgres", False, redact(f"{reason}: {exc}", settings.secret_values()))
    postgis = f"PostGIS {s.postgis}" if s.postgis else "PostGIS not installed in this database"
    return Check(
        "postgres",
        True,
        f"{s.masked_url} PostgreSQL {s.server_version}, {postgis}, {s.connect_ms + s.latency_ms:.0f} ms",
    )


def check_tools(settings: Settings) -> Check:
    """What `serve` would serve: DATA_PLATFORM_TOOLS and DATA_PLATFORM_DISABLE applied."""
    from data_platform.server.app import declared_tools, served_tools

    try:
        served = served_tools(settings)
    except DataPlatformError as exc:
        return Check("tools", False, str(exc))
    chosen = f" (DATA_PLATFORM_TOOLS={','.join(settings.tools)})" if settings.tools else ""
    off = f"; families off: {', '.join(sorted(settings.disabled))}" if settings.disabled else ""
    names = ", ".join(t.name for t in served)
    return Check(
        "tools", True, f"{len(served)} of {len(declared_tools(settings))} served{chosen}{off}: {names}"
    )


def run_doctor(settings: Settings) -> DoctorReport:
    report = DoctorReport()
    report.checks.append(check_tools(settings))
    registry = Registry(settings.registry_dir)
    try:
        good, bad = registry.list()
        detail = f"{settings.registry_dir}: {len(good)} ref(s)" + (f", {len(bad)} damaged" if bad else "")
        report.checks.append(Check("registry", not bad, detail))
    except Exception as exc:  # a doctor reports, it does not crash
        report.checks.append(Check("registry", False, f"{settings.registry_dir}: {exc}"))
    if "postgres" not in settings.disabled:
        report.checks.append(check_postgres(settings))
    if "dbt" not in settings.disabled:
        project = find_dbt_project(settings)
        if project is None:
            report.checks.append(
                Check(
                    "dbt",
                    False,
                    "no dbt_project.yml found upwards from the working directory; set DBT_PROJECT_DIR",
                )
            )
        else:
            ok = (project / "dbt_project.yml").is_file()
            report.checks.append(
                Check("dbt", ok, f"project {project}" + ("" if ok else " (no dbt_project.yml)"))
            )
    return report
