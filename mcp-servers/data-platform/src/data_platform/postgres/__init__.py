"""PostgreSQL/PostGIS core: connections, read-only queries into refs, catalogue, spatial, load.

No MCP imports here: the tools in `data_platform.server.postgres_tools` only adapt.
"""
