"""The grant table (SR-7.2): every table has a decided, justified entry; the committed psql
scripts match the code; identifiers and literals cannot break out of the SQL they are put in."""

from __future__ import annotations

from pathlib import Path

import pytest

from torrent_streamer.core import dbroles
from torrent_streamer.models import Base

ROOT = Path(__file__).resolve().parents[2]
OWNER_ONLY = {"alembic_version"}


def test_every_table_of_the_schema_has_a_grant_entry() -> None:
    tables = {table.name for table in Base.metadata.sorted_tables} | OWNER_ONLY
    missing = tables - dbroles.APP_GRANTS.keys()
    assert not missing, f"decide the app role's grants for {sorted(missing)} in core/dbroles.py APP_GRANTS"


def test_the_grant_table_names_no_table_that_does_not_exist() -> None:
    tables = {table.name for table in Base.metadata.sorted_tables} | OWNER_ONLY
    assert set(dbroles.APP_GRANTS) <= tables


def test_every_grant_is_justified_and_uses_table_privileges_only() -> None:
    for name, entry in dbroles.APP_GRANTS.items():
        assert len(entry.why) >= 20, name
        assert set(entry.privileges) <= {"SELECT", "INSERT", "UPDATE", "DELETE"}, name


def test_the_app_role_only_reads_alembic_version_and_the_audit_log_is_append_only() -> None:
    assert dbroles.APP_GRANTS["alembic_version"].privileges == ("SELECT",)  # `serve` refuses an unmigrated DB
    assert dbroles.APP_GRANTS["alembic_version"].update_columns == ()
    audit = dbroles.APP_GRANTS["audit_events"]
    # DELETE for retention only: row-level security (migration 0007) keeps the last 30 days out of reach
    assert audit.privileges == ("SELECT", "INSERT", "DELETE")
    assert audit.update_columns == ("ip", "user_agent"), "only personal data may be blanked"


def test_secrets_and_their_history_are_never_rewritten() -> None:
    for table, columns in (("signing_keys", ("retired_at",)), ("refresh_tokens", ("used_at", "used_by"))):
        entry = dbroles.APP_GRANTS[table]
        assert "UPDATE" not in entry.privileges
        assert entry.update_columns == columns
    assert "DELETE" not in dbroles.APP_GRANTS["signing_keys"].privileges
    assert "DELETE" in dbroles.APP_GRANTS["refresh_tokens"].privileges  # retention of dead families only


def test_update_columns_exist_and_exclude_table_level_update() -> None:
    columns = {table.name: set(table.columns.keys()) for table in Base.metadata.sorted_tables}
    for name, entry in dbroles.APP_GRANTS.items():
        assert set(entry.update_columns) <= columns.get(name, set()), name
        assert "id" not in entry.update_columns
    with pytest.raises(ValueError, match="not both"):
        dbroles.grant("UPDATE", why="both on the table and on columns", update_columns=("a",))


def test_a_grant_without_a_reason_or_with_an_unknown_privilege_is_refused() -> None:
    with pytest.raises(ValueError, match="reason"):
        dbroles.grant("SELECT", why=" ")
    with pytest.raises(ValueError, match="unknown privileges"):
        dbroles.TableGrant(("TRUNCATE",), "to empty tables quickly")


def test_granting_refuses_a_table_without_an_entry() -> None:
    with pytest.raises(dbroles.UngrantedTablesError, match="scratch"):
        dbroles.grant_statements(["audit_events", "scratch"], '"ts_app"')


def test_grant_statements_revoke_everything_before_granting() -> None:
    statements = dbroles.grant_statements(["alembic_version", "audit_events"], '"ts_app"')
    assert 'REVOKE ALL ON TABLE public."alembic_version" FROM PUBLIC, "ts_app"' in statements
    assert 'GRANT SELECT, INSERT, DELETE ON TABLE public."audit_events" TO "ts_app"' in statements
    assert [s for s in statements if "alembic_version" in s and s.startswith("GRANT")] == [
        'GRANT SELECT ON TABLE public."alembic_version" TO "ts_app"'
    ]


@pytest.mark.parametrize("name", ['ts"; DROP ROLE postgres; --', "Upper", "1abc", "a-b", "", "x" * 64])
def test_identifiers_outside_the_plain_alphabet_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        dbroles.quote_ident(name)


def test_literals_double_their_quotes_and_refuse_nul() -> None:
    assert dbroles.quote_literal("it's") == "'it''s'"
    with pytest.raises(ValueError, match="NUL"):
        dbroles.quote_literal("a\x00b")


def test_role_spec_refuses_one_role_for_both_jobs() -> None:
    with pytest.raises(ValueError, match="differ"):
        dbroles.RoleSpec(database="ts", owner_role="ts", app_role="ts")


@pytest.mark.parametrize(
    ("path", "render"),
    [
        ("deploy/postgres/provision.sql", dbroles.render_provision_sql),
        ("deploy/postgres/grants.sql", dbroles.render_grants_sql),
    ],
)
def test_committed_psql_scripts_match_the_code(path: str, render: object) -> None:
    assert callable(render)
    assert (ROOT / path).read_text(encoding="utf-8") == render(), "run: uv run torrent-streamer db render-sql"


def test_the_deployment_guide_shows_the_grant_table_of_the_code() -> None:
    guide = (ROOT / "docs/deployment.md").read_text(encoding="utf-8")
    block = guide.split("<!-- grant-table:start -->\n", 1)[1].split("<!-- grant-table:end -->", 1)[0]
    assert block == dbroles.grant_table_markdown(), "paste `dbroles.grant_table_markdown()` into the guide"
