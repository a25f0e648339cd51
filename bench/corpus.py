"""Many organisations' histories as one import file: `python bench/corpus.py --events 1000000`.

Writes JSON Lines that `timeline import` reads: `--events` events across `--organisations`
organisations (the same number each), with every event type of the contract, every date form
of level 1 (days, months and years qualified `?`, `~` and `%`; unspecified digits; seasons;
intervals with open and unknown ends), about a fifth of the events that may be attested
attested, figures with qualifiers, names in French, and about 2% corrections and
retractions of earlier events of the same organisation. The organisations' events are
interleaved at random, so the file is recorded out of order twice over: across
organisations, and within one (dates drawn with no relation to the recording order).

The file is the same for the same arguments (`--seed`), so a database built from it can be
rebuilt. Lines are written as they are drawn: a million events take about 300 MB on disk and
little memory.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.state_at import data_for, historian, interval_date, long_date, random_date

KINDS = [
    ("member_joined", 20),
    ("member_left", 10),
    ("milestone", 25),
    ("office_holder_appointed", 10),
    ("office_holder_left", 3),
    ("renamed", 3),
    ("headquarters_moved", 3),
    ("affiliated", 2),
    ("disaffiliated", 1),
    ("document_adopted", 5),
    ("figures_reported", 15),
    ("dissolved", 0.5),
]
"""Weights of the historical event types after each organisation's founding."""

AMENDMENTS = 0.02
"""The share of events that retract or correct an earlier event of the organisation."""


def organisation_id(number: int) -> str:
    """The slug of the generated organisation with this number."""
    return f"org-{number:05d}"


def occurred_on(rng: random.Random) -> str:
    """A date of any level-1 form: mostly days, months and years (qualified now and then),
    a third intervals, seasons or unspecified digits, a few over years or open-ended."""
    roll = rng.random()
    if roll < 0.03:
        return long_date(rng)
    if roll < 0.33:
        return interval_date(rng)
    return random_date(rng)


def organisation_events(number: int, count: int, seed: int) -> Iterator[dict]:
    """The organisation's `count` events in the order they are recorded: its founding comes
    somewhere in the first half; amendments name events drawn before them."""
    rng = random.Random(seed * 1_000_003 + number)
    slug = organisation_id(number)
    kinds, weights = zip(*KINDS, strict=True)
    founded_at = rng.randrange(max(1, count // 2))
    amendable: list[str] = []
    for index in range(count):
        if index == founded_at:
            name = f"Co-operative {number}"
            event = {"type": "founded", "occurred_on": occurred_on(rng), "data": {"name": name}}
        elif amendable and rng.random() < AMENDMENTS:
            event = amendment(amendable.pop(rng.randrange(len(amendable))), rng)
        else:
            kind = rng.choices(kinds, weights)[0]
            event = {"type": kind, "occurred_on": occurred_on(rng), "data": data_for(kind, rng)}
            if kind == "affiliated" or kind == "disaffiliated":
                event["data"]["parent"] = organisation_id(number // 100)
            event = historian(event, rng)
            if rng.random() < 0.3:
                event["sources"] = [{"title": f"Annual report {rng.randint(1900, 2025)}"}]
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if event["type"] not in ("retracted", "corrected"):
            amendable.append(event_id)
        yield {"id": event_id, "organisation": slug, **event}


def amendment(target: str, rng: random.Random) -> dict:
    """A retraction or a correction (of the date) of the event `target`."""
    if rng.random() < 0.5:
        return {"type": "retracted", "data": {"event_id": target, "reason": "a later source"}}
    data = {"event_id": target, "reason": "a later source", "occurred_on": occurred_on(rng)}
    return {"type": "corrected", "data": data}


def corpus(events: int, organisations: int, seed: int = 1) -> Iterator[str]:
    """The import lines: `events` events over `organisations` organisations, interleaved."""
    per = -(-events // organisations)
    streams = [organisation_events(n, per, seed) for n in range(organisations)]
    turns = [n for n in range(organisations) for _ in range(per)][:events]
    random.Random(seed).shuffle(turns)
    for number in turns:
        yield json.dumps(next(streams[number]), ensure_ascii=False)


def default_path(events: int, organisations: int, seed: int) -> Path:
    """Where a corpus of this size is kept between runs (outside the repository)."""
    return Path(f"/tmp/timeline-corpus-{events}-{organisations}-{seed}.jsonl")


def write(path: Path, events: int, organisations: int, seed: int) -> Path:
    """Write the corpus to `path` (through a temporary file, so a half-written one is never
    taken for a whole one)."""
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for line in corpus(events, organisations, seed):
            out.write(line + "\n")
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--organisations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="default: /tmp/timeline-corpus-E-O-S.jsonl")
    args = parser.parse_args()
    path = args.out or default_path(args.events, args.organisations, args.seed)
    print(write(path, args.events, args.organisations, args.seed))


if __name__ == "__main__":
    main()
