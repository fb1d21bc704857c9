"""Redaction of connection URLs: enough to recognise a database, nothing to misuse.

A libpq URL's password may hold '/', '#', '?' or '@' unencoded, which generic URL parsers split
on; the user part is therefore everything up to the *last* '@', and only the user name survives.
"""

from __future__ import annotations


def redact_url(url: str) -> str:
    """``postgresql://app:***@db.example:5432/app`` for any URL shape; never the password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    if "@" in rest:
        userinfo, _, location = rest.rpartition("@")
        user = userinfo.split(":", 1)[0]
        shown_user = f"{user}:***@" if ":" in userinfo else f"{user}@"
    else:
        shown_user, location = "", rest
    location = location.split("?", 1)[0].split("#", 1)[0]
    if any(ch in location for ch in "\x00\n\r ") or "@" in shown_user[:-1].replace(":***", ""):
        return f"{scheme}://***"
    return f"{scheme}://{shown_user}{location}"


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` redacted and its password starred wherever it appears: a message
    from an engine plugin must not hand back a secret the Hub gave it."""
    out = text.replace(url, redact_url(url))
    rest = url.partition("://")[2]
    userinfo = rest.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    return out.replace(password, "***") if password else out
