package compat

import (
	"fmt"
	"strings"
)

// BigHAProxyConfig generates a realistic haproxy.cfg of about n lines: frontends
// with ACL routing to backends of IP-addressed servers (no DNS).
func BigHAProxyConfig(n int) string {
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
