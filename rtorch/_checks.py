"""Argument validation shared by the Python layers."""


def require(ok, exc_type, message):
    """Raise ``exc_type(message)`` unless ``ok``.

    ``message`` may be a zero-argument callable, so text that is costly (or only
    well-defined when the check fails) is built on failure only.
    """
    if not ok:
        raise exc_type(message() if callable(message) else message)
