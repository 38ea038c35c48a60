# SPDX-License-Identifier: MIT
"""A small order-report job: the program `make demo` profiles.

It does what many real scripts do. Each round it parses a day of orders
(CSV text), cleans the customer names (merging near-duplicates such as
"Ada Lovelace" and "Ada Lovelase"), asks a slow service for exchange rates,
totals the orders per customer in one currency, and renders a report.

Where its time goes is the lesson of its profile:
- most of the CPU in edit_distance, called by merge_names for every new
  name against every name kept so far: a quadratic loop in pure Python,
  the one hot spot worth optimising (by bucketing names, say);
- a wall-clock wait in fetch_rates, which blocks on a worker thread that
  answers after a delay: idle time, invisible in cpu mode, seen with
  --mode wall;
- a little in parse_orders and render_report.

Runs on Python 2.7 and 3.6+. Usage: demo_app.py [ROUNDS] (default 3).
"""
from __future__ import print_function

import random
import sys
import threading
import time

try:
    import queue
except ImportError:  # Python 2
    import Queue as queue

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Ken", "Dennis", "Margaret",
         "John", "Frances", "Radia"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Thompson", "Ritchie",
        "Hamilton", "Backus", "Allen", "Perlman"]
SKUS = ["lamp", "desk", "chair", "shelf", "rug", "clock", "vase", "mirror"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
ORDERS_PER_ROUND = 1000
RATES_DELAY_S = 0.35


def make_orders(rng, n):
    """A day's orders as CSV text, with the typos real input has."""
    lines = ["id,customer,sku,quantity,unit_price,currency"]
    for i in range(n):
        name = "%s %s" % (rng.choice(FIRST), rng.choice(LAST))
        if rng.random() < 0.08:  # a typo: one letter replaced
            k = rng.randrange(len(name))
            name = name[:k] + rng.choice("aeiourstln") + name[k + 1:]
        lines.append("%d,%s,%s,%d,%.2f,%s" % (i, name, rng.choice(SKUS), rng.randint(1, 5),
                                              rng.uniform(5, 500), rng.choice(CURRENCIES)))
    return "\n".join(lines)


def parse_orders(text):
    orders = []
    for line in text.splitlines()[1:]:
        oid, customer, sku, quantity, price, currency = line.split(",")
        orders.append({"id": int(oid), "customer": customer, "sku": sku,
                       "quantity": int(quantity), "price": float(price), "currency": currency})
    return orders


def edit_distance(a, b):
    """Levenshtein distance, row by row."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def names_by_frequency(orders):
    """Distinct customer names, the most frequent (the right spelling) first."""
    counts = {}
    for o in orders:
        counts[o["customer"]] = counts.get(o["customer"], 0) + 1
    return sorted(counts, key=lambda name: (-counts[name], name))


def merge_names(names):
    """Map each name to the first kept name within two edits of it."""
    kept, canonical = [], {}
    for name in names:
        for other in kept:
            if edit_distance(name, other) <= 2:
                canonical[name] = other
                break
        else:
            kept.append(name)
            canonical[name] = name
    return canonical


def rates_service(replies):
    time.sleep(RATES_DELAY_S)  # the network and the service's own work
    replies.put({"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05})


def fetch_rates():
    """Ask the (simulated) exchange-rate service and wait for its answer."""
    replies = queue.Queue()
    worker = threading.Thread(target=rates_service, args=(replies,))
    worker.start()
    rates = replies.get(timeout=30)
    worker.join()
    return rates


def totals_by_customer(orders, canonical, rates):
    totals = {}
    for o in orders:
        who = canonical[o["customer"]]
        totals[who] = totals.get(who, 0.0) + o["quantity"] * o["price"] * rates[o["currency"]]
    return totals


def render_report(totals):
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    width = max(len(name) for name in totals)
    lines = ["%-*s %12s" % (width, "customer", "total EUR")]
    for name, total in rows:
        lines.append("%-*s %12s" % (width, name, "{:,.2f}".format(total)))
    return "\n".join(lines)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rng = random.Random(42)
    report = ""
    for _ in range(rounds):
        orders = parse_orders(make_orders(rng, ORDERS_PER_ROUND))
        canonical = merge_names(names_by_frequency(orders))
        rates = fetch_rates()
        report = render_report(totals_by_customer(orders, canonical, rates))
    print(report.splitlines()[1])  # the best customer of the last day


if __name__ == "__main__":
    main()
