"""The TAXII 2.1 polling connector, black-box: `cairn connector add taxii|list|run`.

Peers, all on loopback, started by the tests:
- medallion 3.0.0 (memory backend, Basic auth) through medallion_peer.py: the same app with
  its quadratic filters swapped for linear ones that give the same answers (held to
  medallion's own by test_medallion_peer_answers_like_medallion) and, for the kill test,
  a delay before each `next` page. Objects are POSTed in envelopes, so medallion gives
  every object of an envelope the same date_added (the envelope's status
  request_timestamp), and pages straddle envelopes.
- `cairn serve` on a second data directory (a writable collection fed over TAXII).

What is held to the contract:
1. medallion, 2,500 objects, `--page-size 100`: every object arrives exactly once, equal as
   a JSON value per (id, modified) to what medallion holds; 25 pages; the checkpoint is the
   last date_added; a second run creates nothing and re-fetches at most the objects sitting
   at the checkpoint; 300 more objects -> the next run (default page size) creates exactly 300.
2. `cairn serve` as the peer: --token (reader token made with the CLI), --api-key-header,
   --lookback <date> between two POSTs; all 1,000 arrive once.
3. SIGKILL after the first checkpoint (seen through `connector list` from another process),
   with the checkpoint in the middle of an envelope: the rerun resumes (received < total),
   the union is the collection, nothing stored twice (info stats.versions = objects).
4. Failures are loud: 401 (wrong password), 404 (unknown collection), refused connection:
   non-zero exit, the server's message on stderr, last_error in `connector list`.

When the binary has no `connector` command every test fails (never skips).
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

import medallion_peer
from conftest import ORACLE_DIR, by_version, parse_json, parse_jsonl, run_cairn, ts_key

MEDIA = "application/taxii+json;version=2.1"
MED_USER, MED_PASSWORD = "poller", "the poller's long password"
START_TIMEOUT = 30
HTTP_TIMEOUT = 60
COUNT_KEYS = ("received", "created", "new_versions", "unchanged", "rejected")
LIST_KEYS = ("name", "api_root", "collection", "interval", "lookback", "checkpoint", "last_poll",
             "last_success", "last_error", "last_counts")


# --------------------------------------------------------------------------
# STIX objects


def _ts(dt: _dt.datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


T0 = _dt.datetime(2026, 2, 1, 9, 0, 0)
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")  # STIX 2.1 §2.9
KINDS = ("indicator", "malware", "attack-pattern", "identity", "ipv4-addr")


def make_objects(n: int, tag: str, seed: int) -> list[dict]:
    """n valid STIX 2.1 objects (SDOs of four types and SCOs), custom properties of every
    JSON kind, deterministic."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "ipv4-addr":
            value = f"10.{seed % 200}.{i // 256 % 256}.{i % 256}"
            out.append({"type": "ipv4-addr", "spec_version": "2.1",
                        "id": f"ipv4-addr--{uuid.uuid5(SCO_NAMESPACE, json.dumps({'value': value}, separators=(',', ':')))}",
                        "value": value})
            continue
        created = _ts(T0 + _dt.timedelta(seconds=i, milliseconds=i % 997))
        o = {
            "type": kind, "spec_version": "2.1",
            "id": f"{kind}--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "created": created, "modified": created, "labels": ["connector", tag], "confidence": i % 101,
            "x_connector": {"tag": tag, "seq": i, "ratio": i / 8, "flag": i % 3 == 0,
                            "text": f"café ✓ 東京 \"q\" \\ #{i}", "list": [i, "two", {"three": [3.5]}]},
        }
        if kind == "indicator":
            h = hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()
            o.update(name=f"hash {i}", indicator_types=["malicious-activity"], pattern_type="stix",
                     pattern=f"[file:hashes.'SHA-256' = '{h}']", valid_from=created)
        elif kind == "malware":
            o.update(name=f"malware {i}", is_family=True, malware_types=["trojan"])
        elif kind == "attack-pattern":
            o.update(name=f"technique {i}")
        else:
            o.update(name=f"org {i}", identity_class="organization")
        out.append(o)
    return out


def envelopes(objs: list[dict], sizes: list[int]) -> list[list[dict]]:
    assert sum(sizes) == len(objs), (sum(sizes), len(objs))
    out, i = [], 0
    for s in sizes:
        out.append(objs[i:i + s])
        i += s
    return out


def assert_same_objects(got: list[dict], want: list[dict], what: str) -> None:
    """Equal as JSON values per (id, modified), each exactly once."""
    g, w = by_version(got, what), by_version(want, "expected")
    missing = sorted(set(w) - set(g))
    extra = sorted(set(g) - set(w))
    assert not missing, f"{what}: {len(missing)} of {len(w)} objects missing, e.g. {missing[:3]}"
    assert not extra, f"{what}: {len(extra)} objects that the peer does not hold, e.g. {extra[:3]}"
    diff = [k for k in w if g[k] != w[k]]
    assert not diff, (f"{what}: {len(diff)} objects differ from the peer's, e.g.\n"
                      f"peer:  {json.dumps(w[diff[0]], ensure_ascii=False)}\n"
                      f"cairn: {json.dumps(g[diff[0]], ensure_ascii=False)}")


def same_instant(a: str | None, b: str) -> bool:
    return a is not None and ts_key(a) == ts_key(b)


# --------------------------------------------------------------------------
# the cairn CLI


def require_connector_feature(cairn: Path) -> None:
    cp = run_cairn(cairn, ["connector", "--help"], expect_rc=None)
    if cp.returncode != 0:
        pytest.fail(f"{cairn} has no `connector` command (the TAXII polling connector is not built in):\n"
                    f"{(cp.stderr or cp.stdout)[:1000]}")
    cp = run_cairn(cairn, ["connector", "add", "taxii", "--help"], expect_rc=None)
    for opt in ("--name", "--api-root", "--collection", "--user", "--password", "--token", "--api-key-header",
                "--api-key", "--lookback", "--interval"):
        if opt not in cp.stdout:
            pytest.fail(f"`connector add taxii --help` has no {opt}:\n{cp.stdout[:2000]}{cp.stderr[:1000]}")
    cp = run_cairn(cairn, ["connector", "run", "--help"], expect_rc=None)
    if "--page-size" not in cp.stdout:
        pytest.fail(f"`connector run --help` has no --page-size:\n{cp.stdout[:2000]}{cp.stderr[:1000]}")


@pytest.fixture(scope="module")
def feature(cairn) -> Path:
    require_connector_feature(cairn)
    return cairn


def add_connector(cairn: Path, data: Path, name: str, api_root: str, collection: str, *auth: str,
                  expect_rc: tuple[int, ...] | None = (0,)) -> subprocess.CompletedProcess:
    return run_cairn(cairn, ["connector", "add", "taxii", "--name", name, "--api-root", api_root,
                             "--collection", collection, *auth], data, expect_rc=expect_rc)


def list_connectors(cairn: Path, data: Path, secrets: tuple[str, ...] = ()) -> dict[str, dict]:
    cp = run_cairn(cairn, ["connector", "list"], data)
    for s in secrets:
        assert s not in cp.stdout, f"`connector list` prints a credential ({s[:4]}…): {cp.stdout[:1000]}"
    out = {}
    for c in parse_jsonl(cp.stdout, "connector list"):
        assert isinstance(c, dict), f"connector list: {c!r} is not a JSON object"
        missing = [k for k in LIST_KEYS if k not in c]
        assert not missing, f"connector list: {missing} missing in {c}"
        assert c["name"] not in out, f"connector list: {c['name']} twice"
        out[c["name"]] = c
    return out


def run_counts(cp: subprocess.CompletedProcess, what: str) -> dict:
    counts = parse_json(cp.stdout.strip(), f"{what}: stdout")
    assert isinstance(counts, dict), f"{what}: stdout is not a JSON object: {cp.stdout[:500]!r}"
    for k in (*COUNT_KEYS, "pages"):
        assert isinstance(counts.get(k), int), f"{what}: no integer {k!r} in {counts}"
    return counts


def run_connector(cairn: Path, data: Path, name: str, page_size: int | None = None) -> dict:
    extra = ["--page-size", str(page_size)] if page_size else []
    cp = run_cairn(cairn, ["connector", "run", name, *extra], data)
    return run_counts(cp, f"connector run {name}")


def run_failing(cairn: Path, data: Path, name: str) -> subprocess.CompletedProcess:
    cp = run_cairn(cairn, ["connector", "run", name], data, expect_rc=None)
    assert cp.returncode != 0, f"connector run {name} exited 0 on a failed poll:\n{cp.stdout[:1000]}{cp.stderr[:1000]}"
    assert "panicked" not in cp.stderr, f"connector run {name} panicked:\n{cp.stderr[:2000]}"
    return cp


def export_source(cairn: Path, data: Path, source: str, all_versions: bool = False) -> list[dict]:
    args = ["export", "--source", source, "--format", "jsonl"] + (["--all-versions"] if all_versions else [])
    return parse_jsonl(run_cairn(cairn, args, data).stdout, f"export --source {source}")


def store_stats(cairn: Path, data: Path) -> dict:
    info = parse_json(run_cairn(cairn, ["info", "--json"], data).stdout, "info --json")
    return info["stats"]


def assert_no_duplicates(cairn: Path, data: Path, n: int, what: str) -> None:
    st = store_stats(cairn, data)
    assert (st["objects"], st["versions"]) == (n, n), (
        f"{what}: the store holds {st['objects']} objects in {st['versions']} versions, expected {n} and {n} "
        f"(each object once): {st}")


# --------------------------------------------------------------------------
# medallion


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Medallion:
    def __init__(self, tmp: Path, page_delay: float = 0.0) -> None:
        self.port = free_port()
        self.cfg = medallion_peer.write_config(self.port, str(tmp), {MED_USER: MED_PASSWORD})
        self.log_path = tmp / "medallion.log"
        self.held: list[dict] = []          # every object medallion holds, in POST order
        self.dates: list[tuple[str, int]] = []  # (date_added, number of objects) per envelope
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, str(ORACLE_DIR / "medallion_peer.py"), "--port", str(self.port),
             "--page-delay", str(page_delay), self.cfg["config"]],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp))
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"medallion exited ({self.proc.returncode}) before answering:\n{self.tail()}")
            try:
                r = requests.get(self.cfg["discovery"], auth=(MED_USER, MED_PASSWORD), headers={"Accept": MEDIA},
                                 timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = str(e)
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"medallion not ready after {START_TIMEOUT}s ({last}):\n{self.tail()}")

    @property
    def api_root(self) -> str:
        return self.cfg["api_root"]

    @property
    def collection(self) -> str:
        return self.cfg["collection"]

    def auth_args(self, password: str = MED_PASSWORD) -> list[str]:
        return ["--user", MED_USER, "--password", password]

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def post(self, objs: list[dict], sizes: list[int]) -> None:
        """POST in envelopes of the given sizes; record each envelope's date_added."""
        h = {"Accept": MEDIA, "Content-Type": MEDIA}
        for env in envelopes(objs, sizes):
            r = requests.post(self.cfg["objects"], data=json.dumps({"objects": env}).encode("utf-8"), headers=h,
                              auth=(MED_USER, MED_PASSWORD), timeout=HTTP_TIMEOUT)
            assert r.status_code == 202, f"POST to medallion: {r.status_code} {r.text[:500]}\n{self.tail()}"
            s = r.json()
            assert (s["status"], s["success_count"], s["failure_count"]) == ("complete", len(env), 0), {
                k: v for k, v in s.items() if not isinstance(v, list)}
            # medallion: date_added of every object of this envelope = the request time
            self.dates.append((s["request_timestamp"], len(env)))
            time.sleep(0.002)  # distinct request times
            self.held.extend(env)
        assert len({d for d, _ in self.dates}) == len(self.dates), f"two envelopes share a date_added: {self.dates}"

    def date_of(self) -> dict[str, str]:
        """(id -> date_added) of every held object."""
        out, i = {}, 0
        for d, n in self.dates:
            for o in self.held[i:i + n]:
                out[o["id"]] = d
            i += n
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
def medallion(feature, tmp_path_factory):
    """medallion with 2,500 objects in envelopes of 350 (the last of 50): 25 pages of 100
    straddle the envelopes."""
    m = Medallion(tmp_path_factory.mktemp("medallion"))
    try:
        m.post(make_objects(2500, "med", 1), [350] * 7 + [50])
        yield m
    finally:
        m.stop()


# --------------------------------------------------------------------------
# the peer itself: medallion_peer.py's linear filters answer as medallion does


def _medallion_like(seed: int) -> tuple[list[dict], list[dict]]:
    """A collection as medallion's memory backend stores it: objects and manifest entries
    added in envelopes sharing a date_added; several versions of some ids; SCOs (version =
    _date_added); 2.0 and 2.1 versions of one id."""
    from medallion.common import determine_spec_version

    rng = random.Random(seed)
    objects, manifest = [], []
    ids = [f"malware--{uuid.UUID(int=rng.getrandbits(128), version=4)}" for _ in range(30)]
    t = _dt.datetime(2026, 5, 1, 12, 0, 0)
    n = 0
    for env in range(7):
        date_added = (t + _dt.timedelta(seconds=env, microseconds=env * 7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for _ in range(rng.choice((1, 5, 12, 20))):
            n += 1
            if n % 9 == 0:
                o = {"type": "ipv4-addr", "id": f"ipv4-addr--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                     "value": f"192.0.2.{n % 250}", "_date_added": date_added}
            else:
                mod = _ts(_dt.datetime(2026, 1, 1) + _dt.timedelta(days=rng.randrange(40)))
                o = {"type": "malware", "id": rng.choice(ids), "created": "2025-12-01T00:00:00.000Z",
                     "modified": mod, "name": f"m{n}", "is_family": False}
                if n % 4:
                    o["spec_version"] = "2.1"
                if any(x["id"] == o["id"] and x.get("modified") == mod for x in objects):
                    continue  # medallion refuses a second copy of one version
            objects.append(o)
            manifest.append({"id": o["id"], "date_added": date_added,
                             "version": o.get("modified", o.get("created", o.get("_date_added"))),
                             "media_type": f"application/stix+json;version={determine_spec_version(o)}"})
    rng.shuffle(manifest)  # medallion sorts it in place on every read
    return objects, manifest


def test_medallion_peer_answers_like_medallion(monkeypatch):
    from medallion.filters.basic_filter import BasicFilter

    objects, manifest = _medallion_like(11)
    dates = sorted({m["date_added"] for m in manifest})
    filters = [{}, {"match[version]": "all"}, {"match[version]": "first"}, {"match[spec_version]": "2.0"},
               {"match[spec_version]": "2.0,2.1", "match[version]": "all"}, {"match[type]": "ipv4-addr"},
               {"added_after": dates[0]}, {"added_after": dates[3], "match[version]": "all"},
               {"added_after": dates[-1]}, {"added_after": "2020-01-01T00:00:00.000000Z"},
               {"added_after": dates[2][:-4] + "999Z"}]
    allowed = ("id", "type", "version", "spec_version")

    def answers():
        out = []
        for f in filters:
            for limit in (None, 1, 7, 40, len(objects) + 3):
                objs, man = copy.deepcopy(objects), copy.deepcopy(manifest)
                out.append(("objects", f, limit, BasicFilter(dict(f)).process_filter(objs, allowed, man, limit), man))
                man2 = copy.deepcopy(manifest)
                out.append(("manifest", f, limit, BasicFilter(dict(f)).process_filter(man2, allowed, None, limit)))
        return out

    def collections():
        from medallion.backends.memory_backend import MemoryBackend

        backend = MemoryBackend.__new__(MemoryBackend)  # no session-expiry thread
        backend.data = json.loads(json.dumps(medallion_peer.config_data("http://127.0.0.1:1/")))
        backend.data[medallion_peer.API_ROOT]["collections"][0].update(objects=objects, manifest=manifest)
        before = json.dumps(backend.data, sort_keys=True)
        got = [backend.get_collection(medallion_peer.API_ROOT, medallion_peer.COLLECTION_ID),
               backend.get_collection(medallion_peer.API_ROOT, "nope"), backend.get_collection("nope", "x")]
        assert json.dumps(backend.data, sort_keys=True) == before, "get_collection changed the collection"
        return got

    want = answers() + [("get_collection", collections())]
    medallion_peer.install(monkeypatch.setattr)
    got = answers() + [("get_collection", collections())]
    assert want[-1][1][0]["can_read"] is True and "objects" not in want[-1][1][0], want[-1]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == w, f"medallion_peer.py's filters differ from medallion's for {w[:3]}:\n{g}\n{w}"
    assert any(w[3][0] and w[3][2].get("X-TAXII-Date-Added-Last") for w in want), "the data exercised nothing"


# --------------------------------------------------------------------------
# 1. medallion: every object once, resume, increments


def test_poll_medallion_every_page_once_then_resume(feature, medallion, tmp_path):
    cairn, m = feature, medallion
    data = tmp_path / "data"
    data.mkdir()
    held0 = list(m.held)
    assert len(held0) == 2500
    secrets = (MED_PASSWORD,)

    add_connector(cairn, data, "med", m.api_root, m.collection, *m.auth_args(), "--interval", "1h")
    dup = add_connector(cairn, data, "med", m.api_root, m.collection, *m.auth_args(), expect_rc=None)
    msg = (dup.stderr + dup.stdout).strip()
    assert dup.returncode != 0, f"a second connector named 'med' was accepted: {dup.stdout[:500]}"
    assert msg and ("med" in msg or "exist" in msg.lower()), f"duplicate name: unclear message {msg!r}"
    c = list_connectors(cairn, data, secrets)
    assert list(c) == ["med"], c
    assert (c["med"]["api_root"], c["med"]["collection"]) == (m.api_root, m.collection), c["med"]
    assert c["med"]["lookback"] == "all", f"--lookback all is the default: {c['med']}"
    assert c["med"]["interval"], c["med"]
    assert c["med"]["checkpoint"] is None and c["med"]["last_success"] is None, f"never polled: {c['med']}"

    t0 = time.monotonic()
    r1 = run_connector(cairn, data, "med", page_size=100)
    secs = time.monotonic() - t0
    assert {k: r1[k] for k in (*COUNT_KEYS, "pages")} == {
        "received": 2500, "created": 2500, "new_versions": 0, "unchanged": 0, "rejected": 0, "pages": 25}, (
        f"first run, --page-size 100 over 2,500 objects: {r1}")
    assert_same_objects(export_source(cairn, data, "med"), held0, "export --source med after the first run")
    assert len(export_source(cairn, data, "med", all_versions=True)) == 2500, "--all-versions: each object once"
    assert_no_duplicates(cairn, data, 2500, "after the first run")

    c = list_connectors(cairn, data, secrets)["med"]
    last_date = m.dates[-1][0]
    assert same_instant(c["checkpoint"], last_date), (
        f"checkpoint {c['checkpoint']!r} after draining the collection; the last page's X-TAXII-Date-Added-Last "
        f"is {last_date}")
    assert c["last_error"] in (None, ""), c
    assert c["last_poll"] and c["last_success"], c
    assert {k: c["last_counts"][k] for k in COUNT_KEYS} == {k: r1[k] for k in COUNT_KEYS}, (c["last_counts"], r1)

    # Nothing new: at most the objects sitting at the checkpoint's date_added come back, unchanged.
    at_checkpoint = m.dates[-1][1]
    r2 = run_connector(cairn, data, "med", page_size=100)
    assert (r2["created"], r2["new_versions"], r2["rejected"]) == (0, 0, 0), f"second run: {r2}"
    assert r2["received"] <= at_checkpoint, (
        f"second run received {r2['received']}: more than the {at_checkpoint} objects at the checkpoint "
        f"({last_date}); it did not resume from the checkpoint: {r2}")
    assert r2["unchanged"] == r2["received"], r2
    assert r2["pages"] <= 1, r2
    assert_no_duplicates(cairn, data, 2500, "after the second run")

    # 300 more (envelopes of 120, 120, 60) -> the next run, default page size, creates exactly them.
    more = make_objects(300, "med-more", 2)
    m.post(more, [120, 120, 60])
    r3 = run_connector(cairn, data, "med")
    assert (r3["created"], r3["new_versions"], r3["rejected"]) == (300, 0, 0), f"after 300 more: {r3}"
    assert 300 <= r3["received"] <= 300 + at_checkpoint, r3
    assert r3["unchanged"] == r3["received"] - 300, r3
    assert r3["pages"] == 1, f"at most {300 + at_checkpoint} objects, default page size 1000: {r3}"
    assert_same_objects(export_source(cairn, data, "med"), held0 + more, "export --source med after 300 more")
    assert_no_duplicates(cairn, data, 2800, "after 300 more")
    c = list_connectors(cairn, data, secrets)["med"]
    assert same_instant(c["checkpoint"], m.dates[-1][0]), (c["checkpoint"], m.dates[-1])
    assert {k: c["last_counts"][k] for k in COUNT_KEYS} == {k: r3[k] for k in COUNT_KEYS}, (c["last_counts"], r3)
    print(f"first run: 2,500 objects in 25 pages in {secs:.1f}s")


# --------------------------------------------------------------------------
# 2. our own server as the peer


class CairnServer:
    def __init__(self, cairn: Path, data: Path, extra: list[str]) -> None:
        self.log_path = data.parent / "serve.log"
        log = open(self.log_path, "w", encoding="utf-8")
        env = dict(os.environ, CAIRN_DATA=str(data), RUST_BACKTRACE="1")
        self.proc = subprocess.Popen(
            [str(cairn), "--data", str(data), "serve", "--listen", "127.0.0.1:0", *extra],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=tempfile.mkdtemp(prefix="cairn-serve-"))
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                if "listening on http://" in line:
                    self.base = next(w for w in line.split() if w.startswith("http://")).rstrip("/")
                    return
            if self.proc.poll() is not None:
                pytest.fail(f"cairn serve exited ({self.proc.returncode}) before listening:\n{text[-3000:]}")
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"cairn serve printed no 'listening on http://…' in {START_TIMEOUT}s")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        return self.proc.returncode


def post_to_cairn(api: str, col: str, token: str, objs: list[dict], batch: int) -> None:
    h = {"Accept": MEDIA, "Content-Type": MEDIA, "Authorization": f"Bearer {token}"}
    for i in range(0, len(objs), batch):
        env = objs[i:i + batch]
        r = requests.post(f"{api}collections/{col}/objects/", data=json.dumps({"objects": env}).encode("utf-8"),
                          headers=h, timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, f"POST to cairn serve: {r.status_code} {r.text[:500]}"
        s = r.json()
        deadline = time.monotonic() + 60
        while s.get("status") != "complete" and time.monotonic() < deadline:
            time.sleep(0.1)
            s = requests.get(f"{api}status/{s['id']}/", headers=h, timeout=HTTP_TIMEOUT).json()
        assert (s.get("status"), s.get("success_count"), s.get("failure_count")) == ("complete", len(env), 0), {
            k: v for k, v in s.items() if not isinstance(v, list)}


def test_poll_our_own_server(feature, tmp_path):
    cairn = feature
    peer_data, data, data2 = tmp_path / "peer", tmp_path / "data", tmp_path / "data2"
    for d in (peer_data, data, data2):
        d.mkdir()
    col = run_cairn(cairn, ["collection", "create", "--title", "Partner feed", "--writable"], peer_data).stdout.strip()
    uuid.UUID(col)
    writer = run_cairn(cairn, ["token", "create", "feeder", "--role", "contributor"], peer_data).stdout.strip()
    reader = run_cairn(cairn, ["token", "create", "poller", "--role", "reader"], peer_data).stdout.strip()
    assert writer and reader and len(reader.split()) == 1, (writer, reader)
    srv = CairnServer(cairn, peer_data, ["--api-key-header", "X-Api-Key"])
    try:
        api = f"{srv.base}/taxii2/api/"
        first, second = make_objects(1000, "ours", 3), make_objects(500, "ours-late", 4)
        post_to_cairn(api, col, writer, first, 250)
        time.sleep(0.05)
        between = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        time.sleep(0.05)
        post_to_cairn(api, col, writer, second, 250)
        everything = first + second

        # --token, default page size
        add_connector(cairn, data, "ours", api, col, "--token", reader)
        r = run_connector(cairn, data, "ours")
        assert (r["received"], r["created"], r["new_versions"], r["unchanged"], r["rejected"]) == (
            1500, 1500, 0, 0, 0), f"--token, default page size: {r}"
        assert_same_objects(export_source(cairn, data, "ours"), everything, "export --source ours")
        assert_no_duplicates(cairn, data, 1500, "--token run")
        again = run_connector(cairn, data, "ours")
        assert (again["created"], again["new_versions"], again["rejected"]) == (0, 0, 0), again
        assert again["received"] <= 1, f"cairn's date_added is unique: at most the object at the checkpoint: {again}"

        # --api-key-header, small pages, into the same store: every object unchanged, now also from this source
        add_connector(cairn, data, "ours-key", api, col, "--api-key-header", "X-Api-Key", "--api-key", reader)
        r = run_connector(cairn, data, "ours-key", page_size=400)
        assert (r["received"], r["created"], r["unchanged"], r["pages"]) == (1500, 0, 1500, 4), (
            f"--api-key-header, --page-size 400 over 1,500 objects already stored: {r}")
        assert_same_objects(export_source(cairn, data, "ours-key"), everything, "export --source ours-key")
        assert_no_duplicates(cairn, data, 1500, "two connectors on one collection")
        list_connectors(cairn, data, (reader,))

        # --lookback <date> between the two POSTs: only the second batch
        add_connector(cairn, data2, "late", api, col, "--token", reader, "--lookback", between)
        assert list_connectors(cairn, data2, (reader,))["late"]["lookback"], "lookback shown"
        r = run_connector(cairn, data2, "late", page_size=200)
        assert (r["received"], r["created"], r["pages"]) == (500, 500, 3), f"--lookback {between}: {r}"
        assert_same_objects(export_source(cairn, data2, "late"), second, f"--lookback {between}")
    finally:
        rc = srv.stop()
    assert rc is not None


# --------------------------------------------------------------------------
# 3. killed mid-poll, then resumed


def test_kill_mid_poll_then_resume(feature, tmp_path):
    """5,000 objects: an envelope of 30, one of 470, nine of 500. Pages of 50, so the first
    page ends inside the second envelope: its checkpoint is that envelope's date_added with
    450 of its objects still unread, and an exclusive added_after on it would lose them."""
    cairn = feature
    peer_dir = tmp_path / "peer"
    peer_dir.mkdir()
    m = Medallion(peer_dir, page_delay=0.05)
    try:
        total = 5000
        m.post(make_objects(total, "kill", 5), [30, 470] + [500] * 9)
        data = tmp_path / "data"
        data.mkdir()
        add_connector(cairn, data, "kill", m.api_root, m.collection, *m.auth_args())
        out, err = tmp_path / "run1.out", tmp_path / "run1.err"
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen([str(cairn), "--data", str(data), "connector", "run", "kill", "--page-size", "50"],
                                    stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                    env=dict(os.environ, CAIRN_DATA=str(data)), cwd=str(tmp_path))
        checkpoint, polls = None, 0
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                polls += 1
                cp = run_cairn(cairn, ["connector", "list"], data, expect_rc=None)
                assert cp.returncode == 0, f"`connector list` failed while a poll runs:\n{cp.stderr[:2000]}"
                entry = {c["name"]: c for c in parse_jsonl(cp.stdout, "connector list")}["kill"]
                if entry.get("checkpoint"):
                    checkpoint = entry["checkpoint"]
                    break
                time.sleep(0.01)
            finished = proc.poll()
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert finished is None, (
            f"the run ended (exit {finished}) before it could be killed (checkpoint seen: {checkpoint!r}, "
            f"{polls} polls of `connector list`):\n{out.read_text()[:1000]}\n{err.read_text()[:2000]}")
        assert checkpoint, f"no checkpoint after 60s ({polls} polls):\n{err.read_text()[:2000]}\n{m.tail()}"
        envelope_dates = [d for d, _ in m.dates]
        assert any(same_instant(checkpoint, d) for d in envelope_dates), (
            f"checkpoint {checkpoint!r} is not a date_added medallion gave: {envelope_dates}")
        assert not same_instant(checkpoint, envelope_dates[0]), (
            f"the first page (50 objects) ends in the second envelope, the checkpoint is the first's: {checkpoint}")

        # After the kill: what is stored is stored once, and nothing before the checkpoint is missing.
        kept = export_source(cairn, data, "kill")
        by_id = {o["id"]: o for o in m.held}
        assert all(o["id"] in by_id for o in kept), "objects the peer never had"
        assert len({o["id"] for o in kept}) == len(kept), "an object exported twice after the kill"
        stored = len(kept)
        assert 50 <= stored < total, f"{stored} objects stored when killed after the first checkpoint"
        assert_no_duplicates(cairn, data, stored, "after the kill")
        dates = m.date_of()
        cp_key = ts_key(checkpoint)
        before = {i for i, d in dates.items() if ts_key(d) < cp_key}
        lost = before - {o["id"] for o in kept}
        assert not lost, (f"{len(lost)} objects added before the checkpoint {checkpoint} are not stored: "
                          f"the checkpoint moved past unstored pages")

        r2 = run_connector(cairn, data, "kill", page_size=50)
        assert r2["received"] < total, f"the second run fetched everything again instead of resuming: {r2}"
        assert (r2["created"], r2["new_versions"], r2["rejected"]) == (total - stored, 0, 0), (
            f"{stored} stored before the kill; the resumed run must create the other {total - stored}: {r2}")
        assert r2["unchanged"] == r2["received"] - r2["created"], r2
        assert_same_objects(export_source(cairn, data, "kill"), m.held, "export after kill + resume")
        assert_no_duplicates(cairn, data, total, "after kill + resume")
        c = list_connectors(cairn, data, (MED_PASSWORD,))["kill"]
        assert same_instant(c["checkpoint"], envelope_dates[-1]), (c["checkpoint"], envelope_dates[-1])
        assert c["last_error"] in (None, ""), c
        print(f"killed after {polls} polls at checkpoint {checkpoint} with {stored} stored; the rerun: {r2}")
    finally:
        m.stop()


# --------------------------------------------------------------------------
# 4. failures are loud


def test_failures_are_loud(feature, medallion, tmp_path):
    cairn, m = feature, medallion
    data = tmp_path / "data"
    data.mkdir()

    # wrong password: medallion answers 401 "Unauthorized Access"
    add_connector(cairn, data, "badpw", m.api_root, m.collection, *m.auth_args("not the password"))
    cp = run_failing(cairn, data, "badpw")
    assert "401" in cp.stderr and "Unauthorized Access" in cp.stderr, (
        f"wrong password: stderr must carry the server's answer (401 Unauthorized Access):\n{cp.stderr[:2000]}")
    c = list_connectors(cairn, data, ("not the password",))["badpw"]
    assert c["last_error"] and "401" in c["last_error"], f"last_error after a 401: {c}"
    assert c["last_poll"] and c["last_success"] is None and c["checkpoint"] is None, c
    assert export_source(cairn, data, "badpw") == []

    # unknown collection: medallion answers 404 with a TAXII error resource
    add_connector(cairn, data, "nocol", m.api_root, "no-such-collection", *m.auth_args())
    cp = run_failing(cairn, data, "nocol")
    assert "404" in cp.stderr and "Collection 'no-such-collection' not found" in cp.stderr, (
        f"unknown collection: stderr must carry the server's error resource:\n{cp.stderr[:2000]}")
    assert list_connectors(cairn, data)["nocol"]["last_error"], "last_error after a 404"

    # nothing listening
    port = free_port()
    add_connector(cairn, data, "down", f"http://127.0.0.1:{port}/api/", "c", "--token", "t0ken-never-printed")
    t0 = time.monotonic()
    cp = run_failing(cairn, data, "down")
    secs = time.monotonic() - t0
    err = cp.stderr.lower()
    assert cp.stderr.strip() and (str(port) in err or "connect" in err or "refused" in err), (
        f"refused connection: stderr must say what failed:\n{cp.stderr[:2000]}")
    assert secs < 30, f"a refused connection took {secs:.0f}s to report"
    c = list_connectors(cairn, data, ("t0ken-never-printed",))
    assert c["down"]["last_error"], c["down"]
    assert c["badpw"]["last_error"], "one connector's failure does not clear another's"
    assert store_stats(cairn, data)["objects"] == 0
