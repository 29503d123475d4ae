// make bench, Go crypto/tls part: TLS round trips between a client and a
// server over net.Pipe in one process (no network), both through
// crypto/tls.(*Conn).Write/Read, so each round trip is 4 probed calls.
//
//	go_tls_bench -bytes N -resp-bytes M -ms T
//
// Prints "iters N cpu_ns_per_iter X calls_per_iter C": CPU time of the
// whole process (getrusage: every thread, user + system, which is where
// uprobe traps are paid) per round trip, and the Write and Read calls one
// round trip made on both sides (a Read returns at most one TLS record).
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

var calls int64

// readFull is io.ReadFull counting the Read calls.
func readFull(c *tls.Conn, b []byte) error {
	for got := 0; got < len(b); {
		n, err := c.Read(b[got:])
		atomic.AddInt64(&calls, 1)
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}

func cert() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"bench"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func main() {
	reqBytes := flag.Int("bytes", 1024, "request bytes per round trip")
	respBytes := flag.Int("resp-bytes", 1024, "response bytes per round trip")
	ms := flag.Int("ms", 500, "run time")
	flag.Parse()

	a, b := net.Pipe()
	srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert()}})
	cli := tls.Client(a, &tls.Config{InsecureSkipVerify: true, ServerName: "bench"})
	req := make([]byte, *reqBytes)
	resp := make([]byte, *respBytes)
	go func() {
		in := make([]byte, *reqBytes)
		for {
			if err := readFull(srv, in); err != nil {
				return
			}
			if _, err := srv.Write(resp); err != nil {
				return
			}
			atomic.AddInt64(&calls, 1)
		}
	}()
	in := make([]byte, *respBytes)
	round := func() {
		if _, err := cli.Write(req); err != nil {
			panic(err)
		}
		atomic.AddInt64(&calls, 1)
		if err := readFull(cli, in); err != nil {
			panic(err)
		}
	}
	for i := 0; i < 200; i++ { // handshake and warm-up
		round()
	}
	deadline := time.Now().Add(time.Duration(*ms) * time.Millisecond)
	atomic.StoreInt64(&calls, 0)
	t0, n := cpuNs(), 0
	for time.Now().Before(deadline) {
		for i := 0; i < 50; i++ {
			round()
		}
		n += 50
	}
	t1 := cpuNs()
	fmt.Printf("iters %d cpu_ns_per_iter %d calls_per_iter %.2f\n", n, (t1-t0)/int64(n),
		float64(atomic.LoadInt64(&calls))/float64(n))
	cli.Close()
	os.Exit(0)
}
