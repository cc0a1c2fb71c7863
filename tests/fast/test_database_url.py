"""The database URL read libpq's way: the authority ends before the parameters, whatever
characters a parameter holds, and the password is a secret in every spelling."""

from __future__ import annotations

import re

import pytest

from worker.config.urls import parse_database_url

PASSWORD = "Xq7@Zr9/Kw2"  # "@" and "/" inside ?password=: legal in a query
PIECES = ("Xq7", "Zr9", "Kw2")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (  # the report's URL: "@" in the query is not the end of a user part
            "postgresql://app@db.internal:5432/cs?password=pa@ss/w0rd",
            ("app", "pa@ss/w0rd", "db.internal", 5432, "cs"),
        ),
        (  # no path before the parameters
            "postgresql://db.internal?password=a@b:c/d",
            (None, "a@b:c/d", "db.internal", None, None),
        ),
        (  # a pasted password with "@", ":", "/" and "%" before the host still parses
            "postgresql://app:S3cr@t:/pa%ss@127.0.0.1:5432/app",
            ("app", "S3cr@t:/pa%ss", "127.0.0.1", 5432, "app"),
        ),
        (  # "@" on both sides of the "?"
            "postgresql://app:p@w@h:1/db?application_name=a@b",
            ("app", "p@w", "h", 1, "db"),
        ),
        (  # libpq decodes %XX only: "+" stays a plus, "=" after the first is the value's
            "postgresql://app@h/db?password=a+b==%26c",
            ("app", "a+b==&c", "h", None, "db"),
        ),
        (
            "postgresql://u@[::1]:5433/db?password=x@[y]:1",
            ("u", "x@[y]:1", "::1", 5433, "db"),
        ),
        (
            "postgresql://u@h/db?host=/var/run/postgresql&password=k@y&port=6432",
            ("u", "k@y", "/var/run/postgresql", 6432, "db"),
        ),
    ],
)
def test_tricky_urls_are_split_where_libpq_splits_them(
    url: str, expected: tuple[object, ...]
) -> None:
    parsed = parse_database_url(url)
    assert (parsed.user, parsed.password, parsed.host, parsed.port, parsed.database) == expected


def test_the_parameters_after_a_password_holding_at_are_read() -> None:
    parsed = parse_database_url(
        f"postgresql://app@db:5432/cs?password={PASSWORD}&sslmode=verify-full"
        "&application_name=sync@eu&connect_timeout=7"
    )
    assert (parsed.password, parsed.sslmode, parsed.application_name, parsed.connect_timeout) == (
        PASSWORD,
        "verify-full",
        "sync@eu",
        7.0,
    )
    assert parsed.display() == "postgresql://app:***@db:5432/cs"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"?password={PASSWORD}&sslmode=bogus", "sslmode must be one of disable, allow"),
        (f"?sslmode=bogus&password={PASSWORD}", "sslmode must be one of"),
        (f"?password={PASSWORD}&connect_timeout=soon", "connect_timeout must be"),
        (f"?password={PASSWORD}&port=99999", "bad port"),
        (f"?password={PASSWORD}&target_session_attrs=any", "'target_session_attrs' is not"),
        (f"?password={PASSWORD}&sslmode=require&sslmode=disable", "'sslmode' is given twice"),
        (f"?password={PASSWORD}&password={PASSWORD}", "'password' is given twice"),
    ],
)
def test_a_bad_parameter_is_refused_by_name_never_by_value(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_database_url(f"postgresql://app@db:5432/cs{query}")
    for piece in PIECES:
        assert piece not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        # a "?" in a password starts the parameters (as in libpq): what follows is no name
        "postgresql://app:Xq7?Zr9@db/cs",
        "postgresql://app:Xq7?Zr9=Kw2@db/cs",
        "postgresql://app@db/cs?Xq7Zr9Kw2",  # a value pasted without its name
    ],
)
def test_a_url_that_cannot_be_read_safely_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match=r"password|parameter") as info:
        parse_database_url(url)
    for piece in PIECES:
        assert piece not in str(info.value)


def test_a_password_before_the_host_and_in_the_query_are_both_secrets() -> None:
    parsed = parse_database_url("postgresql://app:Xq7%40@db/cs?password=Zr9/Kw2")
    assert parsed.password == "Zr9/Kw2"  # libpq's rule: the parameter wins
    assert {"Xq7%40", "Xq7@", "Zr9/Kw2"} <= parsed.secrets()


def test_every_spelling_of_the_password_is_a_secret_and_repr_hides_it() -> None:
    parsed = parse_database_url("postgresql://app@db/cs?password=Xq7%40Zr9%2fKw2")
    assert parsed.password == PASSWORD
    secrets = parsed.secrets()
    assert {PASSWORD, "Xq7%40Zr9%2fKw2", "Xq7%40Zr9%2FKw2"} <= secrets  # as written, as encoded
    for piece in PIECES:
        assert piece not in repr(parsed)
