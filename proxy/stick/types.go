// Package stick implements HAProxy's stick tables (configuration.txt §7.3.2
// "stick-table", management.txt §9.3 "show table"): typed keys, the stored
// data types with HAProxy's frequency counters, expiry, eviction of the
// oldest entries at `size`, and the reference counts that keep an entry
// tracked by a stream alive.
//
// A table keeps its entries in per-shard arenas of fixed-size records
// (uint32 words) and an index of its own, so a million entries cost the
// garbage collector nothing and a tracked request allocates nothing.
package stick

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KeyType is a table's key type (`stick-table type …`).
type KeyType uint8

const (
	KeyIP      KeyType = iota // IPv4 address, 4 bytes in network order
	KeyIPv6                   // IPv6 address, 16 bytes
	KeyInteger                // 32-bit integer, stored in host (little-endian) order as HAProxy does
	KeyString                 // NUL-terminated string of at most KeySize-1 bytes
	KeyBinary                 // KeySize bytes, zero padded
)

var keyTypeNames = [...]string{"ip", "ipv6", "integer", "string", "binary"}

func (k KeyType) String() string { return keyTypeNames[k] }

// ParseKeyType reads a `type` word.
func ParseKeyType(s string) (KeyType, bool) {
	for i, n := range keyTypeNames {
		if n == s {
			return KeyType(i), true
		}
	}
	return 0, false
}

// DefaultKeySize is HAProxy's key size of a type without `len`: string and
// binary keys take 32 bytes (a string key so holds 31 characters and its
// NUL).
func DefaultKeySize(k KeyType) int {
	switch k {
	case KeyIPv6:
		return 16
	case KeyString, KeyBinary:
		return 32
	}
	return 4
}

// DataType is a stored data type, numbered as HAProxy's
// STKTABLE_DT_* (the peers protocol sends these numbers and `show table`
// prints the data in this order).
type DataType uint8

const (
	ServerID DataType = iota
	GPT0
	GPC0
	GPC0Rate
	ConnCnt
	ConnRate
	ConnCur
	SessCnt
	SessRate
	HTTPReqCnt
	HTTPReqRate
	HTTPErrCnt
	HTTPErrRate
	BytesInCnt
	BytesInRate
	BytesOutCnt
	BytesOutRate
	GPC1
	GPC1Rate
	ServerKey
	HTTPFailCnt
	HTTPFailRate
	GPT
	GPC
	GPCRate
	NumDataTypes
)

// stdType is the storage kind of a data type.
type stdType uint8

const (
	stdSInt stdType = iota // signed 32 bits
	stdUInt                // unsigned 32 bits
	stdULL                 // unsigned 64 bits
	stdFreq                // frequency counter (3 words)
	stdDict                // server key: index into the table set's dictionary
)

// words is the number of uint32 words one element of the kind takes.
func (s stdType) words() int {
	switch s {
	case stdULL:
		return 2
	case stdFreq:
		return 3
	}
	return 1
}

type dataTypeInfo struct {
	name  string
	std   stdType
	array bool
	// local data is not learned from peers (conn_cur counts this node's
	// connections only).
	local bool
}

var dataTypes = [NumDataTypes]dataTypeInfo{
	ServerID:     {name: "server_id", std: stdSInt},
	GPT0:         {name: "gpt0", std: stdUInt},
	GPC0:         {name: "gpc0", std: stdUInt},
	GPC0Rate:     {name: "gpc0_rate", std: stdFreq},
	ConnCnt:      {name: "conn_cnt", std: stdUInt},
	ConnRate:     {name: "conn_rate", std: stdFreq},
	ConnCur:      {name: "conn_cur", std: stdUInt, local: true},
	SessCnt:      {name: "sess_cnt", std: stdUInt},
	SessRate:     {name: "sess_rate", std: stdFreq},
	HTTPReqCnt:   {name: "http_req_cnt", std: stdUInt},
	HTTPReqRate:  {name: "http_req_rate", std: stdFreq},
	HTTPErrCnt:   {name: "http_err_cnt", std: stdUInt},
	HTTPErrRate:  {name: "http_err_rate", std: stdFreq},
	BytesInCnt:   {name: "bytes_in_cnt", std: stdULL},
	BytesInRate:  {name: "bytes_in_rate", std: stdFreq},
	BytesOutCnt:  {name: "bytes_out_cnt", std: stdULL},
	BytesOutRate: {name: "bytes_out_rate", std: stdFreq},
	GPC1:         {name: "gpc1", std: stdUInt},
	GPC1Rate:     {name: "gpc1_rate", std: stdFreq},
	ServerKey:    {name: "server_key", std: stdDict},
	HTTPFailCnt:  {name: "http_fail_cnt", std: stdUInt},
	HTTPFailRate: {name: "http_fail_rate", std: stdFreq},
	GPT:          {name: "gpt", std: stdUInt, array: true},
	GPC:          {name: "gpc", std: stdUInt, array: true},
	GPCRate:      {name: "gpc_rate", std: stdFreq, array: true},
}

// MaxArray is the largest element count of gpt/gpc/gpc_rate
// (STKTABLE_MAX_DT_ARRAY_SIZE).
const MaxArray = 100

func (d DataType) String() string {
	if d < NumDataTypes {
		return dataTypes[d].name
	}
	return "dt" + strconv.Itoa(int(d))
}

// IsRate says the type is a frequency counter (it takes a period).
func (d DataType) IsRate() bool { return d < NumDataTypes && dataTypes[d].std == stdFreq }

// IsArray says the type is an array (gpt, gpc, gpc_rate).
func (d DataType) IsArray() bool { return d < NumDataTypes && dataTypes[d].array }

// IsLocal says the type is not learned from peers.
func (d DataType) IsLocal() bool { return d < NumDataTypes && dataTypes[d].local }

// ParseDataType reads a store option name; "server_name" is HAProxy's
// older name of server_key.
func ParseDataType(s string) (DataType, bool) {
	for i := range dataTypes {
		if dataTypes[i].name == s {
			return DataType(i), true
		}
	}
	if s == "server_name" {
		return ServerKey, true
	}
	return 0, false
}

// SrvKey is what `stick-table … srvkey` stores to find a server again.
type SrvKey uint8

const (
	SrvKeyName SrvKey = iota // the server's name (default)
	SrvKeyAddr               // the server's address:port
)

// Store is one `store` option: a data type, its element count (arrays)
// and its period (rates).
type Store struct {
	Type   DataType
	N      int           // elements (1 unless an array)
	Period time.Duration // rates: the measuring period
}

// Spec is one stick table's configuration.
type Spec struct {
	// Name is the table's name in the configuration (`table NAME`
	// arguments, `show table NAME`): the proxy's name, or PEERS/NAME for a
	// table declared in a peers section. NetName is the name peers know it
	// by (the proxy's name, or NAME).
	Name, NetName string
	File          string
	Line          int
	Type          KeyType
	// KeySize is HAProxy's key_size: 4 (ip, integer), 16 (ipv6), `len`+1
	// for a string (the NUL), `len` for binary.
	KeySize int
	Size    int
	Expire  time.Duration // 0: entries never expire
	NoPurge bool
	// Peers names the peers section the table is shared in ("" none).
	Peers  string
	SrvKey SrvKey
	// Store lists the stored data in the order written (it does not
	// change the order `show table` prints them in).
	Store []Store
}

// ParseStore reads one element of a `store` list: NAME, NAME(PERIOD),
// NAME(N) or NAME(N,PERIOD). It checks arguments as HAProxy's
// stktable_alloc_data_type does and returns its messages.
func ParseStore(s string) (Store, error) {
	name, rest, paren := strings.Cut(s, "(")
	var args []string // nil: no parenthesis (HAProxy's NULL argument)
	if paren {
		if !strings.HasSuffix(rest, ")") {
			return Store{}, fmt.Errorf("missing closing parenthesis after store option '%s'", name)
		}
		a1, a2, two := strings.Cut(strings.TrimSuffix(rest, ")"), ",")
		args = []string{a1}
		if two {
			args = append(args, a2)
		}
	}
	dt, ok := ParseDataType(name)
	if !ok {
		return Store{}, fmt.Errorf("unknown store option '%s'", name)
	}
	st := Store{Type: dt, N: 1}
	if dt.IsArray() {
		if len(args) == 0 {
			return Store{}, fmt.Errorf("missing argument to store option '%s'", name)
		}
		n, _ := strconv.Atoi(leadingInt(args[0]))
		if n <= 0 || n > MaxArray {
			return Store{}, fmt.Errorf("array size is out of allowed range (1-%d) for store option '%s'", MaxArray, name)
		}
		st.N = n
		args = args[1:]
	}
	if dt.IsRate() {
		if len(args) == 0 {
			return Store{}, fmt.Errorf("missing argument to store option '%s'", name)
		}
		d, err := ParseMS(args[0])
		if err != nil {
			return Store{}, fmt.Errorf("error when processing store option '%s'", name)
		}
		st.Period = d
	} else if len(args) > 0 {
		return Store{}, fmt.Errorf("unexpected argument to store option '%s'", name)
	}
	return st, nil
}

func leadingInt(s string) string {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// ParseMS reads a HAProxy delay with milliseconds as the default unit
// (us, ms, s, m, h, d).
func ParseMS(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid delay '%s'", s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 63)
	if err != nil {
		return 0, err
	}
	unit := time.Millisecond
	switch s[i:] {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("unexpected character '%c' in delay '%s'", s[i], s)
	}
	return time.Duration(n) * unit, nil
}
