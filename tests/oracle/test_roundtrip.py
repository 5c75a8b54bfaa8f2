"""Import -> export: exported STIX passes stix2-validator and equals what went in.

The corpus is every valid base object of the differential corpus (all
SDO/SRO/SCO types, marking-definitions incl. TLP, language-content,
extension-definition, a custom object, an indicator with a custom property
x_acme_field and an `extensions` entry) plus extra versions of three ids,
imported partly from a file and partly from stdin, newest version first.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import re
from pathlib import Path

import pytest

from conftest import (by_version, export_objects, import_objects, import_stats, parse_json,
                      run_cairn, ts_key, version_key)

BUNDLE_ID = re.compile(r"^bundle--[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _later(ts: str, days: int) -> str:
    (dt, nanos) = ts_key(ts)
    dt = dt + _dt.timedelta(days=days)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1_000_000:03d}Z"


def _versions(base: dict, n: int, tweak) -> list[dict]:
    """n further versions of base, each a day apart, newest first."""
    out = []
    for k in range(1, n + 1):
        v = copy.deepcopy(base)
        v["modified"] = _later(base["modified"], k)
        tweak(v, k)
        out.append(v)
    return list(reversed(out))


@pytest.fixture(scope="module")
def stored(corpus_cases):
    """(bases, extra_versions) -- bases have unique ids."""
    bases, seen = [], set()
    for c in corpus_cases:
        if c["rule"].startswith("base/") and c["obj"]["id"] not in seen:
            seen.add(c["obj"]["id"])
            bases.append(c["obj"])
    ind = next(b for b in bases if b["type"] == "indicator" and "x_acme_field" in b and "extensions" in b)
    mal = next(b for b in bases if b["type"] == "malware" and "modified" in b)
    widget = next(b for b in bases if b["type"] == "x-acme-widget")

    def tweak_ind(v, k):
        v["x_acme_field"] = {"score": 7 + k, "tags": ["a", "b", f"v{k}"]}
        v["extensions"][next(iter(v["extensions"]))]["score"] = 42 + k
        v["description"] = f"version {k + 1}"

    def tweak_mal(v, k):
        v["description"] = f"updated analysis #{k}"

    def tweak_widget(v, k):
        v["x_acme_size"] = 3 + k

    extra = _versions(ind, 2, tweak_ind) + _versions(mal, 2, tweak_mal) + _versions(widget, 1, tweak_widget)
    return bases, extra


@pytest.fixture(scope="module")
def imported(cairn, stored, tmp_path_factory):
    """One data dir for the module: import bases from a file, extra versions
    (plus one exact duplicate) from stdin, then the file again."""
    bases, extra = stored
    tmp = tmp_path_factory.mktemp("roundtrip")
    data = tmp / "data"
    data.mkdir()

    s1 = import_objects(cairn, data, bases, tmp, source="oracle", name="bases.jsonl")
    assert s1 == {**s1, "created": len(bases), "new_versions": 0, "unchanged": 0, "rejected": 0}, s1

    stdin = "".join(json.dumps(o) + "\n" for o in extra + [bases[0]])
    cp = run_cairn(cairn, ["import", "-", "--source", "oracle", "--json"], data, input=stdin)
    s2 = import_stats(cp.stdout)
    assert s2 == {**s2, "created": 0, "new_versions": len(extra), "unchanged": 1, "rejected": 0}, s2

    s3 = import_objects(cairn, data, bases, tmp, source="oracle", name="bases-again.jsonl")
    assert s3 == {**s3, "created": 0, "new_versions": 0, "unchanged": len(bases), "rejected": 0}, s3
    return data


def _diff(expected: dict, got: dict, what: str) -> str:
    missing = sorted(set(expected) - set(got), key=str)
    extra = sorted(set(got) - set(expected), key=str)
    changed = [k for k in expected if k in got and expected[k] != got[k]]
    lines = [f"{what}: {len(missing)} missing, {len(extra)} unexpected, {len(changed)} changed"]
    lines += [f"  missing    {k}" for k in missing[:10]]
    lines += [f"  unexpected {k}" for k in extra[:10]]
    for k in changed[:5]:
        e, g = expected[k], got[k]
        props = sorted(set(e) | set(g))
        d = {p: (e.get(p, "<absent>"), g.get(p, "<absent>")) for p in props if e.get(p, "<absent>") != g.get(p, "<absent>")}
        lines.append(f"  changed    {k}: " + json.dumps(d, ensure_ascii=False)[:600] + "  (imported, exported)")
    return "\n".join(lines)


def _check_bundle(bundle, stix_validator):
    assert isinstance(bundle, dict) and bundle.get("type") == "bundle", f"not a bundle: {str(bundle)[:300]}"
    assert BUNDLE_ID.match(str(bundle.get("id"))), f"bad bundle id {bundle.get('id')!r}"
    assert "spec_version" not in bundle, "a STIX 2.1 bundle has no spec_version"
    objs = bundle.get("objects", [])
    ok, errs = stix_validator(bundle)
    assert ok, "stix2-validator rejects the exported bundle:\n  " + "\n  ".join(errs[:20])
    return objs


def _validate_each(objs, stix_validator):
    bad = []
    for o in objs:
        ok, errs = stix_validator(o)
        if not ok:
            bad.append(f"{o.get('id')}: {' | '.join(errs[:3])}")
    assert not bad, f"{len(bad)} exported objects fail stix2-validator 3.2.0:\n  " + "\n  ".join(bad[:20])


def test_export_all_versions_round_trips(cairn, stix_validator, stored, imported):
    bases, extra = stored
    expected = by_version(bases + extra, "imported")

    cp = run_cairn(cairn, ["export", "--all-versions"], imported)  # default format: bundle
    objs = _check_bundle(parse_json(cp.stdout, "export --all-versions"), stix_validator)
    _validate_each(objs, stix_validator)
    got = by_version(objs, "export --all-versions")
    if got != expected:
        pytest.fail(_diff(expected, got, "export --all-versions (bundle)"), pytrace=False)

    lines = by_version(export_objects(cairn, imported, ["--all-versions"], fmt="jsonl"), "jsonl export")
    if lines != expected:
        pytest.fail(_diff(expected, lines, "export --all-versions --format jsonl"), pytrace=False)


def test_export_latest_only(cairn, stix_validator, stored, imported):
    bases, extra = stored
    latest: dict[str, dict] = {}
    for o in bases + extra:
        cur = latest.get(o["id"])
        if cur is None or ts_key(version_key(o)) > ts_key(version_key(cur)):
            latest[o["id"]] = o

    cp = run_cairn(cairn, ["export", "--format", "bundle"], imported)
    objs = _check_bundle(parse_json(cp.stdout, "export"), stix_validator)
    _validate_each(objs, stix_validator)
    ids = [o["id"] for o in objs]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    assert not dups, f"latest-only export has several versions of {dups[:10]}"
    got = {o["id"]: o for o in objs}
    exp = {i: o for i, o in latest.items()}
    if got != exp:
        pytest.fail(_diff({(i, version_key(o)): o for i, o in exp.items()},
                          {(i, version_key(o)): o for i, o in got.items()}, "latest-only export"), pytrace=False)
    # the three versioned ids really moved on
    for o in extra:
        assert ts_key(version_key(got[o["id"]])) >= ts_key(o["modified"])

    lines = export_objects(cairn, imported, [], fmt="jsonl")
    assert len(lines) == len(exp), f"jsonl export: {len(lines)} objects, expected {len(exp)}"
    if {o["id"]: o for o in lines} != exp:
        pytest.fail(_diff({(i, version_key(o)): o for i, o in exp.items()},
                          {(o["id"], version_key(o)): o for o in lines}, "latest-only jsonl export"), pytrace=False)


def test_custom_content_survives(cairn, stored, imported):
    """Spot checks, easier to read than the big equality above."""
    got = export_objects(cairn, imported, ["--type", "indicator", "--type", "x-acme-widget"], fmt="jsonl")
    ind = [o for o in got if "x_acme_field" in o]
    assert len(ind) == 1, f"expected the one indicator with x_acme_field, got {len(ind)}"
    assert ind[0]["x_acme_field"]["tags"][-1] == "v2" and ind[0]["description"] == "version 3"
    ext = next(iter(ind[0]["extensions"].values()))
    assert ext == {"extension_type": "property-extension", "score": 44}
    widgets = [o for o in got if o["type"] == "x-acme-widget"]
    assert len(widgets) == 1 and widgets[0]["x_acme_size"] == 4


def test_export_filters(cairn, stored, data_dir, tmp_path: Path):
    bases, _ = stored
    alpha = [b for b in bases if b["type"] in ("indicator", "malware", "ipv4-addr", "identity")]
    beta = []
    for i, b in enumerate(b for b in bases if b["type"] in ("indicator", "malware")):
        o = copy.deepcopy(b)
        o["id"] = f"{o['type']}--{'%08x' % (0x5eed0000 + i)}-0000-4000-8000-{'%012x' % i}"
        beta.append(o)
    import_objects(cairn, data_dir, alpha, tmp_path, source="alpha", name="alpha.jsonl")
    import_objects(cairn, data_dir, beta, tmp_path, source="beta", name="beta.jsonl")

    def ids(args):
        return sorted(o["id"] for o in export_objects(cairn, data_dir, args, fmt="jsonl"))

    everything = alpha + beta
    assert ids([]) == sorted(o["id"] for o in everything)
    assert ids(["--type", "indicator"]) == sorted(o["id"] for o in everything if o["type"] == "indicator")
    assert ids(["--type", "indicator", "--type", "ipv4-addr"]) == \
        sorted(o["id"] for o in everything if o["type"] in ("indicator", "ipv4-addr"))
    assert ids(["--source", "beta"]) == sorted(o["id"] for o in beta)
    assert ids(["--source", "alpha", "--type", "malware"]) == sorted(o["id"] for o in alpha if o["type"] == "malware")
    assert ids(["--source", "nobody"]) == []
