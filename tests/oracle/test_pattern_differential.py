"""Differential test: `cairn pattern validate` / `cairn pattern match` against the
reference implementations `stix2-patterns` 2.1.2 (validator) and `stix2-matcher` 3.0.0.

1. Validation. A seeded generator builds 3,375 STIX 2.1 patterns: 2,100 grammar-built
   ones (every comparison operator, NOT, AND/OR, parentheses, observation AND/OR/
   FOLLOWEDBY, WITHIN/START-STOP/REPEATS, every literal kind, quoted keys, [n]/[*],
   _ref/_refs paths, hash paths) and mutations of them (token/character deletion,
   insertion, swap, unbalanced brackets, bad timestamps, bad hash values, lower-case
   keywords, broken qualifiers; 1,200), plus 75 fixed edge cases. 875 more are generated
   for STIX 2.0. Each set goes through ONE `cairn pattern validate - --json` call and
   through `stix2patterns.validator.run_validator`; the valid/invalid verdicts must agree
   on every pattern. The 2,800 patterns of the match test are validated the same way.

2. Matching. Seeded observed-data bundles (ipv4/ipv6/mac addresses, domain names, URLs,
   files with hashes and parent directories, network traffic with src_ref/dst_ref,
   email messages with from_ref/to_refs, user accounts, processes, artifacts, registry
   keys, a custom object) and patterns built from their values (exact, perturbed, other
   scenarios' values; qualifiers; up to three observations): 400 bundles x 7 patterns,
   about 2,780 pairs once the reference validator's rejects are dropped. Every pair goes through
   `cairn pattern match` (one process per pair: the CLI has no batch mode) and
   `stix2matcher.matcher.match(..., stix_version="2.1")`: MATCH <=> non-empty result,
   NO MATCH <=> empty result, exit 2 <=> the reference raises.

Constructs listed as known differences in crates/pattern/DISAGREEMENTS.md are not
generated for matching (see MATCH_EXCLUSIONS below); the validator's documented crashes
(negative list indices, indexed hash paths, …) are read as "invalid", which is how
stix2-validator reports them.

Run alone:
    CAIRN_BIN=target/debug/cairn .venv/bin/python -m pytest tests/oracle/test_pattern_differential.py -q
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import run_cairn

PATTERNS_VERSION = "2.1.2"
MATCHER_VERSION = "3.0.0"

SEED = 20240517
N_VALID_21 = 2100   # grammar-built 2.1 patterns
N_MUTATED_21 = 1200  # mutations of them
N_VALID_20 = 450
N_MUTATED_20 = 350
N_SCENARIOS = 400   # observed-data bundles for the match test
PATTERNS_PER_SCENARIO = 7

# Verdict disagreements where the reference is wrong per the STIX 2.1 specification.
# Keyed by the exact pattern (and version); the value names both verdicts and the spec
# clause. An entry that no longer disagrees fails the test. None so far.
KNOWN_VALIDATION_DISAGREEMENTS: dict[tuple[str, str], dict] = {}  # (version, pattern) -> note
KNOWN_MATCH_DISAGREEMENTS: dict[str, dict] = {}                   # pattern -> note

# Exceptions stix2patterns 2.1.2 is documented to raise (DISAGREEMENTS.md, validation
# table): negative list index / indexed hashes -> AttributeError, deep nesting ->
# RecursionError, "" -> UnboundLocalError. stix2-validator turns them into a fatal error,
# so "invalid" is the reference's verdict for our purposes.
DOCUMENTED_VALIDATOR_CRASHES = ("AttributeError", "RecursionError", "UnboundLocalError")

# What the match generator deliberately never produces (DISAGREEMENTS.md, matching table):
MATCH_EXCLUSIONS = """
- EXISTS together with any other comparison in the same [...] and NOT EXISTS: the
  reference's listener has no EXISTS handler and crashes or ignores the NOT. We generate
  EXISTS only as the single comparison of an observation.
- 2.0 START/STOP: matching is exercised for 2.1 only.
- MATCHES with back-references, look-around, conditionals, atomic groups, possessive
  repeats, \\N{...}: the regex crate lacks them (UnsupportedRegex). Our regexes use
  anchors, classes, quantifiers, alternation, (?i) on ASCII and escaped literals only.
- `$` before a final newline, Unicode case folding / normalisation / word-boundary
  details: no generated value contains a newline; (?i) is used on ASCII values only;
  non-ASCII values are NFC and only compared with =, LIKE and MATCHES without (?i).
- Non-ASCII digits in timestamps/CIDRs, integers beyond 64 bits, malformed bundles that
  deepmerge overrides, huge REPEATS counts: never generated (REPEATS <= 3, ints < 2**31).
"""


# ==========================================================================
# small helpers


def slit(s: str) -> str:
    """A STIX string literal for s (only ' and \\ are escaped)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def re_escape(s: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\/-" else c for c in s)


def ts(d: dt.datetime, frac: str = "") -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def ident_ok(k: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) is not None


HEX = "0123456789abcdef"

# The tokens the mutators and the (whitespace-)joiner work on.
TOKEN_RE = re.compile(
    r"""[htb]?'(?:[^'\\]|\\.)*'?"""
    r"""|/\*.*?\*/"""
    r"""|[A-Za-z_][A-Za-z0-9_-]*"""
    r"""|[+-]?\d*\.\d+|[+-]?\d+"""
    r"""|!=|>=|<=|[\[\]():.,=<>*]"""
    r"""|\s+|.""",
    re.S,
)


def tokens(p: str) -> list[str]:
    return [t for t in TOKEN_RE.findall(p) if not t.isspace()]


PUNCT = set("[]():,=<>.*") | {"!=", ">=", "<="}


# ==========================================================================
# 1. pattern generator (validation)

# (path, kind): kind chooses a fitting literal for "valid" generation
PATHS = [
    ("ipv4-addr:value", "str"), ("ipv6-addr:value", "str"), ("domain-name:value", "str"),
    ("url:value", "str"), ("mac-addr:value", "str"), ("email-addr:value", "str"),
    ("file:name", "str"), ("file:size", "int"), ("file:ctime", "ts"),
    ("file:parent_directory_ref.path", "str"), ("file:contains_refs[*].name", "str"),
    ("file:extensions.'ntfs-ext'.alternate_data_streams[0].name", "str"),
    ("file:extensions.'windows-pebinary-ext'.sections[*].entropy", "float"),
    ("network-traffic:src_ref.value", "str"), ("network-traffic:dst_ref.value", "str"),
    ("network-traffic:dst_port", "int"), ("network-traffic:protocols[0]", "str"),
    ("network-traffic:protocols[*]", "str"), ("network-traffic:src_ref.resolves_to_refs[*].value", "str"),
    ("email-message:from_ref.value", "str"), ("email-message:to_refs[*].value", "str"),
    ("email-message:to_refs[1].display_name", "str"), ("email-message:subject", "str"),
    ("email-message:body_multipart[*].body_raw_ref.name", "str"), ("email-message:is_multipart", "bool"),
    ("email-message:additional_header_fields.'X-Mailer'", "str"), ("email-message:date", "ts"),
    ("user-account:account_created", "ts"), ("user-account:is_privileged", "bool"),
    ("user-account:user_id", "str"), ("process:pid", "int"), ("process:command_line", "str"),
    ("process:environment_variables.PATH", "str"), ("process:extensions.'windows-process-ext'.aslr_enabled", "bool"),
    ("artifact:payload_bin", "bin"), ("artifact:mime_type", "str"),
    ("windows-registry-key:values[*].name", "str"), ("windows-registry-key:key", "str"),
    ("x509-certificate:serial_number", "str"), ("software:name", "str"),
    ("x-acme-widget:x_count", "int"), ("x-acme-widget:nested.'k e y'", "str"),
    ("x_custom:'first key'.second", "any"), ("a:b", "any"), ("_t:_p", "any"),
]

# hash name as written in the path -> length of a good hex value (None: SSDEEP, 0: no check)
HASH_PATHS = [
    ("file:hashes.MD5", 32), ("file:hashes.'MD5'", 32), ("file:hashes.md5", 32),
    ("file:hashes.'SHA-1'", 40), ("file:hashes.SHA1", 40), ("file:hashes.'SHA-256'", 64),
    ("file:hashes.SHA256", 64), ("file:hashes.'sha-256'", 64), ("file:hashes.'SHA-224'", 56),
    ("file:hashes.'SHA-384'", 96), ("file:hashes.'SHA-512'", 128), ("file:hashes.'SHA3-256'", 64),
    ("file:hashes.'SHA3-512'", 128), ("file:hashes.'RIPEMD-160'", 40), ("file:hashes.WHIRLPOOL", 128),
    ("file:hashes.MD6", 32), ("file:hashes.SSDEEP", None), ("file:hashes.TLSH", 0),
    ("artifact:hashes.'SHA-256'", 64), ("x509-certificate:hashes.'SHA-1'", 40),
    ("file:extensions.'ntfs-ext'.alternate_data_streams[0].hashes.'SHA-256'", 64),
    ("file:'hashes'.MD5", 32), ("file:hashes[*]", 0),
]

CMP_OPS = ["=", "!=", ">", "<", ">=", "<=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"]
STR_PIECES = ["abc", "Hello", "a b", "x_y", "%", "_", "50%", "\\'", "\\\\", "é", "中文", "😀", "\t",
              "C:\\\\Windows", "it\\'s", "[x]", "(y)", "AND", "/*no comment*/", "//", "", "0", "\"q\""]


class PatternGen:
    def __init__(self, rng: random.Random, version: str):
        self.r = rng
        self.v = version

    # ---- literals
    def int_lit(self) -> str:
        r = self.r
        return r.choice(["0", "1", "42", "-7", "+3", "-0", "65535", "2147483647", "-2147483648",
                         str(r.randint(-10 ** 6, 10 ** 6)), str(r.randint(0, 10 ** 12)),
                         "123456789012345678901234567890"])

    def float_lit(self) -> str:
        return self.r.choice(["1.5", "-0.25", ".5", "+3.0", "-.75", "0.0", "3.14159", "+.1", "100000.000001",
                              f"{self.r.uniform(-1000, 1000):.3f}"])

    def str_lit(self) -> str:
        return "'" + "".join(self.r.choice(STR_PIECES) for _ in range(self.r.randint(0, 4))) + "'"

    def bool_lit(self) -> str:
        return self.r.choice(["true", "false"])

    def hex_lit(self) -> str:
        n = self.r.choice([0, 1, 2, 4, 16])
        return "h'" + "".join(self.r.choice(HEX + "ABCDEF") for _ in range(2 * n)) + "'"

    def bin_lit(self) -> str:
        raw = bytes(self.r.randrange(256) for _ in range(self.r.randint(1, 12)))
        return "b'" + base64.b64encode(raw).decode() + "'"

    def ts_lit(self) -> str:
        r = self.r
        frac = r.choice(["", "", ".000", ".5", ".123456", ".1234567890"])
        sec = r.choice(["00", "59", "60", "07"])
        return (f"t'{r.randint(1970, 2030):04d}-{r.randint(1, 12):02d}-{r.randint(1, 31):02d}"
                f"T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{sec}{frac}Z'")

    def lit_for(self, kind: str) -> str:
        if kind == "any" or self.r.random() < 0.2:
            kind = self.r.choice(["str", "int", "float", "bool", "hex", "bin", "ts"])
        return {"str": self.str_lit, "int": self.int_lit, "float": self.float_lit, "bool": self.bool_lit,
                "hex": self.hex_lit, "bin": self.bin_lit, "ts": self.ts_lit}[kind]()

    def orderable_for(self, kind: str) -> str:
        lit = self.lit_for(kind)
        return self.str_lit() if lit in ("true", "false") else lit

    def hash_value(self, n) -> str:
        r = self.r
        if n is None:  # SSDEEP
            return "'" + f"{r.randint(3, 1536)}:" + "".join(r.choice("abcXYZ019/+") for _ in range(20)) + ":" + \
                "".join(r.choice("abcxyz") for _ in range(8)) + "'"
        if n == 0:
            return self.str_lit()
        hx = "".join(r.choice(HEX) for _ in range(n))
        return "'" + (hx.upper() if r.random() < 0.2 else hx) + "'"

    def cidr(self) -> str:
        r = self.r
        return r.choice([f"'{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.0/{r.randint(8, 32)}'",
                         "'198.51.100.0/24'", "'10.0.0.1'", "'2001:db8::/32'", "'not an ip'"])

    def regex(self) -> str:
        return self.r.choice([r"'^abc'", r"'[0-9]+$'", r"'(?i)hello'", r"'a|b|c'", r"'\\.exe$'",
                              r"'^[a-f0-9]{32}$'", r"'.*'", r"'(unclosed'", r"'\\d{1,3}\\.'", "'x{2,}'"])

    def like(self) -> str:
        return self.r.choice(["'%.exe'", "'a_c'", "'%'", "'_'", "'%evil%'", "''", "'100\\\\%'"])

    # ---- paths
    def path(self) -> tuple[str, str]:
        r = self.r
        x = r.random()
        if x < 0.12:
            return r.choice(HASH_PATHS)[0], "hash"
        if x < 0.25:  # a random path
            typ = r.choice(["x-foo", "foo", "a-b-c", "_x", "X", "x-123"])
            first = r.choice(["p", "p_q", "'quoted key'", "'with-dash'", "_q", "'%'", "value"])
            steps = ""
            for _ in range(r.randint(0, 3)):
                steps += r.choice([".k", ".'k-2'", "[0]", "[*]", "[3]", ".x_ref", ".y_refs[*]", "[+1]"])
            return f"{typ}:{first}{steps}", "any"
        return r.choice(PATHS)

    # ---- expressions
    def comparison(self, depth: int) -> str:
        r = self.r
        x = r.random()
        if depth < 3 and x < 0.12:
            return "(" + self.comp_expr(depth + 1) + ")"
        if self.v == "2.1" and x < 0.2:
            return ("NOT " if r.random() < 0.3 else "") + "EXISTS " + self.path()[0]
        path, kind = self.path()
        neg = "NOT " if r.random() < 0.15 else ""
        if kind == "hash":
            hp = next(h for h in HASH_PATHS if h[0] == path)
            op = r.choice(["=", "=", "=", "!=", ">", "<=", "LIKE", "MATCHES"])
            return f"{path} {neg}{op} {self.hash_value(hp[1])}"
        op = r.choice(CMP_OPS)
        if op in ("=", "!="):
            lit = self.lit_for(kind)
        elif op in (">", "<", ">=", "<="):
            lit = self.orderable_for(kind)
        elif op == "IN":
            lit = "(" + ", ".join(self.lit_for(kind) for _ in range(r.choice([0, 1, 2, 3, 4]))) + ")"
        elif op == "LIKE":
            lit = self.like() if r.random() < 0.6 else self.str_lit()
        elif op == "MATCHES":
            lit = self.regex()
        else:
            lit = self.cidr()
        return f"{path} {neg}{op} {lit}"

    def comp_expr(self, depth: int = 0) -> str:
        r = self.r
        parts = [self.comparison(depth)]
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            parts += [r.choice(["AND", "OR"]), self.comparison(depth)]
        return " ".join(parts)

    def qualifier(self) -> str:
        r = self.r
        q = r.choice(["WITHIN", "WITHIN", "REPEATS", "START"])
        if q == "WITHIN":
            n = r.choice(["1", "5", "300", "0", "+10", "1.5", ".5", "86400", "3600.25"])
            return f"WITHIN {n} SECONDS"
        if q == "REPEATS":
            return f"REPEATS {r.choice(['1', '2', '3', '0', '+5', '100'])} TIMES"
        return f"START {self.ts_lit()} STOP {self.ts_lit()}"

    def observation(self, depth: int) -> str:
        r = self.r
        if depth < 3 and r.random() < 0.15:
            o = "(" + self.obs_expr(depth + 1) + ")"
        else:
            o = "[" + self.comp_expr() + "]"
        for _ in range(r.choice([0, 0, 0, 1, 1, 2])):
            o += " " + self.qualifier()
        return o

    def obs_expr(self, depth: int = 0) -> str:
        r = self.r
        parts = [self.observation(depth)]
        for _ in range(r.choice([0, 0, 0, 1, 1, 2])):
            parts += [r.choice(["AND", "OR", "FOLLOWEDBY"]), self.observation(depth)]
        return " ".join(parts)

    def pattern(self) -> str:
        p = self.obs_expr()
        return self.rewhitespace(p) if self.r.random() < 0.25 else p

    def rewhitespace(self, p: str) -> str:
        """Same tokens, other blanks: none next to punctuation, tabs, \\v, \\f, NBSP,
        ideographic space, comments."""
        r = self.r
        toks = tokens(p)
        out = toks[0]
        for a, b in zip(toks, toks[1:]):
            if a in PUNCT or b in PUNCT:
                sep = r.choice(["", "", " ", "\t", "  "])
            else:
                sep = r.choice([" ", "\t", "\x0b", "\x0c", "\u00a0", "\u3000", " /* c */ ", "  "])
            out += sep + b
        return out

    # ---- mutations (mostly invalid)
    def mutate(self, p: str) -> str:
        r = self.r
        toks = tokens(p)
        m = r.randrange(16)
        if m == 0 and len(toks) > 1:  # delete a token
            del toks[r.randrange(len(toks))]
        elif m == 1:  # insert a token
            toks.insert(r.randrange(len(toks) + 1), r.choice(
                ["AND", "OR", "NOT", "]", "[", "(", ")", ":", "=", "FOLLOWEDBY", "'x'", "1", "WITHIN", ",", ".",
                 "EXISTS", "IN", "*", "SECONDS", "t'2020-01-01T00:00:00Z'", "h'0'", "b'YQ='", "1e5", "007"]))
        elif m == 2 and len(toks) > 1:  # swap adjacent tokens
            i = r.randrange(len(toks) - 1)
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif m == 3:  # duplicate a token
            i = r.randrange(len(toks))
            toks.insert(i, toks[i])
        elif m == 4:  # replace an operator/keyword
            idx = [i for i, t in enumerate(toks) if t in CMP_OPS or t in ("AND", "OR", "FOLLOWEDBY", "NOT", "EXISTS")]
            if idx:
                toks[r.choice(idx)] = r.choice(CMP_OPS + ["AND", "OR", "FOLLOWEDBY", "NOT", "EXISTS", "==", "<>",
                                                          "and", "or", "followedby", "Like", "in"])
        elif m == 5:  # unbalanced brackets
            which = r.choice(["[", "]", "(", ")"])
            idx = [i for i, t in enumerate(toks) if t == which]
            if idx and r.random() < 0.6:
                del toks[r.choice(idx)]
            else:
                toks.insert(r.randrange(len(toks) + 1), which)
        elif m == 6:  # bad timestamp
            bad = r.choice(["t'2020-13-01T00:00:00Z'", "t'2020-01-32T00:00:00Z'", "t'2020-01-01T24:00:00Z'",
                            "t'2020-01-01T00:60:00Z'", "t'2020-01-01T00:00:61Z'", "t'2020-01-01 00:00:00Z'",
                            "t'2020-01-01T00:00:00'", "t'2020-01-01T00:00:00z'", "t'20-01-01T00:00:00Z'",
                            "t'2020-1-1T00:00:00Z'", "t'2020-01-01T00:00:00+00:00'", "t'2020-01-01T00:00:00.Z'",
                            "t'2020-00-10T00:00:00Z'", "t'2020-02-30T00:00:00Z'", "t''", "'2020-01-01T00:00:00Z'"])
            idx = [i for i, t in enumerate(toks) if t.startswith("t'")]
            if idx:
                toks[r.choice(idx)] = bad
            else:
                return f"[x:t = {bad}]" if r.random() < 0.5 else \
                    f"[a:b = 1] START {bad} STOP t'2021-01-01T00:00:00Z'"
        elif m == 7:  # bad hash value
            path, n = r.choice(HASH_PATHS)
            n = n or 32
            val = r.choice(["'" + "a" * (n - 1) + "'", "'" + "a" * (n + 1) + "'", "'" + "g" * n + "'",
                            "'" + "0" * n + " '", "''", "'" + "a" * n + "\\''", "'" + "ab!" * 10 + "'",
                            "h'" + "ab" * (n // 2) + "'", "0" * n, "'" + "0" * 32 + "'"])
            return f"[{path} = {val}]" if r.random() < 0.6 else f"[file:name = 'x' AND {path} = {val}]"
        elif m == 8:  # broken qualifier
            q = r.choice(["WITHIN -5 SECONDS", "WITHIN 5 SECOND", "WITHIN SECONDS", "WITHIN 5", "REPEATS 2.5 TIMES",
                          "REPEATS -1 TIMES", "REPEATS TIMES", "REPEATS 2", "START t'2020-01-01T00:00:00Z'",
                          "STOP t'2020-01-01T00:00:00Z'", "WITHIN 5 SECONDS WITHIN 6 SECONDS",
                          "REPEATS 2 TIMES REPEATS 3 TIMES", "WITHIN 05 SECONDS", "within 5 seconds",
                          "START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z' START t'2020-01-01T00:00:00Z' "
                          "STOP t'2021-01-01T00:00:00Z'", "REPEATS 1.0 TIMES", "WITHIN 1e3 SECONDS"])
            return p + " " + q
        elif m == 9 and len(p) > 1:  # delete a character
            i = r.randrange(len(p))
            return p[:i] + p[i + 1:]
        elif m == 10:  # insert a character
            i = r.randrange(len(p) + 1)
            return p[:i] + r.choice("[]()'\\:.,=<>!*-+ abcTtZ0h\"%_é\t") + p[i:]
        elif m == 11 and len(p) > 1:  # swap two characters
            i = r.randrange(len(p) - 1)
            return p[:i] + p[i + 1] + p[i] + p[i + 2:]
        elif m == 12:  # lower/upper-case a keyword or literal
            idx = [i for i, t in enumerate(toks) if t in ("AND", "OR", "FOLLOWEDBY", "NOT", "true", "false", "IN",
                                                         "LIKE", "MATCHES", "WITHIN", "SECONDS", "EXISTS")]
            if idx:
                i = r.choice(idx)
                toks[i] = toks[i].swapcase() if r.random() < 0.5 else toks[i].capitalize()
        elif m == 13:  # bad literals
            bad = r.choice(["b'YQ'", "b'Y'", "b'YQ=='x", "h'abc'", "h'zz'", "'unterminated", "'\\n'", "'a\\x'",
                            "tru", "TRUE", "1.", "--1", "+-1", "0x10", "'a''b'", "b''", "1_000"])
            idx = [i for i, t in enumerate(toks) if t.startswith(("'", "h'", "b'")) or re.fullmatch(r"[+-]?[\d.]+", t)]
            if idx:
                toks[r.choice(idx)] = bad
            else:
                toks.append(bad)
        elif m == 14:  # bad path
            bad = r.choice(["file:", ":name", "file:name.", "file:.name", "file:name[]", "file:name[x]",
                            "file:name[-1]", "file:hashes[0]", "file:hashes.MD5[1]", "file:name[01]",
                            "file:a.b-c", "1file:name", "file name:x", "file::name", "file:'unterminated",
                            "file:name.'", "file:name..x", "file:[0]", "file:name[*][*]"])
            idx = [i for i, t in enumerate(toks) if t == ":"]
            if idx:
                i = r.choice(idx)
                toks[i - 1:i + 2] = [bad]
            else:
                toks.insert(0, bad)
        else:  # structural: leading comment, missing brackets, empty brackets, 2.1-only syntax
            return r.choice([
                "/* c */ " + p, p.strip("[]"), "[]", "[" + p + "]", "()", p + " " + p, "(" + p,
                p.replace("[", "(", 1), "NOT " + p, p + " AND", "FOLLOWEDBY " + p, "[EXISTS file:name]",
                "[file:name NOT EXISTS]", "[NOT EXISTS file:name]", p + " ]", " " + p, p + " // trailing",
            ])
        return " ".join(toks)


# Hand-picked edge cases (both versions)
EDGE_PATTERNS = [
    "[file:name = 'a']", "/* c */ [file:name = 'a']", "[file:name = 'a'] /* c */", "  ([file:name = 'a'])",
    "[file:hashes.MD6 = '" + "a" * 32 + "zzz']", "[file:hashes.MD5 = " + "1" * 32 + "]",
    "[file:hashes.MD5 IN ('" + "a" * 32 + "')]", "[file:hashes[*] = 'x']", "[file:hashes[0] = 'x']",
    "[file:hashes.MD5[1] = 'x']", "[x:y[-1] = 1]", "[EXISTS x:y[-0]]", "[x:y[-1].z = 1]",
    "[a:b = 1] WITHIN 0 SECONDS", "[a:b = 1] REPEATS 0 TIMES", "[a:b = t'2023-02-30T00:00:00Z']",
    "[a:b = 1] START t'2021-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'", "[a:b IN (1, 'x', true)]",
    "[a:b MATCHES '(']", "[a:b = b'YQ==']", "[a:b = b'']", "[a:b = h'']", "[a:b = TRUE]", "[a:b = True]",
    "[a:b = 1] and [c:d = 2]", "[a:b = 1] AND [c:d = 2] WITHIN 5 SECONDS WITHIN 6 SECONDS",
    "([a:b = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS", "[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS REPEATS 3 TIMES",
    "[a:b = 1] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z' START t'2020-01-01T00:00:00Z' "
    "STOP t'2021-01-01T00:00:00Z'", "[a:b = 'it\\'s']", "[a:b = 'back\\\\slash']", "[a:b = 'bad\\escape']",
    "[a:b = '\u2028']", "[a:b = 'x']\u3000", "[a:b\u00a0=\u00a01]", "[a:b\x0b=\x0c1]", "[a:b = 1]\x00",
    "[a:b = 1] // comment", "[a:b = 1] /* unterminated", "[a:'' = 1]", "[a:b.'' = 1]", "[a:b[*][*] = 1]",
    "[" * 30 + "a:b = 1" + "]" * 30, "(" * 30 + "[a:b = 1]" + ")" * 30, "[" + "(" * 40 + "a:b = 1" + ")" * 40 + "]",
    " OR ".join(["[a:b = %d]" % i for i in range(200)]), "[" + " AND ".join(["a:b = %d" % i for i in range(300)]) + "]",
    "[a:b = 1] FOLLOWEDBY [c:d = 2] FOLLOWEDBY [e:f = 3] WITHIN 10 SECONDS",
    "[network-traffic:src_ref.value ISSUBSET '10.0.0.0/8']", "[ipv4-addr:value ISSUPERSET '10.0.0.1']",
    "[a:b ISSUBSET 1]", "[a:b LIKE 'a'] OR [a:b MATCHES 'b']", "[a:b NOT NOT = 1]", "[a:b NOT LIKE 'x']",
    "[NOT a:b = 1]", "[EXISTS a:b AND NOT EXISTS c:d]", "[EXISTS (a:b)]", "[a:b = 1 AND (c:d = 2 OR (e:f = 3))]",
    "[a:b = 1]]", "[[a:b = 1]", "([a:b = 1]", "[a:b = 1])", "[a:b = -0.0]", "[a:b = +0]", "[a:b > -.5]",
    "[a:b = 99999999999999999999999999999999999999]", "[a:b = 1.7976931348623157e308]", "[x-y:z = 1]",
    "[x:y-z = 1]", "[x:'y-z' = 1]", "[X:Y = 1]", "[_:_ = 1]", "[-x:y = 1]", "[x_:y = 1]", "[x--y:z = 1]",
]


def build_validation_corpus(version: str, n_valid: int, n_mut: int, seed: int) -> list[tuple[str, str]]:
    """[(origin, pattern)]: origin is 'grammar', 'mutated' or 'edge'."""
    rng = random.Random(seed)
    g = PatternGen(rng, version)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(origin: str, p: str):
        # stdin carries one pattern per line and blank lines are skipped by the CLI
        if "\n" in p or "\r" in p or not p.strip() or p in seen:
            return
        seen.add(p)
        out.append((origin, p))

    for p in EDGE_PATTERNS:
        add("edge", p)
    valid = []
    while len(valid) < n_valid:
        p = g.pattern()
        if p not in seen:
            add("grammar", p)
            valid.append(p)
    k = 0
    while k < n_mut:
        p = g.mutate(rng.choice(valid))
        if rng.random() < 0.15:  # a second mutation now and then
            p = g.mutate(p)
        before = len(out)
        add("mutated", p)
        k += len(out) - before
    return out


def reference_verdict(pattern: str, version: str) -> tuple[bool, list[str]]:
    from stix2patterns.validator import run_validator

    try:
        errs = run_validator(pattern, stix_version=version)
    except Exception as e:  # noqa: BLE001 - documented crashes count as "invalid"
        return False, [f"EXCEPTION {type(e).__name__}: {e}"]
    return not errs, [str(m) for m in errs]


# ==========================================================================
# 2. observed data + pattern generator (matching)

BASE_TIME = dt.datetime(2021, 3, 4, 5, 0, 0)
IPV4S = ["198.51.100.%d" % i for i in range(1, 6)] + ["10.0.0.%d" % i for i in range(1, 4)] + \
        ["203.0.113.0/24", "10.0.0.0/16", "192.0.2.77"]
DOMAINS = ["example.com", "evil.example.net", "a.b.example.org", "test.co.uk", "xn--bcher-kva.example"]
URLS = ["http://example.com/path?q=1", "https://evil.example.net/a%20b", "ftp://test.co.uk/file_1.txt",
        "http://198.51.100.3:8080/"]
FILE_NAMES = ["report.pdf", "invoice_2021.doc", "a b.txt", "malware.exe", "ÉTÉ.txt", "it's.txt",
              "back\\slash.bin", "100%.txt", "setup.EXE", "README"]
DIRS = ["C:\\Windows\\Temp", "/tmp", "/home/alice/Downloads", "C:\\Users\\Public"]
EMAILS = ["alice@example.com", "bob@evil.example.net", "carol@test.co.uk", "dave@example.com"]
SUBJECTS = ["Invoice", "Re: meeting", "URGENT: wire transfer", "Ünïcödé subject", "hello world"]
CMDLINES = ["cmd.exe /c whoami", "/bin/sh -c 'id'", "powershell -enc SQBFAFgA", "python3 x.py"]
TAGS = ["red", "green", "blue", "ops"]


class Scenario:
    """One observed-data input: a list of bundles as stix2-matcher takes it (2.1)."""

    def __init__(self, rng: random.Random, idx: int):
        self.r = rng
        self.idx = idx
        self.objects: list[dict] = []         # every SCO
        self.by_id: dict[str, dict] = {}
        self.observed: list[dict] = []        # observed-data objects
        self.obs_scos: list[list[dict]] = []  # SCOs referenced by each observed-data
        base = BASE_TIME + dt.timedelta(days=rng.randint(0, 400), seconds=rng.randint(0, 86399))
        t = base
        for _ in range(rng.choice([1, 1, 2, 2, 3, 3, 4])):
            refs: list[dict] = []
            for _ in range(rng.choice([1, 1, 2, 2, 3])):
                refs += self.sco_group()
            if self.objects and rng.random() < 0.15:  # share an SCO with an earlier observation
                refs.append(rng.choice(self.objects))
            uniq = list({o["id"]: o for o in refs}.values())
            first = t
            last = first + dt.timedelta(seconds=rng.choice([0, 0, 1, 10, 60, 600]))
            if rng.random() < 0.03:  # last_observed before first_observed (not STIX, but both must agree)
                last = first - dt.timedelta(seconds=1)
            frac = rng.choice(["", "", ".000", ".250", ".1", ".123456", ".123456789"])
            od = {"type": "observed-data", "spec_version": "2.1", "id": self.new_id("observed-data"),
                  "created": ts(base, ".000"), "modified": ts(base, ".000"),
                  "first_observed": ts(first, frac), "last_observed": ts(last, frac),
                  "number_observed": rng.choice([1, 1, 1, 2, 3]), "object_refs": [o["id"] for o in uniq]}
            self.observed.append(od)
            self.obs_scos.append(uniq)
            t = last + dt.timedelta(seconds=rng.choice([0, 1, 5, 30, 120, 3600, 86400]))
            if rng.random() < 0.15:  # out of order observations
                t = base - dt.timedelta(seconds=rng.choice([1, 60, 3600]))
        self.first = min(o["first_observed"] for o in self.observed)
        self.last = max(o["last_observed"] for o in self.observed)

    def new_id(self, typ: str) -> str:
        return f"{typ}--{uuid.UUID(int=self.r.getrandbits(128), version=4)}"

    def add(self, obj: dict) -> dict:
        obj = {"type": obj["type"], "spec_version": "2.1", "id": self.new_id(obj["type"]),
               **{k: v for k, v in obj.items() if k != "type"}}
        self.objects.append(obj)
        self.by_id[obj["id"]] = obj
        return obj

    def ts_value(self) -> str:
        d = BASE_TIME + dt.timedelta(days=self.r.randint(-3000, 400), seconds=self.r.randint(0, 86399))
        return ts(d, self.r.choice(["", ".000", ".123", ".5"]))

    def sco_group(self) -> list[dict]:
        """One root SCO plus what it references (all of them go into object_refs)."""
        r = self.r
        kind = r.choice(["ipv4", "ipv4", "ipv6", "domain", "url", "file", "file", "traffic", "traffic", "email",
                         "account", "process", "artifact", "custom", "regkey", "mac", "software"])
        if kind == "ipv4":
            return [self.add({"type": "ipv4-addr", "value": r.choice(IPV4S)})]
        if kind == "ipv6":
            return [self.add({"type": "ipv6-addr", "value": r.choice(["2001:db8::1", "fe80::1", "::1"])})]
        if kind == "mac":
            return [self.add({"type": "mac-addr", "value": r.choice(["d2:fb:49:24:37:18", "00:00:5e:00:53:af"])})]
        if kind == "software":
            return [self.add({"type": "software", "name": r.choice(["Word", "Acrobat", "curl"]),
                              "vendor": r.choice(["Microsoft", "Adobe", "curl"]),
                              "version": r.choice(["1.0", "2.10.3"])})]
        if kind == "domain":
            ips = [self.add({"type": "ipv4-addr", "value": r.choice(IPV4S)}) for _ in range(r.choice([0, 1, 2]))]
            d = {"type": "domain-name", "value": r.choice(DOMAINS)}
            if ips:
                d["resolves_to_refs"] = [o["id"] for o in ips]
            return [self.add(d)] + ips
        if kind == "url":
            return [self.add({"type": "url", "value": r.choice(URLS)})]
        if kind == "file":
            hashes = {"MD5": "".join(r.choice(HEX) for _ in range(32))}
            if r.random() < 0.6:
                hashes["SHA-256"] = "".join(r.choice(HEX) for _ in range(64))
            if r.random() < 0.3:
                hashes["SHA-1"] = "".join(r.choice(HEX) for _ in range(40))
            f = {"type": "file", "name": r.choice(FILE_NAMES),
                 "size": r.choice([0, 1, 1024, 65535, r.randint(0, 10 ** 7)]), "hashes": hashes}
            if r.random() < 0.4:
                f["ctime"] = self.ts_value()
            if r.random() < 0.3:
                f["mime_type"] = r.choice(["application/pdf", "text/plain"])
            out = []
            if r.random() < 0.5:
                d = self.add({"type": "directory", "path": r.choice(DIRS)})
                f["parent_directory_ref"] = d["id"]
                out.append(d)
            return [self.add(f)] + out
        if kind == "traffic":
            src = self.add({"type": "ipv4-addr", "value": r.choice(IPV4S)})
            if r.random() < 0.7:
                dst = self.add({"type": "ipv4-addr", "value": r.choice(IPV4S)})
            else:
                dst = self.add({"type": "domain-name", "value": r.choice(DOMAINS)})
            nt = {"type": "network-traffic", "src_ref": src["id"], "dst_ref": dst["id"],
                  "protocols": r.choice([["ipv4", "tcp"], ["ipv4", "tcp", "http"], ["ipv6", "udp", "dns"]])}
            if r.random() < 0.8:
                nt["src_port"] = r.randint(1024, 65535)
                nt["dst_port"] = r.choice([22, 53, 80, 443, 8080])
            if r.random() < 0.3:
                nt["start"] = self.ts_value()
            if r.random() < 0.3:
                nt["is_active"] = r.choice([True, False])
            return [self.add(nt), src, dst]
        if kind == "email":
            frm = self.add({"type": "email-addr", "value": r.choice(EMAILS)})
            tos = []
            for _ in range(r.choice([1, 1, 2, 3])):
                e = {"type": "email-addr", "value": r.choice(EMAILS)}
                if r.random() < 0.4:
                    e["display_name"] = r.choice(["Alice", "Bob O'Neil", "Ça va"])
                tos.append(self.add(e))
            m = {"type": "email-message", "is_multipart": False, "from_ref": frm["id"],
                 "to_refs": [o["id"] for o in tos], "subject": r.choice(SUBJECTS)}
            if r.random() < 0.5:
                m["date"] = self.ts_value()
            if r.random() < 0.3:
                m["additional_header_fields"] = {"X-Mailer": r.choice(["Outlook", "mutt 2.0"]), "Received": ["a", "b"]}
            return [self.add(m), frm] + tos
        if kind == "account":
            a = {"type": "user-account", "user_id": str(r.choice([0, 1000, 1001, 501])),
                 "account_login": r.choice(["root", "alice", "bob"]), "is_privileged": r.choice([True, False]),
                 "account_type": r.choice(["unix", "windows-local"])}
            if r.random() < 0.6:
                a["account_created"] = self.ts_value()
            return [self.add(a)]
        if kind == "process":
            p = {"type": "process", "pid": r.choice([1, 4, 314, 4242, r.randint(1, 99999)]),
                 "command_line": r.choice(CMDLINES)}
            if r.random() < 0.5:
                p["environment_variables"] = {"PATH": r.choice(["/usr/bin", "C:\\Windows"]), "HOME": "/root"}
            return [self.add(p)]
        if kind == "artifact":
            raw = bytes(r.randrange(256) for _ in range(r.randint(1, 9)))
            return [self.add({"type": "artifact", "mime_type": "application/octet-stream",
                              "payload_bin": base64.b64encode(raw).decode()})]
        if kind == "regkey":
            vals = [{"name": r.choice(["Run", "Shell", ""]), "data": r.choice(["C:\\evil.exe", "explorer.exe"]),
                     "data_type": "REG_SZ"} for _ in range(r.choice([1, 2]))]
            return [self.add({"type": "windows-registry-key", "key": "HKEY_LOCAL_MACHINE\\Software\\Run",
                              "values": vals})]
        # custom observable type: any non-SDO type an observed-data references is an observable
        return [self.add({"type": "x-acme-widget", "x_count": r.choice([0, 3, 7, -2]),
                          "x_ratio": r.choice([0.5, 1.0, 2.25]),
                          "x_flag": r.choice([True, False]), "tags": r.sample(TAGS, r.randint(1, 3)),
                          "nested": {"k e y": r.choice(["v", "w"]), "n": r.choice([1, 2])}})]

    def bundles(self) -> list[dict]:
        objs = self.observed + self.objects
        objs = objs[:]
        self.r.shuffle(objs)
        if len(objs) > 3 and self.r.random() < 0.25:  # split over two bundles (the reference merges them)
            k = self.r.randint(1, len(objs) - 1)
            parts = [objs[:k], objs[k:]]
        else:
            parts = [objs]
        return [{"type": "bundle", "id": self.new_id("bundle"), "objects": p} for p in parts]

    # ---- facts: (type, path, value) of each observation's SCOs
    def facts(self, obs_idx: int) -> list[tuple[str, str, object]]:
        in_obs = {o["id"] for o in self.obs_scos[obs_idx]}
        out: list[tuple[str, str, object]] = []

        def key_step(k: str, first: bool) -> str:
            if ident_ok(k) and self.r.random() < 0.85:
                return k if first else "." + k
            return slit(k) if first else "." + slit(k)

        def walk(typ: str, prefix: str, v, depth: int, first: bool):
            if isinstance(v, dict):
                for k, x in v.items():
                    if first and k in ("type", "spec_version", "id"):
                        continue
                    step = prefix + key_step(k, first)
                    if k.endswith("_ref") and isinstance(x, str):
                        if depth < 2 and x in in_obs:
                            walk(typ, step, self.by_id[x], depth + 1, False)
                        continue
                    if k.endswith("_refs") and isinstance(x, list):
                        if depth < 2:
                            for i, ref in enumerate(x):
                                if ref in in_obs:
                                    walk(typ, step + self.r.choice([f"[{i}]", "[*]"]), self.by_id[ref], depth + 1,
                                         False)
                        continue
                    walk(typ, step, x, depth, False)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    walk(typ, prefix + self.r.choice([f"[{i}]", "[*]"]), x, depth, False)
            else:
                out.append((typ, prefix, v))

        for o in self.obs_scos[obs_idx]:
            walk(o["type"], o["type"] + ":", o, 0, True)
        return out


TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class MatchPatternGen:
    def __init__(self, rng: random.Random, scenarios: list[Scenario]):
        self.r = rng
        self.all = scenarios

    def perturb_str(self, s: str) -> str:
        r = self.r
        if not s:
            return "x"
        i = r.randrange(len(s))
        return r.choice([s[:i] + s[i + 1:], s[:i] + "Z" + s[i:], s.upper() if s.upper() != s else s + "!", s + " "])

    def str_cmp(self, typ: str, path: str, v: str) -> str:
        r = self.r
        neg = "NOT " if r.random() < 0.1 else ""
        if TS_RE.match(v) and r.random() < 0.5:  # a timestamp string against a t'' literal
            d = dt.datetime.strptime(v[:19], "%Y-%m-%dT%H:%M:%S")
            d = d + dt.timedelta(seconds=r.choice([0, 0, -1, 1, -86400]))
            op = r.choice(["=", "!=", "<", ">", "<=", ">="])
            return f"{path} {neg}{op} t'{ts(d, r.choice(['', '.000', v[19:-1]]))}'"
        if v.count(".") == 3 and re.fullmatch(r"[\d./]+", v) and r.random() < 0.4:
            if "/" in v and r.random() < 0.5:
                inner = r.choice([v.split("/")[0], v.rsplit(".", 1)[0] + ".9", "10.0.0.0/24", "203.0.113.0/25"])
                return f"{path} {neg}ISSUPERSET {slit(inner)}"
            net = r.choice(["198.51.100.0/24", "10.0.0.0/8", "10.0.0.0/30", "0.0.0.0/1", "192.0.2.77/32",
                            "203.0.0.0/16", v.split("/")[0] + "/32", "198.51.100.0/0"])
            return f"{path} {neg}ISSUBSET {slit(net)}"
        if ":hashes" in path or ".hashes" in path:
            # stix2-patterns checks the literal of any comparison on a hash path against the
            # algorithm's regex: keep it a well-formed value (exact, one digit off, upper case)
            w = v
            if r.random() < 0.35:
                i = r.randrange(len(v))
                w = v[:i] + ("0" if v[i] != "0" else "1") + v[i + 1:]
            elif r.random() < 0.15:
                w = v.upper()
            op = r.choice(["=", "=", "=", "!=", "<", ">=", "LIKE", "MATCHES"])
            return f"{path} {neg}{op} {slit(w)}"
        op = r.choice(["=", "=", "=", "!=", "IN", "LIKE", "LIKE", "MATCHES", "MATCHES", "<", ">", ">=", "<="])
        hit = r.random() < 0.65
        w = v if hit else self.perturb_str(v)
        if op in ("=", "!="):
            return f"{path} {neg}{op} {slit(w)}"
        if op in ("<", ">", "<=", ">="):
            return f"{path} {neg}{op} {slit(w if r.random() < 0.5 else self.perturb_str(v))}"
        if op == "IN":
            others = [self.perturb_str(v) for _ in range(r.randint(0, 2))]
            items = others + ([w] if hit else [])
            r.shuffle(items)
            if r.random() < 0.06:
                items.append(r.choice(["1", "true"]))  # mixed set: numbers/bools with strings
                return f"{path} {neg}IN ({', '.join(slit(i) if i not in ('1', 'true') else i for i in items)})"
            return f"{path} {neg}IN ({', '.join(slit(i) for i in items)})"
        if op == "LIKE":
            if len(w) < 2:
                return f"{path} {neg}LIKE {slit(w + '%')}"
            i = r.randrange(1, len(w))
            like = r.choice([w[:i] + "%", "%" + w[i:], w[:i - 1] + "_" + w[i:], "%" + w[1:-1] + "%", w, "%"])
            return f"{path} {neg}LIKE {slit(like)}"
        # MATCHES (see MATCH_EXCLUSIONS: plain constructs only)
        if not w:
            return f"{path} {neg}MATCHES {slit('^$')}"
        i = r.randrange(0, len(w)) + 1
        choices = ["^" + re_escape(w[:i]), re_escape(w[-i:]) + "$", "^" + re_escape(w) + "$", "[0-9]+",
                   "^[^@]+@" if "@" in w else "\\.[a-z]{3}$", f"^.{{{len(w)}}}$", "(a|e|i)", "\\s", "\\w+\\.\\w+"]
        if w.isascii():
            choices.append("(?i)^" + re_escape(w.swapcase()))
        return f"{path} {neg}MATCHES {slit(r.choice(choices))}"

    def num_cmp(self, path: str, v) -> str:
        r = self.r
        neg = "NOT " if r.random() < 0.1 else ""
        op = r.choice(["=", "=", "!=", "<", ">", "<=", ">=", "IN"])
        w = v + r.choice([0, 0, 1, -1]) if isinstance(v, int) else v + r.choice([0, 0, 0.25, -0.5])
        if isinstance(w, int) and r.random() < 0.2:
            w = float(w)  # 1 = 1.0
        if r.random() < 0.05:
            return f"{path} {neg}{op if op != 'IN' else '='} {slit(str(w))}"  # a string against a number
        lit = repr(w)
        if op == "IN":
            return f"{path} {neg}IN ({', '.join([lit, str(r.randint(-5, 100))][:r.randint(1, 2)])})"
        return f"{path} {neg}{op} {lit}"

    def bool_cmp(self, path: str, v: bool) -> str:
        r = self.r
        neg = "NOT " if r.random() < 0.1 else ""
        lit = r.choice(["true", "false"])
        return r.choice([f"{path} {neg}= {lit}", f"{path} {neg}!= {lit}", f"{path} {neg}IN (true, false)",
                         f"{path} {neg}IN ({lit}, 1)", f"{path} {neg}= {r.choice(['1', '0'])}"])

    def bin_cmp(self, path: str, v: str) -> str:
        r = self.r
        raw = base64.b64decode(v)
        if r.random() < 0.4:
            raw = raw + b"\x00"
        choices = [f"{path} = b'{base64.b64encode(raw).decode()}'", f"{path} = h'{raw.hex()}'",
                   f"{path} != h'{raw.hex().upper()}'", f"{path} > h'{raw[:1].hex()}'"]
        if not set(raw) & {0, 10, 13}:  # bytes against a string of code points < 256
            # (argv cannot carry NUL; validate reads patterns line by line from stdin)
            choices.append(f"{path} = {slit(raw.decode('latin-1'))}")
        return r.choice(choices)

    def comparison(self, sc: Scenario, obs_idx: int) -> tuple[str, str]:
        """One comparison built from a fact of the observation (type, text)."""
        facts = sc.facts(obs_idx)
        typ, path, v = self.r.choice(facts)
        if self.r.random() < 0.1:  # a value from another scenario, same path shape
            other = self.r.choice(self.all)
            oi = self.r.randrange(len(other.observed))
            typ, path, v = self.r.choice(other.facts(oi))
        if path.endswith(":payload_bin"):
            return typ, self.bin_cmp(path, v)
        if isinstance(v, bool):
            return typ, self.bool_cmp(path, v)
        if isinstance(v, (int, float)):
            return typ, self.num_cmp(path, v)
        return typ, self.str_cmp(typ, path, v)

    def observation(self, sc: Scenario) -> str:
        r = self.r
        oi = r.randrange(len(sc.observed))
        if r.random() < 0.07:  # EXISTS: alone in its brackets, never negated (see MATCH_EXCLUSIONS)
            typ, path, _ = r.choice(sc.facts(oi))
            if r.random() < 0.3:
                path = typ + ":" + r.choice(["no_such_prop", "hashes.'SHA-512'", "x_missing[0]"])
            return f"[EXISTS {path}]"
        n = r.choice([1, 1, 1, 2, 2, 3])
        comps = []
        for _ in range(n):
            comps.append(self.comparison(sc, oi if r.random() < 0.8 else r.randrange(len(sc.observed)))[1])
        text = comps[0]
        for c in comps[1:]:
            op = r.choice(["AND", "OR"])
            text = f"({text}) {op} {c}" if r.random() < 0.3 else f"{text} {op} {c}"
        return f"[{text}]"

    def qualifier(self, sc: Scenario) -> str:
        r = self.r
        q = r.choice(["WITHIN", "WITHIN", "REPEATS", "STARTSTOP"])
        if q == "WITHIN":
            return f"WITHIN {r.choice(['1', '10', '60', '600', '3600', '86400', '0.5', '1.25', '31536000'])} SECONDS"
        if q == "REPEATS":
            return f"REPEATS {r.choice([1, 2, 2, 3])} TIMES"
        first = dt.datetime.strptime(sc.first[:19], "%Y-%m-%dT%H:%M:%S")
        last = dt.datetime.strptime(sc.last[:19], "%Y-%m-%dT%H:%M:%S")
        a = first + dt.timedelta(seconds=r.choice([0, 0, -1, 1, -3600, 86400 * 30]))
        b = last + dt.timedelta(seconds=r.choice([0, 0, 1, -1, 3600, -86400 * 30]))
        return f"START t'{ts(a)}' STOP t'{ts(b)}'"

    def obs_expr(self, sc: Scenario, depth: int = 0) -> str:
        r = self.r
        n = r.choice([1, 1, 1, 2, 2, 3]) if depth == 0 else r.choice([1, 2])
        parts = []
        for _ in range(n):
            if depth == 0 and n > 1 and r.random() < 0.15:
                o = "(" + self.obs_expr(sc, depth + 1) + ")"
            else:
                o = self.observation(sc)
            if r.random() < 0.3:
                o += " " + self.qualifier(sc)
            parts.append(o)
        text = parts[0]
        for p in parts[1:]:
            text += " " + r.choice(["AND", "OR", "FOLLOWEDBY"]) + " " + p
        if depth == 0 and r.random() < 0.15:
            text = f"({text}) {self.qualifier(sc)}"
        return text


def reference_match(pattern: str, observed: list[dict]) -> tuple[str, str]:
    from stix2matcher.matcher import match

    try:
        res = match(pattern, observed, stix_version="2.1")
    except Exception as e:  # noqa: BLE001 - an exception is the "error" verdict
        return "error", f"{type(e).__name__}: {e}"
    return ("match" if res else "no-match"), ""


# ==========================================================================
# fixtures


@pytest.fixture(scope="session")
def references():
    import importlib.metadata as md

    for pkg, want in (("stix2-patterns", PATTERNS_VERSION), ("stix2-matcher", MATCHER_VERSION)):
        v = md.version(pkg)
        assert v == want, f"{pkg} {v} installed, the oracle is pinned to {want}"


@pytest.fixture(scope="session")
def validation_corpora(references) -> dict[str, list[dict]]:
    out = {}
    for version, nv, nm, seed in (("2.1", N_VALID_21, N_MUTATED_21, SEED), ("2.0", N_VALID_20, N_MUTATED_20, SEED + 1)):
        rows = []
        for origin, p in build_validation_corpus(version, nv, nm, seed):
            ok, errs = reference_verdict(p, version)
            rows.append({"origin": origin, "pattern": p, "ref_valid": ok, "ref_errors": errs})
        out[version] = rows
    return out


@pytest.fixture(scope="session")
def match_corpus(references) -> dict:
    """{"scenarios", "cases": pairs the reference validator accepts, with its match verdict,
    "patterns": every generated match pattern with its validation verdict}."""
    rng = random.Random(SEED + 2)
    scenarios = [Scenario(rng, i) for i in range(N_SCENARIOS)]
    for sc in scenarios:
        sc.input = sc.bundles()
    gen = MatchPatternGen(rng, scenarios)
    cases, patterns = [], []
    for sc in scenarios:
        for _ in range(PATTERNS_PER_SCENARIO):
            p = gen.obs_expr(sc)
            if set(p) & {"\x00", "\n", "\r"}:  # argv / one-pattern-per-line stdin cannot carry these
                continue
            ok, errs = reference_verdict(p, "2.1")
            patterns.append({"origin": "match-generator", "pattern": p, "ref_valid": ok, "ref_errors": errs})
            if not ok:
                continue  # cairn refuses to match an invalid pattern; validation is tested separately
            verdict, err = reference_match(p, sc.input)
            cases.append({"scenario": sc.idx, "pattern": p, "ref": verdict, "ref_error": err})
    return {"scenarios": scenarios, "cases": cases, "patterns": patterns}


# ==========================================================================
# tests: validation


def _short(s: str, n: int = 300) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _run_validate(cairn: Path, rows: list[dict], version: str) -> list[dict]:
    text = "".join(r["pattern"] + "\n" for r in rows)
    cp = run_cairn(cairn, ["pattern", "validate", "-", "--json", "--stix-version", version], input=text,
                   expect_rc=(0, 2))
    # split on "\n" only: JSON may carry a raw U+2028/U+2029/\x0b/\x0c inside a string, which
    # str.splitlines() (conftest.parse_jsonl) would treat as line breaks
    lines = []
    for n, line in enumerate(cp.stdout.split("\n"), 1):
        if line.strip():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise AssertionError(f"cairn pattern validate --json: line {n} is not JSON ({e}): {line[:300]!r}")
    assert len(lines) == len(rows), (
        f"{len(rows)} patterns in, {len(lines)} JSON lines out\nstderr: {cp.stderr[:2000]}")
    bad = []
    for i, (row, ln) in enumerate(zip(rows, lines)):
        if not (isinstance(ln, dict) and ln.get("pattern") == row["pattern"] and isinstance(ln.get("valid"), bool)
                and isinstance(ln.get("errors"), list) and ln["valid"] == (not ln["errors"])):
            bad.append(f"line {i}: {_short(json.dumps(ln, ensure_ascii=False))} for pattern {row['pattern']!r}")
    assert not bad, "output contract broken:\n" + "\n".join(bad[:20])
    want_rc = 0 if all(ln["valid"] for ln in lines) else 2
    assert cp.returncode == want_rc, f"exit {cp.returncode}, expected {want_rc}"
    return lines


def _check_validation(cairn: Path, rows: list[dict], version: str):
    lines = _run_validate(cairn, rows, version)
    disagreements, listed = [], set()
    for row, ln in zip(rows, lines):
        if ln["valid"] == row["ref_valid"]:
            continue
        key = (version, row["pattern"])
        if key in KNOWN_VALIDATION_DISAGREEMENTS:
            listed.add(key)
            continue
        disagreements.append((row, ln))
    crashes = [r for r in rows if r["ref_errors"] and r["ref_errors"][0].startswith("EXCEPTION")]
    undocumented = [r for r in crashes
                    if not r["ref_errors"][0].split()[1].rstrip(":") in DOCUMENTED_VALIDATOR_CRASHES]
    msg = []
    if disagreements:
        msg.append(f"STIX {version}: {len(disagreements)} of {len(rows)} patterns get different verdicts "
                   f"(first 20 shown):")
        for row, ln in disagreements[:20]:
            msg.append(f"  [{row['origin']}] {row['pattern']!r}")
            msg.append(f"      stix2-patterns: {'valid' if row['ref_valid'] else 'invalid'} "
                       f"{_short('; '.join(row['ref_errors']), 400)}")
            msg.append(f"      cairn:          {'valid' if ln['valid'] else 'invalid'} "
                       f"{_short('; '.join(ln['errors']), 400)}")
    stale = [k for k in KNOWN_VALIDATION_DISAGREEMENTS if k[0] == version and k not in listed
             and any(r["pattern"] == k[1] for r in rows)]
    if stale:
        msg.append(f"listed disagreements that no longer disagree: {stale}")
    if undocumented:
        msg.append("stix2-patterns raised an exception not documented in crates/pattern/DISAGREEMENTS.md: "
                   + "; ".join(f"{r['pattern']!r}: {r['ref_errors'][0]}" for r in undocumented[:10]))
    assert not msg, "\n".join(msg)


def test_validation_corpus_shape(validation_corpora):
    """No cairn needed: the generator covers what it claims, and both verdicts occur often."""
    rows = validation_corpora["2.1"]
    assert len(rows) >= 3000, len(rows)
    grammar = [r for r in rows if r["origin"] == "grammar"]
    mutated = [r for r in rows if r["origin"] == "mutated"]
    # the grammar generator mostly produces valid patterns, the mutator mostly invalid ones
    g_valid = sum(r["ref_valid"] for r in grammar) / len(grammar)
    m_invalid = sum(not r["ref_valid"] for r in mutated) / len(mutated)
    assert g_valid > 0.75, f"only {g_valid:.0%} of grammar-built patterns are valid per stix2-patterns"
    assert m_invalid > 0.6, f"only {m_invalid:.0%} of mutated patterns are invalid per stix2-patterns"
    text = "\n".join(r["pattern"] for r in grammar if r["ref_valid"])
    for needle in ["= ", "!=", " > ", " < ", ">=", "<=", " IN (", " LIKE ", " MATCHES ", " ISSUBSET ",
                   " ISSUPERSET ", "EXISTS ", "NOT ", " AND ", " OR ", " FOLLOWEDBY ", "WITHIN ", " START t'",
                   " STOP t'", "REPEATS ", "h'", "b'", "t'", "true", "\\'", "\\\\", "[0]", "[*]", "_ref.",
                   "_refs[", "hashes.'SHA-256'", "hashes.MD5", ".'", "((", "(["]:
        assert needle in text, f"no valid generated pattern contains {needle!r}"
    assert len(validation_corpora["2.0"]) >= 700


def test_validate_21_agrees_with_stix2patterns(cairn, validation_corpora):
    _check_validation(cairn, validation_corpora["2.1"], "2.1")


def test_validate_20_agrees_with_stix2patterns(cairn, validation_corpora):
    _check_validation(cairn, validation_corpora["2.0"], "2.0")


def test_validate_match_patterns_agrees_with_stix2patterns(cairn, match_corpus):
    """The realistic patterns of the match test (hash paths with real digests, _ref chains,
    quoted keys, qualifiers) get the same validity verdict too."""
    _check_validation(cairn, match_corpus["patterns"], "2.1")


# ==========================================================================
# tests: matching


def test_match_corpus_shape(match_corpus):
    cases = match_corpus["cases"]
    n = len(cases)
    assert n >= 2000, n
    counts = {k: sum(c["ref"] == k for c in cases) for k in ("match", "no-match", "error")}
    assert counts["match"] >= n * 0.2 and counts["no-match"] >= n * 0.2, counts
    text = "\n".join(c["pattern"] for c in cases)
    for needle in ["FOLLOWEDBY", "WITHIN", "REPEATS", "START t'", "ISSUBSET", "ISSUPERSET", "LIKE", "MATCHES",
                   " IN (", "EXISTS", "NOT ", "_ref.", "_refs[", "hashes.", "b'", "h'", "t'", "[*]"]:
        assert needle in text, f"no match pattern contains {needle!r}"


def _cairn_match(cairn: Path, pattern: str, observed: Path) -> tuple[str, str]:
    cp = run_cairn(cairn, ["pattern", "match", f"--pattern={pattern}", "--observed", str(observed)], expect_rc=None)
    out = cp.stdout.strip()
    if cp.returncode == 0 and out == "MATCH":
        return "match", ""
    if cp.returncode == 1 and out == "NO MATCH":
        return "no-match", ""
    if cp.returncode == 2:
        return "error", cp.stderr.strip()
    return "crash", f"exit {cp.returncode}, stdout {out[:200]!r}, stderr {cp.stderr[-800:]!r}"


def test_match_agrees_with_stix2matcher(cairn, match_corpus, tmp_path: Path):
    scenarios, cases = match_corpus["scenarios"], match_corpus["cases"]
    files = {}
    for sc in scenarios:
        f = tmp_path / f"observed-{sc.idx}.json"
        f.write_text(json.dumps(sc.input, ensure_ascii=False), encoding="utf-8")
        files[sc.idx] = f
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as ex:
        ours = list(ex.map(lambda c: _cairn_match(cairn, c["pattern"], files[c["scenario"]]), cases))

    disagreements, listed = [], set()
    for c, (verdict, err) in zip(cases, ours):
        if verdict == c["ref"]:
            continue
        if c["pattern"] in KNOWN_MATCH_DISAGREEMENTS:
            listed.add(c["pattern"])
            continue
        disagreements.append((c, verdict, err))
    msg = []
    if disagreements:
        msg.append(f"{len(disagreements)} of {len(cases)} pattern/observation pairs get different verdicts "
                   f"(first 20 shown):")
        for c, verdict, err in disagreements[:20]:
            sc = scenarios[c["scenario"]]
            msg.append(f"  pattern: {c['pattern']!r}")
            msg.append(f"      stix2-matcher: {c['ref']} {_short(c['ref_error'], 300)}")
            msg.append(f"      cairn:         {verdict} {_short(err, 300)}")
            msg.append(f"      observed ({files[c['scenario']].name}): "
                       f"{_short(json.dumps(sc.input, ensure_ascii=False), 1500)}")
    stale = sorted(set(KNOWN_MATCH_DISAGREEMENTS) - listed)
    if stale:
        msg.append(f"listed match disagreements that no longer occur: {stale}")
    assert not msg, "\n".join(msg)
