"""The application layer: one ``Context`` and the use cases every front end calls.

CLI commands, the monitor, the MCP servers and the web pages parse their input, call a function here and
render what it returns — plain dataclasses, views and JSON-ready dicts. The numbers and documents a user
sees therefore come from one place whichever front end shows them. Nothing here reads the environment:
``Context.from_environment()`` is called once, by a front end's entry point.
"""

from llm_session_manager.api.context import Context, ReadOnlyError, UnavailableError

__all__ = ["Context", "ReadOnlyError", "UnavailableError"]
