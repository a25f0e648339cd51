"""The application's own tables beside the event log: tokens, idempotency keys, settings."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

metadata = MetaData()

tokens = Table(
    "tl_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
"""API tokens: a public id and the SHA-256 of the secret part; the secret is never stored."""

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
)
"""The first response to each (token, organisation, Idempotency-Key), written with the event."""

settings = Table(
    "tl_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Values the service makes once and shares between processes (the cursor signing key)."""
