"""Cross-event matching (`cairn match`) against stix2-matcher.

`cairn match` matches patterns of several observations ([a] AND [b], FOLLOWEDBY,
REPEATS, WITHIN) across the events of a stream, keeping a window of candidate events
per indicator. For a stream whose events lie within the window, an indicator has a
first match exactly when stix2-matcher matches its pattern against all of the stream's
events as a list of observed-data: matching is monotone in the observations (more
events never undo a binding), the event that first completes a binding is in it, and a
binding under an outermost WITHIN only holds events that recent.

Generated cases: each is an indicator and a short stream of DNS events of its own (its
own domain names, its own day, so cases never share a window). One `cairn match` run
over all streams says which indicators matched at least once; stix2-matcher says which
should.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from stix2matcher.matcher import match

from conftest import run_cairn

CASES = 300
SEED = 20261123
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def leaf(r: random.Random, k: int) -> str:
    s = f"[domain-name:value = '{r.choice('abc')}{k}.example']"
    if r.random() < 0.2:
        s += f" REPEATS {r.randint(2, 3)} TIMES"
    return s


def expr(r: random.Random, k: int, depth: int) -> str:
    if depth == 0 or r.random() < 0.3:
        return leaf(r, k)
    op = r.choice(["AND", "OR", "FOLLOWEDBY"])
    return f"({expr(r, k, depth - 1)} {op} {expr(r, k, depth - 1)})"


def case(r: random.Random, k: int) -> tuple[str, list[tuple[dt.datetime, str]]]:
    pattern = expr(r, k, 2)
    if r.random() < 0.35:
        pattern = f"{pattern} WITHIN {r.choice([90, 200, 400])} SECONDS"
    day = START + dt.timedelta(days=2 * k)
    events = []
    t = day
    for _ in range(r.randint(1, 8)):
        t += dt.timedelta(seconds=r.choice([30, 60, 120]))
        events.append((t, f"{r.choice('abcz')}{k}.example"))
    return pattern, events


def observed_data(events: list[tuple[dt.datetime, str]]) -> list[dict]:
    """The events as stix2-matcher takes them: one bundle, one observed-data per event."""
    objects = []
    for i, (t, name) in enumerate(events):
        sco = f"domain-name--00000000-0000-4000-8000-{i:012x}"
        objects.append({
            "type": "observed-data", "spec_version": "2.1",
            "id": f"observed-data--00000000-0000-4000-8000-{i:012x}",
            "created": ts(t), "modified": ts(t), "first_observed": ts(t), "last_observed": ts(t),
            "number_observed": 1, "object_refs": [sco],
        })
        objects.append({"type": "domain-name", "id": sco, "value": name})
    return [{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects}]


def test_cross_event_matches_agree_with_stix2_matcher(cairn: Path, data_dir: Path, tmp_path: Path):
    r = random.Random(SEED)
    cases = [case(r, k) for k in range(CASES)]
    indicators = [{
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{k:012x}",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z",
    } for k, (pattern, _) in enumerate(cases)]
    bundle = tmp_path / "indicators.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-00000000000b",
                                  "objects": indicators}))
    run_cairn(cairn, ["import", str(bundle), "--source", "oracle", "--progress", "none"], data=data_dir)
    lines = [json.dumps({"@timestamp": ts(t), "dns": {"question": {"name": name}}})
             for _, events in cases for t, name in events]
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(lines) + "\n")
    out = run_cairn(cairn, ["match", "--events", str(events_file), "--no-sightings"], data=data_dir).stdout
    ours = {json.loads(line)["indicator_id"] for line in out.splitlines()}

    disagree, several = [], 0
    for k, (pattern, events) in enumerate(cases):
        theirs = bool(match(pattern, observed_data(events), stix_version="2.1"))
        mine = f"indicator--00000000-0000-4000-8000-{k:012x}" in ours
        if theirs != mine:
            disagree.append(f"{pattern} over {[(ts(t), n) for t, n in events]}: stix2-matcher {theirs}, cairn {mine}")
        several += theirs and ("AND" in pattern or "FOLLOWEDBY" in pattern or "REPEATS" in pattern)
    assert not disagree, f"{len(disagree)} of {CASES} disagree:\n" + "\n".join(disagree[:20])
    # The cases exercise matches that need several events, not only single-event ones.
    assert several >= 30, several
