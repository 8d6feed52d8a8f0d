#!/usr/bin/python3
"""Run a command on a fresh pseudo-terminal and script it.

usage: ptyrun.py [--size ROWSxCOLS] [--timeout S] [STEP...] -- CMD [ARG...]

Steps run in order while the command's output is collected:
  expect:REGEX   wait until the output so far matches REGEX (after the
                 previous expect's match)
  resize:RxC     set the terminal size (the kernel sends SIGWINCH to the
                 foreground process group)
  send:TEXT      write TEXT to the terminal (\\n, \\r and \\x04 are unescaped)
  sleep:S        sleep S seconds

All output goes to stdout with carriage returns removed. The exit status is
the command's (128+N when killed by signal N), 124 on timeout.
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def parse_size(text):
    rows, cols = text.lower().split("x")
    return int(rows), int(cols)


def main(argv):
    size = (24, 80)
    timeout = 30.0
    steps = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        arg = argv[i]
        if arg == "--size":
            i += 1
            size = parse_size(argv[i])
        elif arg == "--timeout":
            i += 1
            timeout = float(argv[i])
        else:
            kind, _, value = arg.partition(":")
            if kind not in ("expect", "resize", "send", "sleep"):
                sys.exit("ptyrun: bad step %r" % arg)
            steps.append((kind, value))
        i += 1
    cmd = argv[i + 1:]
    if not cmd:
        sys.exit(__doc__)

    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    set_size(master, *size)

    deadline = time.monotonic() + timeout
    out = b""
    pos = 0
    eof = False

    def pump(wait):
        nonlocal out, eof
        if eof:
            time.sleep(wait)
            return
        r, _, _ = select.select([master], [], [], wait)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                out += data
            else:
                eof = True

    timed_out = False
    for kind, value in steps:
        if kind == "expect":
            rx = re.compile(value.encode())
            while True:
                m = rx.search(out, pos)
                if m:
                    pos = m.end()
                    break
                if eof or time.monotonic() > deadline:
                    timed_out = True
                    break
                pump(0.05)
            if timed_out:
                break
        elif kind == "resize":
            set_size(master, *parse_size(value))
        elif kind == "send":
            text = value.encode().decode("unicode_escape").encode("latin-1")
            os.write(master, text)
        elif kind == "sleep":
            end = time.monotonic() + float(value)
            while time.monotonic() < end:
                pump(min(0.05, max(0.0, end - time.monotonic())))

    status = None
    while status is None:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            status = st
            break
        if timed_out or time.monotonic() > deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        pump(0.05)
    # Drain what is left.
    while not eof:
        r, _, _ = select.select([master], [], [], 0.2)
        if not r:
            break
        pump(0)

    sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
    sys.stdout.flush()
    if timed_out:
        sys.stderr.write("ptyrun: timeout\n")
        return 124
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
