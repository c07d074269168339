"""Checkers for the exercises of notebook (being written)."""

__all__: list[str] = []
