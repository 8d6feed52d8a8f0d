"""TAP-style reporting shared by the CRI scenario scripts: `ok - [tag] desc` lines on stdout (and
an optional log file), one line per check appended to $E2E_RESULTS for the suite's summary, and
the scenario loop (CRI_ONLY=a,b runs only those scenarios; an exception fails the scenario)."""
import os
import sys
import traceback


class Tap:
    def __init__(self, tag, log=None, detail_lines=20, detail_always=False):
        self.tag = tag
        self.log = log
        self.detail_lines = detail_lines
        self.detail_always = detail_always
        self.results = os.environ.get("E2E_RESULTS")
        self.failures = 0

    def say(self, line):
        print(line, flush=True)
        if self.log:
            self.log.write(line + "\n")
            self.log.flush()

    def record(self, status, desc):
        self.say("%s - [%s] %s" % (status, self.tag, desc))
        if self.results:
            with open(self.results, "a") as f:
                f.write("%s\t[%s] %s\n" % (status, self.tag, desc))

    def check(self, desc, cond, detail=""):
        if cond:
            self.record("ok", desc)
        else:
            self.failures += 1
            self.record("not ok", desc)
        if detail and (self.detail_always or not cond):
            for line in str(detail).strip().splitlines()[:self.detail_lines]:
                self.say("#   " + line)
        return cond

    def run(self, scenarios, *args):
        """Runs each scenario_<name>(*args); exits 1 if any check failed or a scenario raised."""
        only = set(filter(None, os.environ.get("CRI_ONLY", "").split(",")))
        for s in scenarios:
            name = s.__name__[len("scenario_"):]
            if only and name not in only:
                continue
            try:
                s(*args)
            except Exception:  # grpc.RpcError included
                self.failures += 1
                self.record("not ok", "%s: raised" % name)
                self.say("#   " + traceback.format_exc().replace("\n", "\n#   "))
        sys.exit(1 if self.failures else 0)
