"""Security-event names are one enum: every event the dashboard lists is one the code records, and every
member of the enum is recorded somewhere (no dead or misspelt names) (SR-7.1)."""

from __future__ import annotations

import ast
from pathlib import Path

from torrent_streamer.catalog.service import TRANSITIONS
from torrent_streamer.core.audit import AuditAction
from torrent_streamer.web.panel.repository import SECURITY_ACTIONS

SRC = Path(__file__).resolve().parents[2] / "src" / "torrent_streamer"
NOT_RECORDING = {SRC / "core" / "audit.py", SRC / "web" / "panel" / "repository.py"}  # definition, dashboard


def recorded_actions() -> set[AuditAction]:
    """``AuditAction.X`` named in the code that records events (the dashboard's own list left out)."""
    found: set[AuditAction] = set()
    for path in SRC.rglob("*.py"):
        if path in NOT_RECORDING:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "AuditAction":
                found.add(AuditAction[node.attr])
    # catalog moderation records AuditAction(f"catalog.{action}") for each allowed decision
    found.update(AuditAction(f"catalog.{action}") for action in TRANSITIONS)
    return found


def test_every_event_the_dashboard_lists_is_recorded_by_the_code() -> None:
    assert recorded_actions() >= SECURITY_ACTIONS, SECURITY_ACTIONS - recorded_actions()
    assert AuditAction.REFRESH_TOKEN_REUSE in SECURITY_ACTIONS


def test_every_event_name_is_recorded_somewhere() -> None:
    assert set(AuditAction) == recorded_actions(), set(AuditAction) - recorded_actions()


def test_no_event_is_recorded_with_a_bare_string() -> None:
    """``record_event(action="...")`` with a literal would bypass the enum (mypy also refuses it)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "record_event"
            ):
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant | ast.JoinedStr):
                        offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_event_values_are_unique_and_fit_the_column() -> None:
    values = [action.value for action in AuditAction]
    assert len(values) == len(set(values))
    assert all(len(value) <= 64 for value in values)
