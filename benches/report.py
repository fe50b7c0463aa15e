#!/usr/bin/env python3
"""Prints the medians of `cargo bench --bench codec` as a table, with the ratios the
codec issue sets as targets: decode rows at most half of rumqttc and below mqttrs,
encode rows no slower than the faster of the two, the vectored 64 KiB encode no
slower than the 16 B one.

Usage:
  python3 benches/report.py                 the last run (criterion's "new" estimates)
  python3 benches/report.py --runs a,b,c    runs saved with `cargo bench --bench codec
                                            -- --save-baseline NAME`: each time is the
                                            median over the runs, and each ratio the
                                            median of the ratios within each run, so a
                                            machine that drifts between runs moves no
                                            ratio
  --root DIR                                criterion's directory (target/criterion)"""
import argparse, json, os, statistics

parser = argparse.ArgumentParser()
parser.add_argument("--runs", default="new")
parser.add_argument("--root", default="target/criterion")
args = parser.parse_args()
runs = args.runs.split(",")

# rows[(group, version, size)][crate][run] = median time in ns
rows = {}
for dirpath, _, files in os.walk(args.root):
    run = os.path.basename(dirpath)
    if run not in runs or "estimates.json" not in files:
        continue
    bench_file = os.path.join(dirpath, "benchmark.json")
    if not os.path.exists(bench_file):
        continue
    bench = json.load(open(bench_file))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    group = bench["group_id"]
    version, crate = bench["function_id"].split("/")
    key = (group, version, bench.get("value_str") or "")
    rows.setdefault(key, {}).setdefault(crate, {})[run] = est["median"]["point_estimate"]


def median_time(r, crate):
    times = r.get(crate)
    return statistics.median(times.values()) if times else None


def median_ratio(r, crate):
    """The median over the runs of ours / theirs, each pair from the same run."""
    ours, theirs = r.get("mqtt-sansio", {}), r.get(crate, {})
    ratios = [ours[run] / theirs[run] for run in runs if run in ours and run in theirs]
    return statistics.median(ratios) if ratios else None


def fmt(ns):
    if ns is None:
        return "-"
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"


if len(runs) > 1:
    print(f"Medians over {len(runs)} runs ({', '.join(runs)}); ratios are medians of per-run ratios.\n")
print("| benchmark | version | size | mqtt-sansio | rumqttc | mqttrs | ours / rumqttc | ours / mqttrs | target met |")
print("|---|---|---|---|---|---|---|---|---|")
failures = 0
for (group, version, size) in sorted(rows):
    if group.startswith("baseline/"):
        continue
    r = rows[(group, version, size)]
    ours, rum, mq = (median_time(r, c) for c in ("mqtt-sansio", "rumqttc", "mqttrs"))
    if ours is None or (rum is None and mq is None):
        continue
    ratio_r, ratio_m = median_ratio(r, "rumqttc"), median_ratio(r, "mqttrs")
    if group.startswith("decode"):
        met = (ratio_r is None or ratio_r <= 0.5) and (ratio_m is None or ratio_m < 1)
    else:
        met = all(x is None or x <= 1 for x in (ratio_r, ratio_m))
    failures += not met
    show = lambda x: f"{x:.2f}" if x is not None else "-"
    print(f"| {group} | {version} | {size} | {fmt(ours)} | {fmt(rum)} | {fmt(mq)} | {show(ratio_r)} | {show(ratio_m)} | {'yes' if met else 'NO'} |")

vec = {size: r.get("mqtt-sansio", {}) for (g, v, size), r in rows.items() if g == "encode_vectored/publish_qos1"}
if vec.get("16B") and vec.get("64KiB"):
    small, big = statistics.median(vec["16B"].values()), statistics.median(vec["64KiB"].values())
    ratios = [vec["64KiB"][run] / vec["16B"][run] for run in runs if run in vec["64KiB"] and run in vec["16B"]]
    met = statistics.median(ratios) <= 1.05
    failures += not met
    print(f"\nVectored encode, v5 PUBLISH QoS 1: 16 B {fmt(small)}, 64 KiB {fmt(big)}"
          f" (64 KiB no slower than 16 B, within 5% noise: {'yes' if met else 'NO'})")
for (group, version, size), r in sorted(rows.items()):
    if group.startswith("baseline/"):
        print(f"\nBaseline {group.split('/', 1)[1]} ({size}): {fmt(median_time(r, 'bytes'))}")
print(f"\n{failures} target(s) missed")
