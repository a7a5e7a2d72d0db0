"""Structured JSON logs (structlog) with redaction of secrets, tokens and e-mail addresses.

Every line has ``level``, ``timestamp``, ``event``, ``node`` (when served) and, inside a request, ``request_id``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

SENSITIVE_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|api[_-]?key|credential|totp|otp|code|session|csrf|private",
    re.IGNORECASE,
)
_SAFE_KEYS = frozenset({"status_code", "exc_type", "route", "event", "request_id", "session_id_prefix"})
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_URL_CREDENTIALS_RE = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)([^/@\s:]+):([^/@\s]+)@")
REDACTED = "[REDACTED]"


def mask_email(value: str) -> str:
    return _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", value)


def redact_text(value: str) -> str:
    value = _JWT_RE.sub(REDACTED, value)
    value = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, value)
    value = _URL_CREDENTIALS_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", value)
    return mask_email(value)


def _redact(key: str, value: Any, depth: int = 0) -> Any:
    if key not in _SAFE_KEYS and SENSITIVE_KEYS.search(key):
        return REDACTED
    if depth > 4:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): _redact(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(key, v, depth + 1) for v in value]
    return value


def redaction_processor(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact(key, event_dict[key])
    return event_dict


def node_processor(node: str) -> Any:
    """Adds ``node`` (``TS_NODE_NAME``) to every line, so a cluster's logs say where they came from."""

    def add(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("node", node)
        return event_dict

    return add


def configure_logging(level: str = "INFO", stream: TextIO | None = None, node: str | None = None) -> None:
    """JSON to stdout (the shipping contract: docs/operations.md); stdlib loggers go through it too."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        *([node_processor(node)] if node else []),
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redaction_processor,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the edge middleware logs requests
