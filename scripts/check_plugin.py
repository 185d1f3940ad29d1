#!/usr/bin/env python3
"""Checks of the plugin that `claude plugin validate` does not make (standard library only).

- hooks/hooks.json has the shape Claude Code reads, with timeouts in seconds and scripts
  that exist;
- .mcp.json starts the launcher (no `cwd`: Claude Code ignores it) and the link to the
  server's code resolves;
- commands and agents carry the frontmatter they need, and every MCP tool they name
  (`mcp__plugin_data-platform_data-platform__<tool>`) is in the server's tool list;
- the marketplace entry and plugin.json agree on name and version.

Usage: check_plugin.py [--root DIR] [--tools FILE] [--skip-tool-names] [--only-tool-names]
DIR is the repository (default: this script's); FILE a JSON list of tools (`data-platform tools`
output; default: the contract snapshot, mcp-servers/data-platform/tests/contract/tools.json).
Exit 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "mcp__plugin_data-platform_data-platform__"
HOOK_EVENTS = {
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "UserPromptSubmit",
    "Stop",
    "SubagentStop",
    "PreCompact",
    "SessionStart",
    "SessionEnd",
}
SESSION_START_SOURCES = {"startup", "resume", "clear", "compact"}


def frontmatter(path: str) -> tuple[dict[str, str], str]:
    """Flat `key: value` frontmatter (what our commands and agents use) and the body."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t")):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key.strip()] = value
    return meta, match.group(2)


def tool_list(meta: dict[str, str], key: str) -> list[str]:
    return [t.strip() for t in meta.get(key, "").split(",") if t.strip()]


def referenced_tools(plugin: str) -> dict[str, list[str]]:
    """file (relative to the plugin) -> the MCP tool names its frontmatter lists."""
    found: dict[str, list[str]] = {}
    for folder, key in (("commands", "allowed-tools"), ("agents", "tools")):
        for name in sorted(os.listdir(os.path.join(plugin, folder))):
            if name.endswith(".md"):
                meta, _ = frontmatter(os.path.join(plugin, folder, name))
                found[f"{folder}/{name}"] = [t for t in tool_list(meta, key) if t.startswith("mcp__")]
    return found


def check_tool_names(plugin: str, tools_file: str) -> list[str]:
    with open(tools_file, encoding="utf-8") as f:
        known = {t["name"] for t in json.load(f)}
    problems = []
    for where, names in referenced_tools(plugin).items():
        for full in names:
            if not full.startswith(PREFIX):
                problems.append(f"{where}: {full} is not a data-platform tool name ({PREFIX}<tool>)")
            elif full[len(PREFIX) :] not in known:
                problems.append(f"{where}: tool {full[len(PREFIX) :]!r} is not in the server's tool list")
    return problems


def check_hooks(plugin: str) -> list[str]:
    path = os.path.join(plugin, "hooks", "hooks.json")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        return [f"hooks/hooks.json: unreadable: {exc}"]
    hooks = doc.get("hooks") if isinstance(doc, dict) else None
    if not isinstance(hooks, dict) or not hooks:
        return ['hooks/hooks.json: needs {"hooks": {"<Event>": [...]}}']
    problems = []
    for event, groups in hooks.items():
        if event not in HOOK_EVENTS:
            problems.append(f"hooks/hooks.json: unknown event {event!r}")
        if not isinstance(groups, list) or not groups:
            problems.append(f"hooks/hooks.json: {event} must be a non-empty list")
            continue
        for group in groups:
            matcher = group.get("matcher", "")
            if event == "SessionStart" and matcher:
                unknown = set(matcher.split("|")) - SESSION_START_SOURCES
                if unknown:
                    problems.append(f"hooks/hooks.json: SessionStart matcher has unknown {sorted(unknown)}")
            for hook in group.get("hooks") or [None]:
                if not isinstance(hook, dict) or hook.get("type") != "command" or not hook.get("command"):
                    problems.append(f"hooks/hooks.json: {event} hook needs type 'command' and a command")
                    continue
                timeout = hook.get("timeout")
                if not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
                    problems.append(f"hooks/hooks.json: {event} timeout must be seconds in (0, 60]")
                for script in re.findall(r"\$\{CLAUDE_PLUGIN_ROOT\}/([^\"' ]+)", hook["command"]):
                    if not os.path.isfile(os.path.join(plugin, script)):
                        problems.append(f"hooks/hooks.json: {script} does not exist in the plugin")
    return problems


def check_mcp(plugin: str) -> list[str]:
    problems = []
    with open(os.path.join(plugin, ".mcp.json"), encoding="utf-8") as f:
        servers = json.load(f).get("mcpServers", {})
    entry = servers.get("data-platform")
    if not entry:
        return [".mcp.json: no mcpServers.data-platform entry"]
    if "cwd" in entry:
        problems.append(".mcp.json: 'cwd' is ignored by Claude Code; the server starts in the project folder")
    for arg in entry.get("args", []):
        for script in re.findall(r"\$\{CLAUDE_PLUGIN_ROOT\}/(\S+)", arg):
            if not os.path.isfile(os.path.join(plugin, script)):
                problems.append(f".mcp.json: {script} does not exist in the plugin")
    link = os.path.join(plugin, "mcp-servers", "data-platform")
    if not os.path.isfile(os.path.join(link, "pyproject.toml")):
        problems.append("plugins/data-platform/mcp-servers/data-platform does not reach the server's code")
    elif os.path.islink(link) and os.path.isabs(os.readlink(link)):
        problems.append("plugins/data-platform/mcp-servers/data-platform must be a relative link")
    return problems


def check_frontmatter(plugin: str) -> list[str]:
    problems = []
    need = {
        "commands": ("description", "argument-hint", "allowed-tools"),
        "agents": ("name", "description", "tools"),
    }
    for folder, keys in need.items():
        for name in sorted(os.listdir(os.path.join(plugin, folder))):
            if not name.endswith(".md"):
                continue
            meta, body = frontmatter(os.path.join(plugin, folder, name))
            for key in keys:
                if not meta.get(key):
                    problems.append(f"{folder}/{name}: frontmatter needs {key!r}")
            if folder == "commands" and "$ARGUMENTS" not in body:
                problems.append(f"{folder}/{name}: the body never uses $ARGUMENTS")
            if folder == "agents" and meta.get("name") != name[:-3]:
                problems.append(f"{folder}/{name}: name {meta.get('name')!r} differs from the file name")
    return problems


def check_versions(root: str, plugin: str) -> list[str]:
    with open(os.path.join(root, ".claude-plugin", "marketplace.json"), encoding="utf-8") as f:
        market = json.load(f)
    with open(os.path.join(plugin, ".claude-plugin", "plugin.json"), encoding="utf-8") as f:
        plugin = json.load(f)
    entry = next((p for p in market.get("plugins", []) if p.get("name") == plugin.get("name")), None)
    if entry is None:
        return [f"marketplace.json lists no plugin named {plugin.get('name')!r}"]
    if entry.get("version") and entry["version"] != plugin.get("version"):
        return [f"marketplace.json version {entry['version']} != plugin.json version {plugin.get('version')}"]
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=ROOT, help="the repository to check")
    parser.add_argument("--tools", help="JSON list of the server's tools (default: the contract snapshot)")
    parser.add_argument("--skip-tool-names", action="store_true")
    parser.add_argument("--only-tool-names", action="store_true")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    plugin = os.path.join(root, "plugins", "data-platform")
    tools = args.tools or os.path.join(
        root, "mcp-servers", "data-platform", "tests", "contract", "tools.json"
    )
    problems: list[str] = []
    if not args.only_tool_names:
        problems += (
            check_hooks(plugin) + check_mcp(plugin) + check_frontmatter(plugin) + check_versions(root, plugin)
        )
    if not args.skip_tool_names:
        problems += check_tool_names(plugin, tools)
    for line in problems:
        print(f"check_plugin: {line}", file=sys.stderr)
    if not problems:
        print("check_plugin: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
