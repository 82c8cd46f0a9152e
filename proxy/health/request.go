package health

import (
	"strconv"
	"strings"
)

// HTTPRequest builds the check request HAProxy sends for `option httpchk`
// / `http-check send`: "METH URI VER", then for HTTP/1.1 the headers with
// lowercased names, a content-length when there is a body, then
// "connection: close" (HAProxy's HTX rendering). HTTP/1.0 requests carry only the
// headers given. Defaults: OPTIONS, /, HTTP/1.0.
func HTTPRequest(method, uri, version string, headers [][2]string, body string) []byte {
	if method == "" {
		method = "OPTIONS"
	}
	if uri == "" {
		uri = "/"
	}
	if version == "" {
		version = "HTTP/1.0"
	}
	var b strings.Builder
	b.WriteString(method + " " + uri + " " + version + "\r\n")
	v11 := version == "HTTP/1.1"
	for _, h := range headers {
		b.WriteString(strings.ToLower(h[0]) + ": " + h[1] + "\r\n")
	}
	if body != "" {
		b.WriteString("content-length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	if v11 {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// SplitLegacyVersion splits the old `option httpchk METH URI VER\r\nHdr: v`
// form, where headers hide after the version, into version and headers.
func SplitLegacyVersion(ver string) (string, [][2]string) {
	parts := strings.Split(ver, "\r\n")
	var hdrs [][2]string
	for _, p := range parts[1:] {
		if p == "" {
			continue
		}
		n, v, _ := strings.Cut(p, ":")
		hdrs = append(hdrs, [2]string{strings.TrimSpace(n), strings.TrimSpace(v)})
	}
	return parts[0], hdrs
}
