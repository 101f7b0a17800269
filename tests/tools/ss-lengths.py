#!/usr/bin/env python3
"""ss-lengths.py FILE: for each message of a .ss file whose payload-size
field lies in one interval (not cut by a beacon), prints the file offset
of that field, the message's start, and "damage" or "cut": what a length
made too large is. It is damage where a beacon boundary lies after the
message's start and inside the file, or an End-of-Stream follows it at
the end of the file; otherwise the file looks cut short inside it.
Uses the independent reference codec tests/ref/ssref.py."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ref"))
import ssref  # noqa: E402

data = open(sys.argv[1], "rb").read()
r = ssref.parse(data)
iv = r["header"]["beacon_interval"]
msgs = r["messages"]
ends_eos = len(msgs) > 0 and msgs[-1].key == ssref.EOS_KEY
for i, (m, start) in enumerate(zip(msgs, r["starts"])):
    field = start + 1 + len(m.key) + 24
    if start // iv != (field + 3) // iv or field % iv == 0:
        continue
    later_beacon = (start // iv + 1) * iv < len(data)
    print(field, start, "damage" if later_beacon or (ends_eos and i < len(msgs) - 1)
          else "cut")
