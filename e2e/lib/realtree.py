#!/usr/bin/python3
"""Builds benchmark packages out of real software installed on this machine, so that benchmarks
move bytes that compress like real environments do (ELF binaries, shared libraries, Python and
Perl modules, data files) instead of random bytes, which no compressor shrinks.

usage: realtree.py OUT MIB NPKG [ROOT...]

Walks ROOTs (default: /usr/lib /usr/share /usr/bin /usr/libexec) in sorted order, takes regular
readable files no larger than one package (MIB/NPKG MiB), and copies them (relative paths
kept, modes 0644/0755) into OUT/pkg1 ... OUT/pkgNPKG, starting the next package when a file
would overfill the current one. Deterministic for a given machine. Prints one line per package: its directory, number of
files and bytes. Exits 1 if the roots hold less than MIB MiB."""
import os
import shutil
import stat
import sys

def files(roots, max_size):
    for root in roots:
        if not os.path.isdir(root):
            continue
        for d, dirs, names in os.walk(root):
            dirs.sort()
            for n in sorted(names):
                p = os.path.join(d, n)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or st.st_size > max_size:
                    continue
                if not os.access(p, os.R_OK):
                    continue
                yield p, st


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, mib, npkg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    roots = sys.argv[4:] or ["/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec"]
    per = (mib << 20) // npkg
    pkg, size, count, made = 1, 0, 0, []
    for p, st in files(roots, per):
        if size and size + st.st_size > per:
            made.append((pkg, count, size))
            pkg, size, count = pkg + 1, 0, 0
        if pkg > npkg:
            break
        dst = os.path.join(out, "pkg%d" % pkg, p.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            shutil.copyfile(p, dst)
        except OSError:
            continue
        os.chmod(dst, 0o755 if st.st_mode & 0o111 else 0o644)
        size += st.st_size
        count += 1
    if pkg <= npkg:
        sys.exit("realtree: %s hold less than %d MiB of regular files" % (" ".join(roots), mib))
    for n, c, s in made:
        print("%s %d %d" % (os.path.join(out, "pkg%d" % n), c, s))


if __name__ == "__main__":
    main()
