"""Deterministic STIX 2.1 corpus for the differential validation test.

The corpus is a list of cases ``{"rule", "obj", "expect_valid", "note"}``:

* ``rule`` names the mutation that produced the object (``base/<type>`` for the
  unmutated generator output, ``drop_required/<type>.<prop>``,
  ``timestamp/created.no_z``, ...).  ``known_disagreements.json`` is keyed by
  these names (glob patterns allowed).
* ``expect_valid`` is what the STIX 2.1 specification says (what Cairn should
  answer).  It is informational: the test compares Cairn with stix2-validator,
  not with this column, but it is printed next to every disagreement and the
  ``--report`` mode below uses it to show where the validator departs from
  the spec.

Valid base objects come from ``stix2-generator`` (registry-driven object
generator) with every source of randomness pinned: ``random`` and Faker are
seeded, and the generator's calls to ``uuid.uuid4()`` and ``datetime.now()``
are replaced by seeded/fixed versions.  Generator output is then repaired
where the generator is known to be wrong (integer ``software.version``, ...),
SCO ids are recomputed as the deterministic UUIDv5 with the ``stix2``
library, and a base is kept only if both ``stix2.parse`` and stix2-validator
accept it.  Objects the generator does not know (language-content,
extension-definition, custom objects, objects with extensions) are built by
hand.

Run ``python stix_corpus.py`` (inside the oracle venv; -v for every rule) to print the
validator's verdict per rule next to the spec verdict without needing Cairn.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import random
import sys
import types
import uuid
import warnings
from typing import Any, Callable, Iterable

SEED = 20240601
BASES_PER_TYPE = 4
FIXED_NOW = _dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=_dt.timezone.utc)

SDO_TYPES = [
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity",
    "incident", "indicator", "infrastructure", "intrusion-set", "location",
    "malware", "malware-analysis", "note", "observed-data", "opinion",
    "report", "threat-actor", "tool", "vulnerability",
]
SRO_TYPES = ["relationship", "sighting"]
SCO_TYPES = [
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr",
    "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
    "network-traffic", "process", "software", "url", "user-account",
    "windows-registry-key", "x509-certificate",
]

# Required properties per type, beyond the common ones (STIX 2.1 §4-§7;
# checklist §C.8).  spec_version is deliberately absent: an SDO without it is
# by definition a STIX 2.0 object (Common Properties, spec_version), so dropping it does not
# make a "2.1 object missing a property" but a different question.
REQUIRED = {
    "attack-pattern": ["name"], "campaign": ["name"], "course-of-action": ["name"],
    "grouping": ["context", "object_refs"], "identity": ["name"], "incident": ["name"],
    "indicator": ["pattern", "pattern_type", "valid_from"],
    "infrastructure": ["name"], "intrusion-set": ["name"], "location": [],
    "malware": ["is_family"], "malware-analysis": ["product"],
    "note": ["content", "object_refs"], "observed-data": ["first_observed", "last_observed", "number_observed"],
    "opinion": ["opinion", "object_refs"], "report": ["name", "published", "object_refs"],
    "threat-actor": ["name"], "tool": ["name"], "vulnerability": ["name"],
    "relationship": ["relationship_type", "source_ref", "target_ref"],
    "sighting": ["sighting_of_ref"],
    "autonomous-system": ["number"], "directory": ["path"], "domain-name": ["value"],
    "email-addr": ["value"], "email-message": ["is_multipart"], "ipv4-addr": ["value"],
    "ipv6-addr": ["value"], "mac-addr": ["value"], "mutex": ["name"],
    "network-traffic": ["protocols"], "software": ["name"], "url": ["value"],
    "language-content": ["object_ref", "contents"],
    "extension-definition": ["created_by_ref", "name", "schema", "version", "extension_types"],
    "marking-definition": [],
}

TLP_IDS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # white
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",  # green
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",  # amber
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",  # red
}


# --------------------------------------------------------------------------
# determinism helpers

class _Ids:
    """Seeded UUID source."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def of(self, stix_type: str) -> str:
        return f"{stix_type}--{self.uuid4()}"


def _pin_generator(ids: _Ids) -> None:
    """Remove the generator's non-seeded randomness (uuid4, wall clock)."""
    import stix2generator.generation.pattern_generator as pg
    import stix2generator.generation.semantics as sem

    class FixedDateTime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: D401
            return FIXED_NOW if tz is not None else FIXED_NOW.replace(tzinfo=None)

        @classmethod
        def utcnow(cls):
            return FIXED_NOW.replace(tzinfo=None)

    shim = types.SimpleNamespace(**{k: getattr(_dt, k) for k in dir(_dt) if not k.startswith("__")})
    shim.datetime = FixedDateTime
    sem.datetime = shim
    pg.datetime = shim
    sem.uuid = types.SimpleNamespace(uuid4=ids.uuid4)


def make_generator(ids: _Ids):
    import faker
    import stix2generator
    from stix2generator.generation.object_generator import Config

    random.seed(SEED)
    faker.Faker.seed(SEED)
    _pin_generator(ids)
    cfg = Config(optional_property_probability=0.6, minimize_ref_properties=False)
    return stix2generator.create_object_generator(cfg, stix_version="2.1")


# --------------------------------------------------------------------------
# oracles

def validator_verdict(obj: Any) -> tuple[bool, list[str], list[str]]:
    """stix2-validator 3.2.0's verdict: (is_valid, errors, warnings).

    validate_instance raises for objects without id/type (and can raise on
    some malformed input); a raise counts as "invalid" with the exception text
    as the error.
    """
    from stix2validator import ValidationOptions, validate_instance

    try:
        r = validate_instance(obj, ValidationOptions(version="2.1"))
    except Exception as e:  # noqa: BLE001 - the oracle's crash is a rejection
        return False, [f"validator raised {type(e).__name__}: {e}"], []
    return bool(r.is_valid), [str(getattr(e, "message", e)) for e in r.errors], [str(w) for w in r.warnings]


def stix2_accepts(obj: dict) -> bool:
    import stix2

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stix2.parse(obj, allow_custom=True, version="2.1")
        return True
    except Exception:  # noqa: BLE001
        return False


def sco_deterministic_id(obj: dict, ids: "_Ids") -> str:
    """The id stix2 computes for an SCO (UUIDv5 over its contributing
    properties).  When none is present stix2 falls back to a random UUIDv4;
    use a seeded one instead."""
    import stix2

    body = {k: v for k, v in obj.items() if k != "id"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new_id = stix2.parse(body, allow_custom=True, version="2.1").id
    if uuid.UUID(new_id.split("--", 1)[1]).version != 5:
        new_id = ids.of(obj["type"])
    return new_id


# --------------------------------------------------------------------------
# bases

def _fix_generated(obj: dict, gen, ids: _Ids) -> dict:
    t = obj["type"]
    # The generator emits these as integers; STIX 2.1 §6.14 software.version and
    # §6.18 x509-certificate version / subject_public_key_modulus are strings.
    for prop in ("version", "subject_public_key_modulus"):
        if t in ("software", "x509-certificate") and isinstance(obj.get(prop), int):
            obj[prop] = str(obj[prop])
    if t == "observed-data" and "objects" in obj:
        # deprecated embedded-observable form; the corpus sticks to object_refs
        del obj["objects"]
        obj["object_refs"] = gen.generate("array-of-sco-identifiers")
    if t in SCO_TYPES and t != "process":
        obj["id"] = sco_deterministic_id(obj, ids)
    return obj


def generate_bases(gen, ids: _Ids) -> list[dict]:
    out = []
    for t in SDO_TYPES + SRO_TYPES + SCO_TYPES + ["marking-definition", "tlp-white", "tlp-green", "tlp-amber", "tlp-red"]:
        want = 1 if t.startswith("tlp-") else BASES_PER_TYPE
        got = 0
        for _attempt in range(want * 10):
            if got == want:
                break
            obj = _fix_generated(gen.generate(t), gen, ids)
            ok, _, _ = validator_verdict(obj)
            if ok and stix2_accepts(obj):
                out.append(obj)
                got += 1
        if got < want:
            raise RuntimeError(f"stix2-generator could not produce {want} valid {t} objects")
    return out


CREATED = "2023-03-04T05:06:07.891Z"
IDENTITY_ID = "identity--a9f1e1f8-2f0e-4b6c-9a8b-8f6a1d2f3b4c"
EXT_DEF_ID = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"


def handmade_bases(ids: _Ids) -> list[dict]:
    """Types the generator lacks, plus custom content (all valid)."""
    ind = ids.of("indicator")
    return [
        {
            "type": "identity", "spec_version": "2.1", "id": IDENTITY_ID,
            "created": CREATED, "modified": CREATED, "name": "ACME CERT",
            "identity_class": "organization",
        },
        {
            "type": "extension-definition", "spec_version": "2.1", "id": EXT_DEF_ID,
            "created_by_ref": IDENTITY_ID, "created": CREATED, "modified": CREATED,
            "name": "ACME scoring", "description": "Adds a score to SDOs",
            "schema": "https://example.invalid/acme-score.json", "version": "1.0.0",
            "extension_types": ["property-extension"],
        },
        {
            "type": "indicator", "spec_version": "2.1", "id": ind,
            "created_by_ref": IDENTITY_ID, "created": CREATED, "modified": CREATED,
            "name": "bad domain", "indicator_types": ["malicious-activity"],
            "pattern": "[domain-name:value = 'evil.example.com']", "pattern_type": "stix",
            "valid_from": "2023-03-04T00:00:00Z", "x_acme_field": {"score": 7, "tags": ["a", "b"]},
            "extensions": {EXT_DEF_ID: {"extension_type": "property-extension", "score": 42}},
        },
        {
            "type": "language-content", "spec_version": "2.1", "id": ids.of("language-content"),
            "created": CREATED, "modified": CREATED, "object_ref": ind,
            "object_modified": CREATED,
            "contents": {"de": {"name": "böse Domain"}, "fr": {"name": "domaine malveillant"}},
        },
        {
            "type": "x-acme-widget", "spec_version": "2.1", "id": ids.of("x-acme-widget"),
            "created": CREATED, "modified": CREATED, "name": "widget", "x_acme_size": 3,
        },
        {
            "type": "malware", "spec_version": "2.1", "id": ids.of("malware"),
            "created": CREATED, "modified": CREATED, "is_family": False,
            "malware_types": ["trojan"],
        },
        {
            "type": "location", "spec_version": "2.1", "id": ids.of("location"),
            "created": CREATED, "modified": CREATED, "region": "northern-europe",
        },
        {
            "type": "artifact", "id": "",  # id filled in below
            "mime_type": "application/octet-stream", "payload_bin": "VGhpcyBpcyBhIHRlc3Q=",
        },
        {
            "type": "file", "spec_version": "2.1", "id": "",
            "name": "dropper.exe", "hashes": {"SHA-256": "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"},
            "extensions": {"windows-pebinary-ext": {"pe_type": "exe", "number_of_sections": 4}},
        },
        {
            "type": "email-message", "spec_version": "2.1", "id": "",
            "is_multipart": False, "subject": "invoice", "body": "see attachment",
        },
        {
            "type": "network-traffic", "spec_version": "2.1", "id": "",
            "protocols": ["ipv4", "tcp"], "dst_ref": ids.of("ipv4-addr"), "src_port": 4444, "dst_port": 443,
            "start": "2023-03-04T05:06:07Z", "end": "2023-03-04T05:16:07Z", "is_active": False,
        },
    ]


def _finish_handmade(objs: list[dict], ids: _Ids) -> list[dict]:
    for o in objs:
        if o["type"] in SCO_TYPES and o["id"] == "":
            o["id"] = sco_deterministic_id(o, ids)
    return objs


# --------------------------------------------------------------------------
# mutations


def _is_sdo_like(o: dict) -> bool:
    """Objects with created/modified (SDO, SRO, language-content, ext-def, custom)."""
    return "created" in o and "modified" in o


class Builder:
    def __init__(self, bases: list[dict], ids: _Ids) -> None:
        self.bases = bases
        self.ids = ids
        self.cases: list[dict] = []
        self.rng = random.Random(SEED + 1)
        self._rr: dict[str, int] = {}

    # -- selection
    def of_type(self, t: str) -> list[dict]:
        return [b for b in self.bases if b["type"] == t]

    def pick(self, pred: Callable[[dict], bool], n: int, key: str) -> list[dict]:
        """n bases satisfying pred, of distinct types where possible, round-robin
        so different rules hit different types."""
        cands = [b for b in self.bases if pred(b)]
        if not cands:
            raise RuntimeError(f"no base for rule {key}")
        by_type: dict[str, list[dict]] = {}
        for b in cands:
            by_type.setdefault(b["type"], []).append(b)
        tnames = sorted(by_type)
        start = self._rr.get("_", 0)
        self._rr["_"] = start + n
        out = []
        for i in range(n):
            t = tnames[(start + i) % len(tnames)]
            lst = by_type[t]
            out.append(lst[(start + i) // len(tnames) % len(lst)])
        return out

    # -- recording
    def add(self, rule: str, obj: Any, expect_valid: bool, note: str = "") -> None:
        self.cases.append({"rule": rule, "obj": obj, "expect_valid": expect_valid, "note": note})

    def fresh(self, base: dict) -> dict:
        """Deep copy; SDO-like objects get a new id so no two corpus objects share
        an (id, modified) with different content."""
        o = copy.deepcopy(base)
        if _is_sdo_like(o) and o.get("id") not in TLP_IDS:
            o["id"] = self.ids.of(o["type"])
        return o

    def mutate(self, rule: str, bases: Iterable[dict], fn: Callable[[dict], Any], expect_valid: bool, note: str = "") -> None:
        for b in bases:
            o = self.fresh(b)
            r = fn(o)
            self.add(rule, o if r is None else r, expect_valid, note)


def _set(prop: str, value: Any) -> Callable[[dict], None]:
    def f(o: dict) -> None:
        o[prop] = value
    return f


def _drop(*props: str) -> Callable[[dict], None]:
    def f(o: dict) -> None:
        for p in props:
            o.pop(p, None)
    return f


def build_corpus() -> list[dict]:
    ids = _Ids(SEED)
    gen = make_generator(ids)
    bases = generate_bases(gen, ids) + _finish_handmade(handmade_bases(ids), ids)
    B = Builder(bases, ids)

    # ---- unmutated bases: all valid
    for b in bases:
        B.add(f"base/{b['type']}", copy.deepcopy(b), True)

    sdo_like = lambda o: _is_sdo_like(o) and o["type"] != "marking-definition"  # noqa: E731
    sdo_or_sro = lambda o: o["type"] in SDO_TYPES + SRO_TYPES  # noqa: E731
    # Only SCOs whose id *is* deterministic (some id-contributing property present: the
    # base id is a UUIDv5); without one the spec makes a UUIDv4 right, nothing to warn about.
    sco_with_contrib = lambda o: (o["type"] in SCO_TYPES  # noqa: E731
                                  and uuid.UUID(o["id"].split("--", 1)[1]).version == 5)

    # ---- required properties: drop each one, on one base per type
    seen = set()
    for b in bases:
        t = b["type"]
        if t in seen or (t == "marking-definition" and b["id"] in TLP_IDS):
            continue
        seen.add(t)
        common = ["type", "id"]
        if t in SDO_TYPES + SRO_TYPES + ["language-content", "extension-definition"] or t.startswith("x-"):
            common += ["created", "modified"]
        elif t == "marking-definition":
            common += ["created"]
        for p in common + REQUIRED.get(t, []):
            if p in b:
                B.mutate(f"drop_required/{t}.{p}", [b], _drop(p), False)

    # groups where one of several properties is required
    B.mutate("drop_required/location.region+country+lat+long",
             B.of_type("location")[:2], _drop("region", "country", "latitude", "longitude", "precision"), False)
    B.mutate("drop_required/malware-analysis.result+analysis_sco_refs",
             B.of_type("malware-analysis")[:2], _drop("result", "analysis_sco_refs"), False)
    B.mutate("drop_required/file.name+hashes", B.of_type("file")[:2], _drop("name", "hashes"), False,
             "§6.7: a File MUST contain at least one of hashes or name")
    B.mutate("drop_required/network-traffic.src_ref+dst_ref", B.of_type("network-traffic")[:2], _drop("src_ref", "dst_ref"), False,
             "§6.12: MUST contain at least one of src_ref or dst_ref")
    B.mutate("drop_required/artifact.payload_bin+url", B.of_type("artifact")[:2], _drop("payload_bin", "url"), False)

    # ---- timestamps
    T = "2020-01-02T03:04:05"  # earlier than any base's modified
    M = "2030-01-02T03:04:05"  # later than any base's created
    ts_cases = [
        ("created.no_z", "created", T + ".678", False),
        ("created.offset", "created", T + ".678+00:00", False),
        ("created.offset_nonzero", "created", T + ".678+01:00", False),
        ("created.lowercase_z", "created", T + ".678z", False),
        ("created.space_separator", "created", "2020-01-02 03:04:05.678Z", False),
        ("created.bad_date", "created", "2020-02-30T03:04:05.678Z", False),
        ("created.bad_month", "created", "2020-13-02T03:04:05.678Z", False),
        ("created.bad_hour", "created", "2020-01-02T24:04:05.678Z", False),
        ("created.date_only", "created", "2020-01-02", False),
        ("created.epoch_number", "created", 1577934245, False),
        ("created.second_precision", "created", T + "Z", False),
        ("created.centisecond_precision", "created", T + ".67Z", False),
        ("created.decisecond_precision", "created", T + ".6Z", False),
        ("created.microsecond_precision", "created", T + ".678901Z", True),
        ("created.nanosecond_precision", "created", T + ".678901234Z", True),
        ("modified.second_precision", "modified", M + "Z", False),
        ("modified.no_z", "modified", M + ".000", False),
        ("modified.bad_date", "modified", "2030-04-31T03:04:05.000Z", False),
    ]
    for name, prop, value, ok in ts_cases:
        B.mutate(f"timestamp/{name}", B.pick(sdo_like, 3, name), _set(prop, value), ok)

    def mod_before_created(o):
        o["created"], o["modified"] = "2023-05-05T05:05:05.500Z", "2023-05-05T05:05:05.499Z"
    B.mutate("timestamp/modified_before_created", B.pick(sdo_like, 3, "mbc"), mod_before_created, False)

    def mod_eq_created(o):
        o["created"] = o["modified"] = "2023-05-05T05:05:05.500Z"
    B.mutate("timestamp/modified_equals_created", B.pick(sdo_like, 2, "mec"), mod_eq_created, True)

    def mod_eq_created_precision(o):
        # the same instant written with different precision
        o["created"], o["modified"] = "2023-05-05T05:05:05.500Z", "2023-05-05T05:05:05.5000Z"
    B.mutate("timestamp/modified_equals_created_other_precision", B.pick(sdo_like, 2, "mecp"), mod_eq_created_precision, True,
             "same instant; only a string comparison would call modified < created")

    def valid_from_second(o):
        o["valid_from"] = "2023-01-01T00:00:00Z"
        o.pop("valid_until", None)
    B.mutate("timestamp/valid_from.second_precision", B.of_type("indicator")[:2], valid_from_second, True,
             "only created/modified need millisecond precision")

    def vu_before(o):
        o["valid_from"], o["valid_until"] = "2023-06-01T00:00:00.000Z", "2023-05-31T23:59:59.999Z"
    B.mutate("timestamp/valid_until_before_valid_from", B.of_type("indicator")[:2], vu_before, False)

    def vu_equal(o):
        o["valid_from"] = o["valid_until"] = "2023-06-01T00:00:00.000Z"
    B.mutate("timestamp/valid_until_equals_valid_from", B.of_type("indicator")[:2], vu_equal, False,
             "§4.7 valid_until MUST be greater than valid_from")

    def vu_before_mixed(o):
        # 00.0 < 00.5 in time, but "...00Z" > "...00.5Z" as strings
        o["valid_from"], o["valid_until"] = "2023-06-01T00:00:00.5Z", "2023-06-01T00:00:00Z"
    B.mutate("timestamp/valid_until_before_valid_from_mixed_precision", B.of_type("indicator")[:2], vu_before_mixed, False,
             "valid_until is earlier in time; a string comparison says later")

    def vu_after_mixed(o):
        # 01.0 > 00.5 in time
        o["valid_from"], o["valid_until"] = "2023-06-01T00:00:00.5Z", "2023-06-01T00:00:01Z"
    B.mutate("timestamp/valid_until_after_valid_from_mixed_precision", B.of_type("indicator")[:2], vu_after_mixed, True)

    for t in ["campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "sighting"]:
        def ls(o):
            o["first_seen"], o["last_seen"] = "2023-06-01T00:00:00.000Z", "2023-05-01T00:00:00.000Z"
        B.mutate(f"timestamp/last_seen_before_first_seen/{t}", B.of_type(t)[:1], ls, False)

    def ls_eq(o):
        o["first_seen"] = o["last_seen"] = "2023-06-01T00:00:00.000Z"
    B.mutate("timestamp/last_seen_equals_first_seen", B.of_type("campaign")[:1] + B.of_type("threat-actor")[:1], ls_eq, True)

    def lo(o):
        o["first_observed"], o["last_observed"] = "2023-06-01T00:00:00Z", "2023-05-01T00:00:00Z"
    B.mutate("timestamp/last_observed_before_first_observed", B.of_type("observed-data")[:2], lo, False)

    def stop_eq(o):
        o["start_time"] = o["stop_time"] = "2023-06-01T00:00:00Z"
    B.mutate("timestamp/stop_time_equals_start_time", B.of_type("relationship")[:2], stop_eq, False,
             "§5.1 stop_time MUST be later than start_time")

    def nt_end(o):
        o["start"], o["end"] = "2023-06-01T00:00:00Z", "2023-05-01T00:00:00Z"
    B.mutate("timestamp/network_traffic_end_before_start", B.of_type("network-traffic")[:1], nt_end, False)

    # ---- confidence
    for v, ok in [(-1, False), (101, False), ("50", False), (50.5, False), (0, True), (100, True)]:
        B.mutate(f"confidence/{json.dumps(v)}", B.pick(sdo_or_sro, 2, "conf"), _set("confidence", v), ok)

    # ---- ids
    def id_mut(fn):
        def f(o):
            t, u = o["id"].split("--", 1)
            o["id"] = fn(t, u)
        return f

    id_cases = [
        ("no_uuid", lambda t, u: f"{t}--not-a-uuid", False),
        ("uuid_without_hyphens", lambda t, u: f"{t}--{u.replace('-', '')}", False),
        ("uuid_in_braces", lambda t, u: f"{t}--{{{u}}}", False),
        ("uppercase_uuid", lambda t, u: f"{t}--{u.upper()}", False),
        ("uppercase_type_prefix", lambda t, u: f"{t.upper()}--{u}", False),
        ("wrong_type_prefix", lambda t, u: f"{'campaign' if t != 'campaign' else 'malware'}--{u}", False),
        ("single_hyphen", lambda t, u: f"{t}-{u}", False),
        ("ncs_variant", lambda t, u: f"{t}--{u[:19]}1{u[20:]}", False),
        ("microsoft_variant", lambda t, u: f"{t}--{u[:19]}c{u[20:]}", False),
        ("nil_uuid", lambda t, u: f"{t}--00000000-0000-0000-0000-000000000000", False),
    ]
    for name, fn, ok in id_cases:
        B.mutate(f"id/{name}", B.pick(lambda o: o["type"] in SDO_TYPES + SRO_TYPES, 3, name), id_mut(fn), ok)
    B.mutate("id/not_a_string", B.pick(sdo_or_sro, 2, "ids"), _set("id", 12345), False)
    B.mutate("id/uuid_v1_on_sdo", B.pick(sdo_or_sro, 2, "v1"),
             id_mut(lambda t, u: f"{t}--{u[:14]}1{u[15:]}"), True, "2.1 accepts any RFC 4122 version (v4 is a SHOULD)")

    # ---- type names (on a custom object, with the id prefix following the type)
    widget = [b for b in bases if b["type"] == "x-acme-widget"]

    def retype(new_t):
        def f(o):
            o["type"] = new_t
            o["id"] = f"{new_t}--{o['id'].split('--', 1)[1]}" if "--" in o["id"] else o["id"]
        return f
    for name, new_t, ok in [
        ("uppercase", "X-Acme-Widget", False),
        ("underscore", "x_acme_widget", False),
        ("too_short", "xa", False),
        ("leading_hyphen", "-x-acme", False),
        ("trailing_hyphen", "x-acme-", False),
        ("space", "x acme", False),
        ("too_long", "x-" + "a" * 249, False),
        ("max_length", "x-" + "a" * 248, True),
        ("digits", "x-acme-2", True),
        ("three_chars", "x-a", True),
    ]:
        B.mutate(f"type_name/{name}", widget, retype(new_t), ok)

    def double_hyphen(o):
        u = o["id"].split("--", 1)[1]
        o["type"], o["id"] = "x--acme", f"x--acme--{u}"
    B.mutate("type_name/double_hyphen", widget, double_hyphen, False)
    B.mutate("type_name/sdo_type_with_uppercase", B.pick(sdo_or_sro, 2, "tu"),
             lambda o: o.update(type=o["type"].capitalize(), id=o["id"].capitalize()), False)

    # ---- number_observed
    for v, ok in [(0, False), (1_000_000_000, False), ("5", False), (1, True), (999_999_999, True)]:
        B.mutate(f"number_observed/{json.dumps(v)}", B.of_type("observed-data")[:2], _set("number_observed", v), ok)
    for v, ok in [(-1, False), (1_000_000_000, False), (0, True)]:
        B.mutate(f"sighting_count/{json.dumps(v)}", B.of_type("sighting")[:2], _set("count", v), ok)

    # ---- wrong JSON types
    wrong_types = [
        ("labels_string", sdo_or_sro, "labels", "malicious", False),
        ("labels_empty_list", sdo_or_sro, "labels", [], False),
        ("labels_list_of_numbers", sdo_or_sro, "labels", [1, 2], False),
        ("revoked_string", sdo_or_sro, "revoked", "true", False),
        ("external_references_object", sdo_or_sro, "external_references", {"source_name": "x"}, False),
        ("external_reference_without_source_name", sdo_or_sro, "external_references", [{"url": "https://example.invalid/"}], False),
        ("object_marking_refs_string", sdo_or_sro, "object_marking_refs", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", False),
        ("spec_version_2.2", sdo_or_sro, "spec_version", "2.2", False),
        ("spec_version_number", sdo_or_sro, "spec_version", 2.1, False),
        ("lang_number", sdo_or_sro, "lang", 7, False),
    ]
    for name, pred, prop, val, ok in wrong_types:
        B.mutate(f"wrong_type/{name}", B.pick(pred, 3, name), _set(prop, val), ok)
    B.mutate("wrong_type/name_number", B.of_type("attack-pattern")[:1] + B.of_type("tool")[:1], _set("name", 42), False)
    B.mutate("wrong_type/is_family_string", B.of_type("malware")[:2], _set("is_family", "yes"), False)
    B.mutate("wrong_type/object_refs_empty", B.of_type("report")[:1] + B.of_type("grouping")[:1], _set("object_refs", []), False)
    B.mutate("wrong_type/kill_chain_phases_string", B.of_type("attack-pattern")[:1], _set("kill_chain_phases", "exploit"), False)
    B.mutate("wrong_type/ipv4_value_list", B.of_type("ipv4-addr")[:1], _set("value", ["10.0.0.1"]), False)
    B.mutate("wrong_type/autonomous_system_number_string", B.of_type("autonomous-system")[:1], _set("number", "15139"), False)

    # ---- custom property names
    # §11.1: custom property names are ASCII [a-z0-9_], begin with a letter,
    # 3-250 characters; the x_ prefix is a SHOULD.
    prop_names = [
        ("x_prefix", "x_acme_field", True),
        ("no_x_prefix", "acme_field", True),
        ("max_length_250", "x_" + "a" * 248, True),
        ("uppercase", "x_ACME_Field", False),
        ("leading_digit", "1x_acme", False),
        ("hyphen", "x-acme-field", False),
        ("space", "x_acme field", False),
        ("dot", "x_acme.field", False),
        ("non_ascii", "x_acm\u00e9", False),
        ("too_short", "xa", False),
        ("too_long_251", "x_" + "a" * 249, False),
    ]
    for label, pname, ok in prop_names:
        B.mutate(f"custom_property/{label}", B.pick(lambda o: o["type"] in SDO_TYPES + SRO_TYPES + SCO_TYPES, 3, "cp"),
                 _set(pname, "value"), ok, f"property name {pname[:40]!r}")

    # ---- references of the wrong type
    ind_id = ids.of("indicator")
    refs = [
        ("created_by_ref->indicator", sdo_or_sro, "created_by_ref", ind_id, "Common Properties: created_by_ref is the id of an identity"),
        ("created_by_ref->not_an_id", sdo_or_sro, "created_by_ref", "ACME", ""),
        ("object_marking_refs->identity", sdo_or_sro, "object_marking_refs", [IDENTITY_ID], "§7.2.2 object_marking_refs: ids of marking-definitions"),
    ]
    for name, pred, prop, val, note in refs:
        B.mutate(f"wrong_ref/{name}", B.pick(pred, 3, name), _set(prop, val), False, note)
    B.mutate("wrong_ref/sighting_of_ref->ipv4-addr", B.of_type("sighting")[:2],
             _set("sighting_of_ref", ids.of("ipv4-addr")), False, "§5.2 sighting_of_ref MUST reference an SDO")
    B.mutate("wrong_ref/where_sighted_refs->indicator", B.of_type("sighting")[:2],
             _set("where_sighted_refs", [ids.of("indicator")]), False, "§5.2 where_sighted_refs: identity or location only")
    B.mutate("wrong_ref/observed_data_refs->indicator", B.of_type("sighting")[:2],
             _set("observed_data_refs", [ids.of("indicator")]), False, "§5.2 observed_data_refs: observed-data only")
    B.mutate("wrong_ref/observed-data.object_refs->indicator", B.of_type("observed-data")[:2],
             _set("object_refs", [ids.of("indicator")]), False, "§4.14 object_refs: SCOs and SROs only")
    B.mutate("wrong_ref/relationship.source_ref->marking-definition", B.of_type("relationship")[:2],
             _set("source_ref", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"), False,
             "§5.1 source_ref MUST be an SDO or SCO")
    B.mutate("wrong_ref/malware.sample_refs->ipv4-addr", B.of_type("malware")[:2],
             _set("sample_refs", [ids.of("ipv4-addr")]), False, "§4.11 sample_refs: file or artifact")
    B.mutate("wrong_ref/malware-analysis.host_vm_ref->file", B.of_type("malware-analysis")[:2],
             _set("host_vm_ref", ids.of("file")), False, "§4.12 host_vm_ref: software")
    B.mutate("wrong_ref/email-message.from_ref->domain-name", B.of_type("email-message")[:1],
             _set("from_ref", ids.of("domain-name")), False, "§6.6 from_ref: email-addr")
    B.mutate("wrong_ref/file.parent_directory_ref->file", B.of_type("file")[:1],
             _set("parent_directory_ref", ids.of("file")), False, "§6.7 parent_directory_ref: directory")
    B.mutate("wrong_ref/network-traffic.src_ref->url", B.of_type("network-traffic")[:1],
             _set("src_ref", ids.of("url")), False, "§6.12 src_ref: ipv4/ipv6/mac-addr/domain-name")

    # ---- SCO ids
    def random_sco_id(o):
        o["id"] = f"{o['type']}--{ids.uuid4()}"
    B.mutate("sco/wrong_deterministic_id", B.pick(sco_with_contrib, 6, "sco"), random_sco_id, True,
             "deterministic UUIDv5 is a SHOULD (§2.8 Identifier): valid with a warning")
    B.mutate("sco/spec_version_absent", B.pick(lambda o: o["type"] in SCO_TYPES, 2, "svabs"),
             _drop("spec_version"), True, "Common Properties, spec_version: SCOs default to 2.1")
    B.mutate("sco/defanged", B.pick(lambda o: o["type"] in SCO_TYPES, 2, "def"), _set("defanged", True), True)

    # ---- type-specific co-constraints
    def lat_only(o):
        o.pop("longitude", None); o.pop("precision", None); o["latitude"] = 48.85
    B.mutate("location/latitude_without_longitude", B.of_type("location")[:2], lat_only, False)

    def precision_only(o):
        o.pop("latitude", None); o.pop("longitude", None); o["region"] = "europe"; o["precision"] = 10.0
    B.mutate("location/precision_without_latlon", B.of_type("location")[:2], precision_only, False)

    def lat_range(o):
        o["latitude"], o["longitude"] = 91.0, 10.0
    B.mutate("location/latitude_out_of_range", B.of_type("location")[:2], lat_range, False)

    def family_no_name(o):
        o["is_family"] = True; o.pop("name", None)
    B.mutate("malware/family_without_name", B.of_type("malware")[:2], family_no_name, False)

    def both_obs(o):
        o["objects"] = {"0": {"type": "ipv4-addr", "value": "10.0.0.1"}}
    B.mutate("observed-data/objects_and_object_refs", B.of_type("observed-data")[:2], both_obs, False,
             "§4.14 objects and object_refs are mutually exclusive")

    def url_no_hash(o):
        o.pop("payload_bin", None); o.pop("hashes", None); o["url"] = "https://example.invalid/a.bin"
    B.mutate("artifact/url_without_hashes", B.of_type("artifact")[:2], url_no_hash, False)

    def both_payload(o):
        o["payload_bin"] = "VGhpcyBpcyBhIHRlc3Q="; o["url"] = "https://example.invalid/a.bin"
        o.setdefault("hashes", {"MD5": "ce114e4501d2f4e2dcea3e17b546f339"})
    B.mutate("artifact/payload_bin_and_url", B.of_type("artifact")[:2], both_payload, False)

    B.mutate("indicator/pattern_syntax_error", B.of_type("indicator")[:2],
             _set("pattern", "[file:name = ]"), False, "§9 a stix pattern MUST be valid")
    B.mutate("indicator/other_pattern_type", B.of_type("indicator")[:2],
             lambda o: o.update(pattern_type="snort", pattern="alert tcp any any -> any any (msg:\"x\";)"), True,
             "pattern_type is an open vocabulary; non-stix patterns are opaque")

    return B.cases


# --------------------------------------------------------------------------
# entry points

def emit(path: str) -> None:
    """Build the corpus, attach stix2-validator's verdicts, write JSON lines."""
    with open(path, "w", encoding="utf-8") as f:
        for i, c in enumerate(build_corpus()):
            ok, errs, warns = validator_verdict(c["obj"])
            c.update(index=i, validator_valid=ok, validator_errors=errs, validator_warnings=warns)
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")


def load_cases(workdir: str) -> list[dict]:
    """Build the corpus in a child interpreter with PYTHONHASHSEED=0.

    stix2-generator iterates over sets of property names, so its output
    depends on string hashing; pinning the hash seed (plus the seeding done
    in make_generator) makes the corpus identical on every run.
    """
    import os
    import subprocess

    out = os.path.join(workdir, "corpus-cases.jsonl")
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--emit", out], check=True, env=env)
    with open(out, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main(argv: list[str]) -> int:
    import collections
    import os
    import time

    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], env)
    if argv[:1] == ["--emit"]:
        emit(argv[1])
        return 0

    t0 = time.time()
    cases = build_corpus()
    t1 = time.time()
    per_rule: dict[str, list] = collections.OrderedDict()
    for c in cases:
        ok, errs, _ = validator_verdict(c["obj"])
        per_rule.setdefault(c["rule"], []).append((ok, errs, c["expect_valid"]))
    t2 = time.time()
    print(f"{len(cases)} objects, {len(per_rule)} rules; build {t1 - t0:.1f}s, validate {t2 - t1:.1f}s")
    off = 0
    for rule, rs in per_rule.items():
        verdicts = {ok for ok, _, _ in rs}
        expect = rs[0][2]
        mark = "" if verdicts == {expect} else "  <-- validator departs from spec"
        if mark or "-v" in argv:
            off += bool(mark)
            v = "/".join("valid" if x else "INVALID" for x in sorted(verdicts))
            print(f"{rule:70s} spec={'valid' if expect else 'INVALID':8s} validator={v}{mark}")
            if mark and "-q" not in argv:
                for ok, errs, _ in rs:
                    if ok != expect:
                        print("      ", "; ".join(errs)[:300])
    print(f"{off} rules where the validator departs from the spec")
    if "--dump" in argv:
        out = argv[argv.index("--dump") + 1]
        with open(out, "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(c["obj"], ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
