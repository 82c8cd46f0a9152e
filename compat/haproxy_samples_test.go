package compat

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"halo/parser"
	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/rules"
)

// TestRuntimeVocabularyIsHAProxys: the runtime registers only names that
// HAProxy 2.6 knows (so halo accepts nothing HAProxy refuses), and its
// ACL keywords mean what HAProxy's do.
func TestRuntimeVocabularyIsHAProxys(t *testing.T) {
	reg := acl.NewRegistry()
	for _, n := range reg.Fetches() {
		if _, ok := haproxyFetches[n]; !ok {
			t.Errorf("the runtime registers fetch %q, unknown to HAProxy 2.6", n)
		}
	}
	for _, n := range reg.Converters() {
		if _, ok := haproxyConverters[n]; !ok {
			t.Errorf("the runtime registers converter %q, unknown to HAProxy 2.6", n)
		}
	}
	for _, n := range reg.ACLKeywords() {
		f, m, _ := reg.ACLKeyword(n)
		want, ok := haproxyACLKeywords[n]
		if !ok {
			t.Errorf("the runtime registers ACL keyword %q, unknown to HAProxy 2.6", n)
			continue
		}
		if f != want[0] || m != want[1] {
			t.Errorf("ACL keyword %q: runtime %s -m %s, HAProxy %s -m %s", n, f, m, want[0], want[1])
		}
	}
	// Every HAProxy ACL keyword whose fetch the runtime executes is
	// registered.
	for n, want := range haproxyACLKeywords {
		if _, ok := reg.Fetch(want[0]); !ok {
			continue
		}
		if _, _, ok := reg.ACLKeyword(n); !ok {
			t.Errorf("HAProxy's ACL keyword %q (%s) is not registered though its fetch is", n, want[0])
		}
	}
	for _, a := range rules.Actions() {
		http := false
		for _, kind := range []string{"http-request", "http-response"} {
			if _, ok := actionName(kind, a.Name); ok {
				http = true
			}
		}
		tcp := false
		for stage := range tcpActions {
			if _, ok := tcpActionName(stage, a.Name); ok {
				tcp = true
			}
		}
		if tcpResponseAction(a.Name) {
			tcp = true
		}
		if !http && !tcp {
			t.Errorf("the runtime registers action %q, unknown to HAProxy 2.6", a.Name)
		}
	}
	for name := range notExecutedActions {
		for _, a := range rules.Actions() {
			if a.Name == name && a.Rulesets&(rules.HTTPRequest|rules.HTTPResponse) != 0 {
				t.Errorf("action %q is executed by the runtime yet listed as not executed", name)
			}
		}
	}
}

// argsFor invents arguments of the types HAProxy's signature lists
// ("(string[,integer]): str"), naming objects sampleConfig declares.
func argsFor(sig string, conv bool) string {
	open, end := strings.IndexByte(sig, '('), strings.Index(sig, "):")
	if open != 0 || end < 0 {
		return ""
	}
	inner := sig[1:end]
	if i := strings.IndexByte(inner, '['); i >= 0 {
		inner = inner[:i] // required arguments only
	}
	inner = strings.TrimSuffix(inner, ",")
	if inner == "" {
		return ""
	}
	var out []string
	for _, typ := range strings.Split(inner, ",") {
		switch typ {
		case "integer":
			out = append(out, "1")
		case "backend":
			out = append(out, "be")
		case "frontend":
			out = append(out, "fe")
		case "server":
			out = append(out, "be/s1")
		case "user list":
			out = append(out, "ul")
		case "table":
			out = append(out, "be")
		case "IPv4 address":
			out = append(out, "1.2.3.4")
		case "IPv6 address":
			out = append(out, "::1")
		case "IPv4 mask":
			out = append(out, "24")
		case "regex":
			out = append(out, "a")
		default:
			out = append(out, "txn.v")
		}
	}
	return "(" + strings.Join(out, ",") + ")"
}

const sampleConfig = `
userlist ul
    user u insecure-password p
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:8080
    http-request set-var(txn.v) str(1)
    %s
    default_backend be
backend be
    server s1 127.0.0.1:8081
`

// specialArgs are arguments a signature cannot say (map files, digest
// names, fixed words).
var specialArgs = map[string]string{
	"digest": "(sha256)", "hmac": "(sha256,YWJj)", "sha2": "", "json": "", "url_enc": "",
	"be2dec": "(:,1)", "uuid": "", "date": "", "bool": "(true)", "bin": "(6162)", "ltime": "(%Y)", "utime": "(%Y)",
	"regsub": "(a,b)", "field": "(1,:)", "word": "(1,:)", "bytes": "(1)", "concat": "", "add_item": "(:,txn.v)",
	"language": "(en)", "iif": "(a,b)", "ipmask": "(24)", "set-var": "(txn.w)", "unset-var": "(txn.w)",
	"ltrim": "(a)", "rtrim": "(a)", "meth": "(GET)", "str": "(a)", "var": "(txn.v)", "env": "(HOME)",
	"req.payload": "(0,1)", "payload": "(0,1)",
}

// sampleFor is a sample expression using the fetch or converter name.
func sampleFor(name string, conv bool) string {
	args, ok := specialArgs[name]
	if !ok {
		sig := haproxyFetches[name]
		if conv {
			sig = haproxyConverters[name]
		}
		args = argsFor(sig, conv)
	}
	if strings.HasPrefix(name, "map") {
		args = "(MAP)"
	}
	if conv {
		return "str(1)," + name + args
	}
	return name + args
}

// TestSampleStatusesMatchRuntime: for every fetch and converter HAProxy
// 2.6 knows, the configuration loader's status and the runtime agree:
// a name reported supported (or partly executed) compiles in the runtime,
// and one reported unsupported is refused by the check before the runtime
// is asked. It iterates the whole vocabulary, so a `supported` row
// without a runtime implementation fails here.
func TestSampleStatusesMatchRuntime(t *testing.T) {
	reg := acl.NewRegistry()
	type item struct {
		name string
		conv bool
	}
	var items []item
	for n := range haproxyFetches {
		items = append(items, item{n, false})
	}
	for n := range haproxyConverters {
		items = append(items, item{n, true})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })
	mapFile := t.TempDir() + "/m.map"
	counts := map[string]int{}
	for _, it := range items {
		expr := strings.ReplaceAll(sampleFor(it.name, it.conv), "MAP", mapFile)
		line := fmt.Sprintf("http-request set-header X-T %%[%s]", expr)
		cfgText := fmt.Sprintf(sampleConfig, line)
		cfg, rep := LoadHAProxyBytes("t.cfg", []byte(cfgText), HAProxyOptions{
			Registry: reg,
			ReadFile: func(p string) ([]byte, error) { return []byte("1 one\n"), nil },
			Stat:     nil,
		})
		var st Status
		var known bool
		if it.conv {
			_, known = reg.Converter(it.name)
		} else {
			_, known = reg.Fetch(it.name)
		}
		c := &hctx{reg: reg}
		if it.conv {
			st, _ = c.convStatus(it.name)
		} else {
			st, _ = c.fetchStatus(it.name)
		}
		counts[fmt.Sprintf("%v/%v", it.conv, st)]++
		alerts := alertsOf(rep)
		switch {
		case st == Supported || st == Partial:
			if !known {
				t.Errorf("%s: status %v without a runtime implementation", it.name, st)
				continue
			}
			if alerts != "" {
				// an argument this test cannot invent (context or type
				// errors HAProxy would also raise) is not a disagreement;
				// but never "not executed".
				if strings.Contains(alerts, "not executed") || strings.Contains(alerts, "not supported") {
					t.Errorf("%s: registered yet the check says: %s", it.name, alerts)
				}
				continue
			}
			if err := rules.New().Check(cfg); err != nil && strings.Contains(err.Error(), "unknown") {
				t.Errorf("%s: reported %v, but the runtime refuses %q: %v", it.name, st, expr, err)
			}
		case st == Unsupported:
			if known {
				t.Errorf("%s: registered by the runtime yet reported unsupported", it.name)
			}
			if alerts == "" {
				t.Errorf("%s: unsupported, yet the check accepts %q", it.name, expr)
			} else if strings.Contains(alerts, "unknown fetch method") || strings.Contains(alerts, "unknown converter") {
				t.Errorf("%s: HAProxy knows it, yet the check says: %s", it.name, alerts)
			}
		}
	}
	t.Logf("statuses (converter/status: count): %v", counts)
}

func alertsOf(rep *Report) string {
	var out []string
	for _, d := range rep.Diags {
		if d.Sev == parser.SevAlert {
			out = append(out, d.Msg)
		}
	}
	return strings.Join(out, "; ")
}

// TestPredefinedACLsAreTheRuntimes: the loader hands the runtime's own
// definition of each predefined ACL (LOCALHOST includes ::1; there is no
// HTTP_3.0 in 2.6).
func TestPredefinedACLsAreTheRuntimes(t *testing.T) {
	reg := acl.NewRegistry()
	c := &hctx{reg: reg}
	if a := c.predefinedACL("LOCALHOST"); a == nil || strings.Join(a.Criteria[0].Values, " ") != "127.0.0.1/8 ::1" {
		t.Errorf("LOCALHOST = %+v", a)
	}
	if c.predefinedACL("HTTP_3.0") != nil {
		t.Error("HTTP_3.0 is not a predefined ACL of HAProxy 2.6")
	}
	for _, n := range reg.PredefinedACLs() {
		a := c.predefinedACL(n)
		if _, err := acl.NewCompiler(&acl.Options{Registry: reg}).ACL(&proxy.ACL{Name: n, Criteria: a.Criteria}); err != nil {
			t.Errorf("predefined ACL %s does not compile: %v", n, err)
		}
	}
}
