"""Pass rate per tag of a cwltest run, from cwltest's JUnit XML (each testcase names its
test id in `file` and its tags in `class`).

Usage: python summary.py results.xml
"""
import sys
import xml.etree.ElementTree as ET

outcome, tags = {}, {}
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    test_id = case.get("file") or case.get("name")
    tags[test_id] = [t.strip() for t in (case.get("class") or "").split(",") if t.strip()]
    # The bar for CommandLineTools: the required tests that are tools.
    if "required" in tags[test_id] and "command_line_tool" in tags[test_id]:
        tags[test_id].append("required+command_line_tool")
    if case.find("failure") is not None or case.find("error") is not None:
        outcome[test_id] = "failed"
    elif case.find("skipped") is not None:
        outcome[test_id] = "unsupported"
    else:
        outcome[test_id] = "passed"
by_tag = {}
for test_id, result in outcome.items():
    for tag in tags[test_id]:
        by_tag.setdefault(tag, {"passed": 0, "failed": 0, "unsupported": 0})
        by_tag[tag][result] += 1
print(f"{'tag':<28} {'passed':>7} {'failed':>7} {'unsupp.':>7} {'total':>6} {'rate':>6}")
for tag in sorted(by_tag, key=lambda t: (not t.startswith("required"), t)):
    c = by_tag[tag]
    total = sum(c.values())
    print(f"{tag:<28} {c['passed']:>7} {c['failed']:>7} {c['unsupported']:>7} {total:>6} {100 * c['passed'] / total:>5.0f}%")
for kind in ("failed", "unsupported"):
    ids = sorted(i for i, r in outcome.items() if r == kind)
    if ids:
        print(f"{kind}: {' '.join(ids)}")
