"""`cairn validate`: input forms (bundle, JSON array, JSON lines, stdin) and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import parse_jsonl, run_cairn

T = "2023-03-04T05:06:07.891Z"
GOOD = [
    {"type": "identity", "spec_version": "2.1", "id": "identity--a9f1e1f8-2f0e-4b6c-9a8b-8f6a1d2f3b4c",
     "created": T, "modified": T, "name": "ACME CERT", "identity_class": "organization"},
    {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
     "value": "198.51.100.3"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--2f3b1a5e-8c61-4f0e-9a5b-6d8a1c2e3f40",
     "created": T, "modified": T, "pattern": "[ipv4-addr:value = '198.51.100.3']", "pattern_type": "stix",
     "valid_from": T},
]
BAD = {"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
       "created": T, "modified": "2023-03-04T05:06:07Z"}  # no name; modified without milliseconds


def _verdicts(stdout: str) -> list[tuple[int, bool]]:
    return sorted((ln["index"], ln["valid"]) for ln in parse_jsonl(stdout, "cairn validate"))


def test_input_forms_agree(cairn, stix_validator, tmp_path: Path):
    objs = GOOD + [BAD]
    for o in GOOD:
        assert stix_validator(o)[0], o["id"]
    assert not stix_validator(BAD)[0]
    expected = [(i, i < len(GOOD)) for i in range(len(objs))]

    bundle = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objs}
    forms = {
        "bundle.json": json.dumps(bundle, indent=2),
        "array.json": json.dumps(objs),
        "lines.jsonl": "".join(json.dumps(o) + "\n" for o in objs),
    }
    for name, text in forms.items():
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        cp = run_cairn(cairn, ["validate", str(f)], expect_rc=(2,))
        assert _verdicts(cp.stdout) == expected, f"{name}: {cp.stdout}"
    cp = run_cairn(cairn, ["validate", "-"], input=forms["lines.jsonl"], expect_rc=(2,))
    assert _verdicts(cp.stdout) == expected, f"stdin: {cp.stdout}"


def test_all_valid_exits_zero(cairn, tmp_path: Path):
    f = tmp_path / "good.jsonl"
    f.write_text("".join(json.dumps(o) + "\n" for o in GOOD), encoding="utf-8")
    cp = run_cairn(cairn, ["validate", str(f)], expect_rc=(0,))
    lines = parse_jsonl(cp.stdout, "cairn validate")
    assert [ln["id"] for ln in sorted(lines, key=lambda x: x["index"])] == [o["id"] for o in GOOD]
    assert all(ln["valid"] and ln["errors"] == [] for ln in lines), cp.stdout


def test_invalid_object_explains_itself(cairn, tmp_path: Path):
    cp = run_cairn(cairn, ["validate", "-"], input=json.dumps(BAD) + "\n", expect_rc=(2,))
    (ln,) = parse_jsonl(cp.stdout, "cairn validate")
    assert ln["index"] == 0 and ln["id"] == BAD["id"] and ln["valid"] is False
    text = " ".join(ln["errors"])
    assert "name" in text and "modified" in text, f"errors should name both properties: {ln['errors']}"
