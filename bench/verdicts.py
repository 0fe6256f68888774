#!/usr/bin/env python3
"""Count the files a validator flagged, from its output, and compare with the generator's manifest.

Usage: verdicts.py TOOL OUTPUT_FILE MANIFEST.tsv   (prints one short line; never fails loudly)

TOOL is the sanity-run name (ajv-bulk, check-jsonschema-bulk, ospecc-bulk, ospecc-json-bulk ...).
Only the bulk runs are compared with the manifest; the pre-commit set is all valid.
"""
import json
import os
import re
import sys


def flagged_ajv(text):
    return {os.path.basename(m) for m in re.findall(r"^(\S+\.ospec\.yml) invalid$", text, re.M)}


def flagged_human(text, names):
    # ospecc's human output: an `error[CODE]: ...` header, then `┌─ PATH:LINE:COL`.
    flagged, in_error = set(), False
    for line in text.splitlines():
        if re.match(r"^(error|warning|note|help)(\[|:)", line):
            in_error = line.startswith("error")
        elif in_error and "┌─" in line:
            m = re.search(r"([A-Za-z0-9_.-]+\.ospec\.yml)", line)
            if m:
                flagged.add(m.group(1))
            in_error = False
    return flagged & names


def flagged_mentions(text, names):
    # Files a tool names in its findings (check-jsonschema, ospecc human output).
    found = set(re.findall(r"([A-Za-z0-9_.-]+\.ospec\.yml)", text))
    return found & names


def flagged_json(text, names):
    """Walk an ospecc JSON report: a file counts as flagged when an object that names it
    (path/file/uri) holds an error-severity diagnostic, or says valid/ok: false."""
    doc = json.loads(text)
    flagged = set()

    def has_error(o):
        if isinstance(o, dict):
            sev = str(o.get("severity", o.get("level", ""))).lower()
            if sev in ("error", "err", "fatal"):
                return True
            return any(has_error(v) for v in o.values())
        if isinstance(o, list):
            return any(has_error(v) for v in o)
        return False

    def walk(o):
        if isinstance(o, dict):
            name = None
            for k in ("path", "file", "uri", "name"):
                v = o.get(k)
                if isinstance(v, str) and v.endswith(".ospec.yml"):
                    name = os.path.basename(v)
            if name in names:
                if o.get("valid") is False or o.get("ok") is False or has_error(
                        {k: v for k, v in o.items() if k not in ("path", "file", "uri", "name")}):
                    flagged.add(name)
                return
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(doc)
    return flagged


def main():
    tool, out, manifest = sys.argv[1:4]
    if not tool.endswith("-bulk"):
        return
    rows = [l.rstrip("\n").split("\t") for l in open(manifest)][1:]
    names = {r[0] for r in rows}
    expected = {r[0] for r in rows if r[1] == "invalid"}
    text = open(out, encoding="utf-8", errors="replace").read()
    try:
        if tool.startswith("ajv"):
            got = flagged_ajv(text)
        elif tool.startswith("ospecc-json"):
            got = flagged_json(text, names)
        elif tool.startswith("ospecc"):
            got = flagged_human(text, names)
        else:
            got = flagged_mentions(text, names)
    except Exception as e:  # noqa: BLE001 - informational only
        print(f"(could not read verdicts: {type(e).__name__})")
        return
    missed, extra = expected - got, got - expected
    note = "" if not (missed or extra) else f"; missed {len(missed)}, extra {len(extra)}"
    if "ext" in tool:  # the ext profile also warns about things core accepts
        print(f"{len(got)} files with errors (ext profile: extensions relax some core rules)")
    else:
        print(f"{len(got)} files flagged, {len(expected)} injected{note}")


if __name__ == "__main__":
    main()
