#!/usr/bin/env python3
"""Independent reference implementation of SeaStreamer's `.ss` v1 file format.

Python 3 stdlib only. Used to generate and check the test vectors in
format/vectors/; nothing in libstream depends on it at run time.

  ssref.py check [DIR...]    decode every DIR/*.ss against its .expected.jsonl,
                             re-encode it (from .messages.tsv + .args, or from
                             its own header) byte for byte, and check
                             DIR/corrupt/faults.tsv. Default DIRs: the shared
                             vectors (if present) and format/vectors.
  ssref.py generate OUTDIR   write the vector set (deterministic).
"""
import json, os, random, shutil, struct, sys
from collections import namedtuple

Msg = namedtuple("Msg", "key shard seq ts payload")   # key: str, payload: bytes
EOS_KEY = "SEA_STREAMER_INTERNAL"
HEADER_SIZE, ITEM_MAX, KEY_CHARS = 128, 282, set(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = "/work/shared/vectors"
T0 = 1700000000000          # fixed base timestamp (2023-11-14T22:13:20Z)

def eos(ts):
    return Msg(EOS_KEY, 0, 0, ts, b"EOS")

# CRC-16/CDMA2000: poly 0xC867, init 0xFFFF, MSB first, no xorout (table-driven).
_T = []
for _i in range(256):
    _c = _i << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0xC867 if _c & 0x8000 else _c << 1) & 0xFFFF
    _T.append(_c)

def crc16(data, crc=0xFFFF):
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _T[(crc >> 8) ^ b]
    return crc

def sstr(b):
    assert len(b) <= 255
    return bytes([len(b)]) + b

def beacon_cap(interval):
    return min(255, (interval - 7) // ITEM_MAX) // 2

# ---------------------------------------------------------------- writer
def _encode(messages, file_name, created_at_ms, interval):
    """Returns (file bytes, [(start, end) offset of each message's bytes])."""
    name = file_name.encode()
    if interval < HEADER_SIZE or len(name) > 111:
        raise ValueError("interval < 128 or file name too long")
    out = bytearray(b"Ss\x01" + sstr(name) + struct.pack(">QI", created_at_ms, interval))
    out += bytes(HEADER_SIZE - 1 - len(out)) + b"\r"
    state = {}   # (key bytes, shard) -> [max seq, max ts, running crc]
    items_written = 0
    spans = []

    def beacon(remaining):
        nonlocal items_written
        streams = sorted(state)                 # by (key bytes, shard number)
        n = min(len(streams), beacon_cap(interval))
        body = b""
        for i in range(n):
            k = streams[(items_written + i) % len(streams)]
            body += sstr(k[0]) + struct.pack(">QQQH", k[1], *state[k])
        items_written += n
        out.extend(b"\r" + struct.pack(">IB", remaining, n) + body + b"\r")

    if len(out) % interval == 0:                # interval 128: header fills it
        beacon(0)
    for m in messages:
        key = m.key.encode()
        assert 1 <= len(key) <= 249 and set(key) <= KEY_CHARS, m.key
        crc = crc16(m.payload)
        body = (sstr(key) + struct.pack(">QQQI", m.shard, m.seq, m.ts, len(m.payload))
                + m.payload + struct.pack(">HB", crc, 0x0D))
        # beacon state is updated before the message's bytes are written
        k = (key, m.shard)
        s = state.setdefault(k, [m.seq, m.ts, 0xFFFF])
        s[0], s[1] = max(s[0], m.seq), max(s[1], m.ts)
        s[2] = crc16(struct.pack(">H", crc), s[2])
        start, pos = len(out), 0
        while pos < len(body):                  # chunks up to the next boundary
            chunk = body[pos:pos + interval - len(out) % interval]
            out += chunk
            pos += len(chunk)
            end = len(out)
            if end % interval == 0:             # beacon at once, even mid-message
                beacon(len(body) - pos)
        spans.append((start, end))
    return bytes(out), spans

def encode(messages, file_name, created_at_ms, interval):
    return _encode(messages, file_name, created_at_ms, interval)[0]

# ---------------------------------------------------------------- reader
class FormatError(Exception):
    """Corruption: `kind` at byte `offset`, after `good` complete messages.
    Message-level faults (key, checksum, trailer) are reported at the offset
    where that message starts; beacon faults where the beacon starts."""
    def __init__(self, kind, offset, good, detail=""):
        super().__init__(f"{kind} fault at offset {offset} after {good} messages {detail}")
        self.kind, self.offset, self.good = kind, offset, good

class _Truncated(Exception):
    pass

def _ends_in_eos(d, start):
    """Does d end with a whole End-of-Stream message (56 bytes, not cut by
    a beacon) that begins after byte `start`?"""
    t = d[-56:]
    return (len(d) - 56 > start and t[:22] == b"\x15" + EOS_KEY.encode()
            and t[22:38] == bytes(16) and t[46:53] == b"\0\0\0\3EOS"
            and struct.unpack(">H", t[53:55])[0] == crc16(b"EOS")
            and t[55] == 0x0D)

def parse(data, verify_beacons=True):
    """Full decode. Returns dict: header, messages, starts (offset of each
    message's first byte), beacons [(offset, remaining, items)], truncated, cut
    (offset where the incomplete message or beacon starts, if truncated). A
    beacon inside an incomplete message is checked against the size it declares.
    A FormatError carries the good messages before the fault as `messages`."""
    msgs = []
    try:
        return _parse(data, verify_beacons, msgs)
    except FormatError as e:
        e.messages = msgs[:e.good]
        raise

def _parse(data, verify_beacons, msgs):
    d = bytes(data)
    if len(d) < HEADER_SIZE or d[:2] != b"Ss":
        raise FormatError("magic", 0, 0)
    if d[2] != 1:
        raise FormatError("version", 2, 0)
    n = d[3]
    if 4 + n + 12 > HEADER_SIZE - 1:
        raise FormatError("header", 3, 0)
    created, interval = struct.unpack_from(">QI", d, 4 + n)
    if any(d[4 + n + 12:127]) or d[127] != 0x0D or interval < HEADER_SIZE:
        raise FormatError("header", 0, 0)
    try:
        header = {"file_name": d[4:4 + n].decode(), "created_at_ms": created,
                  "beacon_interval": interval}
    except UnicodeDecodeError:
        raise FormatError("header", 4, 0) from None
    starts, beacons, checks = [], [], []
    pos, cur = HEADER_SIZE, None     # cur: [bytes of current message read so far]

    def read_beacon():
        nonlocal pos
        at, p = pos, pos + 6
        if p > len(d):
            raise _Truncated
        if d[at] != 0x0D:
            raise FormatError("beacon", at, len(msgs), "bad marker")
        remaining, count = struct.unpack_from(">IB", d, at + 1)
        items = []
        for _ in range(count):               # items: key, shard, seq, ts, crc
            if p >= len(d) or p + 1 + d[p] + 26 > len(d):
                raise _Truncated
            k, p = d[p + 1:p + 1 + d[p]], p + 1 + d[p] + 26
            if not 1 <= len(k) <= 249 or not set(k) <= KEY_CHARS:
                raise FormatError("beacon", at, len(msgs), "item key")
            items.append((k, *struct.unpack_from(">QQQH", d, p - 26)))
            if p - at >= interval:
                raise FormatError("beacon", at, len(msgs), "runs into the next interval")
        if p >= len(d):
            raise _Truncated
        if d[p] != 0x0D:
            raise FormatError("beacon", at, len(msgs), "bad end marker")
        pos = p + 1
        beacons.append((at, remaining, items))
        # remember what to verify once the interrupted message is complete
        checks.append((len(beacons) - 1, len(msgs) + (1 if cur and cur[0] else 0),
                       cur[0] if cur else None))

    def take(n):
        nonlocal pos
        out = b""
        while n:
            if pos % interval == 0:
                read_beacon()
            chunk = min(n, interval - pos % interval)
            if pos + chunk > len(d):
                raise _Truncated
            out += d[pos:pos + chunk]
            pos, n = pos + chunk, n - chunk
            cur[0] += chunk
        return out

    truncated, cut, total = False, None, None   # cut: where the incomplete part starts
    try:
        while True:
            cur, total = None, None
            if pos % interval == 0 and pos < len(d):
                cut = pos
                read_beacon()                # boundary fell between messages
            if pos == len(d):
                break
            start, cur = pos, [0]
            cut = start
            klen = take(1)[0]
            # a key cut short by the end of the data is damage all the
            # same if a byte of it that is there cannot be in a key
            there = d[pos:min(pos + klen, len(d), pos - pos % interval + interval)]
            if pos + klen > len(d) and not set(there) <= KEY_CHARS:
                raise FormatError("key", start, len(msgs))
            key = take(klen) if 1 <= klen <= 249 else b""
            if not key or not set(key) <= KEY_CHARS:
                raise FormatError("key", start, len(msgs))
            shard, seq, ts, size = struct.unpack(">QQQI", take(28))
            total = 1 + klen + 28 + size + 3  # declared: fixes every remaining count
            payload = take(size)
            crc, trailer = struct.unpack(">HB", take(3))
            if crc != crc16(payload):
                raise FormatError("checksum", start, len(msgs))
            if trailer != 0x0D:
                raise FormatError("trailer", start, len(msgs))
            msgs.append(Msg(key.decode(), shard, seq, ts, payload))
            starts.append(start)
    except _Truncated:
        truncated = True
        # a file closed cleanly, a whole End-of-Stream at its end after
        # the start of the cut message, cannot end inside that message:
        # the message's size is damage (format/README.md, 3.8)
        if cur is not None and _ends_in_eos(d, start):
            raise FormatError("size", start, len(msgs), "runs past the End-of-Stream")
    # beacon checks: remaining bytes, and items against our own stream state
    state, done = {}, 0
    for b, upto, consumed in checks:
        at, remaining, items = beacons[b]
        if upto > len(msgs):                 # interrupted message never completed:
            if total is not None and remaining != total - consumed:
                raise FormatError("beacon", at, len(msgs), "remaining")
            continue                         # its declared size still fixes the count
        if consumed is None or consumed == 0:
            want = 0
        else:
            m = msgs[upto - 1]
            want = 1 + len(m.key) + 28 + len(m.payload) + 3 - consumed
        if remaining != want:
            raise FormatError("beacon", at, upto - (1 if consumed else 0), "remaining")
        for m in msgs[done:upto]:
            k = (m.key.encode(), m.shard)
            s = state.setdefault(k, [m.seq, m.ts, 0xFFFF])
            s[0], s[1] = max(s[0], m.seq), max(s[1], m.ts)
            s[2] = crc16(struct.pack(">H", crc16(m.payload)), s[2])
        done = upto
        for key, shard, seq, ts, crc in items:
            if verify_beacons and state.get((key, shard)) != [seq, ts, crc]:
                raise FormatError("beacon", at, upto - (1 if consumed else 0), "item")
    return {"header": header, "messages": msgs, "starts": starts,
            "beacons": beacons, "truncated": truncated,
            "cut": cut if truncated else None}

def decode(data):
    """(header dict, [Msg]) of the complete messages in `data`."""
    r = parse(data)
    return r["header"], r["messages"]

# ---------------------------------------------------------------- vector files
def json_line(m):
    o = {"stream_key": m.key, "shard_id": m.shard, "sequence": m.seq, "timestamp_ms": m.ts}
    try:
        o["text"] = m.payload.decode("utf-8")        # strict: no surrogates/overlongs
    except UnicodeDecodeError:
        o["bytes"] = m.payload.hex()
    return json.dumps(o, sort_keys=True)

def tsv_line(m):
    return f"{m.key}\t{m.shard}\t{m.seq}\t{m.ts}\t{m.payload.hex()}"

def read_tsv(path):
    out = []
    for line in open(path, encoding="ascii").read().splitlines():
        k, sh, sq, ts, hx = line.split("\t")
        out.append(Msg(k, int(sh), int(sq), int(ts), bytes.fromhex(hx)))
    return out

def read_args(path):
    a = dict(f.split("=", 1) for f in open(path).read().split())
    return a["name"], int(a["created"]), int(a["interval"]), int(a.get("truncate", -1))

def write_vector(outdir, name, msgs, file_name, created, interval, truncate=None):
    data, spans = _encode(msgs, file_name, created, interval)
    if truncate is not None:
        data = data[:truncate]
    base = os.path.join(outdir, name)
    open(base + ".ss", "wb").write(data)
    with open(base + ".messages.tsv", "w") as f:
        f.writelines(tsv_line(m) + "\n" for m in msgs)
    args = f"name={file_name} created={created} interval={interval}"
    open(base + ".args", "w").write(args + (f" truncate={truncate}" if truncate else "") + "\n")
    got = decode(data)[1]
    assert got == (msgs if truncate is None else msgs[:len(got)]), name
    with open(base + ".expected.jsonl", "w") as f:
        f.writelines(json_line(m) + "\n" for m in got)
    return data, spans

# ---------------------------------------------------------------- generation
def _text(rng, n):
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                 for _ in range(n))

def gen_splice(rng):
    iv, msgs = 256, []
    def fit(i, target):      # payload length making message i end at offset = target mod iv
        for n in range(301):
            m = Msg("splice", 0, i, T0 + 10 * i, bytes(n))
            if _encode(msgs + [m], "splice-256", T0, iv)[1][-1][1] % iv == target:
                return n
        raise AssertionError("no fit")
    for i in range(60):
        n = {5: 0, 44: 0, 31: 300, 58: 300}.get(i)
        if i in (12, 50):
            n = fit(i, 0)                        # ends exactly on a boundary
        elif i in (30, 57):
            n = fit(i, iv - 9)                   # next (300 B) message is cut twice
        elif i == 40:
            n = fit(i, iv - 1)                   # next message: beacon after its key length
        msgs.append(Msg("splice", 0, i, T0 + 10 * i, _text(rng, rng.randint(0, 300) if n is None else n)))
    return msgs + [eos(T0 + 600)], iv

def gen_many(rng):
    keys = ["A.x", "a_y", "b-2", "B", "b", "b.1", "a", "a.b", "Z9", "z-9", "0", "09",
            "9lives", "_under", "-dash", ".dot", "MiXeD.Case_1"]
    long = ("k" * 249, 3)                        # the longest key, used only 5 times
    pool = rng.sample([(k, s) for k in keys for s in range(4)], 39)
    seq = {s: rng.choice([0, 1, 1000, 2**32 - 5, 2**63 + 7, 2**64 - 2100]) for s in pool + [long]}
    first = pool + [long]
    rng.shuffle(first)
    order = first + [long if i % 500 == 0 else rng.choice(pool) for i in range(1960)]
    msgs, ts = [], T0
    for k, s in order:
        ts += rng.randint(0, 3)
        payload = f"{k[:8]}/{s}#{seq[k, s]}".encode() + _text(rng, rng.randint(0, 8))
        msgs.append(Msg(k, s, seq[k, s], ts, payload if rng.random() > 0.02 else b""))
        seq[k, s] += rng.choice([1, 1, 1, 2, 5])
    return msgs + [eos(ts)], 1024

def gen_tiny(rng):
    msgs = [Msg("tT"[i % 2], i % 2, i // 2, T0 + i, _text(rng, 110 if i == 7 else rng.randint(0, 80)))
            for i in range(30)]
    return msgs + [eos(T0 + 30)], 128

def gen_large(rng):
    sizes = [12, 10240, 40, 0, 71680, 25, 10240, 7]
    msgs = [Msg("big" if n >= 10240 else "small", 0 if n >= 10240 else 5, i, T0 + 1000 * i,
                _text(rng, n)) for i, n in enumerate(sizes)]
    return msgs + [eos(T0 + 9000)], 4096

BINARY = [("text", 0, b"plain text"), ("bin", 2, b"\xff\xfe\xfd"), ("bin", 10, b"\xc3\x28"),
          ("bin", 2, b"\xc0\xaf"), ("bin", 10, b"\xed\xa0\x80"), ("bin", 2, b"\xf4\x90\x80\x80"),
          ("bin", 2, b"ends mid-char \xe2\x82"), ("text", 0, b"nul\x00inside"), ("text", 0, b"\x00"),
          ("text", 0, b"line1\nline2\n"), ("text", 0, b"crlf\r\nline\r\n"), ("text", 0, b"\r"),
          ("text", 0, b'tab\tand "quotes" and \\backslash'), ("text", 0, "h\u00e9llo w\u00f6rld \u2014 \u2713 \U0001F600".encode()),
          ("text", 0, "\ufeffBOM first".encode()), ("text", 0, b"\x7f DEL \x1b[31mANSI\x1b[0m"),
          ("json", 0, b'{"a": 1, "b": [1, 2, {"c": null}],\n  "d": {"e": "f"}}'),
          ("json", 0, b"  [ 1 , 2 , 3 ]  "), ("json", 0, b'"a string"'), ("json", 0, b"null"),
          ("json", 0, b'{"nested":{"deep":{"deeper":[[[]]]}}}'), ("json", 0, b"42"),
          ("text", 0, b""), ("eos", 0, b"EOS"), ("bin", 10, bytes(range(256))),
          ("bin", 2, bytes(range(255, -1, -1)) * 2), ("bin", 10, b"EOS\xff"), ("text", 0, b"x" * 600),
          ("text", 0, b"[2022-01-01T00:00:00 | fake | 1] not a header"), ("bin", 2, b"")]

def gen_binary(rng):
    seq, msgs = {}, []
    for i, (k, s, p) in enumerate(BINARY):
        seq[k, s] = seq.get((k, s), -1) + 1
        msgs.append(Msg(k, s, seq[k, s], T0 + 1000 * i, p))
    return msgs + [eos(T0 + 1000 * len(BINARY))], 1024

def gen_rotate(rng):
    # interval 2048 fits 3 items; stream j (of 10) first appears at message 25 j
    streams = [(f"r{j}{'ab'[j % 2]}", j % 3) for j in range(10)]
    seq, msgs = {}, []
    for i in range(300):
        k, s = streams[i // 25] if i % 25 == 0 and i < 250 else rng.choice(streams[:i // 25 + 1])
        seq[k, s] = seq.get((k, s), rng.randint(0, 9)) + 1
        msgs.append(Msg(k, s, seq[k, s], T0 + 3 * i, _text(rng, rng.randint(0, 40))))
    return msgs + [eos(T0 + 900)], 2048

def gen_trunc(rng):
    msgs = [Msg("trunc", 0, i, T0 + 5 * i, _text(rng, 600 if i == 39 else rng.randint(0, 80)))
            for i in range(40)]
    return msgs, 512

VECTORS = [  # name, generator, seed, notes for the README
    ("splice-256", gen_splice, 256, "one stream; payloads 0..300 B; messages cut by one and by two "
     "beacons; messages 12 and 50 end exactly on a boundary (beacon remaining 0); a beacon right "
     "after message 41's key-length byte; beacons carry 0 items"),
    ("many-streams", gen_many, 1024, "40 streams (mixed-case keys, one of 249 bytes, shards 0..3), "
     "seeded interleaving; sequences up to near 2^64; 1 item per beacon, rotating over 41 streams"),
    ("tiny-128", gen_tiny, 128, "minimum interval: empty beacon right after the header; 0 items; "
     "messages longer than the interval"),
    ("large", gen_large, 4096, "10 KiB and 70 KiB messages cut by many beacons (7 items max); two streams"),
    ("binary", gen_binary, 1, "invalid UTF-8, NUL, LF, CRLF, JSON with whitespace, non-ASCII text, "
     "empty payloads, payload `EOS` on a normal key, shard 10 after shard 2 in item order"),
    ("rotate-2048", gen_rotate, 2048, "10 streams added over time, 3 items per beacon: the "
     "rotation wraps and the stream count grows between beacons"),
    ("no-eos-truncated", gen_trunc, 512, "no EOS; cut 2/3 into message 39 (after a beacon inside it): "
     "expected lists the 39 complete messages; .messages.tsv lists all 40 written and .args has "
     "`truncate=<bytes kept>`"),
]
SHARED_NOTES = {"consumer": "written by SeaStreamer: one stream `hello` shard 1; messages spliced by beacons",
                "sample-1": "written by SeaStreamer: several streams, JSON payloads"}

def generate(out):
    os.makedirs(os.path.join(out, "corrupt"), exist_ok=True)
    src = SHARED if os.path.isdir(SHARED) else out
    rows = []
    for name in ("consumer", "sample-1"):
        for ext in (".ss", ".expected.jsonl"):
            if os.path.abspath(src) != os.path.abspath(out):
                shutil.copyfile(os.path.join(src, name + ext), os.path.join(out, name + ext))
        h, msgs = decode(open(os.path.join(out, name + ".ss"), "rb").read())
        write_vector(out, name, msgs, h["file_name"], h["created_at_ms"], h["beacon_interval"])
        rows.append((name, SHARED_NOTES[name]))
    for name, gen, seed, notes in VECTORS:
        msgs, iv = gen(random.Random(seed))
        trunc = None
        if name == "no-eos-truncated":
            start, end = _encode(msgs, name, T0, iv)[1][-1]
            trunc = start + (end - start) * 2 // 3
            assert trunc // iv > start // iv            # a beacon inside the kept part
        write_vector(out, name, msgs, name, T0, iv, trunc)
        rows.append((name, notes))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README_HEAD + "| vector | interval | messages | beacons | streams (incl. EOS) | bytes | notes |\n"
                "|---|---|---|---|---|---|---|\n")
        for name, notes in rows:
            r = parse(open(os.path.join(out, name + ".ss"), "rb").read())
            ms = r["messages"]
            n = f"{len(ms)}" + (" (incl. EOS)" if ms and ms[-1].key == EOS_KEY else " (no EOS)")
            streams = len({(m.key, m.shard) for m in ms})
            f.write(f"| {name} | {r['header']['beacon_interval']} | {n} | {len(r['beacons'])} | "
                    f"{streams} | {os.path.getsize(os.path.join(out, name + '.ss'))} | {notes} |\n")
    generate_corrupt(out)

def generate_corrupt(out):
    good = open(os.path.join(out, "consumer.ss"), "rb").read()
    h, msgs = decode(good)
    iv = h["beacon_interval"]
    spans = _encode(msgs, h["file_name"], h["created_at_ms"], iv)[1]   # writer's view
    whole = lambda i: spans[i][0] // iv == (spans[i][1] - 1) // iv     # not cut by a beacon
    faults, notes = [], []
    def damage(fname, off, new, kind, fault_off, ngood, what):
        d = bytearray(good)
        notes.append(f"| {fname} | {fault_off} (0x{fault_off:x}) | {kind} | {ngood} | "
                     f"byte {off} (0x{off:x}) 0x{d[off]:02x} -> 0x{new:02x}: {what} |\n")
        d[off] = new
        open(os.path.join(out, "corrupt", fname), "wb").write(d)
        faults.append(f"{fname}\t{fault_off}\t{kind}\t{ngood}\n")
    i = next(i for i in range(42, 100) if whole(i))
    p = spans[i][0] + 1 + len(msgs[i].key) + 28
    damage("bad-crc.ss", p, good[p] ^ 0x20, "checksum", spans[i][0], i,
           f"first payload byte of message index {i} (0-based; `{msgs[i].payload.decode()}`)")
    i = next(i for i in range(50, 100) if whole(i))
    damage("bad-key.ss", spans[i][0], 0, "key", spans[i][0], i, f"key length byte of message index {i} set to 0")
    damage("bad-magic.ss", 0, ord("X"), "magic", 0, 0, "`Ss` -> `Xs`")
    b = 2 * iv
    damage("garbage-beacon.ss", b, 0x00, "beacon", b, sum(1 for s in spans if s[1] <= b),
           "leading marker of the beacon at 2 x interval")
    i = next(i for i in range(60, 100) if whole(i))
    damage("bad-trailer.ss", spans[i][1] - 1, 0x0A, "trailer", spans[i][0], i,
           f"trailing 0x0D of message index {i}")
    open(os.path.join(out, "corrupt", "faults.tsv"), "w").writelines(faults)
    with open(os.path.join(out, "corrupt", "README.md"), "w") as f:
        f.write(CORRUPT_HEAD + "| file | fault offset | kind | good messages before | damage |\n"
                "|---|---|---|---|---|\n" + "".join(notes))

README_HEAD = """# `.ss` v1 test vectors

Generated by `python3 tests/ref/ssref.py generate format/vectors` (an
independent Python reader/writer, stdlib only, deterministic) and checked by
`python3 tests/ref/ssref.py check`. `consumer.ss` and `sample-1.ss` (and their
`.expected.jsonl`) were written by SeaStreamer itself and are copied unchanged;
re-encoding their messages with their own header fields gives them back byte
for byte. consumer.ss's header: file name `consumer-1691686154741`, created at
1691686154742 ms, interval 1024.

For each vector NAME:

- `NAME.ss`: the file.
- `NAME.expected.jsonl`: its complete messages in file order, EOS included, one
  `json.dumps(obj, sort_keys=True)` line each (Python's default separators and
  `\\uXXXX` escaping of non-ASCII): `sequence`, `shard_id`, `stream_key`,
  `timestamp_ms`, and `text` when the payload is valid UTF-8 (strict: no
  overlong forms, surrogates or code points above U+10FFFF) else `bytes` as
  lowercase hex.
- `NAME.messages.tsv`: the writer's input, one line per message including EOS:
  key TAB shard TAB sequence TAB timestamp_ms TAB payload as lowercase hex
  (empty for an empty payload).
- `NAME.args`: `name=<file name> created=<ms> interval=<bytes>`, plus
  `truncate=<bytes>` when the file is the writer's output cut to that length.
  Writing the `.tsv` messages with these arguments must give `NAME.ss` exactly.

`corrupt/` holds damaged copies of consumer.ss; see `corrupt/README.md`.

"""
CORRUPT_HEAD = """# Corrupt `.ss` files

Damaged copies of `../consumer.ss` (interval 1024). `faults.tsv` lists, per
file: file TAB fault offset TAB kind TAB number of complete, good messages
before the fault. Offsets are decimal. A message-level fault (`key`,
`checksum`, `trailer`) is located at the offset of that message's first byte
(its key length byte); a `beacon` fault at the beacon's first byte; `magic` at 0.

"""

def check_dir(d):
    for f in sorted(os.listdir(d)):
        if not f.endswith(".ss"):
            continue
        base = os.path.join(d, f[:-3])
        data = open(base + ".ss", "rb").read()
        r = parse(data)
        got = "".join(json_line(m) + "\n" for m in r["messages"])
        assert got == open(base + ".expected.jsonl").read(), f"{base}: decode differs"
        if os.path.exists(base + ".args"):
            name, created, iv, trunc = read_args(base + ".args")
            enc = encode(read_tsv(base + ".messages.tsv"), name, created, iv)
            how = ".tsv + .args"
            enc = enc[:trunc] if trunc >= 0 else enc
        else:
            h = r["header"]
            enc = encode(r["messages"], h["file_name"], h["created_at_ms"], h["beacon_interval"])
            how = "its header"
        assert enc == data, f"{base}: re-encoding from {how} differs"
        print(f"ok {base}.ss: {len(r['messages'])} messages, {len(r['beacons'])} beacons"
              f"{', truncated' if r['truncated'] else ''}; re-encoded from {how} byte for byte")
    faults = os.path.join(d, "corrupt", "faults.tsv")
    if os.path.exists(faults):
        for line in open(faults).read().splitlines():
            fname, off, kind, ngood = line.split("\t")
            try:
                parse(open(os.path.join(d, "corrupt", fname), "rb").read())
                raise AssertionError(f"{fname}: no fault found")
            except FormatError as e:
                assert (e.offset, e.kind, e.good) == (int(off), kind, int(ngood)), f"{fname}: {e}"
            print(f"ok corrupt/{fname}: {kind} at {off} after {ngood} messages")

def check(dirs):
    assert crc16(b"123456789") == 0x4C06 and crc16(b"hello, world") == 0x8028
    if not dirs:
        dirs = [x for x in (SHARED, os.path.normpath(os.path.join(HERE, "..", "..", "format", "vectors")))
                if os.path.isdir(x)]
    for d in dirs:
        check_dir(d)
        if os.path.exists(os.path.join(d, "consumer.ss")):
            h = decode(open(os.path.join(d, "consumer.ss"), "rb").read())[0]
            assert h == {"file_name": "consumer-1691686154741", "created_at_ms": 1691686154742,
                         "beacon_interval": 1024}, h
    print("all checks passed")

if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        check(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "generate":
        generate(sys.argv[2])
    else:
        sys.exit(__doc__)
