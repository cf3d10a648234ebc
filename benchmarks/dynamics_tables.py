#!/usr/bin/env python3
"""Tables of docs/dynamics.md from the bench outputs of benchmarks/dynamics.yaml and benchmarks/churn.yaml.

Usage: python3 benchmarks/dynamics_tables.py runs/bench-dynamics runs/bench-churn
Reads every cell's metrics.csv (columns accuracy, all_sensors_accuracy, unavailable) and newcomers.csv.
"""
import csv, glob, os, statistics, sys
from collections import defaultdict


def cells(root):
    for d in sorted(glob.glob(os.path.join(root, "cells", "*"))):
        if d.endswith(".partial") or not os.path.exists(os.path.join(d, "summary.json")):
            continue
        coords = dict(p.split("=", 1) for p in os.path.basename(d).split("__"))
        yield d, coords


def fmt(xs):
    if not xs:
        return "–"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def failure_tables(root):
    # per (scenario, method, type, round): per-seed means over agents
    acc = defaultdict(lambda: defaultdict(list))   # key -> seed -> values
    full = defaultdict(lambda: defaultdict(list))
    down = defaultdict(lambda: defaultdict(list))
    rounds = set()
    for d, c in cells(root):
        with open(os.path.join(d, "metrics.csv")) as f:
            for row in csv.DictReader(f):
                k = (c["scenario"], c["method"], row["type"], int(row["round"]))
                rounds.add(int(row["round"]))
                acc[k][c["seed"]].append(float(row["accuracy"]))
                full[k][c["seed"]].append(float(row["all_sensors_accuracy"] or row["accuracy"]))
                down[k][c["seed"]].append(1.0 if row["unavailable"] else 0.0)
    def seeds(table, k):
        return [statistics.mean(v) for v in table[k].values()]
    for scenario in sorted({k[0] for k in acc}):
        print(f"\n### scenario {scenario}: accuracy over rounds (mean ± std over seeds of the per-type mean)\n")
        rs = sorted(rounds)
        print("| method | type | " + " | ".join(f"r{r}" for r in rs) + " |")
        print("|---|---|" + "---:|" * len(rs))
        for method in ["parse", "local", "dsgd-hybrid"]:
            for t in ["a", "b", "a+b"]:
                if (scenario, method, t, rs[0]) not in acc:
                    continue
                print(f"| {method} | {t} | " + " | ".join(fmt(seeds(acc, (scenario, method, t, r))) for r in rs) + " |")
        last = max(rounds)
        print(f"\n### scenario {scenario}: after round {last}, with the failed sensors masked vs every sensor working\n")
        print("| method | type | accuracy | all sensors | agents with b down |")
        print("|---|---|---:|---:|---:|")
        for method in ["parse", "local", "dsgd-hybrid"]:
            for t in ["a", "b", "a+b"]:
                k = (scenario, method, t, last)
                if k not in acc:
                    continue
                print(f"| {method} | {t} | {fmt(seeds(acc, k))} | {fmt(seeds(full, k))} | {statistics.mean(seeds(down, k)):.2f} |")
        # rounds after the first: mean over every evaluated round of (accuracy, all sensors) for a+b
        print(f"\n### scenario {scenario}: a+b agents, mean over the evaluated rounds >= 12\n")
        print("| method | accuracy | all sensors | kept (accuracy / all sensors) |")
        print("|---|---:|---:|---:|")
        for method in ["parse", "local", "dsgd-hybrid"]:
            a_s, f_s = [], []
            for seed in {s for k in acc if k[:3] == (scenario, method, "a+b") for s in acc[k]}:
                ks = [k for k in acc if k[:3] == (scenario, method, "a+b") and k[3] >= 12]
                a_s.append(statistics.mean(statistics.mean(acc[k][seed]) for k in ks))
                f_s.append(statistics.mean(statistics.mean(full[k][seed]) for k in ks))
            if a_s:
                print(f"| {method} | {fmt(a_s)} | {fmt(f_s)} | {statistics.mean(a_s) / statistics.mean(f_s):.2f} |")


def churn_tables(root):
    rows = []
    curves = defaultdict(list)
    for d, c in cells(root):
        with open(os.path.join(d, "newcomers.csv")) as f:
            new = list(csv.DictReader(f))
        ids = {r["agent"] for r in new}
        join = int(new[0]["join_round"])
        for r in new:
            rows.append((c["churn.warm_start"], r))
        with open(os.path.join(d, "metrics.csv")) as f:
            for m in csv.DictReader(f):
                rel = int(m["round"]) - join
                if rel in (0, 1, 2, 5, 10, 15):
                    curves[(c["churn.warm_start"], m["type"], "newcomers" if m["agent"] in ids else "incumbents", rel)].append(float(m["accuracy"]))
    print("\n### newcomers: rounds to reach eval.target_fraction (0.95) of their type's incumbents\n")
    print("| warm start | type | newcomers | first accuracy | incumbents then | reached | mean rounds (reached) | within 1 round |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for w in ["true", "false"]:
        for t in ["a", "a+b"]:
            rs = [r for ww, r in rows if ww == w and r["type"] == t]
            if not rs:
                continue
            reached = [int(r["rounds_to_type_accuracy"]) for r in rs if r["rounds_to_type_accuracy"]]
            print(f"| {w} | {t} | {len(rs)} | {statistics.mean(float(r['first_accuracy']) for r in rs):.3f} | "
                  f"{statistics.mean(float(r['type_accuracy_at_join']) for r in rs):.3f} | {len(reached)} | "
                  f"{statistics.mean(reached):.2f} | {sum(1 for x in reached if x <= 1)} |")
    print("\n### newcomers vs incumbents: mean accuracy k rounds after the join round (k = 0: after its first round)\n")
    ks = [0, 1, 2, 5, 10, 15]
    print("| warm start | type | agents | " + " | ".join(f"+{k}" for k in ks) + " |")
    print("|---|---|---|" + "---:|" * len(ks))
    for w in ["true", "false"]:
        for t in ["a", "a+b"]:
            for who in ["newcomers", "incumbents"]:
                vals = [curves.get((w, t, who, k)) for k in ks]
                if not any(vals):
                    continue
                print(f"| {w} | {t} | {who} | " + " | ".join(f"{statistics.mean(v):.3f}" if v else "–" for v in vals) + " |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and os.path.isdir(sys.argv[1]):
        failure_tables(sys.argv[1])
    if len(sys.argv) > 2 and os.path.isdir(sys.argv[2]):
        churn_tables(sys.argv[2])
