"""The MCP adapter: one module per tool family, composed by `build_server`."""

from data_platform.server.app import AppState, build_server

__all__ = ["AppState", "build_server"]
