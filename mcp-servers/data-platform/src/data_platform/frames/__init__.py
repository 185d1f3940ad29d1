"""DataFrame operations on data_refs: readers/writers, safe expressions, SQL, statistics.

No MCP imports here: `server/frame_tools.py` adapts these functions to tools.
"""
