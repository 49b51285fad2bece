"""Completers for typer's shell completion (`lsm --install-completion`): session ids and tags.

Each returns what the shell should offer for the word being typed, and never fails: on a missing or
broken database, or any other trouble, it offers nothing and the shell falls back to its default."""

from __future__ import annotations


def session_ids(incomplete: str) -> list[tuple[str, str]]:
    """Ids (native, or ``agent:native``) starting with what was typed, with each session's title."""
    try:
        from rich.markup import escape

        from llm_session_manager.api.completion import session_id_choices
        from llm_session_manager.paths import resolve

        # zsh and fish show the title as help, which typer reads as Rich markup: escaped.
        return [(value, escape(title)) for value, title in session_id_choices(resolve(), incomplete)]
    except Exception:  # a completer must never break the shell
        return []


def tags(incomplete: str) -> list[str]:
    """The tags given to sessions so far, starting with what was typed."""
    try:
        from llm_session_manager.api.completion import tag_choices
        from llm_session_manager.paths import resolve

        return tag_choices(resolve(), incomplete)
    except Exception:  # a completer must never break the shell
        return []
