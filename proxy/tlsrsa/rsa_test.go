package tlsrsa

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	mrand "math/rand"
	"sync"
	"testing"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key2048(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return testKey
}

func fastKey(t testing.TB) *Key {
	k, ok := New(key2048(t))
	if !ok {
		t.Skip("no AVX-512 IFMA on this CPU: tlsrsa is not used")
	}
	return k
}

// TestPrivateOpAgainstBig: the CRT private operation is c^d mod n.
func TestPrivateOpAgainstBig(t *testing.T) {
	k := fastKey(t)
	priv := key2048(t)
	rng := mrand.New(mrand.NewSource(3))
	s := new(scratch)
	out := make([]byte, 256)
	for i := 0; i < 50; i++ {
		c := new(big.Int).Rand(rng, priv.N)
		if i == 0 {
			c.SetInt64(0)
		}
		if i == 1 {
			c.Sub(priv.N, big.NewInt(1))
		}
		in := c.FillBytes(make([]byte, 256))
		k.privateOp(out, in, s)
		want := new(big.Int).Exp(c, priv.D, priv.N)
		if new(big.Int).SetBytes(out).Cmp(want) != 0 {
			t.Fatalf("c^d mod n wrong for c = %x", in)
		}
	}
}

// TestSignaturesVerify: PSS and PKCS #1 v1.5 signatures made by Key verify
// with crypto/rsa, for the hashes TLS uses.
func TestSignaturesVerify(t *testing.T) {
	k := fastKey(t)
	pub := &key2048(t).PublicKey
	msg := []byte("a TLS 1.3 CertificateVerify transcript")
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		hh := h.New()
		hh.Write(msg)
		d := hh.Sum(nil)
		for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 20} {
			sig, err := k.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: salt, Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: salt}); err != nil {
				t.Fatalf("PSS %v salt %d: %v", h, salt, err)
			}
		}
		sig, err := k.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
			t.Fatalf("PKCS1v15 %v: %v", h, err)
		}
	}
	d1 := sha1.Sum(msg)
	sig, err := k.Sign(rand.Reader, d1[:], crypto.SHA1)
	if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA1, d1[:], sig) != nil {
		t.Fatalf("PKCS1v15 SHA-1: %v", err)
	}
	_ = sha512.New
	_ = sha256.New
}

func BenchmarkSign(b *testing.B) {
	priv := key2048(b)
	d := sha256.Sum256([]byte("x"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	b.Run("crypto/rsa", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], opts)
		}
	})
	k, ok := New(priv)
	if !ok {
		b.Skip("no AVX-512 IFMA")
	}
	b.Run("tlsrsa", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			k.Sign(rand.Reader, d[:], opts)
		}
	})
}
