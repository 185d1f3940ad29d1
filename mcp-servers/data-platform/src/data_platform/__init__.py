"""data-platform: a data-engineering toolbelt for AI coding agents.

The core library (registry, frames, postgres, dbt) has no MCP imports; the MCP
tools in `data_platform.server` and the CLI in `data_platform.cli` only adapt it.
"""

__version__ = "0.1.0"
