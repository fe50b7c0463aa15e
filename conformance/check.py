#!/usr/bin/env python3
"""Conformance matrix of mqtt-sansio against the numbered normative statements of
MQTT 3.1.1 and MQTT 5.0 (Python 3 standard library only).

    python3 conformance/check.py            # regenerate CONFORMANCE.md
    python3 conformance/check.py --check    # CI: fail on unknown ids, lower coverage,
                                            # or a CONFORMANCE.md that is out of date
    python3 conformance/check.py --spec DIR # read the two TSVs from DIR instead

Inputs
------
- conformance/spec/normative-v311.tsv, normative-v5.tsv: copies of
  ../shared/spec/ (columns id, section, area, paraphrase, applies_to). The in-repo copy
  is always used, so CI works on a clean machine; when ../shared/spec exists and differs,
  a warning is printed (copy the new files over and regenerate). --spec DIR overrides.
- conformance/not_applicable.tsv: id, version (3.1.1 or 5.0), reason. Every entry must
  name a statement of that version and give a reason.
- src/**/*.rs and tests/**/*.rs: citations. examples/, benches/ and fuzz/fuzz_targets/
  are checked for unknown ids only.
- tests/data/invalid.jsonl: the invalid corpus, for the tests that replay a whole
  direction of it (CORPUS_REPLAYS below).

What counts as a citation
-------------------------
- `MQTT-a.b.c-n` anywhere in a line (comments, doc comments, strings), usually written
  `[MQTT-3.3.2-2]`. Ranges: `[MQTT-1.5.4-1..3]`, `[MQTT-3.3.1-9 to 11]`,
  `[MQTT-3.3.1-9] to [MQTT-3.3.1-11]`, `[MQTT-3.3.1-9]..[MQTT-3.3.1-11]`,
  `[MQTT-3.3.1-9]..11` all mean 9, 10 and 11.
- An identifier (test name, macro entry) in code containing `mqtt_a_b_c_n`: several ids
  in one name (`mqtt_4_4_0_1_mqtt_4_6_0_1_...`), `_to_M` (a range in the same section:
  `mqtt_3_3_1_9_to_11`), `_and_M` (another number of the same section:
  `mqtt_3_1_2_24_and_25`) and `_and_a_b_c_n` (another id: `mqtt_3_10_4_4_and_3_11_3_1`).
  Names with only a section (`mqtt_4_7_1_wildcards_...`) cite nothing.
- A test that replays every record of one direction/layer of the invalid corpus cites
  each such record's `rule` for the record's version (4 -> 3.1.1, 5 -> 5.0); the tests
  are listed in CORPUS_REPLAYS. `also` ids are not credited. (tests/codec_corpus_invalid.rs
  has one test per record whose name and doc comment cite the rule, so plain citations
  cover it.)

Which version a citation counts for (first rule that applies)
------------------------------------------------------------
Several ids name different statements in the two versions (MQTT-3.1.2-24 is a keep-alive
rule in 3.1.1 and a Maximum Packet Size rule in 5.0). SAME_IN_BOTH below lists the
shared ids whose two statements say the same thing (reviewed by hand); every other id
present in both TSVs is "divergent".

1. An explicit marker in the text next to the citation:
   - after it, for the run of citations it ends (citations joined by `,` / `and`):
     `[A] (3.1.1)`, `[A], [B] (5.0)`, `[A] (3.1.1 and 5.0)`, `[A] in 3.1.1`,
     `[A] of 3.1.1`, `[A]: 3.1.1 only` (`in 3.1.1 too` is not a marker);
   - before it, for it and the citations joined to it: `3.1.1: [A]`, `(5.0: [A]`,
     `3.1.1 [A], [B]`;
   - a counterpart: `[A] (3.1.1: [B])` says A is the 5.0 statement and B its 3.1.1
     twin, so A counts for 5.0 (and `[A], [B]; 3.1.1 [C], [D]`: A and B count for 5.0).
   `v311`/`v5`/`MQTT 3.1.1`/`MQTT 5.0` work like `3.1.1`/`5.0`.
   The citation counts for the marked version(s) only.
2. The test (or item) it belongs to is named `v311_...` or `v5_...` (the name itself for
   a citation in the name, the enclosing function for a comment in a body, the next item
   for a doc comment): that version only.
1-2. If that version has no statement with this id, the citation is a finding
   ("cites an id the marked version does not have") and counts for nothing.
3. Weaker hints: the name has a `v311` or `v5` word elsewhere (`mqtt_3_14_4_1_v311_...`),
   or the body of the enclosing function mentions only one of `V311` / `V5` (a test that
   runs one version). The citation counts for that version when it has the id, otherwise
   for the versions that have it.
4. Unmarked: it counts for every version whose TSV has the id (tests that loop over both
   versions), except for a divergent id: an unmarked citation of a divergent id is
   ambiguous, counts for nothing and is listed in CONFORMANCE.md so that someone marks it.

Status of a statement (per version)
-----------------------------------
- tested: cited under tests/, in a `#[cfg(test)]` module or `#[test]` function of src/,
  or in a doctest code block of src/; or credited by a corpus replay;
- enforced, untested: cited only in other code of src/ (src/fuzz/ is test-harness code
  that builds valid packets, neither a test nor enforcement: it is checked for unknown
  ids only);
- not applicable: listed in conformance/not_applicable.tsv (and not tested);
- missing: none of the above.
Coverage = tested / (statements - not applicable), per version and per role (the
applies_to column: client, server, both); the targets are 95 % for "client or both" and
90 % for "server".

--check fails when a citation names an id absent from both TSVs (or is malformed), when
a citation marked for one version names an id that version does not have, when
not_applicable.tsv is invalid, when a corpus replay test is gone, when a coverage figure
is below the one recorded in the committed CONFORMANCE.md (the `conformance-figures` line),
or when CONFORMANCE.md differs from what this script generates.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "conformance" / "spec"
SHARED_SPEC_DIR = ROOT.parent / "shared" / "spec"
NOT_APPLICABLE = ROOT / "conformance" / "not_applicable.tsv"
CORPUS = ROOT / "tests" / "data" / "invalid.jsonl"
OUTPUT = ROOT / "CONFORMANCE.md"

VERSIONS = ("3.1.1", "5.0")
TSV_NAMES = {"3.1.1": "normative-v311.tsv", "5.0": "normative-v5.tsv"}
ROLES = ("client", "server", "both")
# The coverage targets: (label, roles, minimum tested percentage).
TARGETS = (("client or both", ("client", "both"), 95), ("server", ("server",), 90))

STATUS_TESTED = "tested"
STATUS_ENFORCED = "enforced, untested"
STATUS_NA = "not applicable"
STATUS_MISSING = "missing"

# Directories whose .rs files give statuses, and those only checked for unknown ids.
STATUS_DIRS = ("src", "tests")
CHECK_ONLY_DIRS = ("examples", "benches", "fuzz/fuzz_targets")
# Test-harness code inside src/: citations there are neither tests nor enforcement.
HARNESS_PREFIXES = ("src/fuzz/",)

# Tests that replay every record of a part of tests/data/invalid.jsonl:
# (file, test function, description, record filter).
CORPUS_REPLAYS = (
    (
        "tests/server_corpus_invalid.rs",
        "server_rejects_every_server_direction_record_of_the_invalid_corpus",
        "records with direction to_server or either, codec and session layers",
        lambda r: r.get("direction") in ("to_server", "either"),
    ),
)

# Ids present in both TSVs whose two statements say the same thing (reviewed by hand
# against the paraphrases; a 5.0 statement that is a part of the 3.1.1 one counts as the
# same). Every other shared id is divergent.
SAME_IN_BOTH = frozenset(
    "MQTT-" + s
    for s in """
    3.1.0-1 3.1.0-2 3.1.2-1 3.1.2-2 3.1.2-3 3.1.2-8 3.1.2-9 3.1.2-10
    3.1.3-1 3.1.3-2 3.1.3-3 3.1.3-4 3.1.3-5 3.1.3-6 3.1.4-1
    3.2.0-1 3.3.1-1 3.3.1-2 3.3.1-3 3.3.1-4 3.3.1-5 3.3.2-1 3.3.2-2 3.3.2-3 3.3.4-1
    3.6.1-1 3.8.1-1 3.8.3-1 3.8.4-1 3.8.4-2 3.8.4-3 3.9.3-1 3.9.3-2
    3.10.1-1 3.10.3-1 3.10.3-2 3.10.4-1 3.10.4-2 3.10.4-3 3.10.4-4 3.10.4-5 3.10.4-6
    3.12.4-1 3.14.1-1 3.14.4-3
    4.1.0-1 4.3.1-1 4.3.2-1 4.3.3-1 4.4.0-1 4.5.0-1 4.5.0-2
    4.6.0-1 4.6.0-2 4.6.0-3 4.6.0-4 4.7.2-1 4.7.3-1 4.7.3-2 4.7.3-3 4.7.3-4
    6.0.0-1 6.0.0-2 6.0.0-3 6.0.0-4
    """.split()
)

FIGURES_PREFIX = "<!-- conformance-figures: "

# ---------------------------------------------------------------------------------------
# The specification


@dataclass
class Statement:
    id: str
    version: str
    section: str
    area: str
    paraphrase: str
    role: str


def load_spec(spec_dir: Path) -> dict[str, dict[str, Statement]]:
    spec: dict[str, dict[str, Statement]] = {}
    for version in VERSIONS:
        path = spec_dir / TSV_NAMES[version]
        rows: dict[str, Statement] = {}
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                role = row["applies_to"].strip()
                if role not in ROLES:
                    raise SystemExit(f"{path}: {row['id']}: unknown applies_to {role!r}")
                rows[row["id"].strip()] = Statement(
                    row["id"].strip(),
                    version,
                    row["section"].strip(),
                    row["area"].strip(),
                    row["paraphrase"].strip(),
                    role,
                )
        spec[version] = rows
    return spec


def id_key(statement_id: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", statement_id))


# ---------------------------------------------------------------------------------------
# Finding citations

VERSION_WORD = r"(?:MQTT[ -]?)?(?:3\.1\.1|5\.0|v311|v5)\b"
CITE_RE = re.compile(r"MQTT-(\d+)\.(\d+)\.(\d+)-(\d+)(?:(?:\s*\.\.\s*|\s+to\s+)(\d+)(?=\]))?")
ID_LIKE_RE = re.compile(r"MQTT-\d+(?:[.\-]\d+){3,}")
RANGE_BETWEEN_RE = re.compile(r"^\]?\s*(?:\.\.|to|through|–)\s*\[?$")
RANGE_TAIL_RE = re.compile(r"^\]\s*\.\.\s*(\d+)\b")
JOIN_RE = re.compile(r"^\]?\s*(?:,\s*(?:and\s+)?|and\s+)\[?$")
SUFFIX_PAREN_RE = re.compile(
    r"^\]?\s*\(\s*(" + VERSION_WORD + r")(?:\s*(?:and|/|,|&)\s*(" + VERSION_WORD + r"))?"
    r"(?:\s+only)?\s*\)"
)
SUFFIX_IN_RE = re.compile(r"^\]?\s+(?:in|of)\s+(" + VERSION_WORD + r")(?!\s+too)")
SUFFIX_ONLY_RE = re.compile(r"^\]?\s*:\s*(" + VERSION_WORD + r")\s+only\b")
COUNTERPART_PAREN_RE = re.compile(r"^\]?\s*\(\s*(" + VERSION_WORD + r")\s*:?\s*\[?MQTT-")
COUNTERPART_SEMI_RE = re.compile(r"^\]?\s*;\s*(" + VERSION_WORD + r")\s*:?\s*\[?MQTT-")
PREFIX_RE = re.compile(r"(?:^|[\s(;,/])(" + VERSION_WORD + r")\s*:?\s*\[?$")
SECTION_BEFORE_RE = re.compile(r"section\s+$", re.IGNORECASE)
# A function body that loops over both versions.
BOTH_VERSIONS_RE = re.compile(r"\b(?:VERSIONS|BOTH|ALL_VERSIONS|both_versions)\b|in \[4, 5\]")
IDENT_RE = re.compile(r"\b\w*?mqtt_\d\w*")
FN_RE = re.compile(
    r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:(?:const|async|unsafe|extern\s+\"[^\"]*\")\s+)*fn\s+(\w+)"
)
ITEM_RE = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:const|async|unsafe)\s+)*"
    r"(?:fn|mod|struct|enum|trait|type|const|static|macro_rules!)\s+(\w+)"
)
IMPL_RE = re.compile(r"^\s*(?:unsafe\s+)?impl\b")
VARIANT_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?([A-Za-z_]\w*)\b")
MACRO_ENTRY_RE = re.compile(r"^\s*(\w+)\s*=>")
CLOSE_RE = re.compile(r"^(\s*)\}[\s,;)]*$")
CFG_TEST_RE = re.compile(r"^\s*#\[cfg\((?:test|all\([^)]*\btest\b[^)]*\))\)\]")
MOD_RE = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{")
TEST_ATTR_RE = re.compile(r"^\s*#\[(?:test|tokio::test)\]")


def version_of_word(word: str) -> str:
    return "3.1.1" if ("3.1.1" in word or "311" in word) else "5.0"


def other(version: str) -> str:
    return "5.0" if version == "3.1.1" else "3.1.1"


@dataclass
class Citation:
    id: str
    path: str  # relative to the repository root
    line: int
    item: str  # the test / function it belongs to ("" at module level)
    kind: str  # "test", "code", "harness", "check-only"
    source: str  # "name", "text", "corpus"
    marker: str = ""  # "explicit", "name", "hint", ""
    marked: tuple[str, ...] = ()  # versions named by the marker
    credited: tuple[str, ...] = ()  # versions the citation counts for
    problem: str = ""


@dataclass
class FileInfo:
    path: str
    lines: list[str]
    fn_spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, name)
    test_lines: set[int] = field(default_factory=set)  # 0-based lines of test code


def analyse_structure(info: FileInfo) -> None:
    """Function spans and, for src/, the lines that are test code."""
    lines = info.lines
    stack: list[tuple[int, int, str]] = []  # (indent, start, name)
    spans = []
    test_stack: list[int] = []  # indents of open test regions
    pending_cfg_test = False
    pending_test_attr = False
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if test_stack:
            info.test_lines.add(i)
        # Doctest code blocks in doc comments.
        if stripped.startswith("///") or stripped.startswith("//!"):
            body = stripped[3:].strip()
            if body.startswith("```"):
                lang = body[3:].strip()
                if in_doctest:
                    in_doctest = False
                elif lang in ("", "rust") or lang.startswith("rust,") or "should_panic" in lang \
                        or "no_run" in lang or "compile_fail" in lang:
                    in_doctest = True
                    info.test_lines.add(i)
                else:
                    in_doctest = "skip"  # a non-Rust block: not a test
                continue
            if in_doctest is True:
                info.test_lines.add(i)
            continue
        in_doctest = False
        if CFG_TEST_RE.match(line):
            pending_cfg_test = True
            continue
        if TEST_ATTR_RE.match(line):
            pending_test_attr = True
            continue
        m = FN_RE.match(line)
        if m and not stripped.endswith(";"):
            indent = len(m.group(1))
            if "{" in stripped and stripped.endswith("}") and stripped.count("{") == stripped.count("}"):
                spans.append((i, i, m.group(2)))  # a function on one line
                if pending_test_attr or pending_cfg_test:
                    info.test_lines.add(i)
                pending_cfg_test = pending_test_attr = False
                continue
            stack.append((indent, i, m.group(2)))
            if pending_test_attr or pending_cfg_test:
                test_stack.append(indent)
                info.test_lines.add(i)
            pending_cfg_test = pending_test_attr = False
            continue
        m = MOD_RE.match(line)
        if m:
            if pending_cfg_test:
                test_stack.append(len(m.group(1)))
                info.test_lines.add(i)
            pending_cfg_test = pending_test_attr = False
            continue
        if stripped and not stripped.startswith("#[") and not stripped.startswith("//"):
            pending_cfg_test = pending_test_attr = False
        m = CLOSE_RE.match(line)
        if m:
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                ind, start, name = stack.pop()
                spans.append((start, i, name))
            while test_stack and test_stack[-1] >= indent:
                test_stack.pop()
    for ind, start, name in stack:
        spans.append((start, len(lines) - 1, name))
    info.fn_spans = sorted(spans)


def enclosing_fn(info: FileInfo, line: int) -> tuple[int, int, str] | None:
    best = None
    for span in info.fn_spans:
        if span[0] <= line <= span[1]:
            if best is None or span[0] >= best[0]:
                best = span
        elif span[0] > line:
            break
    return best


def next_item(info: FileInfo, line: int) -> tuple[str, tuple[int, int, str] | None]:
    """The item a doc comment at `line` documents: its name and, for a function, its span."""
    for j in range(line + 1, min(len(info.lines), line + 60)):
        text = info.lines[j].strip()
        if not text or text.startswith("//") or text.startswith("#["):
            continue
        m = FN_RE.match(info.lines[j])
        if m:
            for span in info.fn_spans:
                if span[0] == j:
                    return m.group(2), span
            return m.group(2), None
        m = ITEM_RE.match(info.lines[j]) or MACRO_ENTRY_RE.match(info.lines[j])
        if m:
            return m.group(1), None
        if IMPL_RE.match(info.lines[j]):
            return "", None
        m = VARIANT_RE.match(info.lines[j])  # an enum variant or a struct field
        return (m.group(1) if m else ""), None
    return "", None


def version_hint(info: FileInfo, span: tuple[int, int, str] | None, weak: str) -> str:
    """The weak version hint of rule 3: none when the function body loops over both
    versions; else a `v311` / `v5` word of the name; else the one of `V311` / `V5` that
    the body mentions alone."""
    body = "\n".join(info.lines[span[0] : span[1] + 1]) if span else ""
    if BOTH_VERSIONS_RE.search(body):
        return ""
    if weak:
        return weak
    has311 = re.search(r"(?:\b|_)V311\b", body) is not None
    has5 = re.search(r"(?:\b|_)V5\b", body) is not None
    if has311 != has5:
        return "3.1.1" if has311 else "5.0"
    return ""


def name_markers(name: str) -> tuple[str, str]:
    """(strong, weak) version markers of a test / item name."""
    tokens = name.split("_")
    if tokens and tokens[0] in ("v311", "v5"):
        return version_of_word(tokens[0]), ""
    has311 = "v311" in tokens
    has5 = "v5" in tokens
    if has311 != has5:
        return "", "3.1.1" if has311 else "5.0"
    return "", ""


def ids_in_name(name: str) -> tuple[list[str], list[str]]:
    """Ids cited by an identifier, and problems (unparsable forms)."""
    tokens = name.split("_")
    ids: list[str] = []
    problems: list[str] = []
    i = 0

    def numeric(k: int) -> bool:
        return k < len(tokens) and tokens[k].isdigit()

    def count_numeric(k: int) -> int:
        n = 0
        while numeric(k + n):
            n += 1
        return n

    while i < len(tokens):
        if tokens[i] == "mqtt" and count_numeric(i + 1) >= 4:
            a, b, c, n = (int(t) for t in tokens[i + 1 : i + 5])
            section = f"{a}.{b}.{c}"
            ids.append(f"MQTT-{section}-{n}")
            i += 5
            while i + 1 < len(tokens) and tokens[i] in ("to", "and"):
                k = count_numeric(i + 1)
                if k >= 4 and tokens[i] == "and":
                    x, y, z, w = (int(t) for t in tokens[i + 1 : i + 5])
                    section = f"{x}.{y}.{z}"
                    n = w
                    ids.append(f"MQTT-{section}-{n}")
                    i += 5
                elif k == 1 and tokens[i] == "to":
                    m = int(tokens[i + 1])
                    if m <= n:
                        problems.append(f"range {n} to {m} in {name}")
                    ids.extend(f"MQTT-{section}-{x}" for x in range(n + 1, m + 1))
                    n = m
                    i += 2
                elif k == 1:
                    n = int(tokens[i + 1])
                    ids.append(f"MQTT-{section}-{n}")
                    i += 2
                elif k in (2, 3):
                    problems.append(f"cannot read '{tokens[i]}_{'_'.join(tokens[i + 1 : i + 1 + k])}' in {name}")
                    i += 1 + k
                else:
                    break
        else:
            i += 1
    return ids, problems


def is_comment_line(line: str) -> bool:
    return line.lstrip().startswith("//")


def comment_prefix(line: str) -> int | None:
    """Length of the `//`, `///` or `//!` prefix (with indentation), or None."""
    m = re.match(r"^\s*//[/!]?\s?", line)
    return m.end() if m else None


def scan_file(root: Path, path: Path, kind_default: str) -> tuple[list[Citation], list[str]]:
    rel = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    info = FileInfo(rel, lines)
    analyse_structure(info)
    citations: list[Citation] = []
    errors: list[str] = []

    def kind_of(line: int) -> str:
        if kind_default != "src":
            return kind_default
        if rel.startswith(HARNESS_PREFIXES):
            return "harness"
        return "test" if line in info.test_lines else "code"

    # Context of each line: (item name, span for body hints).
    def context(line: int, is_doc: bool) -> tuple[str, tuple[int, int, str] | None]:
        if is_doc:
            stripped = lines[line].strip()
            if stripped.startswith("//!"):
                return "", None
            return next_item(info, line)
        span = enclosing_fn(info, line)
        if span is None:
            # A comment outside any function (a section header of a test file) belongs
            # to the item that follows it.
            if is_comment_line(lines[line]):
                return next_item(info, line)
            return "", None
        return span[2], span

    # Logical blocks: a run of comment lines is one block (joined with spaces); any other
    # line is a block of its own.
    blocks: list[tuple[str, list[tuple[int, int]], bool]] = []  # text, [(offset, line)], is_comment
    i = 0
    while i < len(lines):
        p = comment_prefix(lines[i])
        if p is None:
            blocks.append((lines[i], [(0, i)], False))
            i += 1
            continue
        text = ""
        offsets = []
        while i < len(lines) and comment_prefix(lines[i]) is not None:
            q = comment_prefix(lines[i])
            if text:
                text += " "
            offsets.append((len(text), i))
            text += lines[i][q:]
            i += 1
        blocks.append((text, offsets, True))

    for text, offsets, is_comment in blocks:

        def line_at(pos: int) -> int:
            line = offsets[0][1]
            for off, ln in offsets:
                if off <= pos:
                    line = ln
            return line

        # Malformed ids.
        for m in ID_LIKE_RE.finditer(text):
            if not CITE_RE.fullmatch(m.group(0)):
                errors.append(f"{rel}:{line_at(m.start()) + 1}: malformed statement id {m.group(0)!r}")
        found = list(CITE_RE.finditer(text))
        # Text citations with their explicit markers.
        cites: list[dict] = []
        for m in found:
            a, b, c, n, upto = m.groups()
            section = f"{a}.{b}.{c}"
            nums = [int(n)]
            if upto is not None:
                if int(upto) <= int(n):
                    errors.append(f"{rel}:{line_at(m.start()) + 1}: empty range {m.group(0)}")
                nums = list(range(int(n), int(upto) + 1))
            cites.append({"section": section, "nums": nums, "start": m.start(), "end": m.end(), "marked": None})
        # Ranges across two citations, and `]..N`.
        for k, cur in enumerate(cites):
            tail = text[cur["end"] :]
            mt = RANGE_TAIL_RE.match(tail)
            if mt and (k + 1 == len(cites) or cites[k + 1]["start"] > cur["end"] + mt.end()):
                last = int(mt.group(1))
                cur["nums"] = list(range(cur["nums"][0], max(last, cur["nums"][-1]) + 1))
            if k + 1 < len(cites):
                nxt = cites[k + 1]
                between = text[cur["end"] : nxt["start"]]
                if nxt["section"] == cur["section"] and RANGE_BETWEEN_RE.match(between):
                    lo, hi = cur["nums"][-1], nxt["nums"][0]
                    if hi > lo + 1:
                        cur["nums"] = cur["nums"] + list(range(lo + 1, hi))
        # Runs of joined citations.
        runs: list[list[int]] = []
        for k, cur in enumerate(cites):
            if k > 0 and JOIN_RE.match(text[cites[k - 1]["end"] : cur["start"]]):
                runs[-1].append(k)
            else:
                runs.append([k])
        for run in runs:
            last = cites[run[-1]]
            tail = text[last["end"] : last["end"] + 60]
            marked = None
            m = SUFFIX_PAREN_RE.match(tail)
            if m:
                marked = {version_of_word(m.group(1))}
                if m.group(2):
                    marked.add(version_of_word(m.group(2)))
            else:
                m = SUFFIX_IN_RE.match(tail) or SUFFIX_ONLY_RE.match(tail)
                if m:
                    marked = {version_of_word(m.group(1))}
                else:
                    m = COUNTERPART_SEMI_RE.match(tail)
                    if m:
                        marked = {other(version_of_word(m.group(1)))}
            if marked is not None:
                for k in run:
                    cites[k]["marked"] = marked
            else:
                m = COUNTERPART_PAREN_RE.match(tail)
                if m:
                    last["marked"] = {other(version_of_word(m.group(1)))}
            # A marker before the run's first citation applies to the run.
            first = cites[run[0]]
            before = text[max(0, first["start"] - 40) : first["start"]]
            m = PREFIX_RE.search(before)
            if m and not SECTION_BEFORE_RE.search(before[: m.start(1)]):
                for k in run:
                    if cites[k]["marked"] is None:
                        cites[k]["marked"] = {version_of_word(m.group(1))}
        for cur in cites:
            line = line_at(cur["start"])
            is_doc = is_comment and lines[line].strip().startswith(("///", "//!"))
            item, span = context(line, is_doc)
            for num in cur["nums"]:
                cit = Citation(
                    id=f"MQTT-{cur['section']}-{num}",
                    path=rel,
                    line=line + 1,
                    item=item,
                    kind=kind_of(line),
                    source="text",
                )
                if cur["marked"]:
                    cit.marker = "explicit"
                    cit.marked = tuple(sorted(cur["marked"]))
                else:
                    strong, weak = name_markers(item)
                    hint = version_hint(info, span, weak)
                    if strong:
                        cit.marker, cit.marked = "name", (strong,)
                    elif hint:
                        cit.marker, cit.marked = "hint", (hint,)
                citations.append(cit)
        # Identifiers in code.
        if not is_comment:
            line = offsets[0][1]
            for m in IDENT_RE.finditer(text):
                name = m.group(0)
                ids, problems = ids_in_name(name)
                for problem in problems:
                    errors.append(f"{rel}:{line + 1}: {problem}")
                if not ids:
                    continue
                span = None
                for s in info.fn_spans:
                    if s[0] == line and s[2] == name:
                        span = s
                if span is None:
                    enclosing = enclosing_fn(info, line)
                    # A name used inside another function (a call, a macro entry): its
                    # own context is the name only.
                    span = None if enclosing is None or enclosing[2] != name else enclosing
                strong, weak = name_markers(name)
                hint = version_hint(info, span, weak)
                for statement_id in ids:
                    cit = Citation(statement_id, rel, line + 1, name, kind_of(line), "name")
                    if strong:
                        cit.marker, cit.marked = "name", (strong,)
                    elif hint:
                        cit.marker, cit.marked = "hint", (hint,)
                    citations.append(cit)
    return citations, errors


def credit(cit: Citation, spec: dict[str, dict[str, Statement]]) -> None:
    """Decides the versions a citation counts for (see the module docstring)."""
    has = [v for v in VERSIONS if cit.id in spec[v]]
    if not has:
        cit.problem = "unknown id"
        return
    if cit.marker in ("explicit", "name"):
        ok = tuple(v for v in cit.marked if v in has)
        missing = [v for v in cit.marked if v not in has]
        if missing:
            cit.problem = f"marked {'/'.join(missing)} but {'/'.join(missing)} has no {cit.id}"
        cit.credited = ok
        return
    if cit.marker == "hint" and cit.marked[0] in has:
        cit.credited = cit.marked
        return
    if len(has) == 2 and cit.id not in SAME_IN_BOTH:
        cit.problem = "ambiguous"
        return
    cit.credited = tuple(has)


def scan(root: Path) -> tuple[list[Citation], list[str]]:
    citations: list[Citation] = []
    errors: list[str] = []
    for top in STATUS_DIRS + CHECK_ONLY_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        kind = "src" if top == "src" else ("test" if top == "tests" else "check-only")
        for path in sorted(base.rglob("*.rs")):
            if "target" in path.relative_to(root).parts:
                continue
            c, e = scan_file(root, path, kind)
            citations.extend(c)
            errors.extend(e)
    return citations, errors


def corpus_citations(root: Path) -> tuple[list[Citation], list[str]]:
    citations: list[Citation] = []
    errors: list[str] = []
    corpus = root / CORPUS.relative_to(ROOT)
    records = []
    if corpus.exists():
        with corpus.open(encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    for rel, test, _, keep in CORPUS_REPLAYS:
        path = root / rel
        if not path.exists() or not re.search(rf"\bfn\s+{re.escape(test)}\b", path.read_text(encoding="utf-8")):
            errors.append(f"{rel}: corpus replay test {test} not found (update CORPUS_REPLAYS in conformance/check.py)")
            continue
        if not records:
            errors.append(f"{corpus.relative_to(root)}: missing or empty, needed by {rel}:{test}")
            continue
        for record in records:
            if not keep(record) or not record.get("rule"):
                continue
            version = "3.1.1" if record["version"] == 4 else "5.0"
            cit = Citation(record["rule"], rel, 0, test, "test", "corpus", "explicit", (version,))
            citations.append(cit)
    return citations, errors


# ---------------------------------------------------------------------------------------
# Not applicable


def load_not_applicable(path: Path, spec) -> tuple[dict[tuple[str, str], str], list[str]]:
    entries: dict[tuple[str, str], str] = {}
    errors: list[str] = []
    if not path.exists():
        return entries, errors
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if parts[0] == "id":
            continue
        where = f"{path.relative_to(ROOT)}:{n}"
        if len(parts) != 3:
            errors.append(f"{where}: expected 3 tab-separated columns (id, version, reason)")
            continue
        sid, version, reason = (p.strip() for p in parts)
        if version not in VERSIONS:
            errors.append(f"{where}: version must be 3.1.1 or 5.0, not {version!r}")
        elif sid not in spec[version]:
            errors.append(f"{where}: {sid} is not a statement of {version}")
        elif len(reason) < 20:
            errors.append(f"{where}: {sid}: give a reason a reviewer can check")
        elif (sid, version) in entries:
            errors.append(f"{where}: {sid} ({version}) listed twice")
        else:
            entries[(sid, version)] = reason
    return entries, errors


# ---------------------------------------------------------------------------------------
# The matrix


@dataclass
class Row:
    statement: Statement
    status: str
    tested: list[str]
    enforced: list[str]
    reason: str = ""


def where(c: Citation) -> str:
    return f"{c.path}:{c.item}" if c.item else c.path


def build(spec, citations, not_applicable):
    by_key: dict[tuple[str, str], list[Citation]] = {}
    for c in citations:
        for v in c.credited:
            by_key.setdefault((c.id, v), []).append(c)
    rows: dict[str, list[Row]] = {}
    for version in VERSIONS:
        rows[version] = []
        for sid in sorted(spec[version], key=id_key):
            st = spec[version][sid]
            cs = by_key.get((sid, version), [])
            tests = [c for c in cs if c.kind == "test"]
            code = [c for c in cs if c.kind == "code"]
            # Names that cite the id first, then the rest; each place once.
            tested = sorted({where(c) for c in tests if c.source == "name"})
            tested += sorted({where(c) for c in tests} - set(tested))
            enforced = sorted({where(c) for c in code})
            if tested:
                status = STATUS_TESTED
            elif (sid, version) in not_applicable:
                status = STATUS_NA
            elif enforced:
                status = STATUS_ENFORCED
            else:
                status = STATUS_MISSING
            rows[version].append(Row(st, status, tested, enforced, not_applicable.get((sid, version), "")))
    return rows


def figures(rows) -> dict[str, dict[str, list[int]]]:
    """Per version and role: [tested, applicable, total, enforced, n/a, missing]."""
    out: dict[str, dict[str, list[int]]] = {}
    for version in VERSIONS:
        out[version] = {}
        for role in ROLES:
            rs = [r for r in rows[version] if r.statement.role == role]
            na = sum(r.status == STATUS_NA for r in rs)
            out[version][role] = [
                sum(r.status == STATUS_TESTED for r in rs),
                len(rs) - na,
                len(rs),
                sum(r.status == STATUS_ENFORCED for r in rs),
                na,
                sum(r.status == STATUS_MISSING for r in rs),
            ]
    return out


def combine(fig: dict[str, list[int]], roles) -> list[int]:
    return [sum(fig[r][i] for r in roles) for i in range(6)]


def pct(tested: int, applicable: int) -> str:
    if applicable == 0:
        return "-"
    return f"{100 * tested / applicable:.1f} %"


def short(text: str, n: int = 90) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def places(items: list[str], n: int = 3) -> str:
    if not items:
        return ""
    shown = ", ".join(f"`{x}`" for x in items[:n])
    if len(items) > n:
        shown += f" (+{len(items) - n} more)"
    return shown


def render(spec, rows, citations, not_applicable) -> str:
    fig = figures(rows)
    out: list[str] = []
    w = out.append
    w("# Conformance matrix")
    w("")
    w("Generated by `python3 conformance/check.py` from the numbered normative statements in")
    w("`conformance/spec/` (copies of `../shared/spec/normative-v311.tsv` and")
    w("`normative-v5.tsv`), the citations in `src/` and `tests/`, the corpus replays and")
    w("`conformance/not_applicable.tsv`. Do not edit by hand: CI (`.ci/run`) runs")
    w("`python3 conformance/check.py --check`, which fails when this file is out of date,")
    w("when a citation names an unknown id, or when a coverage figure below drops under the")
    w("one recorded here.")
    w("")
    w("## Totals")
    w("")
    w("Coverage = tested / applicable (statements minus not applicable). Role is the")
    w("`applies_to` column: who the statement binds.")
    w("")
    w("| Version | Role | Statements | Tested | Enforced, untested | Not applicable | Missing | Coverage | Target |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for version in VERSIONS:
        for role in ROLES:
            t, a, n, e, na, m = fig[version][role]
            w(f"| {version} | {role} | {n} | {t} | {e} | {na} | {m} | {pct(t, a)} | |")
        for label, roles, target in TARGETS:
            t, a, n, e, na, m = combine(fig[version], roles)
            met = "met" if a and 100 * t >= target * a else "not met"
            w(f"| {version} | **{label}** | {n} | {t} | {e} | {na} | {m} | **{pct(t, a)}** | {target} % ({met}) |")
        t, a, n, e, na, m = combine(fig[version], ROLES)
        w(f"| {version} | all | {n} | {t} | {e} | {na} | {m} | {pct(t, a)} | |")
    w("")
    machine = {v: {r: fig[v][r][:2] for r in ROLES} for v in VERSIONS}
    w(FIGURES_PREFIX + json.dumps(machine, sort_keys=True) + " -->")
    w("")
    w("The line above is read back by `--check`: for each version and role, [tested,")
    w("applicable]; the tested share may not fall below it.")
    w("")
    w("## How citations are counted")
    w("")
    w("- A citation is an id `MQTT-a.b.c-n` in `src/` or `tests/` (usually `[MQTT-3.3.2-2]`")
    w("  in a comment, doc comment or message; ranges `[MQTT-1.5.4-1..3]`,")
    w("  `[MQTT-3.3.1-9] to [MQTT-3.3.1-11]`) or a name containing `mqtt_a_b_c_n`")
    w("  (`mqtt_3_3_2_2_...`, several ids `mqtt_4_4_0_1_mqtt_4_6_0_1_...`, ranges")
    w("  `mqtt_3_3_1_9_to_11`, `mqtt_3_1_2_24_and_25`, `mqtt_3_10_4_4_and_3_11_3_1`).")
    w("- **Tested**: cited anywhere under `tests/`, in a `#[cfg(test)]` module, `#[test]`")
    w("  function or doctest code block of `src/`, or credited by a corpus replay (below).")
    w("  **Enforced, untested**: cited only in other `src/` code. `src/fuzz/` (the bodies of")
    w("  the fuzz targets, which build valid packets) counts as neither.")
    w("- **Version** (ids are shared between the versions for different statements, e.g.")
    w("  MQTT-3.1.2-24): an explicit marker next to the citation wins (`[A] (3.1.1)`,")
    w("  `[A], [B] (5.0)`, `[A] in 3.1.1`, `3.1.1: [A]`, and `[A] (3.1.1: [B])` which makes")
    w("  A the 5.0 statement and B its 3.1.1 twin); then a test name starting `v311_` / `v5_`")
    w("  (for citations in the name, the doc comment or the body); then a `v311` / `v5` word")
    w("  elsewhere in the name or a function body that mentions only one of `V311` / `V5`.")
    w("  An unmarked citation counts for every version whose table has the id, except that")
    w("  an id whose statements differ between the versions is then ambiguous and counts")
    w("  for neither (listed below). Ids whose statements are the same in both versions are")
    w("  listed in `SAME_IN_BOTH` in the script. A citation marked for a version that has no")
    w("  such id is an error.")
    w("- **Corpus replays**: a test that replays every record of part of")
    w("  `tests/data/invalid.jsonl` (a copy of `../shared/corpus/invalid.jsonl`) is credited")
    w("  with each such record's `rule` for the record's version (`also` is not credited):")
    for rel, test, desc, _ in CORPUS_REPLAYS:
        w(f"  `{rel}:{test}` ({desc}).")
    w("  `tests/codec_corpus_invalid.rs` has one test per codec-layer record, named and")
    w("  documented with the record's rule and version, so its citations are ordinary ones.")
    w("- **Not applicable**: `conformance/not_applicable.tsv` (id, version, reason); a statement")
    w("  that is tested is never counted as not applicable.")
    w("")
    resolved = {(c.id, c.path, c.item) for c in citations if c.credited}
    ambiguous = sorted(
        {
            (c.id, c.path, c.item, c.kind)
            for c in citations
            if c.problem == "ambiguous" and c.kind in ("test", "code") and (c.id, c.path, c.item) not in resolved
        },
        key=lambda x: (x[3] != "test", x[1], x[2], id_key(x[0])),
    )
    w("## Ambiguous citations (counted for neither version)")
    w("")
    if ambiguous:
        w("Unmarked citations of ids that name different statements in 3.1.1 and 5.0, in items")
        w("where no other citation of the id is marked. Add a version marker (`[MQTT-x] (5.0)`,")
        w("`(3.1.1: [MQTT-y])`, a `v5_` test name, ...) to count them.")
        w("")
        w("| Id | In | Where | 3.1.1 statement | 5.0 statement |")
        w("|---|---|---|---|---|")
        for sid, path, item, kind in ambiguous:
            loc = f"{path}:{item}" if item else path
            w(
                f"| {sid} | {kind} | `{loc}` | {short(spec['3.1.1'][sid].paraphrase, 60)} "
                f"| {short(spec['5.0'][sid].paraphrase, 60)} |"
            )
    else:
        w("None.")
    w("")
    for version in VERSIONS:
        w(f"## MQTT {version}")
        w("")
        w("| Id | Role | Statement | Status | Tested in / enforced in / reason |")
        w("|---|---|---|---|---|")
        for r in rows[version]:
            st = r.statement
            if r.status == STATUS_TESTED:
                detail = places(r.tested)
            elif r.status == STATUS_ENFORCED:
                detail = "enforced in " + places(r.enforced)
            elif r.status == STATUS_NA:
                detail = r.reason.replace("|", "\\|")
            else:
                detail = ""
            w(f"| {st.id} | {st.role} | {short(st.paraphrase)} | {r.status} | {detail} |")
        w("")
    return "\n".join(out)


def parse_committed_figures(text: str):
    for line in text.splitlines():
        if line.startswith(FIGURES_PREFIX) and line.endswith("-->"):
            return json.loads(line[len(FIGURES_PREFIX) : -3])
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing CONFORMANCE.md")
    parser.add_argument("--spec", type=Path, default=None, help="directory holding the two TSVs")
    parser.add_argument("--list", choices=("missing", "problems"), help="print a list for humans")
    args = parser.parse_args()

    spec_dir = args.spec or SPEC_DIR
    spec = load_spec(spec_dir)
    warnings: list[str] = []
    if args.spec is None and SHARED_SPEC_DIR.is_dir():
        for version in VERSIONS:
            shared = SHARED_SPEC_DIR / TSV_NAMES[version]
            local = SPEC_DIR / TSV_NAMES[version]
            if shared.exists() and shared.read_bytes() != local.read_bytes():
                warnings.append(f"{shared} differs from {local.relative_to(ROOT)}: copy it over and regenerate")

    errors: list[str] = []
    citations, scan_errors = scan(ROOT)
    errors += scan_errors
    corpus, corpus_errors = corpus_citations(ROOT)
    errors += corpus_errors
    citations += corpus
    for c in citations:
        credit(c, spec)
        loc = f"{c.path}:{c.line}" if c.line else f"{c.path}:{c.item} (corpus record rule)"
        if c.problem == "unknown id":
            errors.append(f"{loc}: {c.id} is in neither normative-v311.tsv nor normative-v5.tsv")
        elif c.problem.startswith("marked"):
            errors.append(f"{loc}: {c.id} {c.problem.replace('marked', 'cited for', 1)}")
    not_applicable, na_errors = load_not_applicable(NOT_APPLICABLE, spec)
    errors += na_errors
    rows = build(spec, [c for c in citations if c.kind in ("test", "code")], not_applicable)
    for version in VERSIONS:
        for r in rows[version]:
            if r.reason and r.status == STATUS_TESTED:
                warnings.append(f"{r.statement.id} ({version}) is tested but listed in not_applicable.tsv")
            if r.reason and r.enforced:
                warnings.append(f"{r.statement.id} ({version}) is cited in src/ but listed in not_applicable.tsv")
    text = render(spec, rows, citations, not_applicable) + "\n"

    if args.list == "missing":
        for version in VERSIONS:
            for role in ROLES:
                ids = [r for r in rows[version] if r.statement.role == role and r.status in (STATUS_MISSING, STATUS_ENFORCED)]
                print(f"== {version} {role}: {len(ids)} not tested")
                for r in ids:
                    print(f"  {r.statement.id:16} {r.status:20} {r.statement.paraphrase}")
        return 0
    if args.list == "problems":
        for c in sorted(citations, key=lambda c: (c.path, c.line)):
            if c.problem:
                print(f"{c.path}:{c.line}: {c.id} [{c.item}] {c.problem}")
        return 0

    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not args.check:
        OUTPUT.write_text(text, encoding="utf-8")
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
        return 1 if errors else 0

    failures = list(errors)
    committed = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    floor = parse_committed_figures(committed)
    current = figures(rows)
    if floor is None:
        failures.append(f"{OUTPUT.name}: no '{FIGURES_PREFIX.strip()}' line to compare against")
    else:
        for version in VERSIONS:
            for role in ROLES:
                t0, a0 = floor.get(version, {}).get(role, [0, 0])
                t, a = current[version][role][:2]
                if a0 and (a == 0 or Fraction(t, a) < Fraction(t0, a0)):
                    failures.append(
                        f"coverage fell: {version} {role} {pct(t, a)} ({t}/{a}) < {pct(t0, a0)} ({t0}/{a0}) recorded in {OUTPUT.name}"
                    )
    if committed != text:
        failures.append(f"{OUTPUT.name} is out of date: run `python3 conformance/check.py` and commit the result")
    for f in failures:
        print(f"error: {f}", file=sys.stderr)
    if failures:
        print(f"conformance check failed ({len(failures)} problem(s))", file=sys.stderr)
        return 1
    summary = ", ".join(
        f"{v} {label} {pct(*combine(current[v], roles)[:2])}" for v in VERSIONS for label, roles, _ in TARGETS
    )
    print(f"conformance check passed: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
