"""Peer measurements for scripts/bench (run with the oracle venv's Python).

Subcommands, each printing one JSON object on stdout:

  free-port                         a free TCP port on 127.0.0.1
  medallion-config PORT OUT         write a minimal medallion 3.0.0 config (memory backend,
                                    one API root, one writable collection, one user)
  wait URL [--user U --password P | --token T] [--timeout S]
                                    poll URL until it answers 200 (server readiness)
  validate FILE                     stix2validator.validate_instance on every line of FILE
  taxii-post FILE URL USER PASSWORD [--batch B]
                                    POST FILE's objects to a TAXII 2.1 collection's objects/
                                    endpoint in envelopes of B
  upload-post FILE URL TOKEN [--batch B]
                                    POST FILE's objects to Cairn's upload API in bodies of B
                                    (the same client as taxii-post, for a same-harness figure)
  taxii-get URL [--user U --password P] [--limit L] [--secs S] [--rounds R] [--expect N]
                                    drain a TAXII 2.1 collection's objects/ endpoint (GET
                                    pages of L, following `next`) again and again, for S
                                    seconds (at least one round) or R rounds; pages/s
                                    and per-page latency

FILE is JSON lines (one STIX object per line). Request bodies are serialised before the
clock starts (as `cairn bench upload` does): the figures measure the server, not the
client's JSON encoder. taxii-get's page latency runs from sending the request to having
parsed the response body (a client must parse it to find `next`; `cairn bench taxii` does
the same). Only loopback addresses are accepted.
"""

import argparse
import os
import json
import resource
import socket
import sys
import time
import urllib.parse

TAXII_21 = "application/taxii+json;version=2.1"
MEDALLION_USER = "bench"
MEDALLION_PASSWORD = "bench-password"
API_ROOT = "bench"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def emit(obj):
    json.dump(obj, sys.stdout)
    sys.stdout.write("\n")


def self_peak_rss_kb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def loopback_only(url):
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench_peers.py: refusing non-loopback URL " + url)


def read_lines(path):
    with open(path, "r", encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line.strip()]


def cmd_free_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_medallion_config(args):
    base = "http://127.0.0.1:{}/".format(args.port)
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            # The memory backend loads its initial tree (discovery, API root, collection)
            # from a JSON file: written next to the config, "filename" set below.
        },
        "users": {MEDALLION_USER: MEDALLION_PASSWORD},
        "taxii": {"max_page_size": 1000},
    }
    data = {
        "/discovery": {
            "title": "Cairn bench peer",
            "description": "medallion memory backend, started by scripts/bench",
            "default": base + API_ROOT + "/",
            "api_roots": [base + API_ROOT + "/"],
        },
        API_ROOT: {
            "information": {
                "title": "bench API root",
                "description": "one writable collection",
                "versions": [TAXII_21],
                # Room for envelopes of several thousand indicators.
                "max_content_length": 256 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION_ID,
                    "title": "bench",
                    "description": "writable",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    data_path = args.out + ".data.json"
    with open(data_path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    config["backend"]["filename"] = data_path
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
    emit({
        "config": args.out,
        "data": data_path,
        "objects_url": base + API_ROOT + "/collections/" + COLLECTION_ID + "/objects/",
        "discovery_url": base + "taxii2/",
        "collection_id": COLLECTION_ID,
        "user": MEDALLION_USER,
        "password": MEDALLION_PASSWORD,
    })


def cmd_wait(args):
    import requests

    loopback_only(args.url)
    headers = {"Accept": TAXII_21}
    if args.token:
        headers["Authorization"] = "Bearer " + args.token
    auth = (args.user, args.password) if args.user else None
    deadline = time.monotonic() + args.timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(args.url, headers=headers, auth=auth, timeout=2)
            if r.status_code == 200:
                emit({"ready": True, "url": args.url})
                return
            last = "HTTP {}: {}".format(r.status_code, r.text[:200])
        except requests.RequestException as e:
            last = str(e)
        time.sleep(0.1)
    sys.exit("bench_peers.py: {} not ready after {} s ({})".format(args.url, args.timeout, last))


def cmd_validate(args):
    from stix2validator import ValidationOptions, validate_instance

    options = ValidationOptions(version="2.1")
    lines = read_lines(args.file)
    valid = invalid = 0
    # JSON parsing is inside the clock: `cairn validate` parses its input too.
    start = time.perf_counter()
    for line in lines:
        if validate_instance(json.loads(line), options).is_valid:
            valid += 1
        else:
            invalid += 1
    secs = time.perf_counter() - start
    emit({
        "count": len(lines),
        "valid": valid,
        "invalid": invalid,
        "secs": secs,
        "rate": len(lines) / secs if secs > 0 else None,
        "peak_rss_kb": self_peak_rss_kb(),
    })


def post_all(url, bodies, headers, auth, count_ok):
    """POST the prepared bodies one after another; returns timings and counts."""
    import requests

    session = requests.Session()
    per_request = []
    succeeded = failed = 0
    start = time.perf_counter()
    for n, body in bodies:
        t0 = time.perf_counter()
        r = session.post(url, data=body, headers=headers, auth=auth, timeout=600)
        per_request.append((n, time.perf_counter() - t0))
        ok, bad = count_ok(r, n)
        succeeded += ok
        failed += bad
    secs = time.perf_counter() - start
    total = sum(n for n, _ in bodies)
    first_n, first_s = per_request[0]
    last_n, last_s = per_request[-1]
    return {
        "count": total,
        "requests": len(bodies),
        "succeeded": succeeded,
        "failed": failed,
        "secs": secs,
        "rate": total / secs if secs > 0 else None,
        "first_request_rate": first_n / first_s if first_s > 0 else None,
        "last_request_rate": last_n / last_s if last_s > 0 else None,
    }


def chunks(lines, batch):
    return [lines[i:i + batch] for i in range(0, len(lines), batch)]


def cmd_taxii_post(args):
    loopback_only(args.url)
    lines = read_lines(args.file)
    # An envelope is {"objects": [...]}; the lines are already serialised objects.
    bodies = [(len(c), ('{"objects":[' + ",".join(c) + "]}").encode("utf-8"))
              for c in chunks(lines, args.batch)]
    headers = {"Accept": TAXII_21, "Content-Type": TAXII_21}

    def count_ok(r, n):
        if r.status_code != 202:
            sys.exit("bench_peers.py: TAXII POST failed: HTTP {} {}".format(r.status_code, r.text[:500]))
        status = r.json()
        return status.get("success_count", 0), status.get("failure_count", 0) + status.get("pending_count", 0)

    emit(post_all(args.url, bodies, headers, (args.user, args.password), count_ok))


def cmd_upload_post(args):
    loopback_only(args.url)
    lines = read_lines(args.file)
    bodies = [(len(c), ('{"sourcesystem":"bench-py","stixobjects":[' + ",".join(c) + "]}").encode("utf-8"))
              for c in chunks(lines, args.batch)]
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + args.token}

    def count_ok(r, n):
        if r.status_code != 200:
            sys.exit("bench_peers.py: upload POST failed: HTTP {} {}".format(r.status_code, r.text[:500]))
        errors = len(r.json().get("errors", [])) if r.content else 0
        return n - errors, errors

    emit(post_all(args.url, bodies, headers, None, count_ok))


def percentile(sorted_values, p):
    # Nearest rank, as `cairn bench taxii` computes it.
    return sorted_values[int(round((len(sorted_values) - 1) * p))]


def cmd_taxii_get(args):
    import requests

    loopback_only(args.url)
    session = requests.Session()
    session.headers["Accept"] = TAXII_21
    if args.user:
        session.auth = (args.user, args.password)

    def drain(latencies, first_page, later_pages):
        """GET every page of the collection once; returns (objects, pages)."""
        objects = pages = 0
        nxt = None
        while True:
            # limit on every request: medallion's `next` handling requires it (and checks
            # that the other parameters did not change).
            params = {"limit": str(args.limit)}
            if nxt is not None:
                params["next"] = nxt
            t0 = time.perf_counter()
            r = session.get(args.url, params=params, timeout=600)
            if r.status_code != 200:
                sys.exit("bench_peers.py: TAXII GET failed: HTTP {} {}".format(r.status_code, r.text[:500]))
            body = json.loads(r.content)
            ms = (time.perf_counter() - t0) * 1e3
            latencies.append(ms)
            (first_page if nxt is None else later_pages).append(ms)
            objects += len(body.get("objects", []))
            pages += 1
            nxt = body.get("next")
            if body.get("more") and not nxt:
                sys.exit("bench_peers.py: a page says more=true but has no next: cannot follow it")
            if not nxt:
                return objects, pages

    # Untimed warm-up: one GET of the collection resource (the objects/ URL without
    # "objects/") sets up the connection and the authentication, cheaply on both servers
    # (a warm-up drain would cost medallion as much as a measured one).
    if args.url.endswith("/objects/"):
        r = session.get(args.url[:-len("objects/")], timeout=60)
        if r.status_code != 200:
            sys.exit("bench_peers.py: warm-up GET failed: HTTP {} {}".format(r.status_code, r.text[:500]))

    latencies, first_page, later_pages = [], [], []
    rounds = objects = pages = 0
    per_round = per_round_pages = None
    start = time.perf_counter()
    while True:
        o, n = drain(latencies, first_page, later_pages)
        if per_round is None:
            per_round, per_round_pages = o, n
            if args.expect is not None and o != args.expect:
                sys.exit("bench_peers.py: drained {} objects, expected {}".format(o, args.expect))
        elif o != per_round:
            sys.exit("bench_peers.py: round {} drained {} objects, the first {}".format(rounds + 1, o, per_round))
        rounds += 1
        objects += o
        pages += n
        secs = time.perf_counter() - start
        if args.rounds and rounds >= args.rounds:
            break
        if secs >= args.secs:
            break
    latencies.sort()
    first_page.sort()
    later_pages.sort()
    emit({
        "objects_per_round": per_round,
        "pages_per_round": per_round_pages,
        "limit": args.limit,
        "rounds": rounds,
        "pages": pages,
        "objects": objects,
        "secs": secs,
        "pages_per_sec": pages / secs if secs > 0 else None,
        "objects_per_sec": objects / secs if secs > 0 else None,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1],
        "first_page_p50_ms": percentile(first_page, 0.5),
        "later_pages_p50_ms": percentile(later_pages, 0.5) if later_pages else None,
        "client_peak_rss_kb": self_peak_rss_kb(),
    })


def cmd_matcher(args):
    """The reference matcher over the cases `cairn bench matcher` runs (same files, same
    filter): stix2matcher.matcher.match(pattern, observed, stix_version) per case, best of
    --rounds; prints {"cases", "matches", "seconds"}."""
    import glob

    from stix2matcher.matcher import match

    cases = []
    for path in sorted(glob.glob(os.path.join(args.cases, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        for case in doc.get("cases", []):
            if "kind" in case:
                continue
            cases.append((case["pattern"], doc["observations"][case["observations"]], case["version"]))
    best, matched = None, 0
    for _ in range(max(1, args.rounds)):
        start = time.perf_counter()
        matched = 0
        for pattern, observed, version in cases:
            try:
                matched += bool(match(pattern, observed, stix_version=version))
            except Exception:  # noqa: BLE001 - the reference raising is a verdict too
                pass
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    emit({"cases": len(cases), "matches": matched, "seconds": best, "rounds": args.rounds})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("free-port").set_defaults(fn=cmd_free_port)

    s = sub.add_parser("medallion-config")
    s.add_argument("port", type=int)
    s.add_argument("out")
    s.set_defaults(fn=cmd_medallion_config)

    s = sub.add_parser("wait")
    s.add_argument("url")
    s.add_argument("--user")
    s.add_argument("--password")
    s.add_argument("--token")
    s.add_argument("--timeout", type=float, default=30)
    s.set_defaults(fn=cmd_wait)

    s = sub.add_parser("validate")
    s.add_argument("file")
    s.set_defaults(fn=cmd_validate)

    s = sub.add_parser("taxii-post")
    s.add_argument("file")
    s.add_argument("url")
    s.add_argument("user")
    s.add_argument("password")
    s.add_argument("--batch", type=int, default=1000)
    s.set_defaults(fn=cmd_taxii_post)

    s = sub.add_parser("upload-post")
    s.add_argument("file")
    s.add_argument("url")
    s.add_argument("token")
    s.add_argument("--batch", type=int, default=1000)
    s.set_defaults(fn=cmd_upload_post)

    s = sub.add_parser("taxii-get")
    s.add_argument("url")
    s.add_argument("--user")
    s.add_argument("--password")
    s.add_argument("--limit", type=int, default=1000)
    s.add_argument("--secs", type=float, default=10, help="drain again until this many seconds have passed")
    s.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: no cap)")
    s.add_argument("--expect", type=int, help="the number of objects one round must see")
    s.set_defaults(fn=cmd_taxii_get)

    s = sub.add_parser("matcher")
    s.add_argument("cases", help="directory of the reference's cases as JSON (crates/pattern/tests/data/matcher/v21)")
    s.add_argument("--rounds", type=int, default=3)
    s.set_defaults(fn=cmd_matcher)

    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
