"""The one kind of error a command shows as a single line (exit status 2)."""


class UsageError(Exception):
    """A mistake the user can fix; its message is meant to be shown as is."""
