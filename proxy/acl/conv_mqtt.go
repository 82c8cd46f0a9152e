package acl

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// mqttConvs read the first MQTT packet of a stream, CONNECT from a client
// or CONNACK from a server, in MQTT 3.1, 3.1.1 and 5.0
// (configuration.txt §7.3.1 mqtt_is_valid, mqtt_field_value).
func mqttConvs() []*convDef {
	return []*convDef{
		{name: "mqtt_is_valid", in: KBin, out: KBool, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			p, r := parseMQTT(toStr(c, v))
			if r == mqttShort {
				return Value{}, false // more bytes may still make it valid
			}
			return boolVal(r == mqttOK && p != nil), true
		}},
		{name: "mqtt_field_value", minArgs: 2, maxArgs: 2, in: KBin, out: KStr, compile: compileMQTTField, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			p, r := parseMQTT(toStr(c, v))
			if r != mqttOK || p.typ != int(cv.num) {
				return Value{}, false
			}
			key := cv.args[1]
			if cv.num2 > 0 {
				key = strconv.Itoa(int(cv.num2))
			}
			val, ok := p.fields[key]
			if !ok {
				// An absent integer property of an MQTT 5.0 packet
				// reads 0, as in HAProxy 2.6.12.
				if cv.num2 > 0 && p.v5 && mqttIntProperty(int(cv.num2)) {
					return strVal([]byte("0")), true
				}
				return Value{}, false
			}
			return strVal(val), true
		}},
	}
}

var mqttFieldNames = map[int][]string{
	1: {"flags", "protocol_name", "protocol_version", "client_identifier", "will_topic", "will_payload", "username", "password", "keepalive"},
	2: {"flags", "protocol_version", "reason_code"},
}

func compileMQTTField(cv *conv, o *Options) error {
	switch t := strings.ToLower(cv.args[0]); t {
	case "connect", "1":
		cv.num = 1
	case "connack", "2":
		cv.num = 2
	default:
		return fmt.Errorf("only CONNECT and CONNACK packets can be read, got '%s'", cv.args[0])
	}
	if n, err := strconv.Atoi(cv.args[1]); err == nil {
		if n <= 0 || n > 42 {
			return fmt.Errorf("invalid MQTT property id '%s'", cv.args[1])
		}
		cv.num2 = int64(n)
		return nil
	}
	cv.args[1] = strings.ToLower(cv.args[1])
	for _, n := range mqttFieldNames[int(cv.num)] {
		if n == cv.args[1] {
			return nil
		}
	}
	return fmt.Errorf("unknown MQTT field '%s'", cv.args[1])
}

type mqttResult int

const (
	mqttOK mqttResult = iota
	mqttShort
	mqttInvalid
)

// mqttPacket is a parsed CONNECT or CONNACK: its type and every field by
// name or property id, as text.
type mqttPacket struct {
	typ    int
	v5     bool
	fields map[string][]byte
}

func mqttIntProperty(id int) bool {
	switch id {
	case 1, 23, 25, 36, 37, 40, 41, 42, 19, 33, 34, 35, 2, 17, 24, 39, 11:
		return true
	}
	return false
}

type mqttReader struct {
	b   []byte
	bad bool
}

func (r *mqttReader) take(n int) []byte {
	if r.bad || n > len(r.b) || n < 0 {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *mqttReader) u8() int {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *mqttReader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *mqttReader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *mqttReader) str() []byte { return r.take(r.u16()) }

// varint is MQTT's variable byte integer (at most 4 bytes).
func (r *mqttReader) varint() int {
	v, mult := 0, 1
	for i := 0; i < 4; i++ {
		b := r.take(1)
		if b == nil {
			return 0
		}
		v += int(b[0]&0x7f) * mult
		if b[0] < 0x80 {
			return v
		}
		mult *= 128
	}
	r.bad = true
	return 0
}

// properties reads an MQTT 5.0 property list into fields by id.
func (r *mqttReader) properties(fields map[string][]byte) {
	n := r.varint()
	pr := &mqttReader{b: r.take(n)}
	if r.bad {
		return
	}
	for len(pr.b) > 0 && !pr.bad {
		id := pr.varint()
		var v []byte
		switch id {
		case 1, 23, 25, 36, 37, 40, 41, 42:
			v = strconv.AppendInt(nil, int64(pr.u8()), 10)
		case 19, 33, 34, 35:
			v = strconv.AppendInt(nil, int64(pr.u16()), 10)
		case 2, 17, 24, 39:
			v = strconv.AppendUint(nil, uint64(pr.u32()), 10)
		case 11:
			v = strconv.AppendInt(nil, int64(pr.varint()), 10)
		case 3, 8, 18, 21, 26, 28, 31, 9, 22:
			v = pr.str()
		case 38: // user property: a pair, not readable here
			pr.str()
			pr.str()
			continue
		default:
			r.bad = true
			return
		}
		fields[strconv.Itoa(id)] = v
	}
	if pr.bad {
		r.bad = true
	}
}

// parseMQTT parses the packet at the start of b.
func parseMQTT(b []byte) (*mqttPacket, mqttResult) {
	if len(b) < 2 {
		return nil, mqttShort
	}
	hr := &mqttReader{b: b[1:]}
	n := hr.varint()
	if hr.bad {
		if len(b) < 5 {
			return nil, mqttShort
		}
		return nil, mqttInvalid
	}
	if len(hr.b) < n {
		return nil, mqttShort
	}
	r := &mqttReader{b: hr.b[:n]}
	p := &mqttPacket{typ: int(b[0] >> 4), fields: map[string][]byte{}}
	num := func(k string, v int) { p.fields[k] = strconv.AppendInt(nil, int64(v), 10) }
	switch {
	case b[0] == 0x10: // CONNECT
		name := r.str()
		level := r.u8()
		if r.bad || !((string(name) == "MQTT" && (level == 4 || level == 5)) || (string(name) == "MQIsdp" && level == 3)) {
			return nil, mqttInvalid
		}
		p.fields["protocol_name"] = name
		num("protocol_version", level)
		flags := r.u8()
		if flags&1 != 0 {
			return nil, mqttInvalid // reserved bit
		}
		num("flags", flags)
		num("keepalive", r.u16())
		if level == 5 {
			p.v5 = true
			r.properties(p.fields)
		}
		p.fields["client_identifier"] = r.str()
		if flags&0x04 != 0 { // will flag
			if level == 5 {
				r.properties(p.fields)
			}
			p.fields["will_topic"] = r.str()
			p.fields["will_payload"] = r.str()
		}
		if flags&0x80 != 0 {
			p.fields["username"] = r.str()
		}
		if flags&0x40 != 0 {
			p.fields["password"] = r.str()
		}
	case b[0] == 0x20: // CONNACK
		num("flags", r.u8())
		num("reason_code", r.u8())
		if len(r.b) > 0 {
			num("protocol_version", 5)
			p.v5 = true
			r.properties(p.fields)
		} else {
			num("protocol_version", 4)
		}
	default:
		return nil, mqttInvalid
	}
	if r.bad || len(r.b) != 0 {
		return nil, mqttInvalid
	}
	return p, mqttOK
}
