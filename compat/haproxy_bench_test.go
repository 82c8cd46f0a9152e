package compat

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// bigConfig generates a realistic haproxy.cfg of about n lines: frontends
// with ACL routing to backends of IP-addressed servers (no DNS).
func bigConfig(n int) string {
	var b strings.Builder
	b.WriteString("global\n    maxconn 50000\n    log 127.0.0.1:514 local0\n    stats socket /tmp/halo-bench.sock mode 600 level admin\n\n")
	b.WriteString("defaults\n    mode http\n    log global\n    option httplog\n    option forwardfor\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n")
	lines := 17
	for i := 0; lines < n; i++ {
		fmt.Fprintf(&b, "frontend fe%d\n    bind 127.0.%d.%d:%d\n", i, i/250%250, i%250+1, 10000+i%50000)
		fmt.Fprintf(&b, "    acl is_api%d path_beg /api/%d\n    acl is_host%d hdr(host) -i h%d.example.com\n", i, i, i, i)
		fmt.Fprintf(&b, "    http-request set-header X-Frontend fe%d if is_host%d\n", i, i)
		fmt.Fprintf(&b, "    use_backend be%d if is_api%d || is_host%d\n    default_backend be%d\n\n", i, i, i, i)
		fmt.Fprintf(&b, "backend be%d\n    balance roundrobin\n    option httpchk GET /health\n    default-server inter 2s fall 3 rise 2\n", i)
		lines += 13
		for s := 0; s < 8; s++ {
			fmt.Fprintf(&b, "    server s%d 10.%d.%d.%d:8080 check weight %d\n", s, i/250%250, i%250, s+1, s+1)
			lines++
		}
		b.WriteString("\n")
	}
	return b.String()
}

func BenchmarkLoadHAProxy10k(b *testing.B) {
	src := []byte(bigConfig(10000))
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg, rep := LoadHAProxyBytes("big.cfg", src, HAProxyOptions{})
		if rep.Fatal() || cfg == nil {
			b.Fatalf("big config rejected: %+v", rep.Diags[:1])
		}
	}
}

func TestBigConfigLoads(t *testing.T) {
	src := bigConfig(10000)
	if n := strings.Count(src, "\n"); n < 10000 {
		t.Fatalf("only %d lines", n)
	}
	cfg, rep := LoadHAProxyBytes("big.cfg", []byte(src), HAProxyOptions{})
	if rep.Fatal() {
		t.Fatalf("rejected: %v", rep.Diags[0])
	}
	if len(cfg.Proxies) < 900 {
		t.Fatalf("proxies %d", len(cfg.Proxies))
	}
}

// TestWriteBigConfig writes the generated configuration to $HALO_BIGCFG,
// for the whole-process comparison with haproxy -c (see the Makefile's
// bench-check target).
func TestWriteBigConfig(t *testing.T) {
	path := os.Getenv("HALO_BIGCFG")
	if path == "" {
		t.Skip("HALO_BIGCFG not set")
	}
	if err := os.WriteFile(path, []byte(bigConfig(10000)), 0o644); err != nil {
		t.Fatal(err)
	}
}
