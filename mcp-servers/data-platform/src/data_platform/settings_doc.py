"""The settings' documentation, generated from `config.ENV_SETTINGS` (the one list).

Two renderings: the Markdown table in the README (between two markers, rewritten by
`data-platform settings --readme README.md`, compared by tests/unit/core/test_settings_doc.py) and
the plain text at the end of `data-platform doctor --help`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from data_platform.config import ENV_SETTINGS, EnvSetting
from data_platform.errors import InputError

README_START = (
    "<!-- settings: generated from config.ENV_SETTINGS by `data-platform settings --readme README.md` -->"
)
README_END = "<!-- end of generated settings -->"


def meaning(setting: EnvSetting) -> str:
    """What the setting does, with its default (Markdown)."""
    default = setting.default_text()
    return setting.doc + (f" (default: {default})" if default else "")


def markdown_table() -> str:
    rows = [f"| {', '.join(f'`{n}`' for n in s.names)} | {meaning(s)} |" for s in ENV_SETTINGS]
    return "\n".join(["| variable | meaning |", "|---|---|", *rows])


def plain_help(width: int = 100) -> str:
    """For a terminal: each variable, then what it does, without Markdown."""
    lines = ["settings (environment, project .env or ~/.config/claude/postgres.env; later wins):"]
    for s in ENV_SETTINGS:
        lines.append("  " + ", ".join(s.names))
        text = meaning(s).replace("`", "")
        lines.extend(textwrap.wrap(text, width, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


def with_table(readme: str) -> str:
    """`readme` with the text between the markers replaced by the generated table."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise InputError(
            "The README has no generated settings block.",
            hint=f"Put the two marker lines where the table goes:\n{README_START}\n{README_END}",
        )
    return readme[: start + len(README_START)] + "\n" + markdown_table() + "\n" + readme[end:]


def update_readme(path: Path) -> bool:
    """Rewrite the settings table in `path`; True if it changed."""
    old = path.read_text(encoding="utf-8")
    new = with_table(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
