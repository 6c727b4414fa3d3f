"""Small text helpers used by the functions."""


def polite(greeting, name):
    """'Hello, Ada.' from a greeting and a name."""
    return "%s, %s." % (greeting, name.strip() or "stranger")
