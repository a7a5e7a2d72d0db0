"""Structured JSON logs redact passwords, tokens, cookies, secrets and mask e-mails (SR-4.4, SR-10.1)."""

from __future__ import annotations

import io
import json
import logging

import structlog

from torrent_streamer.core.logging import configure_logging, mask_email, redact_text

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl"


def capture(**fields: object) -> dict[str, object]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    structlog.get_logger("t").info("evt", **fields)
    line = stream.getvalue().strip().splitlines()[-1]
    return json.loads(line)  # type: ignore[no-any-return]


def test_a_line_is_json_with_level_and_timestamp() -> None:
    line = capture(route="/x")
    assert line["level"] == "info"
    assert "timestamp" in line
    assert line["event"] == "evt"


def test_sensitive_keys_are_redacted() -> None:
    line = capture(
        password="Hunter2!Hunter2!",
        refresh_token="abc",
        authorization="Bearer xyz",
        cookie="__Host-ts=1",
        api_key="k",
        totp_code="123456",
        nested={"client_secret": "s", "ok": "fine"},
    )
    text = json.dumps(line)
    for secret in ("Hunter2!Hunter2!", '"abc"', "xyz", "__Host-ts=1", '"k"', "123456", '"s"'):
        assert secret not in text
    assert line["nested"] == {"client_secret": "[REDACTED]", "ok": "fine"}


def test_tokens_and_emails_inside_free_text_are_redacted() -> None:
    line = capture(message=f"login alice@example.com with {JWT} and Bearer opaque-token-123")
    text = str(line["message"])
    assert "alice@example.com" not in text
    assert "a***@example.com" in text
    assert JWT not in text
    assert "opaque-token-123" not in text


def test_stdlib_loggers_go_through_the_same_redaction() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    logging.getLogger("uvicorn.error").warning("user bob@example.org sent %s", JWT)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert "bob@example.org" not in line["event"]
    assert JWT not in line["event"]


def test_url_credentials_are_redacted() -> None:
    assert "pw" not in redact_text("postgresql://app:pw@db/ts")


def test_mask_email() -> None:
    assert mask_email("carol.smith@example.com") == "c***@example.com"


def test_every_line_names_the_node() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, node="node-2")
    structlog.get_logger("t").info("evt")
    logging.getLogger("stdlib").warning("plain")
    lines = [json.loads(line) for line in stream.getvalue().strip().splitlines()]
    assert [line["node"] for line in lines[-2:]] == ["node-2", "node-2"]
