"""Differential test: `cairn validate` against stix2-validator 3.2.0.

The corpus (stix_corpus.py) holds several hundred STIX 2.1 objects: valid
generator output of every SDO/SRO/SCO type plus rule-named mutations of it.
Every object on which Cairn and the validator give different verdicts must be
explained in known_disagreements.json (by rule name, with the spec clause
that makes Cairn right); an unexplained disagreement fails the test, and so
does an entry that no longer disagrees.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from conftest import ORACLE_DIR, parse_jsonl, run_cairn, write_jsonl

KNOWN_FILE = ORACLE_DIR / "known_disagreements.json"


def verdict(ok: bool) -> str:
    return "valid" if ok else "invalid"


@pytest.fixture(scope="session")
def known() -> dict[str, dict]:
    with open(KNOWN_FILE, encoding="utf-8") as f:
        doc = json.load(f)
    entries = doc["disagreements"]
    for key, e in entries.items():
        assert e.get("validator") in ("valid", "invalid") and e.get("cairn") in ("valid", "invalid"), \
            f"{KNOWN_FILE.name}: {key}: 'validator' and 'cairn' must be 'valid' or 'invalid'"
        assert e["validator"] != e["cairn"], f"{KNOWN_FILE.name}: {key}: not a disagreement"
        assert e.get("spec"), f"{KNOWN_FILE.name}: {key}: missing the spec clause"
    return entries


def entry_for(rule: str, known: dict[str, dict]) -> str | None:
    if rule in known:
        return rule
    for key in known:
        if any(c in key for c in "*?[") and fnmatch.fnmatchcase(rule, key):
            return key
    return None


def _short(obj, n: int = 240) -> str:
    s = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    return s if len(s) <= n else s[: n - 3] + "..."


def _msgs(msgs: list[str], n: int = 3, width: int = 220) -> str:
    if not msgs:
        return "(none)"
    shown = [m if len(m) <= width else m[: width - 3] + "..." for m in msgs[:n]]
    more = f" (+{len(msgs) - n} more)" if len(msgs) > n else ""
    return " | ".join(shown) + more


MAX_DETAIL_ROWS = 120


def render_table(title: str, rows: list[dict]) -> str:
    # one line per rule first (the overview), then one block per object
    per_rule: dict[str, list[dict]] = {}
    for r in rows:
        per_rule.setdefault(r["rule"], []).append(r)
    lines = [f"{title}: {len(rows)} objects in {len(per_rule)} rules",
             f"  {'rule':<62} {'objects':>7}  {'validator':<9} {'cairn':<9} {'spec':<9}",
             "  " + "-" * 100]
    for rule, rs in per_rule.items():
        r = rs[0]
        lines.append(f"  {rule:<62} {len(rs):>7}  {verdict(r['validator_valid']):<9} "
                     f"{verdict(r['cairn_valid']):<9} {verdict(r['expect_valid']):<9}")
    lines += ["", f"  {'index':>5}  {'rule':<58} {'validator':<9} {'cairn':<9} {'spec':<9}",
              "  " + "-" * 96]
    for r in rows[:MAX_DETAIL_ROWS]:
        lines.append(f"  {r['index']:>5}  {r['rule']:<58} {verdict(r['validator_valid']):<9} "
                     f"{verdict(r['cairn_valid']):<9} {verdict(r['expect_valid']):<9}")
        lines.append(f"         object:    {_short(r['obj'])}")
        lines.append(f"         validator: {_msgs(r['validator_errors'])}")
        lines.append(f"         cairn:     errors: {_msgs(r['cairn_errors'])}")
        if r["cairn_warnings"]:
            lines.append(f"                    warnings: {_msgs(r['cairn_warnings'], 2)}")
        if r.get("note"):
            lines.append(f"         note:      {r['note']}")
    if len(rows) > MAX_DETAIL_ROWS:
        lines.append(f"  ... {len(rows) - MAX_DETAIL_ROWS} more objects (all of them are in the JSON dump below)")
    return "\n".join(lines)


# --------------------------------------------------------------------------


def test_corpus_shape(corpus_cases):
    """The corpus covers every type and is big enough to mean something."""
    import stix_corpus as sc

    assert len(corpus_cases) >= 500, len(corpus_cases)
    base_types = {c["obj"]["type"] for c in corpus_cases if c["rule"].startswith("base/")}
    missing = set(sc.SDO_TYPES + sc.SRO_TYPES + sc.SCO_TYPES +
                  ["marking-definition", "language-content", "extension-definition"]) - base_types
    assert not missing, f"no valid base object for {sorted(missing)}"
    bad_bases = [c for c in corpus_cases if c["rule"].startswith("base/") and not c["validator_valid"]]
    assert not bad_bases, f"stix2-validator rejects base objects: {[c['obj']['id'] for c in bad_bases]}"
    assert sum(not c["expect_valid"] for c in corpus_cases) >= 200


def test_known_disagreements_are_spec_departures(corpus_cases, known):
    """Runs without cairn. The rules on which the validator's verdict differs
    from the spec column of the corpus are exactly the listed ones, with the
    listed directions. Catches a stale/mistyped entry, and a validator change."""
    rules: dict[str, list[dict]] = {}
    for c in corpus_cases:
        rules.setdefault(c["rule"], []).append(c)

    problems = []
    departing = set()
    for rule, cs in rules.items():
        if any(c["validator_valid"] != c["expect_valid"] for c in cs):
            departing.add(rule)
            key = entry_for(rule, known)
            if key is None:
                problems.append(f"validator departs from the spec on {rule!r} but it is not in {KNOWN_FILE.name}: "
                                + "; ".join(_msgs(c["validator_errors"], 1) for c in cs[:2]))
                continue
            e = known[key]
            for c in cs:
                if verdict(c["validator_valid"]) != e["validator"] or verdict(c["expect_valid"]) != e["cairn"]:
                    problems.append(f"{rule!r} (index {c['index']}): validator says {verdict(c['validator_valid'])}, "
                                    f"spec says {verdict(c['expect_valid'])}; entry {key!r} says "
                                    f"validator={e['validator']} cairn={e['cairn']}")
    for key in known:
        matched = [r for r in rules if entry_for(r, known) == key]
        if not matched:
            problems.append(f"entry {key!r} matches no corpus rule")
        elif not any(r in departing for r in matched):
            problems.append(f"entry {key!r}: the validator now agrees with the spec on {matched}; remove the entry")
    assert not problems, "\n".join(problems)


def test_differential_validation(cairn, corpus_cases, known, tmp_path: Path):
    corpus_file = write_jsonl(tmp_path / "corpus.jsonl", [c["obj"] for c in corpus_cases])
    cp = run_cairn(cairn, ["validate", str(corpus_file)], expect_rc=(0, 2))
    lines = parse_jsonl(cp.stdout, "cairn validate")

    # --- the output contract
    by_index: dict[int, dict] = {}
    for ln in lines:
        assert isinstance(ln, dict) and isinstance(ln.get("index"), int), f"bad validate line: {ln!r}"
        assert isinstance(ln.get("valid"), bool), f"validate line without boolean 'valid': {ln!r}"
        for k in ("errors", "warnings"):
            assert isinstance(ln.get(k), list) and all(isinstance(m, str) for m in ln[k]), \
                f"validate line: {k!r} must be a list of strings: {ln!r}"
        assert ln["index"] not in by_index, f"index {ln['index']} reported twice"
        by_index[ln["index"]] = ln
    n = len(corpus_cases)
    assert sorted(by_index) == list(range(n)), (
        f"expected one line per object with index 0..{n - 1}; got {len(by_index)} lines, "
        f"indices {sorted(by_index)[:5]}...{sorted(by_index)[-5:]}\nstderr: {cp.stderr[:2000]}")

    contract = []
    for c in corpus_cases:
        ln = by_index[c["index"]]
        if ln["valid"] != (not ln["errors"]):
            contract.append(f"index {c['index']}: valid={ln['valid']} but errors={ln['errors']}")
        oid = c["obj"].get("id") if isinstance(c["obj"], dict) else None
        if isinstance(oid, str) and ln.get("id") != oid:
            contract.append(f"index {c['index']}: id {ln.get('id')!r}, expected {oid!r}")
    any_invalid = any(not ln["valid"] for ln in lines)
    if cp.returncode != (2 if any_invalid else 0):
        contract.append(f"exit code {cp.returncode}, expected {2 if any_invalid else 0}")

    # --- verdicts
    unlisted, listed_hit = [], set()
    for c in corpus_cases:
        ln = by_index[c["index"]]
        if ln["valid"] == c["validator_valid"]:
            continue
        row = dict(c, cairn_valid=ln["valid"], cairn_errors=ln["errors"], cairn_warnings=ln["warnings"])
        key = entry_for(c["rule"], known)
        if key and known[key]["validator"] == verdict(c["validator_valid"]) and known[key]["cairn"] == verdict(ln["valid"]):
            listed_hit.add(key)
        else:
            unlisted.append(row)
    stale = sorted(set(known) - listed_hit)

    # SCOs whose id is not the deterministic UUIDv5: valid, with a warning
    no_warning = [c["index"] for c in corpus_cases
                  if c["rule"] == "sco/wrong_deterministic_id"
                  and by_index[c["index"]]["valid"] and not by_index[c["index"]]["warnings"]]

    report = []
    if unlisted:
        report.append(render_table("UNLISTED DISAGREEMENTS between cairn and stix2-validator", unlisted))
        report.append(f"  Fix cairn, or (if cairn is right) add the rule to {KNOWN_FILE.name} with the spec clause.")
    if stale:
        report.append(f"STALE entries in {KNOWN_FILE.name} (cairn now agrees with the validator on every object "
                      f"of the rule, or disagrees the other way): {stale}")
    if no_warning:
        report.append(f"SCOs with a non-deterministic id must be valid WITH a warning; no warning at indices {no_warning}")
    if contract:
        report.append("OUTPUT CONTRACT violations:\n  " + "\n  ".join(contract[:50]))
    if report:
        dump = tmp_path / "disagreements.json"
        dump.write_text(json.dumps(unlisted, indent=1, ensure_ascii=False), encoding="utf-8")
        report.append(f"(machine-readable list of unlisted disagreements: {dump}; corpus: {corpus_file})")
    if report:
        pytest.fail("\n\n".join(report), pytrace=False)
