package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrCerts is wrapped by every error of the certificates step.
var ErrCerts = errors.New("setup: certs")

// serverNames are the names the NATS server certificate is valid for: the
// cluster's nodes as the services and the other nodes reach them, and the
// loopback names of the published ports.
var serverNames = []string{"nats-1", "nats-2", "nats-3", "nats", "localhost"}

// certValidity is how long the local CA and certificates are valid.
const certValidity = 2 * 365 * 24 * time.Hour

// keyPair is a certificate and its key.
type keyPair struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// issue creates a certificate from tmpl, signed by parent (self-signed
// when parent is nil).
func issue(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = tmpl.NotBefore.Add(certValidity)
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	return &keyPair{cert: cert, der: der, key: key}, nil
}

// writePair writes name.pem and name-key.pem. keyMode is the key file's
// mode: the server key must be readable by the containers' user (uid
// 65532), which does not own the bind-mounted file.
func writePair(dir, name string, p *keyPair, keyMode os.FileMode) error {
	kder, err := x509.MarshalECPrivateKey(p.key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), certPEM, 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), keyPEM, keyMode); err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	return nil
}

// writeCerts creates a local CA (ca.pem, ca-key.pem) and a NATS server
// certificate signed by it (server.pem, server-key.pem), valid for
// serverNames and 127.0.0.1 and usable by routes as a client certificate.
// Existing files are kept: it returns false when ca.pem was already there.
func writeCerts(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	ca, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "wsheal local CA", Organization: []string{"wsheal"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil)
	if err != nil {
		return false, err
	}
	srv, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "nats", Organization: []string{"wsheal"}},
		DNSNames:    serverNames,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, ca)
	if err != nil {
		return false, err
	}
	if err := writePair(dir, "server", srv, 0o644); err != nil {
		return false, err
	}
	// ca.pem last: its presence means the set is complete.
	if err := writePair(dir, "ca", ca, 0o600); err != nil {
		return false, err
	}
	return true, nil
}
