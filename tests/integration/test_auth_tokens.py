"""Access-token verification: every claim and tamper case, key rotation/retirement, JWKS (SR-2.1, SR-4.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.auth_helpers import AuthedUser, register_and_login, services_of
from torrent_streamer.auth import keyring as keyring_module
from torrent_streamer.auth.context import AuthRuntime
from torrent_streamer.core.clock import FrozenClock

ME = "/api/v1/me"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def runtime(client: httpx.AsyncClient) -> AuthRuntime:
    value = services_of(client).extras["auth"]
    assert isinstance(value, AuthRuntime)
    return value


async def claims_of(user: AuthedUser) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(user.access_token, options={"verify_signature": False})
    return claims


async def sign(client: httpx.AsyncClient, claims: dict[str, Any], **header: Any) -> str:
    key = await runtime(client).keyring.signing_key()
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers=headers)


async def status_with(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.json()["type"].endswith(("invalid-token", "unauthorized"))
    return response.status_code


async def test_a_token_we_sign_ourselves_is_accepted(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    assert await status_with(client, await sign(client, await claims_of(user))) == 200


async def test_alg_none_is_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    kid = (await runtime(client).keyring.signing_key()).kid
    header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())
    payload = b64(json.dumps(await claims_of(user)).encode())
    assert await status_with(client, f"{header}.{payload}.") == 401


async def test_hs256_signed_with_the_public_key_is_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    key = await runtime(client).keyring.signing_key()
    public_pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
    payload = b64(json.dumps(await claims_of(user)).encode())
    signature = b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert await status_with(client, f"{header}.{payload}.{signature}") == 401


async def test_unknown_kid_and_foreign_keys_are_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    claims = await claims_of(user)
    attacker = Ed25519PrivateKey.generate()
    unknown = jwt.encode(claims, attacker, algorithm="EdDSA", headers={"kid": "attacker", "typ": "at+jwt"})
    assert await status_with(client, unknown) == 401
    real_kid = (await runtime(client).keyring.signing_key()).kid
    forged = jwt.encode(claims, attacker, algorithm="EdDSA", headers={"kid": real_kid, "typ": "at+jwt"})
    assert await status_with(client, forged) == 401


async def test_tampered_payload_is_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    header, _, signature = user.access_token.split(".")
    claims = await claims_of(user)
    claims["role"] = "admin"
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert await status_with(client, tampered) == 401
    assert await status_with(client, user.access_token) == 200


async def test_expiry_is_checked_against_the_app_clock(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    user = await register_and_login(client)
    clock.advance(seconds=890)
    assert await status_with(client, user.access_token) == 200
    clock.advance(seconds=30)
    assert await status_with(client, user.access_token) == 401


async def test_future_iat_is_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    claims = await claims_of(user)
    claims["iat"] += 3600
    claims["exp"] += 3600
    assert await status_with(client, await sign(client, claims)) == 401


@pytest.mark.parametrize(("claim", "value"), [("aud", "someone-else"), ("iss", "evil"), ("role", "root"), ("sub", "x")])
async def test_wrong_claim_values_are_refused(client: httpx.AsyncClient, claim: str, value: str) -> None:
    user = await register_and_login(client)
    claims = await claims_of(user)
    claims[claim] = value
    assert await status_with(client, await sign(client, claims)) == 401


@pytest.mark.parametrize("claim", ["sub", "iat", "exp", "aud", "iss", "jti", "role", "sid"])
async def test_every_claim_is_required(client: httpx.AsyncClient, claim: str) -> None:
    user = await register_and_login(client)
    claims = await claims_of(user)
    del claims[claim]
    assert await status_with(client, await sign(client, claims)) == 401


async def test_wrong_token_type_header_is_refused(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    assert await status_with(client, await sign(client, await claims_of(user), typ="mfa+jwt")) == 401


async def test_mfa_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, mfa_enabled=True)
    challenge = await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    mfa_token = challenge.json()["mfa_token"]
    assert await status_with(client, mfa_token) == 401
    # and an access token is not an mfa_token
    verify = await client.post("/api/v1/auth/mfa/verify", json={"mfa_token": user.access_token, "code": "123456"})
    assert verify.status_code == 401


async def test_key_rotation_keeps_old_tokens_until_retired(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    services = services_of(client)
    ring = runtime(client).keyring
    old_kid = (await ring.signing_key()).kid
    async with services.sessionmaker() as session:
        new = await keyring_module.rotate(session, services.secret_box, services.clock.now())
        await session.commit()
    await ring.reload()
    assert (await ring.signing_key()).kid == new.kid
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert [key["kid"] for key in jwks["keys"]] == [new.kid, old_kid]
    assert await status_with(client, user.access_token) == 200  # signed by the old key
    fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert jwt.get_unverified_header(fresh.json()["access_token"])["kid"] == new.kid
    async with services.sessionmaker() as session:
        await keyring_module.retire(session, old_kid, services.clock.now())
        await session.commit()
    await ring.reload()
    assert await status_with(client, user.access_token) == 401
    assert await status_with(client, fresh.json()["access_token"]) == 200
    assert [key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]] == [new.kid]


async def test_a_key_rotated_on_another_instance_verifies_here(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)
    services = services_of(client)
    async with services.sessionmaker() as session:  # "another instance" writes a new key …
        new = await keyring_module.rotate(session, services.secret_box, services.clock.now())
        await session.commit()
    other = keyring_module.KeyRing(services.sessionmaker, services.secret_box, services.clock)
    await other.reload()
    key = await other.signing_key()
    assert key.kid == new.kid
    claims = await claims_of(user)
    token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": "at+jwt"})
    assert await status_with(client, token) == 200  # … unknown kid here triggers a reload


async def test_jwks_publishes_ed25519_public_keys_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert "d" not in key
    verifier = jwt.PyJWK(key)
    user = await register_and_login(client)
    decoded = jwt.decode(user.access_token, verifier.key, algorithms=["EdDSA"], audience="torrent-streamer-api")
    assert decoded["sub"] == str(user.user_id)


async def test_signing_keys_are_encrypted_at_rest(client: httpx.AsyncClient) -> None:
    from sqlalchemy import select

    from torrent_streamer.auth.models import SigningKey

    async with services_of(client).sessionmaker() as session:
        row = (await session.scalars(select(SigningKey))).one()
    assert "PRIVATE KEY" not in row.private_key_enc
    assert row.private_key_enc.startswith("v1.")
