"""Formatting of results, kept apart from the logic that decides them: text (rich) and JSON."""
