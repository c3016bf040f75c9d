#!/usr/bin/env python3
"""Fits the executor's gas model to the routes test/ExecutorGasMixed.t.sol measures.

Usage (from contracts/, forge as in README.md):
    forge test --match-contract ExecutorGasMixed -vv | ./gas-model.py

For each suite (new block, same block) it fits, by least squares over the measured routes,

    gas = base + sum over hops of hop[kind] + (first hop is V2 ? firstV2 : 0)
               + sum over V3/Algebra hops of tick[kind] * initialized ticks crossed

and prints the coefficients (gas) and every route's measured gas, the model's figure and the
error. Standard library only.
"""
import re
import sys

KINDS = ("V2", "V3", "Alg")
NAMES = ["base", "hop V2", "hop V3", "hop Alg", "first hop V2", "tick V3", "tick Alg"]


def features(kinds, ticks):
    x = [1.0] + [float(kinds.count(k)) for k in KINDS]
    x.append(1.0 if kinds[0] == "V2" else 0.0)
    for k in ("V3", "Alg"):
        x.append(float(sum(t for kd, t in zip(kinds, ticks) if kd == k)))
    return x


def least_squares(rows, ys):
    """Solves the normal equations by Gauss-Jordan elimination with partial pivoting."""
    n = len(rows[0])
    m = [
        [sum(r[i] * r[j] for r in rows) for j in range(n)] + [sum(r[i] * y for r, y in zip(rows, ys))]
        for i in range(n)
    ]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [a - f * b for a, b in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def main():
    text = sys.stdin.read()
    suites = re.split(r"\nRan \d+ tests? for ", text)[1:]
    if not suites:
        sys.exit("gas-model.py: no forge suite output on stdin (run forge test ... -vv | ./gas-model.py)")
    for suite in suites:
        title = suite.split("\n", 1)[0]
        routes = {}
        for m in re.finditer(r"^\s+(\S.*?) (tx|ticks): (\S+)$", suite, re.M):
            routes.setdefault(m.group(1), {})[m.group(2)] = m.group(3)
        rows, ys, names = [], [], []
        for name, v in routes.items():
            if "tx" not in v or "ticks" not in v:
                continue
            kinds = name.split()[0].split("-")
            ticks = [int(c) for c in v["ticks"]]
            rows.append(features(kinds, ticks))
            ys.append(int(v["tx"]))
            names.append((name, v["ticks"]))
        if len(rows) < len(NAMES):
            continue
        coef = least_squares(rows, ys)
        print(title)
        print("  " + ", ".join(f"{n} {c:.0f}" for n, c in zip(NAMES, coef)))
        worst = 0.0
        for (name, ticks), x, y in zip(names, rows, ys):
            model = sum(a * c for a, c in zip(x, coef))
            worst = max(worst, abs(y - model))
            print(f"  {name:<18} ticks {ticks:<5} measured {y:>7}  model {model:>7.0f}  error {y - model:>+6.0f}")
        print(f"  largest error {worst:.0f} gas")


if __name__ == "__main__":
    main()
