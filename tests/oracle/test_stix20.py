"""STIX 2.0 content imports and exports as STIX 2.0 (spec version preserved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import by_version, export_objects, import_stats, parse_json, parse_jsonl, run_cairn

T0 = "2016-04-06T20:03:48.000Z"
T1 = "2016-05-07T11:22:30.000Z"
BUNDLE_ID = "bundle--f37aa79d-f5f5-4af7-874b-734d32c08c10"


@pytest.fixture(scope="module")
def bundle20() -> dict:
    """A small STIX 2.0 bundle built with stix2.v20 (so the library vouches for it)."""
    import stix2.v20 as v20

    ident = v20.Identity(id="identity--311b2d2d-f010-4473-83ec-1edf84858f4c", created=T0, modified=T0,
                         name="Beta Org", identity_class="organization")
    mal = v20.Malware(id="malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b", created=T0, modified=T0,
                      created_by_ref=ident.id, labels=["remote-access-trojan"], name="Poison Ivy",
                      object_marking_refs=[v20.TLP_GREEN.id])
    ind1 = v20.Indicator(id="indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", created=T0, modified=T0,
                         created_by_ref=ident.id, labels=["malicious-activity"], name="Poison Ivy C2",
                         pattern="[ipv4-addr:value = '198.51.100.7']", valid_from=T0,
                         x_acme_field="kept", allow_custom=True)
    ind2 = ind1.new_version(modified=T1, name="Poison Ivy C2 (confirmed)")
    rel = v20.Relationship(id="relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad", created=T0, modified=T0,
                           created_by_ref=ident.id, relationship_type="indicates",
                           source_ref=ind1.id, target_ref=mal.id)
    obs = v20.ObservedData(id="observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf", created=T0, modified=T0,
                           first_observed=T0, last_observed=T0, number_observed=3,
                           objects={"0": {"type": "ipv4-addr", "value": "198.51.100.7"}})
    sighting = v20.Sighting(id="sighting--ee20065d-2555-424f-ad9e-0f8fd3a9b6a8", created=T1, modified=T1,
                            sighting_of_ref=ind1.id, observed_data_refs=[obs.id], where_sighted_refs=[ident.id])
    objs = [json.loads(o.serialize()) for o in (v20.TLP_GREEN, ident, mal, ind2, ind1, rel, obs, sighting)]
    return {"type": "bundle", "id": BUNDLE_ID, "spec_version": "2.0", "objects": objs}


def test_bundle_is_valid_stix20(bundle20, stix_validator):
    ok, errs = stix_validator(bundle20, version="2.0")
    assert ok, errs
    assert all("spec_version" not in o for o in bundle20["objects"])


def test_validate_understands_20_bundle(cairn, bundle20, tmp_path: Path):
    f = tmp_path / "bundle20.json"
    f.write_text(json.dumps(bundle20), encoding="utf-8")
    cp = run_cairn(cairn, ["validate", str(f)], expect_rc=(0, 2))
    lines = parse_jsonl(cp.stdout, "cairn validate")
    bad = [ln for ln in lines if not ln["valid"]]
    assert not bad and cp.returncode == 0, f"valid STIX 2.0 objects reported invalid: {bad}"
    assert len(lines) == len(bundle20["objects"])


def test_20_import_export_preserves_spec_version(cairn, bundle20, stix_validator, data_dir, tmp_path: Path):
    f = tmp_path / "bundle20.json"
    f.write_text(json.dumps(bundle20, indent=2), encoding="utf-8")
    cp = run_cairn(cairn, ["import", str(f), "--source", "legacy", "--json"], data_dir)
    stats = import_stats(cp.stdout)
    n = len(bundle20["objects"])
    assert stats == {**stats, "created": n - 1, "new_versions": 1, "rejected": 0}, stats

    expected = by_version(bundle20["objects"], "input")

    # all versions, bundle
    cp = run_cairn(cairn, ["export", "--all-versions", "--format", "bundle"], data_dir)
    out = parse_json(cp.stdout, "export")
    assert out.get("type") == "bundle"
    assert out.get("spec_version") == "2.0", \
        f"a bundle of STIX 2.0 objects must be a 2.0 bundle (spec_version '2.0'), got {out.get('spec_version')!r}"
    got = by_version(out.get("objects", []), "export")
    if got != expected:
        pytest.fail("2.0 objects changed on the way through:\n" + "\n".join(
            f"  {k}: in={json.dumps(expected.get(k))[:300]}\n       out={json.dumps(got.get(k))[:300]}"
            for k in sorted(set(expected) | set(got), key=str) if expected.get(k) != got.get(k)), pytrace=False)
    assert all("spec_version" not in o for o in out["objects"]), "spec_version was added to 2.0 objects"
    ok, errs = stix_validator(out, version="2.0")
    assert ok, "exported 2.0 bundle fails stix2-validator (2.0):\n  " + "\n  ".join(errs[:20])

    # latest only, JSON lines
    lines = export_objects(cairn, data_dir, [], fmt="jsonl")
    assert len(lines) == n - 1
    latest = {o["id"]: o for o in lines}
    assert latest["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]["modified"] == T1
    for o in lines:
        want = expected.get((o["id"], o.get("modified") or o.get("created")))
        if o != want:
            pytest.fail(f"jsonl export changed a 2.0 object:\n  in={json.dumps(want)[:400]}\n  out={json.dumps(o)[:400]}",
                        pytrace=False)
