"""Redacted URLs never hold the password, whatever characters it has."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from santokit.core.redact import redact_url, scrub

passwords = st.text(st.characters(exclude_categories=("Cs",)), min_size=4, max_size=20).filter(
    lambda p: p.strip() and ":" not in p[:1]
)


@given(
    user=st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    password=passwords,
    host=st.sampled_from(["db.example", "127.0.0.1:5432", "[::1]:5433"]),
    db=st.sampled_from(["app", "a/b", ""]),
    query=st.sampled_from(["", "?sslmode=require"]),
)
def test_password_never_survives(user: str, password: str, host: str, db: str, query: str) -> None:
    url = f"postgresql://{user}:{password}@{host}/{db}{query}"
    assume(password not in f"postgresql://{user}:***@{host}/{db}")  # it could occur by chance
    shown = redact_url(url)
    assert password not in shown
    assert shown.startswith("postgresql://")


def test_shapes() -> None:
    assert redact_url("postgresql://app:pa/ss@db:5432/app") == "postgresql://app:***@db:5432/app"
    assert redact_url("postgresql://u:pa@ss@h/db") == "postgresql://u:***@h/db"
    assert redact_url("postgresql://u@h/db?password=x") == "postgresql://u@h/db"
    assert redact_url("not a url") == "***"


@given(
    password=passwords,
    template=st.sampled_from(
        ["cannot reach {url}", "bad URL {url} (password {pw})", "{pw}", "no secret here"]
    ),
)
def test_scrub_leaves_no_password_in_an_engine_message(password: str, template: str) -> None:
    url = f"fakedb://app:{password}@db.example/app"
    assume(password not in "fakedb://app:***@db.example/app no secret here cannot reach bad URL")
    message = template.format(url=url, pw=password)
    scrubbed = scrub(message, url)
    assert password not in scrubbed
    if "{url}" in template:
        assert "fakedb://app:***@db.example/app" in scrubbed
