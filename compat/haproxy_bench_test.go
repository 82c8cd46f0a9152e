package compat

import (
	"os"
	"strings"
	"testing"
)

func BenchmarkLoadHAProxy10k(b *testing.B) {
	src := []byte(BigHAProxyConfig(10000))
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
	src := BigHAProxyConfig(10000)
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
	if err := os.WriteFile(path, []byte(BigHAProxyConfig(10000)), 0o644); err != nil {
		t.Fatal(err)
	}
}
