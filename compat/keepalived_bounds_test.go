package compat

import (
	"runtime"
	"strings"
	"testing"
)

// TestKeepalivedSeqBounded: a ~SEQ over 200,000 bad addresses is read
// with a bounded report (keepalived prints its complaints and keeps none;
// halo keeps the first 10,000, then counts, with the worst class so that
// -t's exit status holds), and 200,000 good ones are cut to what fits in
// an advert, the rest excluded, as keepalived does. Measured in bytes,
// not time: the load allocated over 3.9 KB per line and kept every
// diagnostic.
func TestKeepalivedSeqBounded(t *testing.T) {
	const n = 200000
	inst := func(line string) string {
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  ~SEQ(i,1,200000) " + line + "\n }\n}\n"
	}
	t.Run("bad addresses", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cfg, r := loadKaString(t, inst("10.0.0.$i"), false)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(r.Diags) > kaMaxDiags+1 {
			t.Fatalf("%d diagnostics kept", len(r.Diags))
		}
		last := r.Diags[len(r.Diags)-1]
		if !strings.Contains(last.Msg, "more diagnostics not shown") || KeepalivedTestExit(r) != 5 {
			t.Fatalf("last %q, exit %d", last.Msg, KeepalivedTestExit(r))
		}
		if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 1500 {
			t.Errorf("%d bytes allocated per line, want at most 1500", per)
		}
		if kept := int64(after.HeapAlloc) - int64(before.HeapAlloc); kept > 30<<20 {
			t.Errorf("%d MB kept after the load", kept>>20)
		}
		runtime.KeepAlive(cfg)
	})
	t.Run("good addresses", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cfg, r := loadKaString(t, inst("10.0.0.1"), false)
		runtime.ReadMemStats(&after)
		in := cfg.Instances[0]
		if len(in.VIPs) != 255 || len(in.ExcludedVIPs) != n-255 {
			t.Fatalf("%d VIPs, %d excluded", len(in.VIPs), len(in.ExcludedVIPs))
		}
		found := false
		for _, d := range r.Diags {
			found = found || d.Msg == "(VI_1) Number of VIPs (200000) exceeds maximum/space available in packet (max 255 addresses) - excess moved to eVIPs"
		}
		if !found {
			t.Fatalf("no VIP count message: %v", r.Diags)
		}
		if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 1200 {
			t.Errorf("%d bytes allocated per line, want at most 1200", per)
		}
	})
}

// TestVIPsFitTheAdvert: the most addresses one advert carries, by family,
// version and authentication, on a 1500-byte MTU (keepalived's sums).
func TestVIPsFitTheAdvert(t *testing.T) {
	for _, tc := range []struct {
		name, extra, vip string
		max              int
	}{
		{"IPv6", "", "fd00::1", 89},
		{"IPv4 v2", "", "10.0.0.1", 255},
	} {
		conf := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n" + tc.extra + " virtual_ipaddress {\n  ~SEQ(i,1,300) " + tc.vip + "\n }\n}\n"
		cfg, _ := loadKaString(t, conf, false)
		if got := len(cfg.Instances[0].VIPs); got != tc.max {
			t.Errorf("%s: %d VIPs kept in the advert, want %d", tc.name, got, tc.max)
		}
	}
}
