#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench --bench client` run beside the memory
figures it wrote to target/criterion/client-heap.txt, as one markdown table with the
ratio to rumqttc. The issue's target (ours at most half of rumqttc) applies to the time
per round trip; the heap and allocation rows are reported, with no target.

Heap rows appear twice: against rumqttc's MqttState with max inflight 1000 (the least
that holds the 1,000 messages of the in-flight row) and with 65535 (this crate's
default cap). Both states preallocate one slot per possible in-flight message.

Usage: python3 benches/report_client.py [target/criterion]"""
import json, os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"

times = {}
for dirpath, _, files in os.walk(root):
    if not dirpath.endswith(os.sep + "new") or "benchmark.json" not in files:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    group = bench["group_id"]
    if not group.startswith("client/"):
        continue
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    version, crate = bench["function_id"].split("/")
    times.setdefault(f"{group}/{version}", {})[crate] = est["median"]["point_estimate"]

def fmt_ns(ns):
    if ns is None:
        return "-"
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"

rows = []  # (row, ours, rumqttc, formatter)
for key in sorted(times):
    r = times[key]
    rows.append((f"{key} (median)", r.get("ours"), r.get("rumqttc"), fmt_ns, True))

heap_path = os.path.join(root, "client-heap.txt")
heap_text = open(heap_path).read() if os.path.exists(heap_path) else None
if heap_text:
    num = r"(-?[0-9.]+)"
    for line in heap_text.splitlines():
        m = re.match(rf"^\| (heap_bytes/\S+) \| {num} \| {num} \| {num} \|$", line)
        if m:
            name, ours, small, big = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
            rows.append((f"{name} (rumqttc max inflight 1000)", ours, small, lambda b: f"{b:,} B", False))
            rows.append((f"{name} (rumqttc max inflight 65535)", ours, big, lambda b: f"{b:,} B", False))
            continue
        m = re.match(rf"^\| (allocs/\S+) \| {num} \| {num} \|", line)
        if m:
            rows.append((f"{m.group(1)} (per round trip)", float(m.group(2)), float(m.group(3)),
                         lambda a: f"{a:.2f}", False))

if not rows:
    sys.exit(f"no client benchmark results under {root}: run `cargo bench --bench client` first")

print("| row | ours | rumqttc | ours / rumqttc | target met (ours <= 0.5 x rumqttc) |")
print("|---|---|---|---|---|")
failures = 0
for name, ours, rum, fmt, has_target in rows:
    if ours is None or rum is None:
        print(f"| {name} | {fmt(ours) if ours is not None else '-'} | {fmt(rum) if rum is not None else '-'} | - | - |")
        continue
    ratio = f"{ours / rum:.2f}" if rum else ("1.00" if ours == rum else "inf")
    if not has_target:
        print(f"| {name} | {fmt(ours)} | {fmt(rum)} | {ratio} | (reported) |")
        continue
    met = ours <= 0.5 * rum
    failures += not met
    print(f"| {name} | {fmt(ours)} | {fmt(rum)} | {ratio} | {'yes' if met else 'NO'} |")
print(f"\n{failures} target(s) missed")
if heap_text is None:
    print(f"\n({heap_path} not found: the memory rows need a `cargo bench --bench client` run)")
