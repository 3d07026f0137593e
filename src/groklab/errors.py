"""User-facing errors.

A `GroklabError` is bad input that the user can fix: the CLI prints its message on one line and
exits with status 2, without a traceback. Its message names what is wrong and how to fix it.
Programming errors stay ordinary exceptions so that they keep their tracebacks.
"""


class GroklabError(ValueError):
    """Invalid user input: the message says what is wrong and what is allowed."""


def closest(word: str, options) -> str | None:
    """The option closest to `word` (for 'did you mean' hints), or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return matches[0] if matches else None
