"""The application's own tables beside the event log: tokens, idempotency keys, settings."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)

metadata = MetaData()

tokens = Table(
    "tl_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)
"""API tokens: a public id and the SHA-256 of the secret part; the secret is never stored.
Times are whole seconds since the epoch; `last_used_at` is kept to the minute."""

idempotency_keys = Table(
    "tl_idempotency",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("organisation", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("tl_idempotency_created_at", "created_at"),
)
"""The first response to each (token, organisation, Idempotency-Key), written with the event;
`created_at` in microseconds since the epoch, indexed so that old keys are found for purging."""

settings = Table(
    "tl_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Values the service makes once and shares between processes (the cursor signing key)."""


def create_or_upgrade(engine: Engine) -> None:
    """Create the tables that are missing, and bring those an earlier version made up to date:
    the columns added since (all nullable) and the indexes."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            _upgrade(conn, table)


def _upgrade(conn: Connection, table: Table) -> None:
    inspector = inspect(conn)
    present = {column["name"] for column in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
    indexes = {index["name"] for index in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(conn)
