"""Errors that end a command with one clear sentence and exit code 2."""


class UsageError(Exception):
    """Bad input from the user: a wrong path, a non-Python executable, an empty app folder.

    The message is the whole sentence the user sees; nothing has been changed when it is raised.
    """
