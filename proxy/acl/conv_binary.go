package acl

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// binaryConvs decode binary protocols and ciphertexts (configuration.txt
// §7.3.1): aes_gcm_dec, protobuf, ungrpc.
func binaryConvs() []*convDef {
	return []*convDef{
		{name: "aes_gcm_dec", minArgs: 4, maxArgs: 4, in: KBin, out: KBin, compile: compileAESGCM, fn: convAESGCM},
		{name: "protobuf", minArgs: 1, maxArgs: 2, in: KBin, out: KBin, compile: compileProtobuf, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return protobufField(c, cv, toStr(c, v))
		}},
		// ungrpc: the same on the messages of a gRPC body (each one a
		// compressed flag byte and a 4-byte length before it).
		{name: "ungrpc", minArgs: 1, maxArgs: 2, in: KBin, out: KBin, compile: compileProtobuf, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			b := toStr(c, v)
			for len(b) >= 5 {
				n := int(binary.BigEndian.Uint32(b[1:5]))
				if n > len(b)-5 {
					return Value{}, false
				}
				if r, ok := protobufField(c, cv, b[5:5+n]); ok {
					return r, true
				}
				b = b[5+n:]
			}
			return Value{}, false
		}},
	}
}

// compileAESGCM reads (bits,nonce,key,aead_tag); the last three are
// base64 text or variables holding it.
func compileAESGCM(cv *conv, o *Options) error {
	switch cv.args[0] {
	case "128", "192", "256":
	default:
		return fmt.Errorf("only 128, 192 and 256 are valid AES-GCM key sizes, got '%s'", cv.args[0])
	}
	bits, _ := strconv.Atoi(cv.args[0])
	cv.num = int64(bits / 8)
	for _, a := range cv.args[1:] {
		if CheckVarName(a) == nil {
			continue
		}
		if _, err := base64.StdEncoding.DecodeString(a); err != nil {
			return fmt.Errorf("failed to base64-decode '%s'", a)
		}
	}
	return nil
}

func (cv *conv) b64Arg(c *Ctx, i int) ([]byte, bool) {
	a := cv.args[i]
	src := []byte(a)
	if CheckVarName(a) == nil {
		v, ok := c.Vars.Get(a)
		if !ok {
			return nil, false
		}
		src = toStr(c, v)
	}
	out, err := base64.StdEncoding.AppendDecode(nil, src)
	return out, err == nil
}

func convAESGCM(c *Ctx, cv *conv, v Value) (Value, bool) {
	nonce, ok1 := cv.b64Arg(c, 1)
	key, ok2 := cv.b64Arg(c, 2)
	tag, ok3 := cv.b64Arg(c, 3)
	if !ok1 || !ok2 || !ok3 || len(key) != int(cv.num) || len(nonce) == 0 {
		return Value{}, false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return Value{}, false
	}
	var gcm cipher.AEAD
	switch {
	case len(nonce) == 12 && len(tag) >= 12 && len(tag) <= 16:
		gcm, err = cipher.NewGCMWithTagSize(block, len(tag))
	case len(tag) == 16:
		gcm, err = cipher.NewGCMWithNonceSize(block, len(nonce))
	default:
		return Value{}, false
	}
	if err != nil {
		return Value{}, false
	}
	ct := append(append([]byte(nil), toStr(c, v)...), tag...)
	out, err := gcm.Open(c.scratchBuf(), nonce, ct, nil)
	if err != nil {
		return Value{}, false
	}
	c.keepScratch(out)
	return Value{Kind: KBin, B: out}, true
}

// protobuf field types by wire type (0 varint, 1 64-bit, 5 32-bit).
var pbTypes = map[string]int{
	"int32": 0, "int64": 0, "uint32": 0, "uint64": 0, "sint32": 0, "sint64": 0, "bool": 0, "enum": 0,
	"fixed64": 1, "sfixed64": 1, "double": 1,
	"fixed32": 5, "sfixed32": 5, "float": 5,
}

type pbPath struct {
	fields []uint64
	typ    string // "": raw
}

func compileProtobuf(cv *conv, o *Options) error {
	p := &pbPath{}
	for _, f := range strings.Split(cv.args[0], ".") {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("invalid protocol buffers field number '%s'", cv.args[0])
		}
		p.fields = append(p.fields, n)
	}
	if len(cv.args) > 1 && cv.args[1] != "" {
		if _, ok := pbTypes[cv.args[1]]; !ok {
			return fmt.Errorf("unknown protocol buffers field type '%s'", cv.args[1])
		}
		p.typ = cv.args[1]
	}
	cv.ref = p
	return nil
}

func pbVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// pbFind returns the first field number n of message m: its wire type
// and its bytes (the payload of a length-delimited field).
func pbFind(m []byte, n uint64) (int, []byte, bool) {
	for len(m) > 0 {
		key, k := pbVarint(m)
		if k == 0 {
			return 0, nil, false
		}
		m = m[k:]
		wt := int(key & 7)
		var val []byte
		switch wt {
		case 0:
			_, l := pbVarint(m)
			if l == 0 {
				return 0, nil, false
			}
			val, m = m[:l], m[l:]
		case 1:
			if len(m) < 8 {
				return 0, nil, false
			}
			val, m = m[:8], m[8:]
		case 2:
			l, k := pbVarint(m)
			if k == 0 || l > uint64(len(m)-k) {
				return 0, nil, false
			}
			val, m = m[k:k+int(l)], m[k+int(l):]
		case 5:
			if len(m) < 4 {
				return 0, nil, false
			}
			val, m = m[:4], m[4:]
		default:
			return 0, nil, false
		}
		if key>>3 == n {
			return wt, val, true
		}
	}
	return 0, nil, false
}

// protobufField walks the dotted field path; the last field is returned
// raw, or as a number of the given type.
func protobufField(c *Ctx, cv *conv, m []byte) (Value, bool) {
	p := cv.ref.(*pbPath)
	var wt int
	var val []byte
	for i, n := range p.fields {
		var ok bool
		if wt, val, ok = pbFind(m, n); !ok {
			return Value{}, false
		}
		if i < len(p.fields)-1 {
			if wt != 2 {
				return Value{}, false
			}
			m = val
		}
	}
	if p.typ == "" {
		return Value{Kind: KBin, B: val}, true
	}
	if pbTypes[p.typ] != wt {
		return Value{}, false
	}
	switch wt {
	case 0:
		u, _ := pbVarint(val)
		switch p.typ {
		case "int32":
			return intVal(int64(int32(u))), true
		case "uint32":
			return intVal(int64(uint32(u))), true
		case "sint32", "sint64":
			return intVal(int64(u>>1) ^ -int64(u&1)), true
		case "bool":
			return boolVal(u != 0), true
		}
		return intVal(int64(u)), true
	case 1:
		u := binary.LittleEndian.Uint64(val)
		if p.typ == "double" { // as an integer, as HAProxy 2.6.12 answers
			return intVal(int64(math.Float64frombits(u))), true
		}
		return intVal(int64(u)), true
	}
	u := binary.LittleEndian.Uint32(val)
	switch p.typ {
	case "sfixed32":
		return intVal(int64(int32(u))), true
	case "float":
		return intVal(int64(math.Float32frombits(u))), true
	}
	return intVal(int64(u)), true
}

// fixConvs read FIX (Financial Information eXchange) messages: "tag=value"
// fields each ended by SOH (0x01).
func fixConvs() []*convDef {
	return []*convDef{
		{name: "fix_is_valid", in: KBin, out: KBool, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			b := toStr(c, v)
			if fixIncomplete(b) {
				return Value{}, false // more bytes may still make it valid
			}
			return boolVal(fixValid(b)), true
		}},
		{name: "fix_tag_value", minArgs: 1, maxArgs: 1, in: KBin, out: KBin, compile: func(cv *conv, o *Options) error {
			names := map[string]int64{"BeginString": 8, "BodyLength": 9, "MsgType": 35, "SenderCompID": 49, "TargetCompID": 56, "CheckSum": 10}
			if n, ok := names[cv.args[0]]; ok {
				cv.num = n
				return nil
			}
			n, err := strconv.ParseInt(cv.args[0], 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("invalid FIX tag '%s'", cv.args[0])
			}
			cv.num = n
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			want := strconv.AppendInt(nil, cv.num, 10)
			for _, f := range fixFields(toStr(c, v)) {
				if bytes.Equal(f[0], want) {
					return Value{Kind: KBin, B: f[1]}, true
				}
			}
			return Value{}, false
		}},
	}
}

// fixFields splits a message into its (tag, value) fields; a trailing
// part without its SOH is not a field.
func fixFields(b []byte) [][2][]byte {
	var out [][2][]byte
	for {
		i := bytes.IndexByte(b, 0x01)
		if i < 0 {
			return out
		}
		f := b[:i]
		b = b[i+1:]
		tag, val, _ := bytes.Cut(f, []byte("="))
		out = append(out, [2][]byte{tag, val})
	}
}

// fixIncomplete reports a message whose CheckSum field has not fully
// arrived yet (HAProxy then waits for more bytes).
func fixIncomplete(b []byte) bool {
	i := bytes.LastIndex(b, []byte("\x0110="))
	return i < 0 || bytes.IndexByte(b[i+1:], 0x01) < 0
}

// fixValid checks what HAProxy's fix_is_valid does: numeric tags and
// non-empty values, BeginString (a FIX version) first, BodyLength second
// and right, MsgType third, and a correct CheckSum last.
func fixValid(b []byte) bool {
	fields := fixFields(b)
	if len(fields) < 4 {
		return false
	}
	for _, f := range fields {
		if len(f[0]) == 0 || len(f[1]) == 0 {
			return false
		}
		for _, ch := range f[0] {
			if ch < '0' || ch > '9' {
				return false
			}
		}
	}
	if string(fields[0][0]) != "8" || string(fields[1][0]) != "9" || string(fields[2][0]) != "35" {
		return false
	}
	switch string(fields[0][1]) {
	case "FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1":
	default:
		return false
	}
	last := fields[len(fields)-1]
	if string(last[0]) != "10" || len(last[1]) != 3 {
		return false
	}
	// the body runs from after BodyLength's SOH to the SOH before
	// CheckSum; the checksum sums every byte before "10=".
	head := len(fields[0][0]) + len(fields[0][1]) + 2 + len(fields[1][0]) + len(fields[1][1]) + 2
	end := bytes.LastIndex(b, []byte("\x0110="))
	if end < 0 {
		return false
	}
	end++ // keep the SOH
	bodyLen, err := strconv.Atoi(string(fields[1][1]))
	if err != nil || bodyLen != end-head {
		return false
	}
	var sum int
	for _, ch := range b[:end] {
		sum += int(ch)
	}
	want, err := strconv.Atoi(string(last[1]))
	return err == nil && sum%256 == want
}
