#!/usr/bin/python3
"""Structural checks of charts/skiff and manifests/ (no Helm binary can be installed here).

- Chart.yaml: apiVersion v2, name, SemVer version, appVersion, description.
- values.yaml: parses; every top-level key has a comment right above it; every leaf is used by a
  template (a `.Values` reference equal to it or to one of its parents).
- templates: `{{`/`}}` balanced, `if/range/with/define` balanced with `end`, every
  `include "x"` names a `define`d template, every `.Values.a.b` reference exists in values.yaml;
  each template still parses as YAML after its template actions are stubbed out.
- manifests/ (with manifests/uninstall/ and manifests/examples/): every document parses; every
  manifest object (kind, name) has a chart template producing the same kind and name (the
  template's name expression resolved against values.yaml, a `<release>-` prefix optional); every
  example workload uses the chart's RuntimeClass. The checks are structural; test_chart.sh renders the chart with the real
  template engine (helm-render) and compares the rendered objects.
Exit status 0 when everything holds; each problem is printed on its own line.
"""
import os
import re
import sys

try:
    import yaml
except ImportError:  # python3-yaml is part of the test machine; fail loudly otherwise
    sys.exit("chart-lint: python3-yaml is required (apt-get install python3-yaml)")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(REPO, "charts", "skiff")
MANIFESTS = os.path.join(REPO, "manifests")
problems = []


def problem(msg):
    problems.append(msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- Chart.yaml ----------------------------------------------------------------------------
chart = yaml.safe_load(read(os.path.join(CHART, "Chart.yaml")))
if chart.get("apiVersion") != "v2":
    problem("Chart.yaml: apiVersion must be v2")
for key in ("name", "version", "appVersion", "description"):
    if not chart.get(key):
        problem(f"Chart.yaml: `{key}` missing")
if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?", str(chart.get("version", ""))):
    problem("Chart.yaml: version is not SemVer")
if chart.get("name") != os.path.basename(CHART):
    problem("Chart.yaml: name differs from the chart directory")

# ---- values.yaml ---------------------------------------------------------------------------
values_text = read(os.path.join(CHART, "values.yaml"))
values = yaml.safe_load(values_text)
lines = values_text.splitlines()
for i, line in enumerate(lines):
    m = re.match(r"^([A-Za-z][A-Za-z0-9]*):", line)
    if m and (i == 0 or not lines[i - 1].lstrip().startswith("#")):
        problem(f"values.yaml:{i + 1}: top-level key `{m.group(1)}` has no comment above it")


def leaves(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from leaves(v, prefix + (k,))
        else:
            yield prefix + (k,)


def lookup(d, path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return False
        d = d[p]
    return True


# ---- templates -----------------------------------------------------------------------------
tdir = os.path.join(CHART, "templates")
templates = {f: read(os.path.join(tdir, f)) for f in sorted(os.listdir(tdir))}
for required in ("_helpers.tpl", "NOTES.txt"):
    if required not in templates:
        problem(f"templates/{required} missing")
defined = set()
included = set()
refs = set()
ACTION = re.compile(r"{{-?(.*?)-?}}", re.S)
for name, text in templates.items():
    if text.count("{{") != text.count("}}"):
        problem(f"templates/{name}: unbalanced {{{{ }}}}")
    depth = 0
    for m in ACTION.finditer(text):
        body = m.group(1).strip()
        if body.startswith("/*"):
            continue
        word = body.split()[0] if body.split() else ""
        if word in ("if", "range", "with", "define"):
            depth += 1
        elif word == "end":
            depth -= 1
            if depth < 0:
                problem(f"templates/{name}: `end` without an opening action")
        if word == "define":
            defined.add(body.split('"')[1])
        for inc in re.findall(r'include\s+"([^"]+)"', body):
            included.add(inc)
        for ref in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", body):
            refs.add(tuple(ref.strip(".").split(".")))
    if depth != 0:
        problem(f"templates/{name}: {depth} unclosed if/range/with/define")
for inc in sorted(included - defined):
    problem(f"include \"{inc}\" names no defined template")
for ref in sorted(refs):
    if not lookup(values, ref):
        problem(f"`.Values.{'.'.join(ref)}` is used by a template but missing from values.yaml")
for leaf in leaves(values):
    if not any(leaf[: len(r)] == r for r in refs):
        problem(f"values.yaml: `{'.'.join(leaf)}` is not used by any template")


def stub(text):
    """Template text with actions stubbed: control lines dropped, values replaced by a scalar."""
    src = text.splitlines()
    only_actions = re.compile(r"({{-?.*?-?}}\s*)+")
    out = []
    for i, line in enumerate(src):
        s = line.strip()
        if only_actions.fullmatch(s):
            m = re.match(r"\s*{{-?\s*(include|toYaml)\b.*nindent\s+(\d+)", s)
            if m:  # an included block: one entry at its indentation, a list item inside lists
                ind = int(m.group(2))
                near = [o for o in reversed(out) if o.strip() and len(o) - len(o.lstrip()) <= ind][:1]
                near += [o for o in src[i + 1:] if o.strip() and not only_actions.fullmatch(o.strip())][:1]
                in_list = any(len(o) - len(o.lstrip()) == ind and o.lstrip().startswith("- ")
                              for o in near)
                out.append(" " * ind + ("- stubbed" if in_list else "stubbed: block"))
            continue
        out.append(ACTION.sub("stub", line))
    return "\n".join(out)


kinds = {}
for name, text in templates.items():
    if not name.endswith(".yaml"):
        continue
    try:
        docs = [d for d in yaml.safe_load_all(stub(text)) if d]
    except yaml.YAMLError as e:
        problem(f"templates/{name}: not YAML once actions are stubbed: {e}")
        continue
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            problem(f"templates/{name}: a document without apiVersion/kind")
            continue
        kinds.setdefault(d["kind"], []).append((name, (d.get("metadata") or {}).get("name")))

# ---- manifests -----------------------------------------------------------------------------
objects = []
examples = []
for sub in ("", "uninstall", "examples"):
    d = os.path.join(MANIFESTS, sub)
    for f in sorted(os.listdir(d)):
        if not f.endswith(".yaml"):
            continue
        try:
            docs = [x for x in yaml.safe_load_all(read(os.path.join(d, f))) if x]
        except yaml.YAMLError as e:
            problem(f"manifests/{sub}/{f}: {e}")
            continue
        for x in docs:
            if not x.get("apiVersion") or not x.get("kind") or not x.get("metadata", {}).get("name"):
                problem(f"manifests/{sub}/{f}: a document without apiVersion/kind/metadata.name")
                continue
            if sub != "examples":
                objects.append((os.path.join(sub, f), x["kind"], x["metadata"]["name"]))
            else:
                examples.append((f, x))


def name_pattern(expr):
    """A regex for the names a template's `metadata.name` can render to: literal text as is;
    `.Release.Namespace` any name; `printf "%s-x" .Release.Name` an optional `<release>-` prefix
    (cluster-scoped objects carry the release name in the chart, not in the plain manifests);
    `.Values.a.b` its value from values.yaml."""
    out = ""
    for lit, act in re.findall(r"([^{]*)(?:{{-?(.*?)-?}}|$)", expr.strip().strip('"')):
        out += re.escape(lit)
        act = (act or "").strip()
        if not act:
            continue
        m = re.fullmatch(r'printf\s+"([^"]*)"\s+\.Release\.Name', act)
        v = re.fullmatch(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", act)
        if m:
            out += "".join("(?:[a-z0-9-]+-)?" if i % 2 else re.escape(part)
                           for i, part in enumerate(re.split(r"(%s-?)", m.group(1))) if part)
        elif act == ".Release.Namespace":
            out += "[a-z0-9-]+"
        elif v and lookup(values, v.group(1).strip(".").split(".")):
            d = values
            for k in v.group(1).strip(".").split("."):
                d = d[k]
            out += re.escape(str(d))
        else:
            out += ".+"
    return out


# Every template document's (kind, name pattern), from the template text itself.
chart_objects = []
for tname, text in templates.items():
    if not tname.endswith(".yaml"):
        continue
    for doc in re.split(r"(?m)^---\s*$", text):
        k = re.search(r"(?m)^kind:\s*(\S+)", doc)
        n = re.search(r"(?m)^metadata:\s*\n(?:[ \t]+.*\n)*?  name:\s*(.+)$", doc)
        if k and n:
            chart_objects.append((tname, k.group(1), name_pattern(n.group(1))))
for f, kind, name in objects:
    if not kinds.get(kind):
        problem(f"manifests/{f}: {kind} `{name}` has no counterpart in the chart")
        continue
    if not any(k == kind and re.fullmatch(pat, name) for _, k, pat in chart_objects):
        problem(f"manifests/{f}: {kind} `{name}`: no chart template renders that name "
                f"({[pat for _, k, pat in chart_objects if k == kind]})")
# The examples are workloads, not chart objects: they must use the chart's RuntimeClass.
for f, x in examples:
    rc = (((x.get("spec") or {}).get("template") or {}).get("spec") or {}).get("runtimeClassName")
    if rc != values["runtimeClass"]["name"]:
        problem(f"manifests/examples/{f}: {x['kind']} `{x['metadata']['name']}`: runtimeClassName "
                f"`{rc}` is not the chart's `{values['runtimeClass']['name']}`")

for p in problems:
    print("chart-lint:", p)
print(f"chart-lint: {len(templates)} templates, {len(refs)} value references, "
      f"{len(objects)} manifest objects ({len(chart_objects)} in the chart), "
      f"{len(examples)} example objects, {len(problems)} problems")
sys.exit(1 if problems else 0)
