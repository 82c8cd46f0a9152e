package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"halo/parser"
)

// TestPeersTLSChecks: the checks HAProxy 2.6.12 makes of a peers
// section's TLS settings, with its messages (recorded with haproxy -c -L A).
func TestPeersTLSChecks(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "onlykey.pem")
	// a key and no certificate
	_ = os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"), 0o600)
	env := parser.MapEnv{"HAPROXY_LOCALPEER": "A"}
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"bind crt", "peers p\n    bind 127.0.0.1:28444 ssl crt " + key + "\n    server A\n",
			[]string{"ALERT 2: 'bind 127.0.0.1:28444' in section 'peers' : unable to load certificate from file '" + key + "'."}},
		{"server crt from default-server", "peers p\n    bind 127.0.0.1:28444\n    default-server ssl crt " + key + " verify none\n    server A\n    server B 127.0.0.1:28445\n    server C 127.0.0.1:28446\n",
			[]string{
				"ALERT 0: unable to load certificate from file '" + key + "'.",
				"ALERT 0: unable to load certificate from file '" + key + "'.",
				"ALERT 0: unable to load certificate from file '" + key + "'.",
				"WARNING 0: Peers section 'A': local peer have a non-SSL listener and a SSL server configured at line h.cfg:2.",
			}},
		{"verify without ca-file", "peers p\n    bind 127.0.0.1:28444\n    server A\n    server B 127.0.0.1:28445 ssl crt /nonexistent.pem\n",
			[]string{
				"ALERT 0: unable to stat SSL certificate from file '/nonexistent.pem' : No such file or directory.",
				"ALERT 0: verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.",
			}},
		{"ssl-server-verify none", "global\n    ssl-server-verify none\npeers p\n    bind 127.0.0.1:28444\n    server A\n    server B 127.0.0.1:28445 ssl\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rep := LoadHAProxyBytes("h.cfg", []byte(tc.src), HAProxyOptions{Env: env})
			var got []string
			for _, l := range diagLines(rep) {
				if !strings.Contains(l, "halo:") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
