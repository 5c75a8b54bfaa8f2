"""The TAXII 2.1 server, black-box, driven by the PyPI reference client taxii2-client 2.3.0.

One `cairn serve` for the whole module, on a fresh data directory prepared with the CLI:
three users (admin / contributor / reader), two tokens (made while the server runs), five
writable collections (bulk, versions, delete, rejections, partly invalid) and five read
collections (saved filters over the store: --type/--source/--tag/--min-confidence/--tlp,
one of them --public) over objects put in with `cairn import --source`.

What is held to TAXII 2.1 (and the project's checklist §B/§C): discovery and API root;
collections with can_read/can_write per role, a public collection without credentials;
one POST of 1,200 objects -> status complete; a partly invalid POST fails per object;
every page of objects/manifest with small limits via as_pages and via `next`, every object
once and equal (as JSON values) to what went in; X-TAXII-Date-Added-First/-Last; resuming
with added_after = X-TAXII-Date-Added-Last and no `next` (no loss, no repeats, exclusive);
manifest and versions (paged too); match[version|type|id|spec_version]; delete;
401/403/404/406/413/415 with TAXII error resources; Basic, Bearer, Token and API-key auth.

When the binary has no TAXII server yet, every test fails (never skips).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import queue
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import requests.auth

from conftest import import_objects, run_cairn, ts_key

from taxii2client.common import TokenAuth
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
PW = {"ada": "ada's long admin password", "carl": "carl's long contributor password",
      "rita": "rita's long reader password"}
ADMIN, CONTRIB, READER = (("ada", PW["ada"]), ("carl", PW["carl"]), ("rita", PW["rita"]))
N_BULK = 1200
MAX_CONTENT_LENGTH = 4 * 1024 * 1024  # `serve --taxii-max-content-length`: small, so the 413 test is quick
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
SERVER_START_TIMEOUT = 60
HTTP_TIMEOUT = 60
MAX_BODY_TESTED = 256 * 1024 * 1024


# --------------------------------------------------------------------------
# STIX objects


def _ts(dt: _dt.datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


T0 = _dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=_dt.timezone.utc)
KINDS = ["indicator", "malware", "attack-pattern", "identity"]


class Gen:
    """Deterministic, valid STIX 2.1 SDOs with custom properties of every JSON kind."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def sdo(self, kind: str, i: int, tag: str) -> dict:
        created = _ts(T0 + _dt.timedelta(seconds=i, milliseconds=i % 997))
        o = {
            "type": kind, "spec_version": "2.1", "id": f"{kind}--{self.uuid4()}",
            "created": created, "modified": created,
            "labels": ["oracle", tag], "confidence": i % 101,
            "x_oracle": {"run": tag, "seq": i, "ratio": i / 4, "flag": i % 2 == 0,
                         "text": f"café ✓ 東京 \"quoted\" \\ #{i}", "list": [i, "two", {"three": [3.5]}]},
        }
        if kind == "indicator":
            h = hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()
            o.update(name=f"hash {i}", indicator_types=["malicious-activity"], pattern_type="stix",
                     pattern=f"[file:hashes.'SHA-256' = '{h}']", valid_from=created)
        elif kind == "malware":
            o.update(name=f"malware {i}", is_family=True, malware_types=["trojan"])
        elif kind == "attack-pattern":
            o.update(name=f"technique {i}")
        elif kind == "identity":
            o.update(name=f"org {i}", identity_class="organization")
        return o

    def mixed(self, n: int, tag: str) -> list[dict]:
        return [self.sdo(KINDS[i % len(KINDS)], i, tag) for i in range(n)]


def new_version(o: dict, days: int, note: str) -> dict:
    v = json.loads(json.dumps(o))
    (dt, nanos) = ts_key(o["modified"])
    v["modified"] = _ts((dt + _dt.timedelta(days=days)).replace(microsecond=nanos // 1000))
    v["description"] = note
    v["x_oracle"]["version_note"] = note
    return v


def by_id(objs: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for o in objs:
        assert o["id"] not in out, f"{o['id']} twice"
        out[o["id"]] = o
    return out


def dupes(ids: list[str]) -> list[str]:
    seen, d = set(), []
    for i in ids:
        if i in seen:
            d.append(i)
        seen.add(i)
    return d


def same_ts(a: str, b: str) -> bool:
    return ts_key(a) == ts_key(b)


# --------------------------------------------------------------------------
# the server


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class HeaderAuth(requests.auth.AuthBase):
    def __init__(self, header: str, token: str) -> None:
        self.header, self.token = header, token

    def __call__(self, r):
        r.headers[self.header] = self.token
        return r


class Taxii:
    """A running `cairn serve` and what the module created on its data directory."""

    def __init__(self, cairn: Path, data: Path) -> None:
        self.cairn, self.data = cairn, data
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self.base = ""
        self.tokens: dict[str, str] = {}
        self.cols: dict[str, str] = {}
        self.public_objs: list[dict] = []
        self.other_objs: list[dict] = []

    # ---- CLI
    def cli(self, *args: str) -> str:
        return run_cairn(self.cairn, list(args), self.data).stdout

    def create_collection(self, *args: str) -> str:
        out = self.cli("collection", "create", *args).strip()
        try:
            uuid.UUID(out)
        except ValueError:
            raise AssertionError(f"`collection create {' '.join(args)}` must print the new id alone, printed {out!r}")
        return out

    # ---- process
    def start(self, extra: list[str]) -> None:
        cwd = tempfile.mkdtemp(prefix="cairn-serve-")
        env = dict(os.environ, CAIRN_DATA=str(self.data), RUST_BACKTRACE="1")
        self.proc = subprocess.Popen(
            [str(self.cairn), "--data", str(self.data), "serve", "--listen", "127.0.0.1:0", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", env=env, cwd=cwd,
        )
        lines: queue.Queue = queue.Queue()

        def drain():
            assert self.proc and self.proc.stderr
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                self.stop()
                pytest.fail(f"cairn serve printed no 'cairn listening on http://…' within {SERVER_START_TIMEOUT}s:\n"
                            + self.tail())
            if line is None:
                pytest.fail(f"cairn serve exited ({self.proc.wait()}) before listening:\n" + self.tail())
            if "listening on http://" in line:
                url = next(w for w in line.split() if w.startswith("http://"))
                self.base = url.rstrip("/")
                return

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log[-n:])

    def stop(self) -> int | None:
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        return self.proc.returncode

    # ---- URLs
    @property
    def discovery(self) -> str:
        return f"{self.base}/taxii2/"

    @property
    def api(self) -> str:
        return f"{self.base}/taxii2/api/"

    def col(self, name_or_id: str) -> str:
        return f"{self.api}collections/{self.cols.get(name_or_id, name_or_id)}/"

    def objects(self, name: str) -> str:
        return self.col(name) + "objects/"

    # ---- taxii2-client
    def root(self, who=CONTRIB, **kw) -> ApiRoot:
        if who is None:
            return ApiRoot(self.api, **kw)
        return ApiRoot(self.api, user=who[0], password=who[1], **kw)

    def collection(self, name: str, who=CONTRIB) -> Collection:
        if who is None:
            return Collection(self.col(name))
        return Collection(self.col(name), user=who[0], password=who[1])

    # ---- raw HTTP
    def http(self, method: str, url: str, who=CONTRIB, headers: dict | None = None, **kw) -> requests.Response:
        h = {"Accept": MEDIA}
        h.update(headers or {})
        auth = requests.auth.HTTPBasicAuth(*who) if isinstance(who, tuple) else who
        return requests.request(method, url, headers=h, auth=auth, timeout=HTTP_TIMEOUT, **kw)


def require_taxii_feature(cairn: Path) -> None:
    cp = run_cairn(cairn, ["collection", "--help"], expect_rc=None)
    if cp.returncode != 0:
        pytest.fail(f"{cairn} has no `collection` command (the TAXII 2.1 server is not built into this binary):\n"
                    f"{cp.stderr[:1000]}")
    cp = run_cairn(cairn, ["serve", "--help"], expect_rc=None)
    for opt in ("--api-key-header", "--taxii-max-content-length"):
        if opt not in cp.stdout:
            pytest.fail(f"`{cairn} serve --help` has no {opt} option:\n{cp.stdout[:2000]}")


@pytest.fixture(scope="module")
def taxii(cairn, tmp_path_factory):
    require_taxii_feature(cairn)
    tmp = tmp_path_factory.mktemp("taxii")
    data = tmp / "data"
    data.mkdir()
    t = Taxii(cairn, data)
    t.cli("user", "add", "ada", "--role", "admin", "--password", PW["ada"])
    t.cli("user", "add", "carl", "--role", "contributor", "--password", PW["carl"])
    t.cli("user", "add", "rita", "--role", "reader", "--password", PW["rita"])

    # Read collections are saved filters over the store: feed them with `cairn import`.
    g = Gen(101)
    t.public_objs = g.mixed(24, "public-feed")
    t.other_objs = g.mixed(12, "other-feed")
    for i, o in enumerate(t.other_objs[:6]):
        o["object_marking_refs"] = [TLP_GREEN if i < 4 else TLP_AMBER]
    for objs, source in ((t.public_objs, "public-feed"), (t.other_objs, "other-feed")):
        st = import_objects(cairn, data, objs, tmp, source=source, name=f"{source}.jsonl")
        assert (st["created"], st["rejected"]) == (len(objs), 0), f"import --source {source}: {st}"

    t.cols["bulk"] = t.create_collection("--title", "Bulk", "--writable")
    fixed = str(uuid.UUID(int=random.Random(7).getrandbits(128), version=4))
    got = t.create_collection("--title", "Versions", "--id", fixed, "--description", "several versions", "--writable")
    assert got == fixed, f"collection create --id {fixed} printed {got}"
    t.cols["ver"] = got
    t.cols["del"] = t.create_collection("--title", "Deletions", "--writable")
    t.cols["err"] = t.create_collection("--title", "Rejections", "--writable")
    t.cols["pub"] = t.create_collection("--title", "Public feed", "--source", "public-feed", "--public")
    t.cols["mal"] = t.create_collection("--title", "Feed malware", "--type", "malware", "--source", "public-feed")
    t.cols["two"] = t.create_collection("--title", "Other feed, two types", "--type", "malware",
                                        "--type", "identity", "--source", "other-feed")
    t.cols["tag"] = t.create_collection("--title", "Tagged, confident", "--tag", "other-feed", "--min-confidence", "5")
    t.cols["tlp"] = t.create_collection("--title", "TLP green", "--tlp", "green", "--source", "other-feed")
    t.cols["mixed"] = t.create_collection("--title", "Partly invalid", "--writable")
    assert len(set(t.cols.values())) == len(t.cols), t.cols

    t.start(["--api-key-header", "X-Api-Key", "--taxii-max-content-length", str(MAX_CONTENT_LENGTH)])
    # Tokens made while the server runs work at once.
    t.tokens["contrib"] = t.cli("token", "create", "taxii-contrib", "--role", "contributor").strip()
    t.tokens["reader"] = t.cli("token", "create", "taxii-reader", "--role", "reader").strip()
    for k, v in t.tokens.items():
        assert v and len(v.split()) == 1, f"token create printed {v!r}"
    yield t
    crashed = t.proc.poll() if t.proc else None
    rc = t.stop()
    if crashed is not None:
        pytest.fail(f"cairn serve exited with {rc} during the tests:\n{t.tail()}")


def assert_error(r: requests.Response, status: int, what: str) -> dict:
    """A TAXII error resource with the given HTTP status."""
    assert r.status_code == status, f"{what}: expected {status}, got {r.status_code}: {r.text[:500]}"
    ct = r.headers.get("Content-Type", "").replace(" ", "")
    assert ct.startswith("application/taxii+json"), f"{what}: error Content-Type {ct!r}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"{what}: error body is not JSON: {r.text[:300]!r}")
    assert isinstance(body, dict) and isinstance(body.get("title"), str) and body["title"], f"{what}: {body}"
    assert body.get("http_status") == str(status), f"{what}: http_status must be the string {str(status)!r}: {body}"
    return body


def raw_pages(t: Taxii, url: str, params: dict, who=CONTRIB, max_pages: int = 10_000):
    """Follow `next` with the same filters; yield (body, response)."""
    p = dict(params)
    for _ in range(max_pages):
        r = t.http("GET", url, who, params=p)
        assert r.status_code == 200, f"GET {r.url}: {r.status_code} {r.text[:500]}"
        assert r.headers.get("Content-Type", "").replace(" ", "").startswith(MEDIA), r.headers.get("Content-Type")
        body = r.json()
        yield body, r
        if not body.get("more"):
            return
        assert body.get("next"), f"more=true without next: {r.url}"
        p = dict(params, next=body["next"])
    raise AssertionError(f"{url}: more than {max_pages} pages")


def client_pages(func, limit: int, max_pages: int, **filters) -> list[dict]:
    """taxii2-client's as_pages, with a guard against a server that never stops."""
    pages = []
    for env in as_pages(func, per_request=limit, **filters):
        pages.append(env)
        assert len(pages) <= max_pages, f"more than {max_pages} pages with limit {limit}: the server never ends"
    return pages


def all_objects(t: Taxii, name: str, who=CONTRIB, **filters) -> list[dict]:
    out = []
    for env in client_pages(t.collection(name, who).get_objects, 100, 10_000, **filters):
        out.extend(env.get("objects", []))
    return out


def all_manifest(t: Taxii, name: str, who=CONTRIB, **filters) -> list[dict]:
    out = []
    for env in client_pages(t.collection(name, who).get_manifest, 100, 10_000, **filters):
        out.extend(env.get("objects", []))
    return out


# --------------------------------------------------------------------------
# discovery, API root, collections


def test_discovery_and_api_root(taxii):
    server = Server(taxii.discovery, user=ADMIN[0], password=ADMIN[1])
    assert server.title
    assert [r.url for r in server.api_roots] == [taxii.api], server._raw
    assert server.default is not None and server.default.url == taxii.api, server._raw
    root = server.api_roots[0]
    assert MEDIA in [v.replace(" ", "") for v in root.versions], root._raw
    assert root.max_content_length == MAX_CONTENT_LENGTH, f"serve --taxii-max-content-length: {root._raw}"
    assert root.title
    assert_error(taxii.http("GET", f"{taxii.base}/taxii2/no-such-root/", ADMIN), 404, "unknown API root")


def test_collections_per_role(taxii):
    readable_by_all = set(taxii.cols.values())
    writable = {taxii.cols[k] for k in ("bulk", "ver", "del", "err", "mixed")}
    for who, can_write in ((ADMIN, True), (CONTRIB, True), (READER, False)):
        cols = {c.id: c for c in taxii.root(who).collections}
        assert readable_by_all <= set(cols), f"{who[0]} sees {sorted(cols)}"
        for cid, c in cols.items():
            if cid not in readable_by_all:
                continue
            assert c.can_read is True, f"{who[0]}: {c._raw}"
            assert c.can_write is (can_write and cid in writable), f"{who[0]}: {c._raw}"
    ver = taxii.collection("ver", READER)
    assert (ver.id, ver.title, ver.description) == (taxii.cols["ver"], "Versions", "several versions"), ver._raw
    if ver.media_types:
        assert STIX_MEDIA in [m.replace(" ", "") for m in ver.media_types], ver._raw


def test_public_collection_without_credentials(taxii):
    cols = {c.id: c for c in taxii.root(None).collections}
    assert set(cols) == {taxii.cols["pub"]}, f"anonymous sees {sorted(cols)}; only the public collection is public"
    pub = cols[taxii.cols["pub"]]
    assert (pub.can_read, pub.can_write) == (True, False), pub._raw
    got = all_objects(taxii, "pub", who=None)
    assert by_id(got) == by_id(taxii.public_objs), "the public collection = what was imported with its source"
    # ... and nothing else is open.
    r = taxii.http("POST", taxii.objects("pub"), None, headers={"Content-Type": MEDIA},
                   data=json.dumps({"objects": [Gen(5).sdo("malware", 1, "anon")]}))
    assert r.status_code in (401, 403), f"anonymous POST to a read collection: {r.status_code} {r.text[:300]}"
    assert_error(r, r.status_code, "anonymous POST")


def test_read_collections_are_saved_filters(taxii):
    mal = all_objects(taxii, "mal", READER)
    assert by_id(mal) == by_id([o for o in taxii.public_objs if o["type"] == "malware"])
    two = all_objects(taxii, "two", READER)
    assert by_id(two) == by_id([o for o in taxii.other_objs if o["type"] in ("malware", "identity")])
    man = all_manifest(taxii, "two", READER)
    assert sorted(m["id"] for m in man) == sorted(o["id"] for o in two)
    tag = all_objects(taxii, "tag", READER)
    want = [o for o in taxii.other_objs if o["confidence"] >= 5]
    assert by_id(tag) == by_id(want), "--tag other-feed --min-confidence 5"
    tlp = all_objects(taxii, "tlp", READER)
    want = [o for o in taxii.other_objs if o.get("object_marking_refs") == [TLP_GREEN]]
    assert by_id(tlp) == by_id(want), "--tlp green"


# --------------------------------------------------------------------------
# one big POST, then reading it back every way


@pytest.fixture(scope="module")
def bulk(taxii):
    objs = Gen(202).mixed(N_BULK, "bulk")
    envelope = {"objects": objs}
    size = len(json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
    root = taxii.root(CONTRIB)
    assert size < root.max_content_length, f"test envelope ({size} B) over max_content_length {root.max_content_length}"
    col = taxii.collection("bulk", CONTRIB)
    t0 = time.monotonic()
    status = col.add_objects(envelope, wait_for_completion=True, poll_interval=0.2, timeout=60)
    return {"objs": objs, "status": status, "root": root, "seconds": time.monotonic() - t0}


def test_add_objects_one_envelope(taxii, bulk):
    s, objs = bulk["status"], bulk["objs"]
    assert s.status == "complete", s._raw
    assert (s.total_count, s.success_count, s.failure_count, s.pending_count) == (N_BULK, N_BULK, 0, 0), {
        k: v for k, v in s._raw.items() if not isinstance(v, list)}
    if s.successes:
        assert {d["id"] for d in s.successes} == {o["id"] for o in objs}
        assert all(same_ts(d["version"], by_id(objs)[d["id"]]["modified"]) for d in s.successes)
    again = bulk["root"].get_status(s.id)
    assert (again.id, again.status, again.success_count, again.total_count) == (s.id, "complete", N_BULK, N_BULK)
    assert_error(taxii.http("GET", f"{taxii.api}status/{uuid.uuid4()}/"), 404, "unknown status")


def test_add_objects_partly_invalid(taxii):
    """One invalid object in an envelope fails alone, by id, with a message; the rest is stored."""
    g = Gen(909)
    good = [g.sdo("malware", 1, "mixed"), g.sdo("identity", 2, "mixed")]
    bad = g.sdo("indicator", 3, "mixed")
    del bad["pattern"]
    s = taxii.collection("mixed", CONTRIB).add_objects({"objects": [good[0], bad, good[1]]}, poll_interval=0.2,
                                                        timeout=30)
    assert (s.status, s.total_count, s.success_count, s.failure_count) == ("complete", 3, 2, 1), s._raw
    assert [f["id"] for f in s.failures] == [bad["id"]], s._raw
    assert s.failures[0].get("message"), f"a failure says why: {s._raw}"
    assert by_id(all_objects(taxii, "mixed", READER)) == by_id(good)


@pytest.mark.parametrize("limit", [7, 100])
def test_get_objects_every_page_via_as_pages(taxii, bulk, limit):
    pages = client_pages(taxii.collection("bulk", READER).get_objects, limit, N_BULK + 5)
    got = []
    for i, env in enumerate(pages):
        objs = env.get("objects", [])
        assert len(objs) <= limit, f"page {i}: {len(objs)} objects for limit {limit}"
        if i < len(pages) - 1:
            assert objs, f"page {i} is empty but more=true"
        got.extend(objs)
    assert not pages[-1].get("more"), "the last page says more"
    ids = [o["id"] for o in got]
    assert not dupes(ids), f"{len(dupes(ids))} objects served twice, e.g. {dupes(ids)[:3]}"
    want = by_id(bulk["objs"])
    missing = set(want) - set(ids)
    assert not missing, f"{len(missing)} of {N_BULK} objects never served, e.g. {sorted(missing)[:3]}"
    assert len(ids) == N_BULK, f"{len(ids) - N_BULK} objects served that were never POSTed"
    diff = [i for i, o in by_id(got).items() if o != want[i]]
    assert not diff, f"{len(diff)} objects differ from what went in, e.g. {want[diff[0]]} vs {by_id(got)[diff[0]]}"
    if limit == 7:
        assert len(pages) >= N_BULK // 7, f"{len(pages)} pages for {N_BULK} objects with limit 7"


def test_objects_and_manifest_pages_with_next_and_headers(taxii, bulk):
    """Manual `next` paging over objects and manifest in lockstep: same ids in the same order,
    X-TAXII-Date-Added-First/-Last = the page's first/last date_added, date_added never decreasing."""
    objs_pages = list(raw_pages(taxii, taxii.objects("bulk"), {"limit": 100}, READER))
    man_pages = list(raw_pages(taxii, taxii.col("bulk") + "manifest/", {"limit": 100}, READER))
    assert len(objs_pages) == len(man_pages), (len(objs_pages), len(man_pages))
    want = by_id(bulk["objs"])
    seen: list[str] = []
    prev_last = None
    for n, ((ob, orr), (mb, mr)) in enumerate(zip(objs_pages, man_pages)):
        oids = [o["id"] for o in ob.get("objects", [])]
        man = mb.get("objects", [])
        assert oids == [m["id"] for m in man], f"page {n}: objects and manifest disagree"
        if not man:
            continue
        for r, what in ((orr, "objects"), (mr, "manifest")):
            for h in ("X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"):
                assert h in r.headers, f"{what} page {n}: no {h} header"
            assert same_ts(r.headers["X-TAXII-Date-Added-First"], man[0]["date_added"]), (what, n)
            assert same_ts(r.headers["X-TAXII-Date-Added-Last"], man[-1]["date_added"]), (what, n)
        keys = [ts_key(m["date_added"]) for m in man]
        assert keys == sorted(keys), f"manifest page {n}: date_added not ascending"
        if prev_last is not None:
            assert prev_last <= keys[0], f"page {n} starts before the previous page ended"
        prev_last = keys[-1]
        for m in man:
            assert same_ts(m["version"], want[m["id"]]["modified"]), m
            if "media_type" in m:
                assert m["media_type"].replace(" ", "") == STIX_MEDIA, m
        seen.extend(oids)
    assert not dupes(seen) and sorted(seen) == sorted(want), "manifest/objects paging lost or repeated objects"


@pytest.mark.parametrize("endpoint", ["objects", "manifest"])
def test_added_after_resume_from_date_added_last(taxii, bulk, endpoint):
    """A client that resumes with added_after = X-TAXII-Date-Added-Last (and no next) gets
    everything exactly once: no same-timestamp loss, no loop (checklist §B.1/§B.2)."""
    url = taxii.objects("bulk") if endpoint == "objects" else taxii.col("bulk") + "manifest/"
    limit = 50
    got: list[str] = []
    after = None
    for _ in range(N_BULK + 5):
        params = {"limit": limit} if after is None else {"limit": limit, "added_after": after}
        r = taxii.http("GET", url, READER, params=params)
        assert r.status_code == 200, f"GET {r.url}: {r.status_code} {r.text[:300]}"
        items = r.json().get("objects", [])
        assert len(items) <= limit
        if not items:
            break
        if endpoint == "manifest" and after is not None:
            early = [m for m in items if ts_key(m["date_added"]) <= ts_key(after)]
            assert not early, f"added_after={after} is exclusive, got date_added {early[0]['date_added']}"
        got.extend(o["id"] for o in items)
        assert "X-TAXII-Date-Added-Last" in r.headers, f"no X-TAXII-Date-Added-Last on {r.url}"
        after = r.headers["X-TAXII-Date-Added-Last"]
    else:
        raise AssertionError(f"resuming with added_after never ran dry: {len(got)} items so far (a loop?)")
    assert not dupes(got), f"{len(dupes(got))} repeated on resume, e.g. {dupes(got)[:3]}"
    missing = {o["id"] for o in bulk["objs"]} - set(got)
    assert not missing, f"{len(missing)} lost on resume, e.g. {sorted(missing)[:3]}"
    assert len(got) == N_BULK


def test_added_after_is_exclusive_on_date_added(taxii, bulk):
    full = all_manifest(taxii, "bulk", READER)
    assert len(full) == N_BULK
    for k in (0, N_BULK // 2, N_BULK - 1):
        d = full[k]["date_added"]
        want = sorted(m["id"] for m in full if ts_key(m["date_added"]) > ts_key(d))
        got = sorted(m["id"] for m in all_manifest(taxii, "bulk", READER, added_after=d))
        assert got == want, f"added_after={d}: {len(got)} entries, want {len(want)}"
        got_objs = sorted(o["id"] for o in all_objects(taxii, "bulk", READER, added_after=d))
        assert got_objs == want, f"objects added_after={d}: {len(got_objs)}, want {len(want)}"
    before = _ts(T0 - _dt.timedelta(days=3650))
    assert len(all_objects(taxii, "bulk", READER, added_after=before)) == N_BULK


def test_match_type_id_spec_version(taxii, bulk):
    objs = bulk["objs"]
    col = taxii.collection("bulk", READER)
    two = sorted(o["id"] for o in objs if o["type"] in ("malware", "identity"))
    assert sorted(o["id"] for o in all_objects(taxii, "bulk", READER, type=["malware", "identity"])) == two
    assert sorted(m["id"] for m in all_manifest(taxii, "bulk", READER, type=["malware", "identity"])) == two
    one = sorted(o["id"] for o in objs if o["type"] == "attack-pattern")
    assert sorted(o["id"] for o in all_objects(taxii, "bulk", READER, type="attack-pattern")) == one
    assert col.get_objects(type="campaign").get("objects", []) == []

    pick = [objs[3], objs[500], objs[1001]]  # identity, indicator, malware
    env = col.get_objects(id=[o["id"] for o in pick])
    assert by_id(env.get("objects", [])) == by_id(pick)
    env = col.get_objects(id=pick[1]["id"])
    assert env.get("objects") == [pick[1]]
    env = col.get_objects(id=[o["id"] for o in pick], type="indicator")  # fields are ANDed
    assert [o["id"] for o in env.get("objects", [])] == [pick[1]["id"]]
    env = col.get_objects(id=f"indicator--{uuid.uuid4()}")
    assert env.get("objects", []) == []

    assert len(all_objects(taxii, "bulk", READER, spec_version="2.1")) == N_BULK
    assert col.get_objects(spec_version="2.0").get("objects", []) == []
    assert len(all_objects(taxii, "bulk", READER, spec_version=["2.0", "2.1"])) == N_BULK


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
def test_bad_limit_is_400(taxii, bulk, limit):
    assert_error(taxii.http("GET", taxii.objects("bulk"), READER, params={"limit": limit}), 400, f"limit={limit}")


def test_limit_may_be_clamped_never_exceeded(taxii, bulk):
    r = taxii.http("GET", taxii.objects("bulk"), READER, params={"limit": 1_000_000})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    n = len(body.get("objects", []))
    assert 0 < n <= N_BULK
    assert bool(body.get("more")) == (n < N_BULK), f"{n} of {N_BULK} objects with more={body.get('more')}"


# --------------------------------------------------------------------------
# versions


@pytest.fixture(scope="module")
def versioned(taxii):
    g = Gen(303)
    a1 = g.sdo("indicator", 1, "ver")
    a2, a3 = new_version(a1, 1, "second"), new_version(a1, 2, "third")
    b, c = g.sdo("malware", 2, "ver"), g.sdo("identity", 3, "ver")
    col = taxii.collection("ver", CONTRIB)
    # v3 arrives before v2: the current version is the greatest modified, not the latest POST.
    for env in ([a1, b, c], [a3], [a2]):
        s = col.add_objects({"objects": env}, wait_for_completion=True, poll_interval=0.2, timeout=30)
        assert (s.status, s.success_count, s.failure_count) == ("complete", len(env), 0), s._raw
    return {"a": [a1, a2, a3], "b": b, "c": c}


def test_versions_endpoint(taxii, versioned):
    a = versioned["a"]
    aid = a[0]["id"]
    col = taxii.collection("ver", READER)
    vs = col.object_versions(aid).get("versions", [])
    assert sorted(map(ts_key, vs)) == sorted(ts_key(o["modified"]) for o in a), vs
    vb = col.object_versions(versioned["b"]["id"]).get("versions", [])
    assert list(map(ts_key, vb)) == [ts_key(versioned["b"]["modified"])], vb
    # paged one at a time through `next` (the 2.1 erratum, checklist §B.11)
    pages = list(raw_pages(taxii, taxii.objects("ver") + aid + "/versions/", {"limit": 1}, READER, max_pages=10))
    paged = [v for body, _ in pages for v in body.get("versions", [])]
    assert all(len(body.get("versions", [])) <= 1 for body, _ in pages)
    assert sorted(map(ts_key, paged)) == sorted(map(ts_key, vs)), paged
    assert all("X-TAXII-Date-Added-First" in r.headers and "X-TAXII-Date-Added-Last" in r.headers for _, r in pages)
    assert_error(taxii.http("GET", taxii.objects("ver") + f"indicator--{uuid.uuid4()}/versions/", READER), 404,
                 "versions of an unknown object")


def test_match_version_on_one_object(taxii, versioned):
    a1, a2, a3 = versioned["a"]
    aid = a1["id"]
    col = taxii.collection("ver", READER)
    assert col.get_object(aid).get("objects") == [a3], "default is the last version"
    assert col.get_object(aid, version="last").get("objects") == [a3]
    assert col.get_object(aid, version="first").get("objects") == [a1]
    every = col.get_object(aid, version="all").get("objects", [])
    assert sorted(every, key=lambda o: ts_key(o["modified"])) == [a1, a2, a3]
    two = col.get_object(aid, version=[a1["modified"], a3["modified"]]).get("objects", [])
    assert sorted(two, key=lambda o: ts_key(o["modified"])) == [a1, a3]
    assert col.get_object(aid, version=a2["modified"]).get("objects") == [a2]
    r = taxii.http("GET", taxii.objects("ver") + aid + "/", READER)
    assert "X-TAXII-Date-Added-First" in r.headers and "X-TAXII-Date-Added-Last" in r.headers, dict(r.headers)
    assert_error(taxii.http("GET", taxii.objects("ver") + f"indicator--{uuid.uuid4()}/", READER), 404,
                 "unknown object")


def test_match_version_on_collection_and_manifest(taxii, versioned):
    a1, a2, a3 = versioned["a"]
    b, c = versioned["b"], versioned["c"]
    key = lambda o: (o["id"], ts_key(o["modified"]))  # noqa: E731
    assert sorted(all_objects(taxii, "ver", READER), key=key) == sorted([a3, b, c], key=key)
    assert sorted(all_objects(taxii, "ver", READER, version="first"), key=key) == sorted([a1, b, c], key=key)
    assert sorted(all_objects(taxii, "ver", READER, version="all"), key=key) == sorted([a1, a2, a3, b, c], key=key)
    assert sorted(all_objects(taxii, "ver", READER, version="all", type="indicator"), key=key) == [a1, a2, a3]

    man = all_manifest(taxii, "ver", READER)
    assert sorted((m["id"], ts_key(m["version"])) for m in man) == sorted(key(o) for o in (a3, b, c))
    man = all_manifest(taxii, "ver", READER, id=a1["id"], version="all")
    assert sorted(ts_key(m["version"]) for m in man) == sorted(ts_key(o["modified"]) for o in (a1, a2, a3))
    assert all(m["id"] == a1["id"] for m in man)
    man = all_manifest(taxii, "ver", READER, id=a1["id"], version="first")
    assert [(m["id"], ts_key(m["version"])) for m in man] == [key(a1)]


# --------------------------------------------------------------------------
# delete


def test_delete_object(taxii):
    g = Gen(404)
    x1 = g.sdo("indicator", 1, "del")
    x2 = new_version(x1, 1, "second")
    y, z = g.sdo("malware", 2, "del"), g.sdo("attack-pattern", 3, "del")
    col = taxii.collection("del", CONTRIB)
    s = col.add_objects({"objects": [x1, x2, y, z]}, wait_for_completion=True, poll_interval=0.2, timeout=30)
    assert (s.status, s.success_count) == ("complete", 4), s._raw
    assert col.get_object(x1["id"]).get("objects") == [x2]

    # a reader may not delete
    assert_error(taxii.http("DELETE", taxii.objects("del") + y["id"] + "/", READER), 403, "reader DELETE")
    col.delete_object(x1["id"])  # raises on an HTTP error
    with pytest.raises(requests.HTTPError) as e:
        col.get_object(x1["id"])
    assert_error(e.value.response, 404, "GET a deleted object")
    assert by_id(all_objects(taxii, "del", READER)) == by_id([y, z])
    assert x1["id"] not in {m["id"] for m in all_manifest(taxii, "del", READER)}
    # A DELETE without match[version] removes the object, every version of it: a client that
    # syncs with match[version]=all must not get it back.
    leaked = [(o["id"], o["modified"]) for o in all_objects(taxii, "del", READER, version="all") if o["id"] == x1["id"]]
    assert not leaked, f"deleted object still served with match[version]=all: {leaked}"
    leaked = [m for m in all_manifest(taxii, "del", READER, version="all") if m["id"] == x1["id"]]
    assert not leaked, f"deleted object still in the manifest with match[version]=all: {leaked}"
    for path, params in (("", {"match[version]": "all"}), ("versions/", {})):
        r = taxii.http("GET", taxii.objects("del") + x1["id"] + "/" + path, READER, params=params)
        assert_error(r, 404, f"GET {path or 'object'} {params} of a deleted object")

    r = taxii.http("DELETE", taxii.objects("del") + z["id"] + "/", ADMIN)
    assert r.status_code == 200, f"DELETE: {r.status_code} {r.text[:300]}"
    assert by_id(all_objects(taxii, "del", READER)) == by_id([y])
    assert_error(taxii.http("DELETE", taxii.objects("del") + f"malware--{uuid.uuid4()}/", CONTRIB), 404,
                 "DELETE an unknown object")


# --------------------------------------------------------------------------
# authentication and authorisation


def test_auth_schemes(taxii):
    bulk_id = taxii.cols["bulk"]
    cases = [
        ("basic reader", dict(user=READER[0], password=READER[1]), False),
        ("basic contributor", dict(user=CONTRIB[0], password=CONTRIB[1]), True),
        ("Bearer contributor token", dict(auth=BearerAuth(taxii.tokens["contrib"])), True),
        ("Token reader token (taxii2-client TokenAuth)", dict(auth=TokenAuth(taxii.tokens["reader"])), False),
        ("Token contributor token (taxii2-client TokenAuth)", dict(auth=TokenAuth(taxii.tokens["contrib"])), True),
        ("X-Api-Key reader token", dict(auth=HeaderAuth("X-Api-Key", taxii.tokens["reader"])), False),
        ("X-Api-Key contributor token", dict(auth=HeaderAuth("X-Api-Key", taxii.tokens["contrib"])), True),
    ]
    for what, kw, can_write in cases:
        cols = {c.id: c for c in ApiRoot(taxii.api, **kw).collections}
        assert bulk_id in cols, f"{what}: bulk collection not listed"
        assert (cols[bulk_id].can_read, cols[bulk_id].can_write) == (True, can_write), f"{what}: {cols[bulk_id]._raw}"
        env = Collection(taxii.col("bulk"), **kw).get_objects(limit=1)
        assert isinstance(env.get("objects", []), list), what


def test_401_without_or_with_bad_credentials(taxii):
    for url in (taxii.col("bulk"), taxii.objects("bulk"), taxii.col("bulk") + "manifest/", taxii.api + "collections/"
                + taxii.cols["mal"] + "/objects/"):
        r = taxii.http("GET", url, None)
        assert_error(r, 401, f"anonymous GET {url}")
        assert r.headers.get("WWW-Authenticate"), f"401 without WWW-Authenticate on {url}"
    bad = [
        ("wrong password", ("rita", "not rita's password at all")),
        ("unknown user", ("nobody", "whatever password it is")),
        ("unknown Bearer", BearerAuth("cairn_" + "0" * 40)),
        ("unknown Token", TokenAuth("cairn_" + "1" * 40)),
        ("unknown API key", HeaderAuth("X-Api-Key", "cairn_" + "2" * 40)),
    ]
    for what, who in bad:
        r = taxii.http("GET", taxii.objects("bulk"), who)
        assert_error(r, 401, what)
        assert r.headers.get("WWW-Authenticate"), f"{what}: 401 without WWW-Authenticate"
    # taxii2-client surfaces it as an HTTP error
    with pytest.raises(requests.HTTPError) as e:
        Collection(taxii.col("bulk"), user="rita", password="wrong password entirely").get_objects()
    assert e.value.response.status_code == 401


def test_403_reader_post_and_write_to_read_collection(taxii):
    env = json.dumps({"objects": [Gen(505).sdo("malware", 1, "forbidden")]})
    h = {"Content-Type": MEDIA}
    assert_error(taxii.http("POST", taxii.objects("err"), READER, headers=h, data=env), 403, "reader POST")
    assert_error(taxii.http("POST", taxii.objects("err"), BearerAuth(taxii.tokens["reader"]), headers=h, data=env),
                 403, "reader token POST")
    assert_error(taxii.http("POST", taxii.objects("mal"), CONTRIB, headers=h, data=env), 403,
                 "contributor POST to a read collection")
    assert_error(taxii.http("POST", taxii.objects("pub"), ADMIN, headers=h, data=env), 403,
                 "admin POST to a read collection")
    assert taxii.collection("err", READER).get_objects().get("objects", []) == [], "a refused POST stored something"


def test_404_unknown_collection(taxii):
    cid = str(uuid.uuid4())
    for url in (taxii.col(cid), taxii.objects(cid), taxii.col(cid) + "manifest/",
                taxii.objects(cid) + f"malware--{uuid.uuid4()}/"):
        assert_error(taxii.http("GET", url, ADMIN), 404, f"GET {url}")
    r = taxii.http("POST", taxii.objects(cid), ADMIN, headers={"Content-Type": MEDIA},
                   data=json.dumps({"objects": [Gen(606).sdo("malware", 1, "nowhere")]}))
    assert_error(r, 404, "POST to an unknown collection")


# --------------------------------------------------------------------------
# media types and sizes


@pytest.mark.parametrize("accept", ["application/taxii+json;version=2.0", "text/html",
                                    "application/vnd.oasis.taxii+json; version=2.0"])
def test_406_wrong_accept(taxii, accept):
    for url in (taxii.discovery, taxii.api, taxii.api + "collections/", taxii.objects("bulk")):
        assert_error(taxii.http("GET", url, READER, headers={"Accept": accept}), 406, f"Accept {accept} on {url}")


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/taxii+json;version=2.0",
                                   "application/stix+json;version=2.1"])
def test_415_wrong_content_type(taxii, ctype):
    env = json.dumps({"objects": [Gen(707).sdo("malware", 1, "media")]})
    r = taxii.http("POST", taxii.objects("err"), CONTRIB, headers={"Content-Type": ctype}, data=env)
    assert_error(r, 415, f"POST with Content-Type {ctype}")
    assert taxii.collection("err", READER).get_objects().get("objects", []) == [], "a refused POST stored something"


def _post_streaming(base: str, path: str, headers: dict, body: bytes, chunked: bool) -> tuple[int, bytes]:
    """POST `body` over a raw socket while a second thread reads the answer, so a server
    that answers 413 before reading the whole body is heard, not reset."""
    u = urlsplit(base)
    s = socket.create_connection((u.hostname, u.port), timeout=HTTP_TIMEOUT)
    resp = bytearray()
    done = threading.Event()

    def reader():
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                resp.extend(b)
        except OSError:
            pass
        finally:
            done.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    head = [f"POST {path} HTTP/1.1", f"Host: {u.netloc}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    try:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        step = 1 << 20
        view = memoryview(body)
        for i in range(0, len(body), step):
            if done.is_set():
                break
            part = view[i:i + step]
            if chunked:
                s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            else:
                s.sendall(part)
        if chunked and not done.is_set():
            s.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading: its answer is what counts
    done.wait(HTTP_TIMEOUT)
    s.close()
    th.join(5)
    raw = bytes(resp)
    assert raw.startswith(b"HTTP/1."), f"no HTTP response to a {len(body)}-byte POST: {raw[:200]!r}"
    status = int(raw.split(b" ", 2)[1])
    return status, raw.split(b"\r\n\r\n", 1)[-1]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_413_body_over_max_content_length(taxii, chunked):
    max_len = taxii.root(CONTRIB).max_content_length
    assert max_len <= MAX_BODY_TESTED, f"max_content_length {max_len} is over what this test sends ({MAX_BODY_TESTED})"
    head = json.dumps({"objects": [Gen(808 + chunked).sdo("malware", 1, "big")]}).encode()
    body = head + b" " * (max_len + 1 - len(head))  # valid JSON, one octet too long
    auth = requests.auth._basic_auth_str(*CONTRIB)
    headers = {"Authorization": auth, "Accept": MEDIA, "Content-Type": MEDIA}
    path = urlsplit(taxii.objects("err")).path
    status, text = _post_streaming(taxii.base, path, headers, body, chunked)
    assert status == 413, f"{len(body)}-byte body with max_content_length {max_len}: {status} {text[:300]!r}"
    if text.strip().startswith(b"{"):
        assert json.loads(text).get("http_status") == "413", text[:300]
    assert taxii.collection("err", READER).get_objects().get("objects", []) == [], "an oversized POST stored something"
    # exactly max_content_length is allowed
    ok = head + b" " * (max_len - len(head))
    status, text = _post_streaming(taxii.base, path, headers, ok, chunked)
    assert status == 202, f"body of exactly max_content_length ({max_len}): {status} {text[:300]!r}"
    got = taxii.collection("err", READER).get_objects().get("objects", [])
    assert [o["id"] for o in got] == [json.loads(head)["objects"][0]["id"]]
    # leave the collection empty for the other rejection tests
    r = taxii.http("DELETE", taxii.objects("err") + got[0]["id"] + "/", ADMIN)
    assert r.status_code == 200, r.text[:300]
