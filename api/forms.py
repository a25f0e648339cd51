"""The forms that record history from the browser: a new event of any type, a correction, a
retraction; and signing in and out.

Each form posts back to itself with a CSRF token (checked before anything else is read) and a
per-form idempotency key; the view reads the form into the event the API would take
(`api.eventforms`) and hands it to the same application command as the API, so it is checked
by the same rules and written by the same path. A refused form comes back with every field as
typed and each error beside its field; a recorded event leads to its place on the timeline.
Corrections and retractions are conditional on the stream version the form was made from:
if the history moved meanwhile, the form says so and shows what was recorded since.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.exceptions import Conflict, NotFound
from werkzeug.wrappers import Response

from api import eventforms as ef
from api.resources import services
from api.sessions import begin, end, next_page, protect_forms, writer
from events.errors import EventNotFound, InvalidEvent, OrganisationNotFound, VersionMismatch
from events.validation import AMENDMENT_TYPES, is_slug, text_problem
from timeline.errors import IdempotencyKeyReused
from timeline.presentation import TYPE_NAMES, display_date, sentence
from timeline.tokens import Identity
from timeline.writer import IfMatch

bp = Blueprint("forms", __name__, template_folder="templates")

Json = dict[str, Any]
Page = str | tuple[str, int] | Response


@bp.before_request
def guard() -> Response | None:
    """Every POST needs a valid CSRF token, checked first (else 403: a form posted from another
    site, which carries neither the token nor, SameSite=Lax, the cookie); the event forms need
    a session (else they lead to `/sign-in`)."""
    if request.method == "POST":
        protect_forms()
    if request.endpoint not in ("forms.sign_in", "forms.sign_out") and writer() is None:
        wanted = request.full_path if request.method == "GET" else request.path
        return redirect(url_for("forms.sign_in", next=wanted.rstrip("?")), 303)
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Page:
    """A form that takes a token and starts a session."""
    target = next_page(request)
    if request.method == "GET":
        return render_template("sign_in.html", next=target, error=None)
    token = request.form.get("token", "").strip()
    tokens = services().tokens
    identity = tokens.authenticate(token) if token else None
    proof = tokens.session_proof(token) if identity else None
    if proof is None or identity is None:
        error = "This token is not known to the service, or it was revoked."
        return render_template("sign_in.html", next=target, error=error), 403
    begin(proof, identity.name)
    return redirect(target, 303)


@bp.route("/sign-out", methods=["GET", "POST"])
def sign_out() -> Page:
    """A one-button form (GET) that ends the session (POST)."""
    if request.method == "GET":
        return render_template("sign_out.html")
    end()
    return redirect("/", 303)


@bp.get("/new-organisation")
def new_organisation() -> Page:
    """Start an organisation's history: its id, then the founding form."""
    org = request.args.get("id", "").strip()
    error = None
    if org:
        if is_slug(org):
            return redirect(url_for("forms.new_event", org=org, type="founded"), 303)
        error = "An id is 1 to 64 lowercase letters, digits and hyphens, such as ica-europe."
    return render_template("new_organisation.html", value=org, error=error), 422 if error else 200


def _checked_org(org: str) -> None:
    if not is_slug(org):
        raise NotFound(f"{org!r} is not an organisation id")


def _history(org: str) -> list[Json]:
    """The organisation's events, retracted ones too; none for a new organisation."""
    try:
        return list(services().queries.all_events(org, include_retracted=True))
    except OrganisationNotFound:
        return []


def _known(org: str, history: list[Json]) -> dict[str, dict[str, str]]:
    """What the pickers and lists offer: people, members, organisations, figure names."""
    queries = services().queries
    members = {
        e["data"]["member"]["id"]: e["data"]["member"]["name"]
        for e in history
        if e["type"] == "member_joined" and isinstance(e["data"].get("member"), dict)
    }
    figures = {name: name for name in ef.SHIPPED_FIGURES}
    for event in history:
        if event["type"] == "figures_reported":
            figures.update({name: name for name in event["data"].get("figures", {})})
    return {
        "people": {p["id"]: p["name"] for p in queries.people()},
        "members": members,
        "organisations": {o["id"]: o["name"] or o["id"] for o in queries.organisations()},
        "figures": figures,
    }


def _organisation_name(org: str) -> str:
    found = next((o for o in services().queries.organisations() if o["id"] == org), None)
    return (found or {}).get("name") or org


def _key(form: Mapping[str, str]) -> str:
    """The form's idempotency key, or a new one."""
    key = form.get("idempotency_key", "")
    if 16 <= len(key) <= 255 and not text_problem(key):
        return key
    return secrets.token_urlsafe(24)


def _summary(errors: Mapping[str, str], labels: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(control id or "", label, message) for the list of problems above the form."""
    return [
        (ef.control_id(name) if name in labels else "", labels.get(name, name), message)
        for name, message in errors.items()
    ]


def _render(
    template: str,
    org: str,
    form: Mapping[str, str],
    *,
    kind: str | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    **context: Any,
) -> tuple[str, int]:
    history = context.pop("history", None)
    history = _history(org) if history is None else history
    known = _known(org, history)
    figure_rows = ef.rows_in(form, "data.figures", ef.FIGURE_ROWS) + (form.get("more") == "figures")
    source_count = ef.rows_in(form, "sources", ef.SOURCE_ROWS) + (form.get("more") == "sources")
    items = ef.controls(kind, figure_rows) if kind else []
    sources = ef.source_rows(source_count)
    labels = ef.labels_of(items, sources)
    placed = ef.place_errors(
        errors or {}, form, set(labels), amendment=context.get("mode") != "new"
    )
    page = render_template(
        template,
        org=org,
        organisation_name=_organisation_name(org),
        kind=kind,
        kind_name=TYPE_NAMES.get(kind or "", ""),
        types=[(t, TYPE_NAMES[t]) for t in ef.FORM_TYPES],
        items=items,
        sources=sources,
        values=form,
        errors=placed,
        problems=_summary(placed, labels),
        known=known,
        takes_basis=bool(kind and ef.takes_basis(kind)),
        idempotency_key=_key(form),
        **{"newer": [], "target": None, "version": "", **context},
    )
    return page, status


def _record(
    org: str, event: Json, identity: Identity, form: Mapping[str, str], if_match: IfMatch | None
) -> Response:
    appended = services().commands.append(
        org,
        event,
        recorded_by=identity.name,
        token_id=identity.token_id,
        if_match=if_match,
        idempotency_key=_key(form),
    )
    anchor = f"event-{appended.event['id']}"
    return redirect(url_for("pages.timeline", org=org, _anchor=anchor), 303)


@bp.route("/organisations/<org>/events/new", methods=["GET", "POST"])
def new_event(org: str) -> Page:
    """Record an event of any type: choose the type, then fill in its form."""
    _checked_org(org)
    form: Mapping[str, str] = request.form if request.method == "POST" else request.args
    kind = form.get("type") or None
    if kind not in ef.FORM_TYPES:
        status = 422 if kind and request.method == "POST" else 200
        unknown = {"type": "choose one of the kinds of event listed"} if kind else None
        return _render(
            "event_form.html", org, {}, kind=None, mode="new", errors=unknown, status=status
        )
    if request.method == "GET" or form.get("more"):
        return _render("event_form.html", org, form, kind=kind, mode="new")
    event, problems = ef.payload(form, _known(org, _history(org)))
    identity = writer()
    assert identity is not None  # `guard` let no one else through
    try:
        if problems:
            raise InvalidEvent(problems)
        return _record(org, event, identity, form, None)
    except InvalidEvent as error:
        return _render(
            "event_form.html",
            org,
            form,
            kind=kind,
            mode="new",
            errors={**error.errors, **problems},
            status=422,
        )
    except IdempotencyKeyReused:
        return _render(
            "event_form.html",
            org,
            {**form, "idempotency_key": ""},
            kind=kind,
            mode="new",
            errors={"form": ef.ALREADY_SENT},
            status=422,
        )


def _target(org: str, event_id: str) -> Json:
    """The event to amend, as it stands now: 404 if there is none, 409 if it cannot be."""
    _checked_org(org)
    try:
        uuid.UUID(event_id)
        found = services().queries.event(org, event_id)
    except (ValueError, EventNotFound, OrganisationNotFound):
        raise NotFound(f"organisation {org!r} has no event {event_id!r}") from None
    if found["type"] in AMENDMENT_TYPES:
        raise Conflict("a correction or a retraction cannot itself be amended")
    if found.get("status") == "retracted":
        raise Conflict("this event was retracted: it no longer counts and cannot be amended")
    return found


def _since(history: list[Json], version: int) -> list[Json]:
    """The events recorded after `version`, with their sentences, for a conflict notice."""
    return [
        {"event": e, "sentence": sentence(e), "when": display_date(e.get("occurred_on"))}
        for e in sorted(history, key=lambda e: int(e["version"]))
        if int(e["version"]) > version
    ]


def _version(form: Mapping[str, str]) -> int:
    text = form.get("version", "")
    return int(text) if text.isdigit() and len(text) < 12 else -1


def _amend(org: str, event_id: str, mode: str) -> Page:
    """The correction and retraction forms: shown, and their submissions recorded."""
    target = _target(org, event_id)
    history = _history(org)
    current = max((int(e["version"]) for e in history), default=0)
    template = "event_form.html" if mode == "correct" else "retract_form.html"
    common: dict[str, Any] = {
        "mode": mode,
        "target": target,
        "target_sentence": sentence(target, _known(org, history)["organisations"]),
        "target_when": display_date(target.get("occurred_on")),
        "history": history,
    }
    if request.method == "GET" or request.form.get("more"):
        form = dict(request.form) if request.method == "POST" else ef.values_of(target)
        form.setdefault("version", str(current))
        return _render(
            template, org, form, kind=target["type"], version=form["version"], newer=[], **common
        )
    form = request.form
    identity = writer()
    assert identity is not None
    version = _version(form)
    problems: dict[str, str] = {}
    if mode == "correct":
        event, problems = ef.correction(target, form, _known(org, history))
    else:
        event = ef.retraction(target, form)
    try:
        if problems:
            raise InvalidEvent(problems)
        return _record(org, event, identity, form, IfMatch(frozenset((version,))))
    except InvalidEvent as error:
        return _render(
            template,
            org,
            form,
            kind=target["type"],
            version=str(version),
            newer=[],
            errors={**error.errors, **problems},
            status=422,
            **common,
        )
    except VersionMismatch as error:
        return _render(
            template,
            org,
            {**form, "version": str(error.actual)},
            kind=target["type"],
            version=str(error.actual),
            newer=_since(history, version),
            status=409,
            **common,
        )
    except IdempotencyKeyReused:
        return _render(
            template,
            org,
            {**form, "idempotency_key": ""},
            kind=target["type"],
            version=str(version),
            newer=[],
            errors={"form": ef.ALREADY_SENT},
            status=422,
            **common,
        )


@bp.route("/organisations/<org>/events/<event_id>/correct", methods=["GET", "POST"])
def correct(org: str, event_id: str) -> Page:
    """Correct an event: its form filled with its current values, and a reason."""
    return _amend(org, event_id, "correct")


@bp.route("/organisations/<org>/events/<event_id>/retract", methods=["GET", "POST"])
def retract(org: str, event_id: str) -> Page:
    """Retract an event: the reason, and what will no longer count."""
    return _amend(org, event_id, "retract")


@bp.app_template_filter("reads_as")
def reads_as(occurred_on: str) -> str:
    """How a typed date will read on the pages ("reads as: c. 2019"), or "" if it is not one."""
    try:
        return f"Reads as: {display_date(occurred_on)}"
    except ValueError:
        return ""


@bp.app_template_global("control_id")
def control_id(name: str) -> str:
    """The HTML id of a form control."""
    return ef.control_id(name)
