"""Passwords: Argon2id hashing off the event loop (SR-2.4), the policy (SR-2.5), e-mail normalisation.

The common-password list ships in ``data/common-passwords.txt``; candidates are compared in a
normalised form (case, leetspeak and decorating digits/symbols removed).
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections.abc import Callable
from importlib import resources
from typing import TypeVar

import anyio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from torrent_streamer.core.errors import ServiceUnavailable, Unprocessable

# OWASP (2024): Argon2id, m=19 MiB, t=2, p=1 is the minimum; we use it with a 32-byte hash.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
MAX_CONCURRENT_HASHES = 4  # bounds memory: each hash holds 19 MiB (TS_PASSWORD_HASH_CONCURRENCY)
MAX_QUEUED_HASHES = 64  # waiting beyond the running ones (TS_PASSWORD_HASH_QUEUE); then 503
BUSY_RETRY_AFTER_SECONDS = 2

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
EMAIL_MAX_LENGTH = 254

T = TypeVar("T")

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i"}
)
_EMAIL_RE = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def new_hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


class HashingBusy(ServiceUnavailable):
    """Every hashing slot is busy and the waiting queue is full: 503 with Retry-After."""

    slug, title = "hashing-busy", "Too many sign-ins at once"

    def __init__(self) -> None:
        super().__init__(
            "The service is handling too many sign-ins right now; retry shortly.",
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )


class Passwords:
    """Argon2id in worker threads: at most ``concurrency`` at once and ``queue`` more waiting.

    A request beyond that is refused at once (``HashingBusy``, 503) instead of queueing without
    end: a flood of sign-ins cannot pile up unbounded waiters (memory, latency for everyone).
    """

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        concurrency: int = MAX_CONCURRENT_HASHES,
        queue: int = MAX_QUEUED_HASHES,
    ) -> None:
        self.hasher = hasher or new_hasher()
        self.concurrency = concurrency
        self.queue = queue
        self._limiter: anyio.CapacityLimiter | None = None
        self._admitted = 0  # running + waiting; only touched on the event loop
        self._dummy_hash: str | None = None

    def capacity(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    @property
    def waiting(self) -> int:
        """Admitted calls not yet running (for tests and metrics)."""
        return int(self.capacity().statistics().tasks_waiting)

    async def _run(self, func: Callable[..., T], *args: str) -> T:
        if self._admitted >= self.concurrency + self.queue:
            raise HashingBusy()
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(func, *args, limiter=self.capacity())
        finally:
            self._admitted -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(self._verify_sync, password_hash, password)

    async def prepare(self) -> None:
        """Compute the dummy hash at start-up, so even the first unknown-account sign-in is not slower."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(24))

    async def verify_dummy(self, password: str) -> None:
        """Spend the same time as a real verification (unknown account: no timing oracle)."""
        await self.prepare()
        if self._dummy_hash is not None:
            await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


def normalise_email(value: str) -> str:
    """NFKC, trimmed, lower-cased; raises 422 when it is not a plausible address."""
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL_RE.match(email):
        raise Unprocessable("The e-mail address is not valid.", extra={"invalid_params": [_param("email", "invalid")]})
    return email


def _param(name: str, reason: str) -> dict[str, str]:
    return {"name": name, "reason": reason}


def normalised_forms(password: str) -> set[str]:
    """The forms compared with the common list: whole, de-leeted, and stripped of decoration.

    ``"!!P@ssw0rd2024!"`` yields ``"password2024"`` and the core ``"password"``.
    """
    lowered = unicodedata.normalize("NFKC", password).lower()
    stripped = re.sub(r"^[\W_]+|[\W_]+$", "", lowered)  # decorating symbols at either end
    core = re.sub(r"^\d+|\d+$", "", stripped)  # … and digits (years, "123")
    forms = {_alnum(lowered), _alnum(lowered.translate(_LEET))}
    forms |= {_alnum(stripped.translate(_LEET)), _alnum(core.translate(_LEET)), _alnum(core)}
    return {form for form in forms if form}


def _alnum(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value)


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("torrent_streamer.data").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    entries = (line.strip() for line in text.splitlines())
    return frozenset(entry for entry in entries if entry and not entry.startswith("#"))


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Every way ``password`` breaks the policy (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"at most {PASSWORD_MAX_LENGTH} characters")
    if not any(c.islower() for c in password):
        problems.append("a lower-case letter")
    if not any(c.isupper() for c in password):
        problems.append("an upper-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("a digit")
    if all(c.isalnum() for c in password):
        problems.append("a symbol")
    if normalised_forms(password) & common_passwords():
        problems.append("not a common or breached password")
    if email:
        local = email.split("@", 1)[0]
        if len(local) >= 4 and local in password.lower():
            problems.append("not containing your e-mail address")
    return problems


def enforce_policy(password: str, *, email: str | None = None, field: str = "password") -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise Unprocessable(
            "The password does not meet the policy: " + "; ".join(problems) + ".",
            slug="weak-password",
            extra={"invalid_params": [_param(field, problem) for problem in problems]},
        )
