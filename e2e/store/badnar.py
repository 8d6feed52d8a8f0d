"""Writes a malicious NAR into a file:// cache as the NAR of the narinfo <hash>.narinfo, updating
NarHash/NarSize/FileHash/FileSize (and dropping Sig/Compression -> none) so that only the NAR
reader can refuse it. usage: badnar.py KIND CACHE_DIR HASHPART"""
import hashlib
import os
import struct
import sys

ALPHA = "0123456789abcdfghijklmnpqrsvwxyz"


def b32(d):
    n = (len(d) * 8 - 1) // 5 + 1
    out = []
    for k in range(n - 1, -1, -1):
        b = k * 5
        i, j = b // 8, b % 8
        v = d[i] >> j
        if i + 1 < len(d):
            v |= d[i + 1] << (8 - j)
        out.append(ALPHA[v & 31])
    return "".join(out)


def s(x):
    if isinstance(x, str):
        x = x.encode()
    return struct.pack("<Q", len(x)) + x + b"\0" * ((8 - len(x) % 8) % 8)


def reg(c):
    return s("(") + s("type") + s("regular") + s("contents") + s(c) + s(")")


def ent(name, node):
    return s("entry") + s("(") + s("name") + s(name) + s("node") + node + s(")")


def d(*entries):
    return s("(") + s("type") + s("directory") + b"".join(entries) + s(")")


kind, cache, h = sys.argv[1:4]
os.makedirs("/tmp/skiff-e2e-escape", exist_ok=True)
nars = {
    "dotdot": d(ent("..", reg("x"))),
    "slash": d(ent("a/b", reg("x"))),
    "nul": d(ent(b"a\0b", reg("x"))),
    "unsorted": d(ent("b", reg("x")), ent("a", reg("x"))),
    "duplicate": d(ent("a", reg("x")), ent("a", reg("y"))),
    "symlink-below": d(
        ent("a", s("(") + s("type") + s("symlink") + s("target") + s("/tmp/skiff-e2e-escape") + s(")")),
        ent("a", d(ent("b", reg("pwned")))),
    ),
    "oversize": d(ent("a", s("(") + s("type") + s("regular") + s("contents") + struct.pack("<Q", 1 << 62))),
}
nar = s("nix-archive-1") + nars[kind]
digest = hashlib.sha256(nar).digest()
url = "nar/%s.nar" % b32(digest)
with open(os.path.join(cache, url), "wb") as f:
    f.write(nar)
p = os.path.join(cache, h + ".narinfo")
lines = []
for line in open(p).read().splitlines():
    k = line.split(":", 1)[0]
    if k == "URL":
        line = "URL: " + url
    elif k in ("NarHash", "FileHash"):
        line = "%s: sha256:%s" % (k, b32(digest))
    elif k in ("NarSize", "FileSize"):
        line = "%s: %d" % (k, len(nar))
    elif k in ("Sig", "Compression"):
        continue
    lines.append(line)
lines.append("Compression: none")
open(p, "w").write("\n".join(lines) + "\n")
