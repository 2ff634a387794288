#!/usr/bin/env python3
"""dataset_stats.py — what a `freight gen` dataset looks like, in numbers.

    python3 scripts/dataset_stats.py DIR [--sample N]

Reads DIR/manifest.json and the .jsonl files (every line, or every k-th line
so that about N records of each kind are read) and prints the shares and
distributions that docs/dataset.md quotes: company kinds and cities, truck
lengths and types, driver status and positions, load distances, prices per
km by truck length, pickup windows.  Standard library only.
"""
import argparse
import collections
import json
import math
import os
import statistics
import sys


def haversine_km(a, b):
    r = math.pi / 180
    dlat, dlon = (b["lat"] - a["lat"]) * r, (b["lon"] - a["lon"]) * r
    h = math.sin(dlat / 2) ** 2 + math.cos(a["lat"] * r) * math.cos(b["lat"] * r) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def read(path, total, sample):
    step = max(1, total // sample) if sample else 1
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % step == 0:
                yield json.loads(line)


def shares(counter, n, top=None):
    items = counter.most_common(top)
    return ", ".join("%s %.1f%%" % (k, 100.0 * v / n) for k, v in items)


def pct(values, qs=(10, 50, 90)):
    v = sorted(values)
    if not v:
        return "-"
    return " / ".join("%.0f" % v[min(len(v) - 1, int(q / 100.0 * len(v)))] for q in qs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--sample", type=int, default=200000, help="records of each kind to read (0 = all)")
    a = ap.parse_args()
    with open(os.path.join(a.dir, "manifest.json")) as f:
        man = json.load(f)
    counts, start = man["counts"], man["start"]
    print("dataset %s: %s" % (a.dir, json.dumps(counts)))
    print("command: %s" % man["command"])

    kinds, cities = collections.Counter(), collections.Counter()
    n = 0
    for c in read(os.path.join(a.dir, "companies.jsonl"), counts["companies"], a.sample):
        n += 1
        kinds[c["kind"]] += 1
        cities[c["city"]] += 1
    if n:
        print("\ncompanies (%d read): %s" % (n, shares(kinds, n)))
        print("  top cities: %s" % shares(cities, n, 8))

    lengths, types, status, prov_n = collections.Counter(), collections.Counter(), collections.Counter(), []
    with_pos = away = moving = with_vol = 0
    home_km = []
    n = 0
    for d in read(os.path.join(a.dir, "drivers.jsonl"), counts["drivers"], a.sample):
        n += 1
        t = d["truck"]
        lengths["%.1f" % t["length_m"]] += 1
        types[t["type"]] += 1
        status[d["status"]] += 1
        prov_n.append(len(d["preferred_provinces"]))
        with_vol += "volume_m3" in t
        if "position" in d:
            with_pos += 1
            km = haversine_km(d["home"], d["position"])
            home_km.append(km)
            away += km > 50
            moving += d["position"]["speed_kmh"] > 0
    if n:
        print("\ndrivers (%d read)" % n)
        print("  lengths: %s" % shares(lengths, n))
        print("  types: %s" % shares(types, n))
        print("  status: %s; with a position %.1f%%, of them > 50 km from home %.1f%%, moving %.1f%%"
              % (shares(status, n), 100.0 * with_pos / n, 100.0 * away / max(1, with_pos),
                 100.0 * moving / max(1, with_pos)))
        print("  preferred provinces per driver: mean %.2f; volume stated %.1f%%"
              % (statistics.mean(prov_n), 100.0 * with_vol / n))

    gc_km, per_km, lens, ltypes = [], collections.defaultdict(list), collections.Counter(), collections.Counter()
    same_prov = with_len = with_exp = with_notes = 0
    lead_h, window_h, price = [], [], []
    n = 0
    for ld in read(os.path.join(a.dir, "loads.jsonl"), counts["loads"], a.sample):
        n += 1
        km = haversine_km(ld["origin"], ld["destination"])
        gc_km.append(km)
        same_prov += ld["origin"]["province"] == ld["destination"]["province"]
        L = ld["truck"].get("min_length_m")
        with_len += L is not None
        lens["%.1f" % L if L is not None else "any"] += 1
        ltypes[ld["truck"]["types"][0]] += 1
        price.append(ld["price_cny"])
        if L is not None and km * 1.3 >= 100:
            per_km["%.1f" % L].append(ld["price_cny"] / (km * 1.3))
        with_exp += "expires_at" in ld
        with_notes += "notes" in ld
        lead_h.append((ld["pickup"]["earliest_at"] - start) / 3600.0)
        window_h.append((ld["pickup"]["latest_at"] - ld["pickup"]["earliest_at"]) / 3600.0)
    if n:
        print("\nloads (%d read)" % n)
        print("  great-circle km p10/p50/p90: %s; mean %.0f; road km (x1.3) mean %.0f; within one province %.1f%%"
              % (pct(gc_km), statistics.mean(gc_km), 1.3 * statistics.mean(gc_km), 100.0 * same_prov / n))
        print("  km bands: " + ", ".join("%s %.1f%%" % (lab, 100.0 * sum(lo <= k < hi for k in gc_km) / n)
                                         for lab, lo, hi in (("<50", 0, 50), ("50-200", 50, 200),
                                                             ("200-500", 200, 500), ("500-1000", 500, 1000),
                                                             (">=1000", 1000, 1e9))))
        print("  min length: %s" % shares(lens, n))
        print("  needed type: %s" % shares(ltypes, n))
        print("  price yuan p10/p50/p90: %s" % pct(price))
        print("  yuan per road km (trips >= 100 road km) p10/p50/p90 by min length:")
        for k in sorted(per_km, key=float):
            v = per_km[k]
            print("    %5s m: %5.2f / %5.2f / %5.2f  (%d loads)" % (
                k, sorted(v)[len(v) // 10], statistics.median(v), sorted(v)[len(v) * 9 // 10], len(v)))
        print("  pickup starts in (h) p10/p50/p90: %s; window (h) p10/p50/p90: %s"
              % (pct(lead_h), pct(window_h)))
        print("  expires_at given %.1f%%, notes %.1f%%" % (100.0 * with_exp / n, 100.0 * with_notes / n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
