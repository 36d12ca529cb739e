#!/usr/bin/env python3
"""Write a recipients CSV of N rows for the benchmarks (deterministic)."""
import csv
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(42)
names = ["Ana", "Bruno", "Chloé", "Diego", "Erin", "Farah", "Goran", "Hiro", "Ines", "Jonas"]
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["phone", "first_name", "sku", "discount", "last_inbound_at"])
    for i in range(n):
        phone = f"+1604{i:07d}"
        last = "" if i % 3 else f"2026-11-{20 + i % 4:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        w.writerow([phone, rng.choice(names), f"SKU-{i % 5000:05d}", 10 + i % 30, last])
