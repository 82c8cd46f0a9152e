package acl

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"hash"
	"math/big"
	"strings"
)

// jwtVerifyConvs is jwt_verify(alg,key) (configuration.txt §7.3.1):
// verifies a JWS in compact serialization with HMAC (HS*), RSA PKCS#1
// v1.5 (RS*) or ECDSA (ES*) keys. It answers 1 (verified), 0 (not), -1
// (unknown algorithm), -2 (PS*, not managed by HAProxy 2.6), -3 (invalid
// token) or -5 (unknown certificate). Public keys are read from the
// certificate (or public key) files named in the configuration, as
// HAProxy loads them at start; alg and key may be variables.
func jwtVerifyConvs() []*convDef {
	return []*convDef{
		{name: "jwt_verify", minArgs: 2, maxArgs: 2, out: KInt, compile: compileJWTVerify, fn: convJWTVerify},
	}
}

type jwtVerifier struct {
	algVar, keyVar bool
	// keys are the public keys of the certificate files the arguments
	// name, by path.
	keys map[string]crypto.PublicKey
}

func compileJWTVerify(cv *conv, o *Options) error {
	v := &jwtVerifier{keys: map[string]crypto.PublicKey{}}
	v.algVar = CheckVarName(cv.args[0]) == nil
	v.keyVar = CheckVarName(cv.args[1]) == nil
	if !v.algVar {
		if _, _, ok := jwtAlg(cv.args[0]); !ok {
			if strings.HasPrefix(cv.args[0], "PS") && len(cv.args[0]) == 5 {
				return fmt.Errorf("RSASSA-PSS JWS signing not managed yet")
			}
			return fmt.Errorf("unknown JWT algorithm: %s", cv.args[0])
		}
	}
	// A literal key that is a public key file (PEM "PUBLIC KEY") is
	// loaded now; HAProxy 2.6.12 only warns about one it cannot load
	// (certificates included) and answers -5 for it, and so does halo.
	if !v.keyVar {
		if data, err := o.readFile(cv.args[1]); err == nil {
			if k, err := parsePublicKey(data); err == nil {
				v.keys[cv.args[1]] = k
			}
		}
	}
	cv.ref = v
	return nil
}

// parsePublicKey reads the first public key of a PEM file.
func parsePublicKey(data []byte) (crypto.PublicKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no public key found")
		}
		if b.Type == "PUBLIC KEY" {
			return x509.ParsePKIXPublicKey(b.Bytes)
		}
	}
}

// jwtAlg maps a JWS algorithm to its family ('H', 'R', 'E') and hash.
func jwtAlg(alg string) (byte, crypto.Hash, bool) {
	if len(alg) != 5 {
		return 0, 0, false
	}
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return 0, 0, false
	}
	switch alg[:2] {
	case "HS":
		return 'H', h, true
	case "RS":
		return 'R', h, true
	case "ES":
		return 'E', h, true
	}
	return 0, 0, false
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA384:
		return sha512.New384()
	case crypto.SHA512:
		return sha512.New()
	}
	return sha256.New()
}

func convJWTVerify(c *Ctx, cv *conv, v Value) (Value, bool) {
	jv := cv.ref.(*jwtVerifier)
	alg, key := cv.args[0], cv.args[1]
	if jv.algVar {
		av, ok := c.Vars.Get(alg)
		if !ok {
			return Value{}, false
		}
		alg = string(toStr(c, av))
	}
	if jv.keyVar {
		kv, ok := c.Vars.Get(key)
		if !ok {
			return Value{}, false
		}
		key = string(toStr(c, kv))
	}
	return intVal(jwtVerify(toStr(c, v), alg, key, jv.keys)), true
}

func jwtVerify(token []byte, alg, key string, keys map[string]crypto.PublicKey) int64 {
	fam, h, ok := jwtAlg(alg)
	if !ok {
		if strings.HasPrefix(alg, "PS") && len(alg) == 5 {
			return -2
		}
		return -1
	}
	dot2 := bytes.LastIndexByte(token, '.')
	dot1 := bytes.IndexByte(token, '.')
	if dot1 < 0 || dot2 == dot1 {
		return -3
	}
	signed := token[:dot2]
	sig, err := base64.RawURLEncoding.DecodeString(string(token[dot2+1:]))
	if err != nil {
		return -3
	}
	hm := newHash(h)
	if fam == 'H' {
		m := hmac.New(func() hash.Hash { return newHash(h) }, []byte(key))
		m.Write(signed)
		if hmac.Equal(m.Sum(nil), sig) {
			return 1
		}
		return 0
	}
	pub, ok := keys[key]
	if !ok {
		return -5
	}
	hm.Write(signed)
	digest := hm.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if fam == 'R' && rsa.VerifyPKCS1v15(k, h, digest, sig) == nil {
			return 1
		}
	case *ecdsa.PublicKey:
		// JWS carries r || s, each the curve's size (RFC 7518 §3.4).
		n := (k.Curve.Params().BitSize + 7) / 8
		if fam == 'E' && len(sig) != 2*n {
			return -3
		}
		if fam == 'E' {
			r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
			if ecdsa.Verify(k, digest, r, s) {
				return 1
			}
		}
	}
	return 0
}
