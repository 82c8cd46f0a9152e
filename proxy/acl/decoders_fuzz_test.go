package acl

import (
	"encoding/hex"
	"testing"
)

// FuzzConverterDecoders feeds arbitrary bytes to the converters that
// parse binary or text formats (MQTT, FIX, protocol buffers, gRPC, JSON,
// JWT, base64, URL escapes, hex): none may panic, whatever the input.
func FuzzConverterDecoders(f *testing.F) {
	seeds := []string{
		"101800044d5154540502003c032100140008746573745f737562",
		"20250000221100000078217fff24012501270000ffff22000a2600016100016226000163000164",
		"089601120774657374696e671d0100000020092a02080731000000000000f83f3d00002040",
	}
	for _, s := range seeds {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Add([]byte("8=FIX.4.2\x019=5\x0135=D\x0110=123\x01"))
	f.Add([]byte(`{"a":{"b":[1,"x\u00e9"]}}`))
	f.Add([]byte("eyJhbGciOiJIUzI1NiJ9.e30.x"))
	reg := NewRegistry()
	o := &Options{Registry: reg}
	var exprs []*Expr
	for _, e := range []string{
		"str(x),mqtt_is_valid", "str(x),mqtt_field_value(connect,client_identifier)", "str(x),mqtt_field_value(connack,17)",
		"str(x),fix_is_valid", "str(x),fix_tag_value(35)", "str(x),protobuf(1.2,int32)", "str(x),protobuf(3)",
		"str(x),ungrpc(1)", "str(x),json_query('$.a.b[1]')", "str(x),json_query('$.a','int')",
		"str(x),jwt_header_query('$.alg')", "str(x),jwt_verify(HS256,k)", "str(x),b64dec", "str(x),ub64dec",
		"str(x),url_dec", "str(x),hex2i", "str(x),be2dec(:,2)", "str(x),json(utf8)", "str(x),field(2,:)",
		"str(x),word(-1,:)", "str(x),language(en;fr)", "str(x),host_only", "str(x),port_only",
	} {
		x, err := ParseExpr(e, o)
		if err != nil {
			f.Fatal(err)
		}
		exprs = append(exprs, x)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &Ctx{}
		for _, x := range exprs {
			v := Value{Kind: KBin, B: in}
			for _, cv := range x.convs {
				var ok bool
				if v, ok = cv.apply(c, v); !ok {
					break
				}
			}
		}
	})
}

// FuzzCryptDecoders: damaged password hashes never panic (costs that
// are valid but slow by design are skipped).
func FuzzCryptDecoders(f *testing.F) {
	f.Add("$y$j7T$0dBMk0J9M2dYsfKDXyqIP/$wm01764ysSHZ4OFTyMYT4.JlipTBHr4Db/00M0c2uB.")
	f.Add("$1$qC8jTggL$Ma0w030sa3./75PwCMenj0")
	f.Add("_J9..LI0PWlgkZPJb9bc")
	f.Add("abzlUXK5ed5rs")
	f.Add("$5$rounds=1000$x$y")
	f.Fuzz(func(t *testing.T, h string) {
		if len(h) > 4 && h[:3] == "$y$" {
			if _, rest, ok := ycDecodeUint32(h[3:], 0); ok {
				if n, _, ok := ycDecodeUint32(rest, 1); ok && n > 8 {
					return
				}
			}
		}
		if len(h) > 2 && (h[:3] == "$5$" || h[:3] == "$6$" || h[:2] == "$2" || h[0] == '_') {
			return // huge rounds or costs are valid and slow
		}
		checkCrypt(h, []byte("pw"))
		ycDecode64(h)
	})
}
