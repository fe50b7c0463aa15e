#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench --bench codec` run as a table, with the
ratios the codec issue sets as targets: decode rows at most half of rumqttc and below
mqttrs, encode rows no slower than the faster of the two, the vectored 64 KiB encode
no slower than the 16 B one.

Usage: python3 benches/report.py [target/criterion]"""
import json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
rows = {}
for dirpath, _, files in os.walk(root):
    if not dirpath.endswith(os.sep + "new") or "benchmark.json" not in files:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    group = bench["group_id"]
    version, crate = bench["function_id"].split("/")
    key = (group, version, bench.get("value_str") or "")
    rows.setdefault(key, {})[crate] = est["median"]["point_estimate"]

def fmt(ns):
    if ns is None:
        return "-"
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"

print("| benchmark | version | size | mqtt-sansio | rumqttc | mqttrs | ours / rumqttc | ours / mqttrs | target met |")
print("|---|---|---|---|---|---|---|---|---|")
failures = 0
for (group, version, size) in sorted(rows):
    r = rows[(group, version, size)]
    ours, rum, mq = r.get("mqtt-sansio"), r.get("rumqttc"), r.get("mqttrs")
    if ours is None or (rum is None and mq is None):
        continue
    ratio_r = f"{ours / rum:.2f}" if rum else "-"
    ratio_m = f"{ours / mq:.2f}" if mq else "-"
    if group.startswith("decode"):
        met = (rum is None or ours <= 0.5 * rum) and (mq is None or ours < mq)
    else:
        met = ours <= min(x for x in (rum, mq) if x is not None)
    failures += not met
    print(f"| {group} | {version} | {size} | {fmt(ours)} | {fmt(rum)} | {fmt(mq)} | {ratio_r} | {ratio_m} | {'yes' if met else 'NO'} |")

vec = {size: r.get("mqtt-sansio") for (g, v, size), r in rows.items() if g == "encode_vectored/publish_qos1"}
if "16B" in vec and "64KiB" in vec:
    met = vec["64KiB"] <= vec["16B"] * 1.05
    failures += not met
    print(f"\nVectored encode, v5 PUBLISH QoS 1: 16 B {fmt(vec['16B'])}, 64 KiB {fmt(vec['64KiB'])}"
          f" (64 KiB no slower than 16 B, within 5% noise: {'yes' if met else 'NO'})")
for (group, version, size), r in sorted(rows.items()):
    if group.startswith("baseline/"):
        print(f"\nBaseline {group.split('/', 1)[1]} ({size}): {fmt(r.get('bytes'))}")
print(f"\n{failures} target(s) missed")
