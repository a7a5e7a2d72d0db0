"""Password policy, common-password list, e-mail normalisation, Argon2id parameters (SR-2.4, SR-2.5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torrent_streamer.auth.passwords import (
    ARGON2_MEMORY_KIB,
    PASSWORD_MAX_LENGTH,
    Passwords,
    common_passwords,
    normalise_email,
    normalised_forms,
    password_problems,
)
from torrent_streamer.core.errors import Unprocessable


def test_the_shipped_list_is_large_and_normalised() -> None:
    entries = common_passwords()
    assert len(entries) >= 10_000
    assert {"password", "qwerty123", "iloveyou", "letmein", "123456789012"} <= entries
    assert all(entry == entry.lower() and entry.isalnum() for entry in entries)


@pytest.mark.parametrize(
    ("password", "expected"),
    [("!!P@ssw0rd2024!", "password"), ("Dragon1987$$$", "dragon"), ("Tr0ub4dor&3", "troubador")],
)
def test_normalised_forms_strip_case_leet_and_decoration(password: str, expected: str) -> None:
    assert expected in normalised_forms(password)


def test_a_strong_password_passes() -> None:
    assert password_problems("Correct-Horse-Battery-9!") == []


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!pass", "at least 12 characters"),
        ("lowercase-only-123", "an upper-case letter"),
        ("UPPERCASE-ONLY-123", "a lower-case letter"),
        ("No-Digits-Here-At-All", "a digit"),
        ("NoSymbolsHere12345", "a symbol"),
        ("Welcome2024!!", "not a common or breached password"),
        ("A1!" + "x" * PASSWORD_MAX_LENGTH, f"at most {PASSWORD_MAX_LENGTH} characters"),
    ],
)
def test_each_rule_is_reported(password: str, problem: str) -> None:
    assert problem in password_problems(password)


def test_the_email_local_part_is_refused_inside_the_password() -> None:
    assert "not containing your e-mail address" in password_problems("Xx-margaret-99!", email="margaret@example.org")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("  Ada@Example.ORG ", "ada@example.org"), ("ｂｏｂ@example.org", "bob@example.org")],
)
def test_emails_are_normalised(raw: str, normal: str) -> None:
    assert normalise_email(raw) == normal


@pytest.mark.parametrize(
    "raw", ["no-at-sign", "a@b", "a@@b.org", "a b@c.org", "x@-bad-.org", "a@" + "b" * 250 + ".org"]
)
def test_invalid_emails_are_422(raw: str) -> None:
    with pytest.raises(Unprocessable):
        normalise_email(raw)


@given(st.text(max_size=200))
def test_the_policy_never_crashes(password: str) -> None:
    assert isinstance(password_problems(password, email="someone@example.org"), list)


async def test_argon2id_with_owasp_parameters_and_rehash_detection() -> None:
    passwords = Passwords()
    hashed = await passwords.hash("Correct-Horse-Battery-9!")
    assert hashed.startswith(f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t=2,p=1$")
    assert await passwords.verify(hashed, "Correct-Horse-Battery-9!")
    assert not await passwords.verify(hashed, "correct-horse-battery-9!")
    assert not await passwords.verify("not-a-hash", "x")
    assert not passwords.needs_rehash(hashed)
    assert passwords.needs_rehash("$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
    assert await passwords.hash("same") != await passwords.hash("same")  # unique salts
