package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"halo/lvs/check"
)

// genhashUsage is keepalived 2.2.7's genhash help; prog is "genhash" or
// "keepalived --genhash".
func genhashUsage(w io.Writer, prog string) {
	fmt.Fprintf(w, `Usage: %s COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
`, prog)
}

// genhashMain is `halo genhash` (and `genhash` through a symlink).
func genhashMain(args []string) int { return genhashRun(args, "genhash", os.Stdout, os.Stderr) }

// genhashRun computes the MD5 digest HTTP_GET/SSL_GET compare a url
// with, as keepalived's genhash does: the digest on stdout, or
// "Connection failed" (exit 0, as genhash); usage errors exit 1.
func genhashRun(args []string, prog string, stdout, stderr io.Writer) int {
	var ssl, sni, verbose, help bool
	var server, url, vhost, proto string
	var port, fwmark uint
	var timeout float64
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVarP(&ssl, "use-ssl", "S", false, "")
	fs.BoolVarP(&sni, "use-sni", "I", false, "")
	fs.StringVarP(&server, "server", "s", "", "")
	fs.UintVarP(&port, "port", "p", 0, "")
	fs.StringVarP(&url, "url", "u", "", "")
	fs.StringVarP(&vhost, "use-virtualhost", "V", "", "")
	fs.BoolVarP(&verbose, "verbose", "v", false, "")
	fs.BoolVarP(&help, "help", "h", false, "")
	fs.UintVarP(&fwmark, "fwmark", "m", 0, "")
	fs.StringVarP(&proto, "protocol", "P", "1.0", "")
	fs.Float64VarP(&timeout, "timeout", "t", 5, "")
	if err := fs.Parse(args); err != nil || help || server == "" || port == 0 || url == "" || port > 65535 {
		genhashUsage(stderr, prog)
		if help {
			return 0
		}
		return 1
	}
	switch proto {
	case "1.0", "1.1", "1.0C":
	case "1.0c":
		proto = "1.0C"
	default:
		fmt.Fprintf(stderr, "Invalid protocol %s\n", proto)
		return 1
	}
	ip, err := netip.ParseAddr(server)
	if err != nil {
		addrs, lerr := net.LookupHost(server)
		if lerr != nil || len(addrs) == 0 {
			fmt.Fprintf(stderr, "server should be an IP, not %s\n", server)
			return 1
		}
		ip, _ = netip.ParseAddr(addrs[0])
	}
	d := &net.Dialer{}
	if fwmark != 0 {
		mark := int(fwmark)
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			_ = rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, mark) })
			return serr
		}
	}
	req := &check.FetchRequest{
		Dst: netip.AddrPortFrom(ip, uint16(port)), Dialer: d, TLS: ssl, SNI: sni, Path: url, Host: vhost,
		Protocol: proto, Timeout: time.Duration(timeout * float64(time.Second)), Digest: true, KeepBody: verbose,
	}
	res, reason := check.Fetch(context.Background(), req)
	if reason != "" {
		fmt.Fprintln(stdout, "Connection failed")
		return 0
	}
	if verbose {
		fmt.Fprintln(stdout, "-----------------------[    HTTP Header Buffer    ]-----------------------")
		hexDump(stdout, res.Header)
		fmt.Fprintln(stdout, "-----------------------[ HTTP Header Ascii Buffer ]-----------------------")
		fmt.Fprintf(stdout, "%s\n", res.Header)
		fmt.Fprintln(stdout, "-----------------------[        HTML Buffer        ]-----------------------")
		hexDump(stdout, res.Body)
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "-----------------------[    HTML hash resulting    ]-----------------------")
		hexDump(stdout, res.Digest[:])
		fmt.Fprintln(stdout, "-----------------------[ HTML hash final resulting ]-----------------------")
	}
	fmt.Fprintln(stdout, hex.EncodeToString(res.Digest[:]))
	if verbose {
		fmt.Fprintf(stdout, "\nGlobal response time for [%s] = %d usecs\n", url, res.Elapsed.Microseconds())
	}
	return 0
}

// hexDump is genhash's dump: offset, 8+8 bytes, printable characters.
func hexDump(w io.Writer, b []byte) {
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		fmt.Fprintf(w, "%04d  ", off)
		for i := 0; i < 16; i++ {
			switch {
			case i < len(line):
				fmt.Fprintf(w, "%02x ", line[i])
			default:
				fmt.Fprint(w, "   ")
			}
			if i == 7 {
				fmt.Fprint(w, "- ")
			}
		}
		fmt.Fprint(w, "  ")
		for i := 0; i < 16; i++ {
			c := byte(' ')
			if i < len(line) {
				c = '.'
				if line[i] >= 0x20 && line[i] < 0x7f {
					c = line[i]
				}
			}
			fmt.Fprintf(w, "%c", c)
		}
		fmt.Fprintln(w)
	}
}
