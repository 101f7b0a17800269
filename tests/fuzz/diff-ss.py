#!/usr/bin/env python3
"""Differential fuzzing of libstream's .ss reader against tests/ref/ssref.py.

  diff-ss.py [-s SEED] [-n COUNT] [-i INDEX] [--save DIR] [VECTOR.ss...]
      applies COUNT seeded mutations (default seed 1, count 300) to the
      vectors (default format/vectors/*.ss), one mutation per file: bit
      flips, byte changes, truncations and changes of a length field
      (payload size, key length, beacon remaining bytes or item count,
      header interval or name length). Mutation I of a seed is always the
      same file: -i I runs it alone. --save DIR keeps each file that
      disagrees in DIR as HASH.ss, cut as short as it still disagrees,
      with HASH.ss.note: what was seen, then the kind of disagreement;
      of files of the same kind only the smallest is kept.
  diff-ss.py --file FILE...
      compares on the files as they are (the regression replay).

Our side: `ss-tsv FILE` (the reader), `ss-tsv -v FILE` (the verifying
reader), `ss-decode --verify FILE` and `ss-decode -F ndjson FILE`, taken
from --bin and --tools (default $LS_BIN and $LS_TOOLS, else bin/ and
build/tools/ of this tree). The reference: ssref.parse, with beacon items
checked for the verifying side and not for the others.

Agreement, for each of our commands against its reference:
- no crash: exit status 0, 1 or 2, no signal, no sanitizer report;
- where the reference decodes cleanly: exactly its messages, exit 0, and
  the same end: the end of the file, or a cut ("partial") at the offset
  where the reference's incomplete message or beacon starts;
- where the reference sees damage at byte X after G good messages: exit 1
  and a fault reported, the messages printed a prefix of those G, and the
  fault reported at X (anywhere in the header for a header fault; up to
  X + 5, the beacon's remaining-bytes and count fields, for a beacon);
- ss-decode stops after an End-of-Stream message, so its view of the file
  ends there; `--verify` reports the same first fault as `ss-tsv -v`;
- `ss-decode -F ndjson` prints what `ss-tsv` does, each line one JSON
  object with the message's header fields and its payload as format/README.md
  section 4 renders it.
Exit status: 0 when everything agrees, 1 on a disagreement or crash, 2 usage.
"""
import argparse, datetime, glob, hashlib, json, os, random, re, struct
import subprocess, sys
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True                    # no __pycache__ in the tree
sys.path.insert(0, os.path.join(REPO, "tests", "ref"))
import ssref  # noqa: E402

Ref = namedtuple("Ref", "msgs state off kind")   # state: end, partial, corrupt
Ours = namedtuple("Ours", "rc msgs state off out err")


def ref_input(data, verifying):
    """data as the reference should see it: a file name that is not UTF-8
    made ASCII (no reader of ours decodes it), and for a reader that does
    not verify, the header's padding and last byte made right (only a
    verifier checks them; format/README.md 3.2 and 3.11)."""
    d = bytearray(data)
    n = d[3] if len(d) > 3 else 0
    if len(d) < ssref.HEADER_SIZE or 16 + n > ssref.HEADER_SIZE - 1:
        return data
    try:
        d[4:4 + n].decode("utf-8")
    except UnicodeDecodeError:
        d[4:4 + n] = b"x" * n
    if not verifying:
        d[16 + n:127] = bytes(111 - n)
        d[127] = 0x0D
    return bytes(d)


def ref_verdict(data, items):
    try:
        r = ssref.parse(ref_input(data, items), items)
    except ssref.FormatError as e:
        return Ref(e.messages, "corrupt", e.offset, e.kind)
    if r["truncated"]:
        return Ref(r["messages"], "partial", r["cut"], None)
    return Ref(r["messages"], "end", len(data), None)


def describe(ref):
    if ref.state == "corrupt":
        return (f"{ref.kind} fault at {ref.off} after {len(ref.msgs)} "
                f"messages")
    return f"{ref.state} {ref.off} after {len(ref.msgs)} messages"


def eos_at(msgs):
    """Number of messages up to and including the first EOS, or None."""
    for i, m in enumerate(msgs):
        if m.key == ssref.EOS_KEY and m.payload == b"EOS":
            return i + 1
    return None


# ------------------------------------------------------------ our side
def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=120)
    return p.returncode, p.stdout, p.stderr


def crashed(name, rc, err):
    if rc not in (0, 1, 2):
        return f"{name}: crashed, exit status {rc}"
    if b"Sanitizer" in err or b"runtime error:" in err:
        line = next(x for x in err.decode("utf-8", "replace").splitlines()
                    if "Sanitizer" in x or "runtime error:" in x)
        return f"{name}: sanitizer report: {line.strip()}"
    return None


def ss_tsv(tools, path, verify):
    argv = [os.path.join(tools, "ss-tsv")] + (["-v"] if verify else [])
    rc, out, err = run(argv + [path])
    lines = out.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    last = lines.pop().split(" ", 2) if lines else ["none", "-1"]
    off = int(last[1]) if len(last) > 1 and last[1].isdigit() else -1
    return Ours(rc, lines, last[0], off, out, err)


def first_fault(err):
    m = re.search(rb"^ss-decode: .*?: byte (\d+): ", err, re.M)
    return int(m.group(1)) if m else None


# ------------------------------------------------------------ comparisons
def limit(ref, iv):
    """The last offset where our reader may report the reference's fault:
    the header for a fault there, the interval a faulty beacon starts for
    a beacon (it names the offending byte or field), else the same offset.
    An earlier one is fine: the reference raises the faults it finds in
    beacon items and remaining counts only after reading every message."""
    if ref.kind in ("magic", "version", "header"):
        return ssref.HEADER_SIZE - 1
    return ref.off + (iv - 1 if ref.kind == "beacon" else 0)


def interval(data):
    n = data[3] if len(data) > 3 else 0
    if len(data) < 16 + n:
        return 0
    return struct.unpack_from(">I", data, 12 + n)[0]


def cmp_reader(name, ours, ref, iv):
    """Problems of one ss-tsv run against its reference."""
    want = [ssref.tsv_line(m) for m in ref.msgs]
    seen = f"ours: {ours.state} {ours.off}, status {ours.rc}"
    if ref.state == "corrupt":
        if ours.rc != 1 or ours.state != "corrupt":
            return [f"{name}: reference {describe(ref)}; {seen}"]
        if ours.msgs != want[:len(ours.msgs)]:
            return [f"{name}: reference {describe(ref)}; ours printed "
                    f"{len(ours.msgs)} messages, not a prefix of its good ones"]
        if ours.off > limit(ref, iv):
            return [f"{name}: reference {describe(ref)}; fault reported "
                    f"at {ours.off}"]
        return []
    if ours.msgs != want:
        i = next((i for i, (a, b) in enumerate(zip(ours.msgs, want))
                  if a != b), min(len(ours.msgs), len(want)))
        return [f"{name}: reference {describe(ref)}; ours printed "
                f"{len(ours.msgs)} messages, differing from message {i}"]
    if (ours.rc, ours.state, ours.off) != (0, ref.state, ref.off):
        return [f"{name}: reference {describe(ref)}; {seen}"]
    return []


def cmp_verify(binp, path, ref, first):
    """ss-decode --verify against the verifying reference; first: the
    fault offset ss-tsv -v reported (or -1)."""
    rc, out, err = run([os.path.join(binp, "ss-decode"), "--verify", path])
    c = crashed("ss-decode --verify", rc, err)
    if c:
        return [c]
    stop = eos_at(ref.msgs)
    line = out.decode("utf-8", "replace").strip().split(": ", 1)[-1]
    if ref.state == "corrupt" and stop is None:
        got = first_fault(err)
        if rc != 1 or " faults, " not in line:
            return [f"ss-decode --verify: reference {describe(ref)}; "
                    f"ours exit {rc}: {line}"]
        if got != first:
            return [f"ss-decode --verify: first fault at {got}, "
                    f"ss-tsv -v at {first}"]
        return []
    n = stop if stop is not None else len(ref.msgs)
    if rc != 0 or not line.startswith(f"ok, {n} messages,"):
        return [f"ss-decode --verify: reference {describe(ref)}; "
                f"ours exit {rc}: {line}"]
    return []


def ts_text(ms):
    """The text of a timestamp (format/README.md 1.2): past 9999 the year
    takes the digits it needs. Dates past datetime's range are taken
    back by whole 400-year cycles (146097 days), which keep the calendar."""
    days, rem = divmod(ms, 86400000)
    k = 0
    if days > 2932896:                           # 9999-12-31
        k = (days - 2932896 + 146096) // 146097
        days -= k * 146097
    d = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03d" % (
        d.year + 400 * k, d.month, d.day, rem // 3600000, rem // 60000 % 60,
        rem // 1000 % 60, rem % 1000)


def _no_constant(s):
    raise ValueError(s)


def payload_value(p):
    """The payload as format/README.md section 4 renders it, parsed."""
    try:
        text = p.decode("utf-8")
    except UnicodeDecodeError:
        return list(p)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return text


def render_problem(line, m):
    try:
        o = json.loads(line)
    except ValueError:
        return "not JSON"
    head = {"stream_key": m.key, "shard_id": m.shard, "sequence": m.seq,
            "timestamp": ts_text(m.ts)}
    if not isinstance(o, dict) or o.get("header") != head:
        return "header fields differ"
    if set(o) != {"header", "payload"} or o["payload"] != payload_value(
            m.payload):
        return "payload differs"
    return None


def cmp_ndjson(binp, path, tsv, ref):
    """ss-decode -F ndjson against ss-tsv's run and the messages."""
    rc, out, err = run([os.path.join(binp, "ss-decode"), "-F", "ndjson",
                        path])
    c = crashed("ss-decode -F ndjson", rc, err)
    if c:
        return [c]
    lines = out.decode("utf-8", "replace").splitlines()
    stop = eos_at(ref.msgs[:len(tsv.msgs)])
    want_n = stop if stop is not None else len(tsv.msgs)
    want_rc = 0 if stop is not None else tsv.rc
    if len(lines) != want_n or rc != want_rc:
        return [f"ss-decode -F ndjson: {len(lines)} lines, exit {rc}; "
                f"ss-tsv: {want_n} messages, exit {want_rc}"]
    for i, (line, m) in enumerate(zip(lines, ref.msgs)):
        p = render_problem(line, m)
        if p:
            return [f"ss-decode -F ndjson: message {i}: {p}"]
    return []


def compare(path, data, binp, tools):
    """All disagreements and crashes of our commands on one file."""
    plain, strict = ref_verdict(data, False), ref_verdict(data, True)
    problems, iv = [], interval(data)
    t = ss_tsv(tools, path, False)
    tv = ss_tsv(tools, path, True)
    for name, ours, ref in (("ss-tsv", t, plain), ("ss-tsv -v", tv, strict)):
        c = crashed(name, ours.rc, ours.err)
        p = [c] if c else cmp_reader(name, ours, ref, iv)
        if p and not c and ref is plain and not cmp_reader(name, ours,
                                                            strict, iv):
            p = []      # a reader may check beacon items as a verifier does
        problems += p
    first = tv.off if tv.state == "corrupt" else None
    problems += cmp_verify(binp, path, strict, first)
    if t.rc in (0, 1) and t.msgs == [ssref.tsv_line(m)
                                     for m in plain.msgs[:len(t.msgs)]]:
        problems += cmp_ndjson(binp, path, t, plain)
    return problems


# ------------------------------------------------------------ mutations
Vector = namedtuple("Vector", "path data iv fields bounds")


def beacon_size(items):
    return 7 + sum(27 + len(it[0]) for it in items)


def phys(start, n, bsize, iv):
    """File offset of logical byte n of the message starting at start."""
    pos = start
    while True:
        if pos % iv == 0 and pos in bsize:
            pos += bsize[pos]
        if n == 0:
            return pos
        step = min(n, iv - pos % iv)
        pos, n = pos + step, n - step


def length_fields(data):
    """(name, [file offsets, high byte first]) of every length field."""
    r = ssref.parse(data)
    iv, n = r["header"]["beacon_interval"], data[3]
    bsize = {at: beacon_size(items) for at, _, items in r["beacons"]}
    fields = [("name length", [3]),
              ("interval", list(range(4 + n + 8, 4 + n + 12)))]
    for at, _, items in r["beacons"]:
        fields.append(("beacon remaining", list(range(at + 1, at + 5))))
        fields.append(("beacon count", [at + 5]))
    for s, m in zip(r["starts"], r["messages"]):
        k = len(m.key.encode())
        fields.append(("key length", [s]))
        fields.append(("payload size", [phys(s, k + 25 + j, bsize, iv)
                                        for j in range(4)]))
    bounds = sorted(set(r["starts"]) | set(bsize))
    return iv, fields, bounds


def load_vector(path):
    data = open(path, "rb").read()
    iv, fields, bounds = length_fields(data)
    return Vector(path, data, iv, fields, bounds)


def new_value(v, width, rng, iv):
    top = 1 << (8 * width)
    return rng.choice([v + rng.randint(1, 16), v - rng.randint(1, 16),
                       v ^ (1 << rng.randrange(8 * width)), 0, top - 1,
                       rng.randrange(top), v * 2, v + iv]) % top


def mut_length(vec, rng):
    name, offs = rng.choice(vec.fields)
    d = bytearray(vec.data)
    v = int.from_bytes(bytes(d[o] for o in offs), "big")
    nv = new_value(v, len(offs), rng, vec.iv)
    for o, b in zip(offs, nv.to_bytes(len(offs), "big")):
        d[o] = b
    return bytes(d), f"{name} at {offs[0]}: {v} -> {nv}"


def pick_offset(vec, rng):
    """Anywhere, or near a message or beacon start (where the structure is)."""
    if rng.random() < 0.5:
        return rng.randrange(len(vec.data))
    return min(rng.choice(vec.bounds) + rng.randint(0, 40), len(vec.data) - 1)


def mut_bits(vec, rng):
    d, what = bytearray(vec.data), []
    for _ in range(rng.randint(1, 3)):
        o, b = pick_offset(vec, rng), rng.randrange(8)
        d[o] ^= 1 << b
        what.append(f"{o}.{b}")
    return bytes(d), "bit flip " + " ".join(what)


def mut_byte(vec, rng):
    d, o = bytearray(vec.data), pick_offset(vec, rng)
    nv = rng.choice([0x00, 0xFF, 0x0D, rng.randrange(256)])
    old, d[o] = d[o], nv
    return bytes(d), f"byte {o}: 0x{old:02x} -> 0x{nv:02x}"


def mut_cut(vec, rng):
    n = len(vec.data)
    if rng.random() < 0.5:
        at = rng.randrange(n)
    else:
        at = rng.randrange(0, n, vec.iv) + rng.randint(-8, 8)
    at = max(0, min(at, n - 1))
    return vec.data[:at], f"cut at {at} of {n}"


MUTATORS = (mut_bits, mut_byte, mut_cut, mut_length)


def mutation(vectors, seed, i):
    rng = random.Random(f"{seed}/{i}")
    vec = vectors[rng.randrange(len(vectors))]
    data, what = rng.choice(MUTATORS)(vec, rng)
    return vec, data, what


# ------------------------------------------------------------ driver
def signature(what, problems):
    """A disagreement's kind: the mutation's kind and the problems with
    their numbers left out."""
    kind = re.sub(r" at .*|[0-9].*", "", what).strip()
    return kind + ": " + " | ".join(sorted(re.sub(r"[0-9]+", "N", p)
                                           for p in problems))


def shrink(data, vec, args, tmp, sig, what):
    """The shortest cut of data (tried just after each boundary past the
    first changed byte) that still disagrees the same way."""
    off = next((i for i, (a, b) in enumerate(zip(data, vec.data)) if a != b),
               len(data))
    cands = sorted({min(len(data), b + s) for b in range(
        (off // vec.iv + 1) * vec.iv, len(data), vec.iv) for s in (8, 64, 300)})
    for n in cands[:40]:
        with open(tmp, "wb") as f:
            f.write(data[:n])
        if signature(what, compare(tmp, data[:n], args.bin, args.tools)) == sig:
            return data[:n]
    return data


def save(dirpath, data, sig, note):
    """Keeps data as HASH.ss with HASH.ss.note, unless a file no larger
    shows the same kind of disagreement (the notes' second line)."""
    for f in glob.glob(os.path.join(dirpath, "*.ss.note")):
        lines = open(f).read().splitlines()
        if lines[1:2] == [sig] and os.path.getsize(f[:-5]) <= len(data):
            return
        if lines[1:2] == [sig]:
            os.unlink(f[:-5])
            os.unlink(f)
    path = os.path.join(dirpath, hashlib.sha1(data).hexdigest()[:16] + ".ss")
    with open(path, "wb") as f:
        f.write(data)
    with open(path + ".note", "w") as f:
        f.write(f"{note}\n{sig}\n")


def check_one(path, data, args, label):
    try:
        problems = compare(path, data, args.bin, args.tools)
    except subprocess.TimeoutExpired as e:
        problems = [f"{e.cmd[0]}: did not finish in {e.timeout} s"]
    for p in problems:
        print(f"DISAGREE {label}: {p}", flush=True)
    return problems


def keep(args, vec, data, what, label, problems, tmp):
    sig = signature(what, problems)
    small = shrink(data, vec, args, tmp, sig, what)
    cut = f", cut to {len(small)} bytes" if len(small) < len(data) else ""
    save(args.save, small, sig, f"{label}{cut}: {problems[0]}")


def fuzz(args):
    paths = args.vectors or sorted(glob.glob(os.path.join(
        REPO, "format", "vectors", "*.ss")))
    vectors = [load_vector(p) for p in paths]
    tmp = os.path.join(args.tmp, f"diff-ss-{os.getpid()}.ss")
    bad = 0
    todo = [args.index] if args.index is not None else range(args.count)
    try:
        for i in todo:
            vec, data, what = mutation(vectors, args.seed, i)
            with open(tmp, "wb") as f:
                f.write(data)
            label = (f"-s {args.seed} -i {i} "
                     f"({os.path.basename(vec.path)}, {what})")
            problems = check_one(tmp, data, args, label)
            if problems and args.save:
                keep(args, vec, data, what, label, problems, tmp)
            bad += bool(problems)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"diff-ss: seed {args.seed}: {len(todo)} mutations, "
          f"{bad} disagreeing")
    return 1 if bad else 0


def replay(args):
    bad = 0
    for path in args.vectors:
        data = open(path, "rb").read()
        bad += bool(check_one(path, data, args, path))
    print(f"diff-ss: {len(args.vectors)} files, {bad} disagreeing")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-s", "--seed", type=int, default=1)
    ap.add_argument("-n", "--count", type=int, default=300)
    ap.add_argument("-i", "--index", type=int)
    ap.add_argument("--save", metavar="DIR")
    ap.add_argument("--file", action="store_true",
                    help="compare on the files given, unchanged")
    ap.add_argument("--bin", default=os.environ.get(
        "LS_BIN", os.path.join(REPO, "bin")))
    ap.add_argument("--tools", default=os.environ.get(
        "LS_TOOLS", os.path.join(REPO, "build", "tools")))
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("vectors", nargs="*")
    args = ap.parse_args()
    if args.file and not args.vectors:
        ap.error("--file needs at least one FILE")
    return replay(args) if args.file else fuzz(args)


if __name__ == "__main__":
    sys.exit(main())
