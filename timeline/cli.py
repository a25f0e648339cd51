"""The `timeline` command. Results go to standard output; logs and progress to standard error."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click
from sqlalchemy import exc

from events.errors import DomainError
from timeline.bootstrap import Services, build
from timeline.config import Config
from timeline.exports.service import Exports
from timeline.keys import IdempotencyKeys
from timeline.tokens import token_id_of

log = logging.getLogger("timeline")


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@contextmanager
def _services() -> Iterator[Services]:
    """Build the service for one command, and turn its refusals into one line on stderr."""
    services = None
    try:
        services = build(Config.from_env())
        yield services
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    except exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise click.ClickException(f"cannot use the database: {reason}") from None
    except ValueError as error:  # a malformed TIMELINE_* setting
        raise click.ClickException(str(error)) from None
    finally:
        if services is not None:
            services.close()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to standard error.")
def main(verbose: bool) -> None:
    """Timeline: the history of organisations as immutable, sourced events.

    The database is the SQLAlchemy URL in TIMELINE_DATABASE_URL; without it, the SQLite
    file timeline.db in the working directory.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def seed() -> None:
    """Load the CICOPA history shipped with the service. Running it twice adds nothing."""
    with _services() as services:
        report = services.commands.seed()
    log.info("seeded: %d events stored, %d already there", report.imported, report.skipped)
    _print_json({"imported": report.imported, "skipped": report.skipped})


def _format_option(described: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The `--format jsonl|popolo` option of import and export."""
    return click.option(
        "--format",
        "file_format",
        type=click.Choice(["jsonl", "popolo"]),
        default="jsonl",
        show_default=True,
        help=described,
    )


@main.command(name="import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@_format_option("jsonl: events as `timeline export` writes them; popolo: a Popolo JSON file.")
def import_(file: TextIO, file_format: str) -> None:
    """Import events from FILE (JSON Lines, as `timeline export` writes; - for stdin).

    Each line's `id` is kept and an event whose id is already stored is skipped; `version`,
    `recorded_at`, `recorded_by` and `status` are ignored. Nothing of the file is written if
    any line is bad. With `--format popolo`, FILE is a Popolo JSON document: its
    organizations, persons and memberships become events that cite the file.
    """
    if file_format == "popolo":
        _import_popolo(file)
        return
    lines = file.read().splitlines()
    with _services() as services, _progress(len(lines), "checking") as advance:
        report = services.commands.import_lines(lines, progress=advance)
    log.info("imported %d events, skipped %d already stored", report.imported, report.skipped)
    _print_json({"imported": report.imported, "skipped": report.skipped})


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error when it is a terminal; silence otherwise."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _import_popolo(file: TextIO) -> None:
    text, name = file.read(), os.path.basename(file.name)
    with _services() as services:
        report = Exports(services.queries, services.commands).import_popolo(text, name)
    log.info("imported %d events, skipped %d already stored", report.imported, report.skipped)
    _print_json({"imported": report.imported, "skipped": report.skipped})


@main.command()
@click.option("--org", "organisation", help="Export only this organisation's events.")
@_format_option(
    "jsonl: every stored event; popolo: one Popolo JSON document of every organisation "
    "(or of --org)."
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000/",
    show_default=True,
    help="With --format popolo: where the service is served, for links to its citations of "
    "sources that have no URL of their own.",
)
def export(organisation: str | None, file_format: str, base_url: str) -> None:
    """Write every stored event as JSON Lines, in recording order.

    Retracted events, retractions and corrections are included; a corrected event shows its
    corrected fields and, under `original`, what was first recorded. With `--format popolo`,
    write the organisations, their people, posts and memberships as one Popolo document.
    """
    if file_format == "popolo":
        with _services() as services:
            chosen = None if organisation is None else [organisation]
            base = base_url if base_url.endswith("/") else f"{base_url}/"
            _print_json(Exports(services.queries).popolo(chosen, base))
        return
    with _services() as services:
        for body in services.queries.export(organisation):
            click.echo(json.dumps(body, ensure_ascii=False))


@main.command()
@click.argument("organisation")
@click.option("--at", help="YYYY, YYYY-MM or YYYY-MM-DD: as of the end of that period.")
@click.option("--known-at", help="RFC 3339 timestamp: only what was recorded by then.")
def state(organisation: str, at: str | None, known_at: str | None) -> None:
    """Print ORGANISATION's state at a date as JSON."""
    with _services() as services:
        _print_json(services.queries.state(organisation, at, known_at))


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command(name="create")
@click.argument("name")
def token_create(name: str) -> None:
    """Make a token for NAME (recorded as `recorded_by`); it is printed once, on the last line."""
    with _services() as services:
        secret = services.tokens.create(name)
    log.info(
        "token %s made for %r; keep it now, only its hash is stored", token_id_of(secret), name
    )
    click.echo(secret)


@token.command(name="list")
def token_list() -> None:
    """List every token as JSON Lines: id, name, created_at, last_used_at and revoked_at
    (RFC 3339 or null). Never the token itself."""
    with _services() as services:
        for listed in services.tokens.list():
            click.echo(json.dumps(listed, ensure_ascii=False))


@token.command(name="revoke")
@click.argument("token_id", metavar="ID")
def token_revoke(token_id: str) -> None:
    """Revoke the token with this ID (as `token list` shows it): every server process refuses
    it within a second of this command's return."""
    with _services() as services:
        services.tokens.revoke(token_id)
    log.info("token %s revoked", token_id)


@main.group()
def keys() -> None:
    """Manage stored idempotency keys."""


@keys.command(name="purge")
def keys_purge() -> None:
    """Delete the idempotency keys older than TIMELINE_IDEMPOTENCY_RETENTION_HOURS (48 by
    default), in small batches that let appends through; for cron. Serving processes also
    purge every few minutes."""
    with _services() as services:
        keys = IdempotencyKeys(services.engine, services.config.idempotency_retention_hours)
        purged = keys.purge()
    log.info("purged %d idempotency keys past their retention", purged)
    _print_json({"purged": purged})


@main.group()
def projections() -> None:
    """Manage the read models."""


@projections.command(name="rebuild")
def projections_rebuild() -> None:
    """Rebuild the read models from the whole event log."""
    with _services() as services:
        position = services.rebuild_projections()
    _print_json({"rebuilt_to": position})


@main.command()
def init() -> None:
    """Create the tables (if missing) and bring the read models up to date."""
    with _services() as services:
        position = services.read_model.position()
    _print_json({"read_model_position": position})


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes (default: one per core, 2 to 4).",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per worker.",
)
@click.option(
    "--keepalive",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds an idle connection stays open for the client's next request (0: close "
    "after each response).",
)
@click.option(
    "--keepalive-requests",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests a connection serves before it is closed, so that clients' next "
    "connections spread over the workers again.",
)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    envvar="TIMELINE_SERVER_TIMEOUT",
    help="Seconds a client has to send a whole request (from its first byte) or to start "
    "its first one, and to read an answer; a connection idle or stalled longer is closed.",
)
@click.option(
    "--seed/--no-seed",
    "seed_first",
    default=None,
    help="Load the CICOPA history into an empty database first "
    "(default: yes on the embedded SQLite default).",
)
def serve(
    host: str,
    port: int,
    workers: int | None,
    threads: int,
    keepalive: int,
    keepalive_requests: int,
    timeout: float,
    seed_first: bool | None,
) -> None:
    """Serve the API and the pages: worker processes that each read whole requests before
    a thread answers them (see timeline/front.py)."""
    from timeline.server import LOGGING, metrics_directory, run

    logging.config.dictConfig(LOGGING)  # the server logs JSON lines, from the first one

    if seed_first is None:
        seed_first = "TIMELINE_DATABASE_URL" not in os.environ
    with _services() as services:
        if seed_first and services.is_empty():
            report = services.commands.seed()
            log.info("empty database: loaded the CICOPA history (%d events)", report.imported)
    os.environ["TIMELINE_TABLES_READY"] = "1"  # the workers need not create them again
    with metrics_directory():
        status = run(
            host=host,
            port=port,
            workers=workers or _default_workers(),
            threads=threads,
            keepalive=keepalive,
            keepalive_requests=keepalive_requests,
            timeout=timeout,
        )
    sys.exit(status)


def _default_workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


if __name__ == "__main__":  # pragma: no cover
    main()
