#!/usr/bin/env python3
"""Paired attack cost of a robustness grid (docs/robustness.md): for every cell with an attack, the honest agents'
final accuracy per type minus the same agents' accuracy in the no-attack cell of the same seed and rule, in points.
Usage: python3 benchmarks/robustness_paired.py runs/bench-X [attack-axis-name]
Prints per rule and attack: mean ± std over seeds of the honest agents' accuracy per type, and the paired delta
(mean over seeds, then each seed)."""
import json, os, re, statistics, sys
from collections import defaultdict

out = sys.argv[1]
axis = sys.argv[2] if len(sys.argv) > 2 else "attack.kind"
cells = {}
for name in sorted(os.listdir(os.path.join(out, "cells"))):
    d = os.path.join(out, "cells", name)
    if name.endswith(".partial") or not os.path.exists(os.path.join(d, "summary.json")):
        continue
    parts = dict(p.split("=", 1) for p in name.split("__"))
    s = json.load(open(os.path.join(d, "summary.json")))
    types = {}
    for line in open(os.path.join(d, "metrics.jsonl")):
        m = json.loads(line)
        types[m["agent"]] = m["type"]
    att = (s["accuracy"].get("attackers") or {}).get("ids", [])
    cells[name] = (parts, s["accuracy"]["per_agent"], types, set(att))

def key(parts, drop):
    return tuple(sorted((k, v) for k, v in parts.items() if k not in drop))

by_rule = defaultdict(list)
for name, (parts, acc, types, att) in cells.items():
    by_rule[key(parts, {"seed"})].append(name)
for rk in sorted(by_rule):
    parts = dict(rk)
    if parts.get(axis) == "none":
        label = ", ".join(f"{k}={v}" for k, v in rk)
        names = by_rule[rk]
        for t in sorted(set(cells[names[0]][2].values())):
            a = [statistics.mean(c[1][i] for i, tt in c[2].items() if tt == t and i not in c[3]) for c in (cells[n] for n in names)]
            print(f"{label} | {t}: acc {statistics.mean(a):.3f} ± {statistics.stdev(a) if len(a) > 1 else 0:.3f} ({' / '.join(f'{x:.3f}' for x in a)})")
        continue
    deltas = defaultdict(list)
    accs = defaultdict(list)
    for name in sorted(by_rule[rk], key=lambda n: int(cells[n][0]["seed"])):
        p, acc, types, att = cells[name]
        base = dict(p); base[axis] = "none"
        bname = "__".join(f"{k}={v}" for k, v in base.items())
        if bname not in cells:
            continue
        _, bacc, _, _ = cells[bname]
        for t in sorted(set(types.values())):
            ids = [i for i, tt in types.items() if tt == t and i not in att]
            a = statistics.mean(acc[i] for i in ids)
            b = statistics.mean(bacc[i] for i in ids)
            accs[t].append(a)
            deltas[t].append(100 * (a - b))
    label = ", ".join(f"{k}={v}" for k, v in rk)
    for t in sorted(deltas):
        d = deltas[t]
        sd = statistics.stdev(accs[t]) if len(accs[t]) > 1 else 0
        print(f"{label} | {t}: acc {statistics.mean(accs[t]):.3f} ± {sd:.3f} | delta {statistics.mean(d):+.1f} ({' / '.join(f'{x:+.1f}' for x in d)})")
