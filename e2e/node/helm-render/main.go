// helm-render renders a Helm chart directory the way `helm template` does, without Helm: Go's
// text/template, the sprig function map (Debian's golang-github-masterminds-sprig-dev) and this
// file's own implementation of Helm's extra functions and value handling. It is a test tool for
// e2e/node/test_chart.sh (no Helm binary can be installed on the test machine): it proves that
// the chart renders under the real template engine. It is not Helm, and nothing here is copied
// from Helm; the behaviour follows Helm 3's documented semantics:
//
//   - values: the chart's values.yaml, then each -f/--values file, then every --set, then every
//     --set-string; YAML numbers become float64 (Helm converts YAML through JSON), --set numbers
//     int64, "true"/"false" bool, "null" removes the key from the chart's defaults; user values
//     win over defaults, maps merge key by key;
//   - the context: .Values, .Release (Name, Namespace, Service, IsInstall, IsUpgrade, Revision),
//     .Chart (Chart.yaml's fields, capitalised), .Capabilities (KubeVersion, APIVersions.Has,
//     HelmVersion), .Template (Name, BasePath), .Files (Get, GetBytes);
//   - functions: sprig's TxtFuncMap without env and expandenv, plus include, tpl, required,
//     toYaml, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray (and mustTo*/mustFrom*),
//     lookup (always an empty map: no cluster);
//   - every file under templates/ is parsed into one template set; those whose base name starts
//     with `_` are only definitions; NOTES.txt is rendered apart (--notes FILE); missing map keys
//     render as empty (missingkey=zero, "<no value>" removed) unless --strict;
//   - each template's output is split at `---` lines; empty and comment-only documents are
//     dropped; every document must parse as YAML (an error names the template); the documents
//     are printed in Helm's install order of kinds, each after `# Source: CHART/templates/FILE`;
//   - Chart.yaml is validated (apiVersion v1/v2, name, SemVer version, type) and its kubeVersion
//     checked against --kube-version.
//
// Not supported (refused, never ignored): subcharts (charts/ or dependencies), values.schema.json,
// library charts. Template errors are reported as `CHART/templates/FILE:LINE:COL: message`.
//
// A second mode renders k3s's containerd template: `helm-render k3s --base FILE TEMPLATE` parses
// TEMPLATE (config.toml.tmpl) and defines "base" from FILE, as k3s defines it from its generated
// default config, then executes TEMPLATE with the --set data (strings). Only text/template's
// built-in functions are available there (the strictest assumption about k3s).
//
// Build (Debian, offline): GO111MODULE=off GOPATH=/usr/share/gocode go build
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type strList []string

func (s *strList) String() string     { return strings.Join(*s, ",") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }

func fatalf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "helm-render: "+format+"\n", a...)
	os.Exit(1)
}

// ---- values ---------------------------------------------------------------------------------

// jsonish converts a yaml.v2 document into the types JSON decoding yields (string keys).
func jsonish(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, e := range x {
			c, err := jsonish(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []interface{}:
		l := make([]interface{}, len(x))
		for i, e := range x {
			c, err := jsonish(e)
			if err != nil {
				return nil, err
			}
			l[i] = c
		}
		return l, nil
	}
	return v, nil
}

// yamlToJSONValue parses YAML like Helm does (YAML -> JSON -> Go): maps have string keys and
// numbers are float64.
func yamlToJSONValue(data []byte) (interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	conv, err := jsonish(raw)
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(conv)
	if err != nil {
		return nil, err
	}
	var out interface{}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func loadValuesFile(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	v, err := yamlToJSONValue(data)
	if err != nil {
		return nil, fmt.Errorf("`%s`: %v", file, err)
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("`%s`: values must be a map, not %T", file, v)
	}
	return m, nil
}

// mergeMaps merges src into dst (later files win), recursively for maps.
func mergeMaps(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// coalesce fills user values with the chart's defaults: user values win, maps merge, a user null
// deletes the default; a type clash keeps the user's value with a warning, as Helm does.
func coalesce(user, defaults map[string]interface{}, prefix string) {
	for k, dv := range defaults {
		uv, present := user[k]
		switch {
		case !present:
			user[k] = dv
		case uv == nil:
			delete(user, k)
		default:
			dm, dIsMap := dv.(map[string]interface{})
			um, uIsMap := uv.(map[string]interface{})
			if dIsMap && uIsMap {
				coalesce(um, dm, prefix+k+".")
			} else if dIsMap {
				fmt.Fprintf(os.Stderr, "helm-render: warning: cannot overwrite table with non table for %s%s (%v)\n", prefix, k, dv)
			} else if uIsMap && dv != nil {
				fmt.Fprintf(os.Stderr, "helm-render: warning: destination for %s%s is a table. Ignoring non-table value (%v)\n", prefix, k, dv)
			}
		}
	}
}

// splitTop splits s at unescaped sep outside {...}.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var intRe = regexp.MustCompile(`^[-+]?[1-9][0-9]*$`)

// scalar types a --set value like Helm: bool, null, int64 (no leading zero), else a string.
func scalar(s string, typed bool) interface{} {
	if !typed {
		return s
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case s == "0":
		return int64(0)
	case intRe.MatchString(s):
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

type keySeg struct {
	name string
	idx  []int
}

var segRe = regexp.MustCompile(`^([^\[\]]+)((?:\[[0-9]+\])*)$`)

func parseKey(key string) ([]keySeg, error) {
	var segs []keySeg
	for _, part := range splitTop(key, '.') {
		m := segRe.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("key `%s`: bad segment `%s`", key, part)
		}
		s := keySeg{name: unescape(m[1])}
		for _, ix := range regexp.MustCompile(`[0-9]+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(ix)
			if n > 65535 {
				return nil, fmt.Errorf("key `%s`: index %d too large", key, n)
			}
			s.idx = append(s.idx, n)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

func setIn(m map[string]interface{}, segs []keySeg, val interface{}) {
	s := segs[0]
	if len(s.idx) == 0 {
		if len(segs) == 1 {
			m[s.name] = val
			return
		}
		child, ok := m[s.name].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			m[s.name] = child
		}
		setIn(child, segs[1:], val)
		return
	}
	list, _ := m[s.name].([]interface{})
	m[s.name] = setList(list, s.idx, segs[1:], val)
}

func setList(list []interface{}, idx []int, rest []keySeg, val interface{}) []interface{} {
	i := idx[0]
	for len(list) <= i {
		list = append(list, nil)
	}
	switch {
	case len(idx) > 1:
		sub, _ := list[i].([]interface{})
		list[i] = setList(sub, idx[1:], rest, val)
	case len(rest) == 0:
		list[i] = val
	default:
		child, ok := list[i].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			list[i] = child
		}
		setIn(child, rest, val)
	}
	return list
}

// applySet applies one --set argument ("a.b=1,c[0]=x,l={a,b}") to vals.
func applySet(arg string, vals map[string]interface{}, typed bool) error {
	for _, assign := range splitTop(arg, ',') {
		eq := -1
		for i := 0; i < len(assign); i++ {
			if assign[i] == '\\' {
				i++
			} else if assign[i] == '=' {
				eq = i
				break
			}
		}
		if eq <= 0 {
			return fmt.Errorf("--set `%s`: `%s` is not KEY=VALUE", arg, assign)
		}
		segs, err := parseKey(assign[:eq])
		if err != nil {
			return fmt.Errorf("--set `%s`: %v", arg, err)
		}
		raw := assign[eq+1:]
		var val interface{}
		if len(raw) >= 2 && raw[0] == '{' && raw[len(raw)-1] == '}' {
			items := []interface{}{}
			if inner := raw[1 : len(raw)-1]; inner != "" {
				for _, it := range splitTop(inner, ',') {
					items = append(items, scalar(unescape(it), typed))
				}
			}
			val = items
		} else {
			val = scalar(unescape(raw), typed)
		}
		setIn(vals, segs, val)
	}
	return nil
}

// ---- the template context ---------------------------------------------------------------------

// Metadata is Chart.yaml; templates see its fields capitalised (.Chart.AppVersion).
type Metadata struct {
	APIVersion   string                   `yaml:"apiVersion"`
	Name         string                   `yaml:"name"`
	Version      string                   `yaml:"version"`
	KubeVersion  string                   `yaml:"kubeVersion"`
	Description  string                   `yaml:"description"`
	Type         string                   `yaml:"type"`
	Keywords     []string                 `yaml:"keywords"`
	Home         string                   `yaml:"home"`
	Sources      []string                 `yaml:"sources"`
	Dependencies []map[string]interface{} `yaml:"dependencies"`
	Maintainers  []map[string]interface{} `yaml:"maintainers"`
	Icon         string                   `yaml:"icon"`
	AppVersion   string                   `yaml:"appVersion"`
	Deprecated   bool                     `yaml:"deprecated"`
	Annotations  map[string]string        `yaml:"annotations"`
}

type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files is .Files: the chart's files outside templates/.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }

var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "node.k8s.io/v1", "rbac.authorization.k8s.io/v1",
	"networking.k8s.io/v1", "storage.k8s.io/v1", "apiextensions.k8s.io/v1", "scheduling.k8s.io/v1",
	"coordination.k8s.io/v1", "autoscaling/v2", "admissionregistration.k8s.io/v1",
}

// ---- functions ----------------------------------------------------------------------------------

func toYAML(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return "", err
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// quiet turns a (string, error) function into Helm's non-must variant: "" and a warning on error.
func quiet(name string, f func(interface{}) (string, error)) func(interface{}) string {
	return func(v interface{}) string {
		s, err := f(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "helm-render: warning: %s: %v\n", name, err)
		}
		return s
	}
}

func toJSON(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	return string(j), err
}

func fromYAML(s string) (map[string]interface{}, error) {
	v, err := yamlToJSONValue([]byte(s))
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]interface{})
	if !ok && v != nil {
		return nil, fmt.Errorf("not a map: %T", v)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

func fromYAMLArray(s string) ([]interface{}, error) {
	v, err := yamlToJSONValue([]byte(s))
	if err != nil {
		return nil, err
	}
	l, ok := v.([]interface{})
	if !ok && v != nil {
		return nil, fmt.Errorf("not a list: %T", v)
	}
	return l, nil
}

func fromJSON(s string) (map[string]interface{}, error) {
	m := map[string]interface{}{}
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

func fromJSONArray(s string) ([]interface{}, error) {
	var l []interface{}
	err := json.Unmarshal([]byte(s), &l)
	return l, err
}

// errMap is what Helm's fromYaml/fromJson return on a parse error: {"Error": message}.
func errMap(m map[string]interface{}, err error) map[string]interface{} {
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func errList(l []interface{}, err error) []interface{} {
	if err != nil {
		return []interface{}{err.Error()}
	}
	return l
}

type renderer struct {
	t       *template.Template
	strict  bool
	depth   map[string]int
	tplSeen int
}

func (r *renderer) option() string {
	if r.strict {
		return "missingkey=error"
	}
	return "missingkey=zero"
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = quiet("toYaml", toYAML)
	f["mustToYaml"] = toYAML
	f["toJson"] = quiet("toJson", toJSON)
	f["mustToJson"] = toJSON
	f["fromYaml"] = func(s string) map[string]interface{} { return errMap(fromYAML(s)) }
	f["mustFromYaml"] = fromYAML
	f["fromYamlArray"] = func(s string) []interface{} { return errList(fromYAMLArray(s)) }
	f["mustFromYamlArray"] = fromYAMLArray
	f["fromJson"] = func(s string) map[string]interface{} { return errMap(fromJSON(s)) }
	f["mustFromJson"] = fromJSON
	f["fromJsonArray"] = func(s string) []interface{} { return errList(fromJSONArray(s)) }
	f["mustFromJsonArray"] = fromJSONArray
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		if r.depth[name] >= 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		r.depth[name]++
		defer func() { r.depth[name]-- }()
		var buf strings.Builder
		err := r.t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := r.t.Clone()
		if err != nil {
			return "", err
		}
		r.tplSeen++
		nt, err := c.New(fmt.Sprintf("tpl-%d", r.tplSeen)).Option(r.option()).Parse(text)
		if err != nil {
			return "", err
		}
		var buf strings.Builder
		if err := nt.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

// ---- errors -------------------------------------------------------------------------------------

var (
	locRe  = regexp.MustCompile(`template: ([^:\s]+):(\d+)(?::(\d+))?: `)
	callRe = regexp.MustCompile(`error calling [A-Za-z0-9_]+: `)
)

// cleanErr reduces text/template's nested messages to the innermost chart file location and the
// innermost message ("FILE:LINE:COL: message"; a failing tpl string adds "tpl: ").
func cleanErr(err error) string {
	s := err.Error()
	locs := locRe.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s
	}
	loc, inTpl := "", false
	for _, l := range locs {
		file := s[l[2]:l[3]]
		if strings.HasPrefix(file, "tpl-") {
			inTpl = true
			continue
		}
		loc = file + ":" + s[l[4]:l[5]]
		if l[6] >= 0 {
			loc += ":" + s[l[6]:l[7]]
		}
	}
	last := locs[len(locs)-1]
	msg := s[last[1]:]
	if calls := callRe.FindAllStringIndex(s, -1); len(calls) > 0 && calls[len(calls)-1][1] > last[1] {
		msg = s[calls[len(calls)-1][1]:]
	}
	if inTpl {
		msg = "tpl: " + msg
	}
	if loc == "" {
		return msg
	}
	return loc + ": " + msg
}

// ---- manifests ------------------------------------------------------------------------------------

// Helm's install order of kinds; other kinds follow, by kind name.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

type manifest struct {
	source  string
	kind    string
	content string
	seq     int
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(?:#.*)?$`)

func splitDocs(source, out string, seq *int) ([]manifest, error) {
	var ms []manifest
	for _, d := range docSep.Split(out, -1) {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		var head interface{}
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %v", source, err)
		}
		if head == nil {
			continue // comments only
		}
		hm, ok := head.(map[interface{}]interface{})
		if !ok {
			return nil, fmt.Errorf("%s: a document is not a map: %.60q", source, d)
		}
		kind, _ := hm["kind"].(string)
		if kind == "" || hm["apiVersion"] == nil {
			return nil, fmt.Errorf("%s: a document without apiVersion/kind: %.60q", source, d)
		}
		*seq++
		ms = append(ms, manifest{source, kind, d, *seq})
	}
	return ms, nil
}

func orderOf(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

// ---- chart ---------------------------------------------------------------------------------------

type options struct {
	name, namespace, kubeVersion, notesFile string
	valueFiles, sets, setStrings, apiVers   strList
	strict, upgrade                         bool
}

func render(dir string, o *options) (string, error) {
	var md Metadata
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	if err := yaml.Unmarshal(raw, &md); err != nil {
		return "", fmt.Errorf("Chart.yaml: %v", err)
	}
	switch {
	case md.APIVersion != "v1" && md.APIVersion != "v2":
		return "", fmt.Errorf("Chart.yaml: apiVersion must be v1 or v2, not `%s`", md.APIVersion)
	case md.Name == "":
		return "", errors.New("Chart.yaml: `name` is required")
	case md.Type == "library":
		return "", errors.New("library charts are not installable")
	case md.Type != "" && md.Type != "application":
		return "", fmt.Errorf("Chart.yaml: invalid type `%s`", md.Type)
	case len(md.Dependencies) > 0:
		return "", errors.New("Chart.yaml: dependencies (subcharts) are not supported by helm-render")
	}
	if _, err := semver.NewVersion(md.Version); err != nil {
		return "", fmt.Errorf("Chart.yaml: version `%s` is not SemVer: %v", md.Version, err)
	}
	for _, unsupported := range []string{"charts", "values.schema.json", "requirements.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, unsupported)); err == nil {
			return "", fmt.Errorf("`%s` is not supported by helm-render", unsupported)
		}
	}
	kv, err := semver.NewVersion(o.kubeVersion)
	if err != nil {
		return "", fmt.Errorf("--kube-version `%s`: %v", o.kubeVersion, err)
	}
	if md.KubeVersion != "" {
		c, err := semver.NewConstraint(md.KubeVersion)
		if err != nil {
			return "", fmt.Errorf("Chart.yaml: kubeVersion `%s`: %v", md.KubeVersion, err)
		}
		if !c.Check(kv) {
			return "", fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s", md.KubeVersion, kv)
		}
	}

	defaults := map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(dir, "values.yaml")); err == nil {
		if defaults, err = loadValuesFile(filepath.Join(dir, "values.yaml")); err != nil {
			return "", err
		}
	}
	user := map[string]interface{}{}
	for _, f := range o.valueFiles {
		m, err := loadValuesFile(f)
		if err != nil {
			return "", err
		}
		mergeMaps(user, m)
	}
	for _, s := range o.sets {
		if err := applySet(s, user, true); err != nil {
			return "", err
		}
	}
	for _, s := range o.setStrings {
		if err := applySet(s, user, false); err != nil {
			return "", err
		}
	}
	coalesce(user, defaults, "")

	// Templates and files.
	type tfile struct{ name, text string }
	var tfiles []tfile
	files := Files{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			tfiles = append(tfiles, tfile{md.Name + "/" + rel, string(data)})
		} else if rel != "Chart.yaml" && rel != "values.yaml" {
			files[rel] = data
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(tfiles, func(i, j int) bool { return tfiles[i].name < tfiles[j].name })

	r := &renderer{strict: o.strict, depth: map[string]int{}}
	r.t = template.New("gotpl").Option(r.option()).Funcs(r.funcs())
	for _, tf := range tfiles {
		if _, err := r.t.New(tf.name).Parse(tf.text); err != nil {
			return "", errors.New(cleanErr(err))
		}
	}

	av := append(VersionSet{}, defaultAPIVersions...)
	av = append(av, o.apiVers...)
	top := map[string]interface{}{
		"Values": user,
		"Release": map[string]interface{}{
			"Name": o.name, "Namespace": o.namespace, "Service": "Helm", "Revision": 1,
			"IsInstall": !o.upgrade, "IsUpgrade": o.upgrade,
		},
		"Chart": &md,
		"Capabilities": &Capabilities{
			KubeVersion: KubeVersion{"v" + kv.String(), strconv.FormatUint(kv.Major(), 10), strconv.FormatUint(kv.Minor(), 10)},
			APIVersions: av,
			HelmVersion: map[string]string{"Version": "v3-compatible (helm-render)"},
		},
		"Files": files,
	}
	var all []manifest
	seq := 0
	for _, tf := range tfiles {
		base := path.Base(tf.name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		ctx := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			ctx[k] = v
		}
		ctx["Template"] = map[string]interface{}{"Name": tf.name, "BasePath": md.Name + "/templates"}
		var buf bytes.Buffer
		if err := r.t.ExecuteTemplate(&buf, tf.name, ctx); err != nil {
			return "", errors.New(cleanErr(err))
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			if o.notesFile != "" {
				if err := os.WriteFile(o.notesFile, []byte(out), 0644); err != nil {
					return "", err
				}
			}
			continue
		}
		ms, err := splitDocs(tf.name, out, &seq)
		if err != nil {
			return "", err
		}
		all = append(all, ms...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := orderOf(all[i].kind), orderOf(all[j].kind)
		if a != b {
			return a < b
		}
		if a == len(installOrder) && all[i].kind != all[j].kind {
			return all[i].kind < all[j].kind
		}
		return all[i].seq < all[j].seq
	})
	var sb strings.Builder
	for _, m := range all {
		fmt.Fprintf(&sb, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	return sb.String(), nil
}

// ---- k3s -----------------------------------------------------------------------------------------

func k3s(args []string) {
	fset := flag.NewFlagSet("helm-render k3s", flag.ExitOnError)
	base := fset.String("base", "", "file defining the \"base\" template (k3s's generated default)")
	out := fset.String("o", "", "output file (default stdout)")
	var sets strList
	fset.Var(&sets, "set", "KEY=VALUE data for the templates (strings; repeatable)")
	fset.Parse(args)
	if fset.NArg() != 1 || *base == "" {
		fatalf("usage: helm-render k3s --base FILE [--set KEY=VALUE]... [-o OUT] TEMPLATE")
	}
	data := map[string]interface{}{}
	for _, s := range sets {
		if err := applySet(s, data, false); err != nil {
			fatalf("%v", err)
		}
	}
	user, err := os.ReadFile(fset.Arg(0))
	if err != nil {
		fatalf("%v", err)
	}
	baseText, err := os.ReadFile(*base)
	if err != nil {
		fatalf("%v", err)
	}
	t, err := template.New(filepath.Base(fset.Arg(0))).Parse(string(user))
	if err == nil {
		_, err = t.New("base").Parse(string(baseText))
	}
	if err != nil {
		fatalf("%s", cleanErr(err))
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		fatalf("%s", cleanErr(err))
	}
	if *out == "" {
		os.Stdout.Write(buf.Bytes())
	} else if err := os.WriteFile(*out, buf.Bytes(), 0644); err != nil {
		fatalf("%v", err)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "k3s" {
		k3s(os.Args[2:])
		return
	}
	o := &options{}
	fset := flag.NewFlagSet("helm-render", flag.ExitOnError)
	fset.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: helm-render [options] CHART_DIR\n"+
			"       helm-render k3s --base FILE [--set KEY=VALUE]... [-o OUT] TEMPLATE\n")
		fset.PrintDefaults()
	}
	fset.StringVar(&o.name, "name", "release-name", "release name")
	fset.StringVar(&o.namespace, "namespace", "default", "release namespace")
	fset.StringVar(&o.kubeVersion, "kube-version", "1.29.0", "Capabilities.KubeVersion")
	fset.StringVar(&o.notesFile, "notes", "", "write the rendered NOTES.txt to this file")
	fset.Var(&o.valueFiles, "f", "values file (repeatable)")
	fset.Var(&o.valueFiles, "values", "values file (repeatable)")
	fset.Var(&o.sets, "set", "KEY=VALUE override (repeatable)")
	fset.Var(&o.setStrings, "set-string", "KEY=VALUE override, always a string (repeatable)")
	fset.Var(&o.apiVers, "api-versions", "extra Capabilities.APIVersions entry (repeatable)")
	fset.BoolVar(&o.strict, "strict", false, "fail on a missing map key")
	fset.BoolVar(&o.upgrade, "is-upgrade", false, "Release.IsUpgrade (IsInstall false)")
	fset.Parse(os.Args[1:])
	if fset.NArg() != 1 {
		fset.Usage()
		os.Exit(2)
	}
	out, err := render(fset.Arg(0), o)
	if err != nil {
		fatalf("%v", err)
	}
	os.Stdout.WriteString(out)
}
