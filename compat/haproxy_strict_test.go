package compat

import (
	"testing"

	"halo/proxy"
)

// The -c verdicts of one-line variations are compared with haproxy's in
// cmd/halo (testdata/haproxy/strictness.tsv). These tests pin what the
// accepted forms mean at run time.

func strictLoad(t *testing.T, lines string) *proxy.Config {
	t.Helper()
	src := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" +
		lines +
		"frontend fe\n    bind 127.0.0.1:21001\n    use_backend b2 if\n    use_backend b3 unless\n    default_backend b1\n" +
		"backend b1\n    server s1 127.0.0.1:21002\nbackend b2\n    server s1 127.0.0.1:21003\nbackend b3\n    server s1 127.0.0.1:21004\n"
	cfg, rep := LoadHAProxyBytes("t.cfg", []byte(src), HAProxyOptions{})
	if rep.Fatal() {
		t.Fatalf("refused: %+v", rep.Diags)
	}
	return cfg
}

// An empty condition is a condition, never a rule without one: "if"
// alone never matches, "unless" alone always does (HAProxy 2.6).
func TestEmptyConditionIsNotUnconditional(t *testing.T) {
	cfg := strictLoad(t, "")
	fe := cfg.Proxies[0]
	if len(fe.UseBackends) != 2 {
		t.Fatalf("use_backend rules: %+v", fe.UseBackends)
	}
	for i, want := range []bool{false, true} {
		c := fe.UseBackends[i].Cond
		if c == nil || len(c.Or) != 0 || c.Unless != want {
			t.Errorf("rule %d: condition %+v, want empty with Unless=%v", i, c, want)
		}
	}
}

// A defaults section's default_backend reaches frontends only: the
// backend of that name does not loop on itself (HAProxy accepts this).
func TestDefaultsDefaultBackendNotInherited(t *testing.T) {
	cfg := strictLoad(t, "    default_backend b1\n")
	for _, p := range cfg.Proxies {
		if p.Cap&proxy.CapFE == 0 && p.DefaultBackend != nil {
			t.Errorf("backend %s inherited default_backend %s", p.Name, p.DefaultBackend.Name)
		}
	}
}
