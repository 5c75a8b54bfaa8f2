"""`cairn import` with invalid objects: --errors, exit code, --all-or-nothing."""

from __future__ import annotations

import copy
from pathlib import Path

from conftest import export_objects, import_objects, parse_jsonl

T = "2023-03-04T05:06:07.891Z"


def _objs():
    good = [
        {"type": "identity", "spec_version": "2.1", "id": "identity--a9f1e1f8-2f0e-4b6c-9a8b-8f6a1d2f3b4c",
         "created": T, "modified": T, "name": "ACME CERT"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
         "value": "198.51.100.3"},
        {"type": "malware", "spec_version": "2.1", "id": "malware--0a8c1f3e-6a21-4a39-bb59-3e0f1d1e5b11",
         "created": T, "modified": T, "name": "Ivy", "is_family": True},
    ]
    no_name = {"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
               "created": T, "modified": T}
    bad_conf = copy.deepcopy(good[2])
    bad_conf.update(id="malware--7f9d2b4c-3e1a-4c5b-9d8e-0a1b2c3d4e5f", confidence=101)
    # order: good, bad, good, bad, good -> rejected indices 1 and 3
    return [good[0], no_name, good[1], bad_conf, good[2]], [1, 3]


def test_rejects_are_reported(cairn, data_dir, tmp_path: Path):
    objs, bad_idx = _objs()
    errors = tmp_path / "errors.jsonl"
    stats = import_objects(cairn, data_dir, objs, tmp_path, extra=["--errors", str(errors)], expect_rc=(2,))
    assert stats == {**stats, "created": 3, "rejected": 2}, stats
    lines = parse_jsonl(errors.read_text(encoding="utf-8"), "--errors file")
    assert sorted(ln["index"] for ln in lines) == bad_idx
    for ln in lines:
        assert ln["id"] == objs[ln["index"]]["id"]
        assert ln["errors"] and all(isinstance(m, str) for m in ln["errors"]), ln
    stored = sorted(o["id"] for o in export_objects(cairn, data_dir, ["--all-versions"]))
    assert stored == sorted(o["id"] for i, o in enumerate(objs) if i not in bad_idx)


def test_all_or_nothing_stores_nothing(cairn, data_dir, tmp_path: Path):
    objs, _ = _objs()
    stats = import_objects(cairn, data_dir, objs, tmp_path, extra=["--all-or-nothing"], expect_rc=(2,))
    assert stats["rejected"] == 2, stats
    assert export_objects(cairn, data_dir, ["--all-versions"]) == []
    # and the valid ones alone go in
    stats = import_objects(cairn, data_dir, [objs[0], objs[2], objs[4]], tmp_path, name="good.jsonl",
                           extra=["--all-or-nothing"])
    assert stats == {**stats, "created": 3, "rejected": 0}
