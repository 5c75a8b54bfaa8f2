"""medallion 3.0.0 (memory backend) as a TAXII 2.1 peer for the connector tests.

Run as a script it is `medallion --host H --port P CONFIG` (the same Flask app, views,
auth and backend) with two additions:

1. Speed-ups (`install()`): the memory backend's first GET of a collection is quadratic
   (each manifest entry scans every object, parsing timestamps with strptime each time):
   ~30 s for 2,500 objects, ~60 s with added_after, minutes for 5,000; and every request
   deep-copies the whole collection, objects included, to read its can_read/can_write
   (~0.2 s a page at 5,000 objects). `install()` swaps three BasicFilter methods and
   MemoryBackend.get_collection for linear versions that return the same result (same
   objects, same order, same headers, same side effect: the manifest sorted in place) and
   caches string_to_datetime. test_connector.py holds the fast versions to medallion's
   own on generated data, so the peer's answers are medallion's answers, only sooner.
2. `--page-delay S`: sleep S seconds before answering a GET that carries `next`, so a
   poll of many pages lasts long enough to be killed in the middle.

`write_config()` writes a config (as scripts/bench_peers.py does: memory backend, one API
root, one writable collection, Basic users) with `session_timeout` raised so that a `next`
never expires during a test.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import time

TAXII_21 = "application/taxii+json;version=2.1"
API_ROOT = "peer"
COLLECTION_ID = "3c0a2c54-6e1f-4b8e-9a51-5f2d7c6b1e07"


def config_data(base: str) -> dict:
    """The memory backend's initial tree: discovery, one API root, one empty writable collection."""
    return {
        "/discovery": {
            "title": "Cairn connector test peer",
            "description": "medallion memory backend",
            "default": base + API_ROOT + "/",
            "api_roots": [base + API_ROOT + "/"],
        },
        API_ROOT: {
            "information": {
                "title": "peer API root",
                "description": "one writable collection",
                "versions": [TAXII_21],
                "max_content_length": 256 * 1024 * 1024,
            },
            "status": [],
            "collections": [{
                "id": COLLECTION_ID,
                "title": "peer",
                "description": "writable",
                "can_read": True,
                "can_write": True,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": [],
                "manifest": [],
            }],
        },
    }


def write_config(port: int, directory: str, users: dict[str, str], session_timeout: int = 600) -> dict:
    base = f"http://127.0.0.1:{port}/"
    data = config_data(base)
    data_path = os.path.join(directory, "medallion-data.json")
    config_path = os.path.join(directory, "medallion.json")
    with open(data_path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": data_path,
            "session_timeout": session_timeout,
        },
        "users": users,
        "taxii": {"max_page_size": 1000},
    }
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    return {
        "config": config_path,
        "base": base.rstrip("/"),
        "discovery": base + "taxii2/",
        "api_root": base + API_ROOT + "/",
        "collection": COLLECTION_ID,
        "objects": base + API_ROOT + "/collections/" + COLLECTION_ID + "/objects/",
    }


# --------------------------------------------------------------------------
# linear versions of medallion.filters.basic_filter.BasicFilter's quadratic methods


def fast_sort_and_paginate(self, data, limit, manifest):
    from medallion.common import find_att

    temp = None
    next_save = {}
    headers = {}
    new = []
    if len(data) == 0:
        return new, next_save, headers
    if manifest:
        manifest.sort(key=lambda x: x["date_added"])
        # medallion: for each manifest entry, the first object (in data order) with the
        # same id and version
        first = {}
        for check in data:
            first.setdefault((check["id"], find_att(check)), check)
        for man in manifest:
            check = first.get((man["id"], find_att(man)))
            if check is not None:
                if len(headers) == 0:
                    headers["X-TAXII-Date-Added-First"] = man["date_added"]
                new.append(check)
                temp = man
                if len(new) == limit:
                    headers["X-TAXII-Date-Added-Last"] = man["date_added"]
        if limit and limit < len(data):
            next_save = new[limit:]
            new = new[:limit]
        else:
            headers["X-TAXII-Date-Added-Last"] = temp["date_added"]
    else:
        data.sort(key=lambda x: x["date_added"])
        if limit and limit < len(data):
            next_save = data[limit:]
            data = data[:limit]
        headers["X-TAXII-Date-Added-First"] = data[0]["date_added"]
        headers["X-TAXII-Date-Added-Last"] = data[-1]["date_added"]
        new = data
    return new, next_save, headers


def fast_filter_by_added_after(data, manifest_info, added_after_date):
    from medallion import common

    s2d = common.string_to_datetime
    find_att = common.find_att
    added_after_timestamp = s2d(added_after_date)
    if manifest_info is None:
        return [obj for obj in data if s2d(obj["date_added"]) > added_after_timestamp]
    # medallion keeps an object when any manifest entry with its id and version was
    # added after the timestamp
    latest = {}
    for item in manifest_info:
        key = (item["id"], find_att(item))
        t = s2d(item["date_added"])
        if key not in latest or t > latest[key]:
            latest[key] = t
    out = []
    for obj in data:
        t = latest.get((obj["id"], find_att(obj)))
        if t is not None and t > added_after_timestamp:
            out.append(obj)
    return out


_ORIGINAL_FILTER_BY_SPEC_VERSION = None


def fast_get_collection(self, api_root, collection_id):
    """MemoryBackend.get_collection without deep-copying the collection's objects and
    manifest first (it drops them from the copy; medallion calls this 2-3 times a request)."""
    if api_root not in self.data:
        return None
    api_info = self._get(api_root)
    for collection in api_info.get("collections", []):
        if collection_id == collection["id"]:
            return copy.deepcopy({k: v for k, v in collection.items() if k not in ("manifest", "responses", "objects")})
    return None


def fast_filter_by_spec_version(data, spec_):
    from medallion.common import determine_spec_version

    if spec_:
        return _ORIGINAL_FILTER_BY_SPEC_VERSION(data, spec_)

    def sv(o):
        return o["media_type"].split("version=")[1] if "media_type" in o else determine_spec_version(o)

    # medallion keeps an object unless another with its id has a greater spec version
    top = {}
    for o in data:
        v = sv(o)
        if o["id"] not in top or v > top[o["id"]]:
            top[o["id"]] = v
    return [o for o in data if not top[o["id"]] > sv(o)]


def install(set_attr=setattr) -> None:
    """Patch medallion (in this process) with the linear versions; set_attr lets a test
    patch through pytest's monkeypatch.setattr, undone after the test."""
    global _ORIGINAL_FILTER_BY_SPEC_VERSION
    from medallion import common
    from medallion.backends import memory_backend
    from medallion.filters import basic_filter

    BF = basic_filter.BasicFilter
    if _ORIGINAL_FILTER_BY_SPEC_VERSION is None:
        _ORIGINAL_FILTER_BY_SPEC_VERSION = BF.filter_by_spec_version
    cached = functools.lru_cache(maxsize=None)(common.string_to_datetime)
    set_attr(common, "string_to_datetime", cached)
    set_attr(basic_filter, "string_to_datetime", cached)
    set_attr(BF, "sort_and_paginate", fast_sort_and_paginate)
    set_attr(BF, "filter_by_added_after", staticmethod(fast_filter_by_added_after))
    set_attr(BF, "filter_by_spec_version", staticmethod(fast_filter_by_spec_version))
    set_attr(memory_backend.MemoryBackend, "get_collection", fast_get_collection)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--page-delay", type=float, default=0.0)
    p.add_argument("config")
    args = p.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("medallion_peer.py: loopback only")

    import logging

    from flask import request
    from medallion import application_instance, register_blueprints, set_config

    install()
    logging.getLogger("medallion").setLevel("ERROR")
    logging.getLogger("werkzeug").setLevel("ERROR")
    with open(args.config, "r", encoding="utf-8") as f:
        configuration = json.load(f)
    set_config(application_instance, "users", configuration)
    set_config(application_instance, "taxii", configuration)
    set_config(application_instance, "backend", configuration)
    register_blueprints(application_instance)

    if args.page_delay > 0:
        @application_instance.before_request
        def _slow_pages():
            if request.method == "GET" and "next" in request.args:
                time.sleep(args.page_delay)

    application_instance.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
