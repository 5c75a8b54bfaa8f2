"""The polling connector against a real TAXII 2.0 server: medallion 1.0.0 (memory backend,
Basic auth), run by the interpreter of .venv-taxii20 (TAXII20_PYTHON, set by scripts/test:
medallion 1.0.0 cannot share .venv with medallion 3.0.0).

medallion 1.0.0 answers the connector's first, TAXII 2.1 request with 406, so the connector
must switch to TAXII 2.0: Accept `application/vnd.oasis.stix+json; version=2.0`, paging with
`Range: items START-END` and `Content-Range: items START-END/TOTAL`, `added_after`, and
`X-TAXII-Date-Added-Last` as the checkpoint.

Facts of medallion 1.0.0 this test relies on (checked here, not assumed):
- `Range: items S-E` yields objects S..E-1 (its slice is end-exclusive) and says so in
  Content-Range (`items S-(E-1)/TOTAL`): with --page-size 100 a page holds 99 objects.
- objects come in insertion order; X-TAXII-Date-Added-Last is the latest date_added in the
  page's manifest slice; every object of one POST shares date_added (the request time).

Held to the contract: 530 STIX 2.0 objects POSTed in envelopes of 120 (the last of 50),
`connector run --page-size 100` -> every object exactly once, equal as a JSON value to what
medallion serves; the checkpoint is the last envelope's date_added; a second run creates
nothing (it re-reads only the objects at the checkpoint); 60 more objects -> the next run
creates exactly those 60. No TAXII20_PYTHON, or no medallion 1.0.0 in it -> the test fails.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import random
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import parse_json, parse_jsonl, run_cairn, ts_key
from test_connector import assert_same_objects, feature, free_port, list_connectors, run_connector  # noqa: F401 (feature: fixture)

USER, PASSWORD = "poller20", "the 2.0 poller's password"
TAXII_20 = "application/vnd.oasis.taxii+json; version=2.0"
STIX_20 = "application/vnd.oasis.stix+json; version=2.0"
TAXII_21 = "application/taxii+json;version=2.1"
API_ROOT = "peer20"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
START_TIMEOUT = 30
HTTP_TIMEOUT = 60


def taxii20_python() -> Path:
    p = os.environ.get("TAXII20_PYTHON")
    if not p:
        pytest.fail("TAXII20_PYTHON is not set: run the oracle tests through scripts/test, which creates "
                    ".venv-taxii20 from tests/oracle/requirements-taxii20.txt (medallion 1.0.0)")
    path = Path(p)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"TAXII20_PYTHON={p} is not an executable interpreter (scripts/test creates .venv-taxii20)")
    cp = subprocess.run([str(path), "-c", "import importlib.metadata as m; print(m.version('medallion'))"],
                        capture_output=True, text=True, timeout=60)
    if cp.returncode != 0 or cp.stdout.strip() != "1.0.0":
        pytest.fail(f"{p} has no medallion 1.0.0: {cp.stdout.strip()!r} {cp.stderr[-1000:]}")
    return path


def password_hash(password: str) -> str:
    """A werkzeug `pbkdf2:sha256` hash (what medallion's memory auth backend checks), made
    with hashlib; few iterations, as every request is checked."""
    salt, iterations = "cairnsalt20", 1000
    h = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2:sha256:{iterations}${salt}${h}"


# --------------------------------------------------------------------------
# STIX 2.0 objects


def _ts(dt: _dt.datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


T0 = _dt.datetime(2017, 6, 1, 8, 0, 0)
KINDS = ("indicator", "malware", "attack-pattern", "identity", "relationship")


def make_objects20(n: int, tag: str, seed: int) -> list[dict]:
    """n valid STIX 2.0 objects (no spec_version; labels where 2.0 requires them), custom
    properties of every JSON kind, deterministic."""
    rng = random.Random(seed)
    out: list[dict] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        created = _ts(T0 + _dt.timedelta(seconds=i, milliseconds=i % 997))
        o = {"type": kind, "id": f"{kind}--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
             "created": created, "modified": created,
             "x_taxii20": {"tag": tag, "seq": i, "ratio": i / 8, "flag": i % 3 == 0, "none": None,
                           "text": f"café ✓ 東京 \"q\" \\ #{i}", "list": [i, "two", {"three": [3.5]}]}}
        if kind == "indicator":
            h = hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()
            o.update(name=f"hash {i}", labels=["malicious-activity"], pattern=f"[file:hashes.'SHA-256' = '{h}']",
                     valid_from=created)
        elif kind == "malware":
            o.update(name=f"malware {i}", labels=["trojan"])
        elif kind == "attack-pattern":
            o.update(name=f"technique {i}")
        elif kind == "identity":
            o.update(name=f"org {i}", identity_class="organization")
        else:
            src = next(x for x in reversed(out) if x["type"] == "indicator")
            dst = next(x for x in reversed(out) if x["type"] == "malware")
            o.update(relationship_type="indicates", source_ref=src["id"], target_ref=dst["id"])
        out.append(o)
    return out


# --------------------------------------------------------------------------
# medallion 1.0.0


class Medallion20:
    def __init__(self, python: Path, tmp: Path) -> None:
        self.port = free_port()
        base = f"http://127.0.0.1:{self.port}/"
        self.api_root = base + API_ROOT + "/"
        self.objects_url = self.api_root + "collections/" + COLLECTION_ID + "/objects/"
        data = {
            "/discovery": {"title": "Cairn TAXII 2.0 peer", "description": "medallion 1.0.0 memory backend",
                           "default": self.api_root, "api_roots": [self.api_root]},
            API_ROOT: {
                "information": {"title": "peer20", "description": "one writable collection",
                                "versions": ["taxii-2.0"], "max_content_length": 256 * 1024 * 1024},
                "status": [],
                "collections": [{"id": COLLECTION_ID, "title": "peer20", "description": "writable",
                                 "can_read": True, "can_write": True, "media_types": [STIX_20],
                                 "objects": [], "manifest": []}],
            },
        }
        (tmp / "medallion20-data.json").write_text(json.dumps(data), encoding="utf-8")
        config = {
            "backend": {"module": "medallion.backends.taxii.memory_backend", "module_class": "MemoryBackend",
                        "filename": str(tmp / "medallion20-data.json")},
            "auth": {"module": "medallion.backends.auth.memory_auth", "module_class": "AuthMemoryBackend",
                     "users": {USER: password_hash(PASSWORD)}},
            "taxii": {"max_page_size": 1000},
        }
        cfg = tmp / "medallion20.json"
        cfg.write_text(json.dumps(config), encoding="utf-8")
        self.log_path = tmp / "medallion20.log"
        self.held: list[dict] = []
        self.dates: list[str] = []
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(python), "-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", str(self.port), str(cfg)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp))
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"medallion 1.0.0 exited ({self.proc.returncode}) before answering:\n{self.tail()}")
            try:
                r = requests.get(base + "taxii/", auth=(USER, PASSWORD), headers={"Accept": TAXII_20}, timeout=2)
                if r.status_code == 200:
                    assert r.json()["default"] == self.api_root, r.text[:500]
                    return
                last = f"HTTP {r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = str(e)
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"medallion 1.0.0 not ready after {START_TIMEOUT}s ({last}):\n{self.tail()}")

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def post(self, objs: list[dict], size: int) -> None:
        h = {"Accept": TAXII_20, "Content-Type": STIX_20}
        for i in range(0, len(objs), size):
            env = objs[i:i + size]
            bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "spec_version": "2.0", "objects": env}
            r = requests.post(self.objects_url, data=json.dumps(bundle).encode("utf-8"), headers=h,
                              auth=(USER, PASSWORD), timeout=HTTP_TIMEOUT)
            assert r.status_code == 202, f"POST to medallion 1.0.0: {r.status_code} {r.text[:500]}\n{self.tail()}"
            s = r.json()
            assert (s["status"], s["success_count"], s["failure_count"]) == ("complete", len(env), 0), {
                k: v for k, v in s.items() if not isinstance(v, list)}
            self.dates.append(s["request_timestamp"])
            self.held.extend(env)
            time.sleep(0.002)
        assert len(set(self.dates)) == len(self.dates), f"two envelopes share a date_added: {self.dates}"

    def get(self, accept: str, range_: str | None = None, **params) -> requests.Response:
        h = {"Accept": accept}
        if range_:
            h["Range"] = range_
        return requests.get(self.objects_url, headers=h, params=params, auth=(USER, PASSWORD), timeout=HTTP_TIMEOUT)

    def served(self) -> list[dict]:
        """Every object medallion serves, read with its own paging."""
        out, start = [], 0
        while True:
            r = self.get(STIX_20, f"items {start}-{start + 199}")
            assert r.status_code == 206, f"{r.status_code} {r.text[:300]}"
            got = r.json()["objects"]
            out.extend(got)
            total = int(r.headers["Content-Range"].rsplit("/", 1)[1])
            start += len(got)
            if not got or start >= total:
                return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def medallion20(tmp_path_factory):
    python = taxii20_python()
    m = Medallion20(python, tmp_path_factory.mktemp("medallion20"))
    try:
        m.post(make_objects20(530, "t20", 7), 120)
        yield m
    finally:
        m.stop()


# --------------------------------------------------------------------------


def test_medallion_1_0_0_speaks_taxii_2_0_only(medallion20):
    m = medallion20
    r = m.get(TAXII_21, limit="100")
    assert r.status_code == 406, f"medallion 1.0.0 answered the TAXII 2.1 media type with {r.status_code}: {r.text[:300]}"
    r = m.get(STIX_20, "items 0-99")
    assert r.status_code == 206, f"{r.status_code} {r.text[:300]}"
    body = r.json()
    assert body["type"] == "bundle" and body["spec_version"] == "2.0", {k: body[k] for k in body if k != "objects"}
    # its Range slice is end-exclusive, and Content-Range says what it sent
    assert len(body["objects"]) == 99, len(body["objects"])
    assert r.headers["Content-Range"] == f"items 0-98/{len(m.held)}", dict(r.headers)
    assert r.headers["X-TAXII-Date-Added-Last"] == m.dates[0], dict(r.headers)
    assert m.served() == m.held, "medallion 1.0.0 does not serve what was POSTed, in order"


def test_poll_taxii20_medallion_every_object_once(feature, medallion20, tmp_path):
    cairn, m = feature, medallion20
    data = tmp_path / "data"
    data.mkdir()
    n = len(m.held)
    run_cairn(cairn, ["connector", "add", "taxii", "--name", "m20", "--api-root", m.api_root,
                      "--collection", COLLECTION_ID, "--user", USER, "--password", PASSWORD], data)

    # 1. everything, in pages of 99 (medallion's end-exclusive Range)
    counts = run_connector(cairn, data, "m20", page_size=100)
    pages = math.ceil(n / 99)
    assert counts == {"received": n, "created": n, "new_versions": 0, "unchanged": 0, "dropped": 0, "rejected": 0,
                      "pages": pages}, f"first run: {counts} (expected {n} objects in {pages} pages)\n{m.tail()}"
    exported = parse_jsonl(run_cairn(cairn, ["export", "--format", "jsonl"], data).stdout, "export")
    assert len(exported) == n, f"export holds {len(exported)} objects, medallion {n}"
    assert_same_objects(exported, m.served(), "export after the first run")
    st = list_connectors(cairn, data, (PASSWORD,))["m20"]
    assert st["last_error"] is None, st
    assert st["checkpoint"] and ts_key(st["checkpoint"]) == ts_key(m.dates[-1]), (
        f"checkpoint {st['checkpoint']!r}, expected the last envelope's date_added {m.dates[-1]!r}")

    # 2. nothing new: the rerun re-reads at most the last envelope and creates nothing
    counts = run_connector(cairn, data, "m20", page_size=100)
    last_env = n - 120 * (len(m.dates) - 1)
    assert counts["created"] == 0 and counts["new_versions"] == 0 and counts["rejected"] == 0, counts
    assert counts["received"] == counts["unchanged"] <= last_env, (
        f"second run re-fetched {counts['received']} objects; only the {last_env} at the checkpoint may return")
    info = parse_json(run_cairn(cairn, ["info", "--json"], data).stdout, "info --json")
    assert (info["stats"]["objects"], info["stats"]["versions"]) == (n, n), info["stats"]

    # 3. 60 more objects -> exactly those 60 (default page size)
    more = make_objects20(60, "t20-more", 8)
    m.post(more, 60)
    counts = run_connector(cairn, data, "m20")
    assert counts["created"] == 60 and counts["new_versions"] == 0 and counts["rejected"] == 0, counts
    exported = parse_jsonl(run_cairn(cairn, ["export", "--format", "jsonl"], data).stdout, "export")
    assert_same_objects(exported, m.served(), "export after the third run")
    st = list_connectors(cairn, data, (PASSWORD,))["m20"]
    assert ts_key(st["checkpoint"]) == ts_key(m.dates[-1]), (st["checkpoint"], m.dates[-1])
