package acl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// TestJWTVerify follows HAProxy 2.6.12's answers (checked on the same
// kinds of tokens): 1 verified, 0 not, -3 an invalid token, -5 a key
// that is not a loaded public key (certificates are not loaded either).
func TestJWTVerify(t *testing.T) {
	dir := t.TempDir()
	b64 := base64.RawURLEncoding.EncodeToString
	pemFile := func(name string, pub crypto.PublicKey) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
		return p
	}
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPub, ecPub := pemFile("rsa.pub", &rk.PublicKey), pemFile("ec.pub", &ek.PublicKey)
	signed := func(alg string) string { return b64([]byte(`{"alg":"`+alg+`"}`)) + "." + b64([]byte(`{"sub":"x"}`)) }
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte(signed("HS256")))
	hs := signed("HS256") + "." + b64(m.Sum(nil))
	d := sha256.Sum256([]byte(signed("RS256")))
	rsig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, d[:])
	rs := signed("RS256") + "." + b64(rsig)
	d = sha256.Sum256([]byte(signed("ES256")))
	r, s, _ := ecdsa.Sign(rand.Reader, ek, d[:])
	esig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	es := signed("ES256") + "." + b64(esig)
	tests := []struct {
		token, alg, key string
		want            int64
	}{
		{hs, "HS256", "secret", 1},
		{hs, "HS256", "wrong", 0},
		{hs, "HS384", "secret", 0},
		{rs, "RS256", rsaPub, 1},
		{rs, "RS256", ecPub, 0},
		{es, "ES256", ecPub, 1},
		{es + "x", "ES256", ecPub, -3},
		{rs, "RS256", "/nonexistent.pem", -5},
		{"abc", "HS256", "secret", -3},
		{"a.b", "HS256", "secret", -3},
	}
	for _, tc := range tests {
		cv := &conv{args: []string{tc.alg, tc.key}}
		if err := compileJWTVerify(cv, nil); err != nil {
			t.Fatal(err)
		}
		c := &Ctx{}
		got, ok := convJWTVerify(c, cv, Value{Kind: KStr, B: []byte(tc.token)})
		if !ok || got.I != tc.want {
			t.Errorf("jwt_verify(%s,%s) = %d, want %d", tc.alg, tc.key, got.I, tc.want)
		}
	}
	for _, bad := range []string{"PS256", "XX256"} {
		if compileJWTVerify(&conv{args: []string{bad, "k"}}, nil) == nil {
			t.Errorf("%s is refused by HAProxy", bad)
		}
	}
}
