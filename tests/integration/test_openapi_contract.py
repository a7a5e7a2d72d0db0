"""The committed ``openapi.json`` (the Flutter client's source) matches the code."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI

from torrent_streamer.openapi import render_openapi

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"


def test_committed_openapi_matches_the_code(app: FastAPI) -> None:
    assert COMMITTED.exists(), "run `make openapi` and commit openapi.json"
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(render_openapi(app)), "openapi.json drifted: run `make openapi` and commit it"


def test_every_operation_has_a_stable_id_and_declares_its_errors(app: FastAPI) -> None:
    document = app.openapi()
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            op_id = operation["operationId"]
            assert op_id not in seen, f"duplicate operationId {op_id}"
            seen.add(op_id)
            errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
            assert errors, f"{method.upper()} {path} declares no error response"
            for code in errors:
                content = operation["responses"][code].get("content", {})
                assert "application/problem+json" in content, f"{method.upper()} {path} {code} is not problem+json"
