// Calls crypto/tls.(*Conn).Write at every stack depth from 0 to N-1, each
// from a new goroutine, so that some of them grow the goroutine's stack
// in Write's own prologue: the runtime then runs the prologue again, and
// the entry probe fires twice for one call (bpf/go_tls.bpf.c must send
// its bytes once). Client and server are in this process, over net.Pipe.
//
//	go_stack N READY_FILE
//
// It starts writing once READY_FILE exists: go_stack.sh creates it when
// the daemon says it attached to this binary (new each run, probed only
// after its exec was seen, later under load than any fixed wait).
//
// Write d sends "MSG %04d\n"; go_stack.sh compares what the daemon
// recorded with that. Prints how many Writes saw their stack copied
// (in the prologue or in a callee): none would mean the sweep tests
// nothing.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"time"
	"unsafe"
)

//go:noinline
func addr(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }

// writeAt reports whether the stack was copied during Write: &mark is
// recomputed after the call, the uintptr taken before is not adjusted.
func writeAt(c *tls.Conn, msg []byte) bool {
	var mark byte
	before := addr(&mark)
	if _, err := c.Write(msg); err != nil {
		panic(err)
	}
	return before != addr(&mark)
}

//go:noinline
func rec(d int, f func()) byte {
	var pad [48]byte
	pad[d%48] = byte(d)
	if d == 0 {
		f()
		return pad[0]
	}
	return rec(d-1, f) + pad[d%48]
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go_stack N READY_FILE")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[1])
	for i := 0; ; i++ {
		if _, err := os.Stat(os.Args[2]); err == nil {
			break
		}
		if i == 3000 {
			fmt.Fprintln(os.Stderr, "go_stack: no", os.Args[2], "after 30 s")
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "go-stack"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	a, b := net.Pipe()
	srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	go io.Copy(io.Discard, srv)
	cl := tls.Client(a, &tls.Config{InsecureSkipVerify: true})
	if err := cl.Handshake(); err != nil {
		panic(err)
	}
	moved := 0
	for d := 0; d < n; d++ {
		msg := []byte(fmt.Sprintf("MSG %04d\n", d))
		done := make(chan bool)
		go func() {
			var m bool
			rec(d, func() { m = writeAt(cl, msg) })
			done <- m
		}()
		if <-done {
			moved++
		}
	}
	fmt.Printf("go_stack: %d writes, stack copied during %d\n", n, moved)
}
