package proxy

import (
	"testing"

	"halo/proxy/http1"
)

// TestHTXRespSize: the size computed from a parsed response is the one
// htxHeadSize reads from the head the engine writes for it.
func TestHTXRespSize(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nServer: x\r\nConnection: keep-alive, Upgrade\r\nContent-Type: text/plain\r\n\r\n",
		"HTTP/1.0 204 \r\nX-Empty:\r\nX-Sp:   v  \r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n",
	} {
		var m http1.Message
		if err := http1.ParseResponse(&m, []byte(raw), len(raw)); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		for _, keep := range []bool{false, true} {
			out := m.AppendResponseHead(nil)
			out = appendConnHeader(out, keep, true, true)
			out = append(out, '\r', '\n')
			if got, want := htxRespSize(&m), htxHeadSize(out); got != want {
				t.Errorf("%q (keep %v): %d from the message, %d from the bytes", raw, keep, got, want)
			}
		}
	}
}
