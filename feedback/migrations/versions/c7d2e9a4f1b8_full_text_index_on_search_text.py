"""full-text index on cases.search_text, kept current by the database

Revision ID: c7d2e9a4f1b8
Revises: b16a1e2d3c4f
Create Date: 2026-12-05 12:35:00

Issue 17: staff search and the duplicate hints were a ``LIKE '% word %'`` scan of every
case (1.3 s at a million cases). ``search_text`` holds the folded syllables of subject,
body and address (feedback.domain.text.fold), so a plain word index answers them:

- SQLite: an external-content FTS5 table ``cases_fts`` (rowid = cases.id, no copy of the
  text) and three triggers on ``cases`` that keep it current whoever writes the row (the
  services, a bulk insert, plain SQL). A later migration that rebuilds ``cases`` in batch
  mode drops these triggers with the old table and must create them again (``TRIGGERS``);
  ``INSERT INTO cases_fts(cases_fts) VALUES('rebuild')`` re-reads every row.
- PostgreSQL: a GIN index on ``to_tsvector('simple', search_text)``; the 'simple'
  configuration lower-cases and keeps every word (no stemming, no stopwords), which is
  what folded Vietnamese syllables need. No extension, so nothing for a DBA to install.
"""

from alembic import op

revision = "c7d2e9a4f1b8"
down_revision = "b16a1e2d3c4f"
branch_labels = None
depends_on = None

PG_INDEX = "ix_cases_search_text_fts"

TRIGGERS = (
    "CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN "
    "INSERT INTO cases_fts(rowid, search_text) VALUES (NEW.id, NEW.search_text); END",
    "CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN "
    "INSERT INTO cases_fts(cases_fts, rowid, search_text) "
    "VALUES ('delete', OLD.id, OLD.search_text); END",
    "CREATE TRIGGER cases_fts_update AFTER UPDATE OF search_text ON cases BEGIN "
    "INSERT INTO cases_fts(cases_fts, rowid, search_text) "
    "VALUES ('delete', OLD.id, OLD.search_text); "
    "INSERT INTO cases_fts(rowid, search_text) VALUES (NEW.id, NEW.search_text); END",
)
TRIGGER_NAMES = ("cases_fts_insert", "cases_fts_delete", "cases_fts_update")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Folded text is [0-9a-z ] only: the ascii tokenizer splits it exactly as
        # str.split() does.
        op.execute(
            "CREATE VIRTUAL TABLE cases_fts USING fts5("
            "search_text, content='cases', content_rowid='id', tokenize='ascii')"
        )
        for statement in TRIGGERS:
            op.execute(statement)
        op.execute("INSERT INTO cases_fts(cases_fts) VALUES ('rebuild')")
    else:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON cases "
            "USING gin (to_tsvector('simple'::regconfig, search_text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS cases_fts")
    else:
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
