// Package check is Keepalived's health checkers (TCP_CHECK, HTTP_GET,
// SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK, PING_CHECK,
// FILE_CHECK): each a real client, scheduled with Keepalived 2.2's timing
// (check_api.c, check_tcp.c, check_http.c, check_misc.c). The schedule is a
// pure state machine (state.go) driven through an injected Clock, so the
// up/down detection times are computed in tests without waiting.
//
// The package knows nothing of virtual servers: a Checker reports Up, Down
// and weight changes through a callback; package lvs decides what they do
// to the pool.
package check

import (
	"net/netip"
	"time"
)

// Kind describes one checker type as the runtime executes it. Kinds is the
// registry compat reads to decide a checker keyword's status.
type Kind struct {
	Name string
	// DefaultRetry is the retry count when none is configured.
	DefaultRetry int
	// DefaultDelayBeforeRetry is the delay_before_retry default; 0 means
	// delay_loop (DNS_CHECK).
	DefaultDelayBeforeRetry time.Duration
	// Conn says the checker takes the connection keywords (connect_ip,
	// connect_port, bindto, bind_port, bind_if, connect_timeout, fwmark).
	Conn bool
	// Timed says the checker takes the timing keywords (retry, delay_loop…).
	Timed bool
}

// Kinds lists the checkers halo runs, in keepalived.conf(5)'s order.
func Kinds() []Kind {
	return []Kind{
		{Name: "HTTP_GET", DefaultRetry: 1, DefaultDelayBeforeRetry: 3 * time.Second, Conn: true, Timed: true},
		{Name: "SSL_GET", DefaultRetry: 1, DefaultDelayBeforeRetry: 3 * time.Second, Conn: true, Timed: true},
		{Name: "TCP_CHECK", DefaultRetry: 1, DefaultDelayBeforeRetry: time.Second, Conn: true, Timed: true},
		{Name: "SMTP_CHECK", DefaultRetry: 1, DefaultDelayBeforeRetry: time.Second, Conn: true, Timed: true},
		{Name: "DNS_CHECK", DefaultRetry: 3, DefaultDelayBeforeRetry: 0, Conn: true, Timed: true},
		{Name: "MISC_CHECK", DefaultRetry: 0, DefaultDelayBeforeRetry: time.Second, Conn: false, Timed: true},
		{Name: "UDP_CHECK", DefaultRetry: 1, DefaultDelayBeforeRetry: time.Second, Conn: true, Timed: true},
		{Name: "PING_CHECK", DefaultRetry: 1, DefaultDelayBeforeRetry: time.Second, Conn: true, Timed: true},
		{Name: "FILE_CHECK", Conn: false, Timed: false},
	}
}

// KindByName returns the registered kind, or false.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Config is one checker block, with every default already resolved (the
// virtual server's setting is the real server's default, the real
// server's the checker's, as keepalived.conf(5) says).
type Config struct {
	Kind string

	DelayLoop        time.Duration // delay_loop
	DelayBeforeRetry time.Duration // delay_before_retry
	Warmup           time.Duration // warmup: the first check waits 1s + rand×warmup
	Retry            int
	Alpha            bool
	LogAllFailures   bool

	// Connection (Conn kinds).
	Dst            netip.AddrPort // connect_ip/connect_port, default the real server
	BindAddr       netip.Addr     // bindto
	BindPort       uint16         // bind_port
	BindIf         string         // bind_if
	FWMark         uint32         // fwmark (SO_MARK)
	ConnectTimeout time.Duration  // connect_timeout, default 5s

	// HTTP_GET / SSL_GET.
	URLs         []URL
	VirtualHost  string // checker, else real server, else virtual server virtualhost
	HTTPProtocol string // "1.0" (default), "1.0C", "1.1"
	EnableSNI    bool
	FastRecovery bool
	TLS          TLSFiles

	// MISC_CHECK.
	MiscPath    []string // argv
	MiscTimeout time.Duration
	MiscDynamic bool
	UID, GID    uint32

	// SMTP_CHECK.
	HeloName string

	// DNS_CHECK.
	DNSType string // A NS CNAME SOA MX TXT AAAA (default SOA)
	DNSName string // default "."

	// UDP_CHECK.
	Payload        []byte
	RequireReply   bool
	ReplyPattern   []byte // nibble values; ReplyMask marks the nibbles that count
	ReplyMask      []byte
	MinReplyLength int
	MaxReplyLength int

	// FILE_CHECK.
	FilePath    string
	FileWeight  int // multiplier of the value read; 0 = no weight (up unless value is 0... see file.go)
	FileReverse bool
	FileDynamic bool
}

// URL is one `url { }` block.
type URL struct {
	Path        string
	Digest      []byte // MD5, 16 bytes, nil = not checked
	StatusCodes [][2]int
	VirtualHost string
	Regex       string
	RegexNo     bool // regex_no_match
	RegexMin    int  // regex_min_offset
	RegexMax    int  // regex_max_offset (0 = none)
}

// StatusOK reports whether code is one of the accepted status codes
// (200-299 when none is configured, as keepalived).
func (u *URL) StatusOK(code int) bool {
	if len(u.StatusCodes) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range u.StatusCodes {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// TLSFiles is the global SSL block used by SSL_GET.
type TLSFiles struct {
	Password, CA, Certificate, Key string
}
