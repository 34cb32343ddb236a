#!/usr/bin/env python3
"""Generate Fixtures/events/orders.jsonl deterministically.

    python3 Fixtures/events/generate.py            # writes orders.jsonl next to this file
    python3 Fixtures/events/generate.py -n 500 -o /tmp/x.jsonl --seed 7

Each line is one JSON object with the fields
  user (u0000..u0049), event, ts (ISO-8601 UTC, ms), amount, order {id, type: buy|sell}, country
and a few events (3 per 2,000 by default) also carry "poison": true, for failure-path tests.
The output depends only on the seed and the count, so re-running it reproduces the committed file.
"""

import argparse
import json
import os
import random
from datetime import datetime, timedelta, timezone

USERS = 50
EVENTS = [
    ("order_placed", 0.45),
    ("order_filled", 0.30),
    ("order_cancelled", 0.10),
    ("order_amended", 0.10),
    ("order_rejected", 0.05),
]
COUNTRIES = ["US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "AU", "NL", "ES", "SE"]
COUNTRY_WEIGHTS = [30, 12, 10, 8, 8, 6, 6, 6, 5, 4, 3, 2]
START = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)


def generate(count: int, seed: int, poison: int):
    rng = random.Random(seed)
    # Each user has a home country, so filters on country and user agree with each other.
    home = {u: rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0] for u in range(USERS)}
    # A skewed user distribution (a few heavy traders), like real traffic.
    user_weights = [1.0 / (1 + (u % 17)) for u in range(USERS)]
    poison_at = set(rng.sample(range(count), poison)) if poison else set()
    names = [e for e, _ in EVENTS]
    weights = [w for _, w in EVENTS]
    ts = START
    order_seq = 100000
    for i in range(count):
        ts += timedelta(milliseconds=rng.randint(5, 900))
        u = rng.choices(range(USERS), user_weights)[0]
        event = rng.choices(names, weights)[0]
        order_seq += 1
        amount = round(rng.lognormvariate(4.0, 1.0), 2)
        rec = {
            "user": f"u{u:04d}",
            "event": event,
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "amount": amount,
            "order": {"id": f"ord-{order_seq:07d}", "type": rng.choice(["buy", "sell"])},
            "country": home[u] if rng.random() < 0.95 else rng.choice(COUNTRIES),
        }
        if i in poison_at:
            rec["poison"] = True
        yield rec


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--count", type=int, default=2000)
    p.add_argument("--seed", type=int, default=20261122)
    p.add_argument("--poison", type=int, default=None, help="number of poison events (default: 3 per 2,000)")
    p.add_argument("-o", "--output", default=os.path.join(here, "orders.jsonl"), help="'-' for stdout")
    a = p.parse_args()
    poison = a.poison if a.poison is not None else max(0, round(a.count * 3 / 2000))
    lines = (json.dumps(r, separators=(",", ":")) + "\n" for r in generate(a.count, a.seed, poison))
    if a.output == "-":
        import sys

        sys.stdout.writelines(lines)
    else:
        with open(a.output, "w", encoding="utf-8") as f:
            f.writelines(lines)


if __name__ == "__main__":
    main()
