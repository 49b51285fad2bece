"""The MCP front ends: the lsm tool server (stdio or HTTP) and the per-session context server."""
