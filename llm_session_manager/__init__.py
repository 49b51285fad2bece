"""LLM Session Manager: see every AI coding session on this machine, what it costs and how healthy it is."""

__version__ = "0.4.0"
