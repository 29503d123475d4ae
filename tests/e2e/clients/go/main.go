// Go net/http client for the e2e test (Debian's golang-go, crypto/tls):
// sends every fixture's request with its recorded method, path and headers
// and checks the answer's status and body, as py_httpx.py does.
//
//	go_client h1|h1-late|h2 FIXTURES.jsonl [WAIT_MS]
//
// h1 turns HTTP/2 off; h2 requires it (ALPN h2), one connection. WAIT_MS
// sleeps before the first call: a Go binary is probed only once the daemon
// has seen its exec (README, "Go crypto/tls"), and this one is new each run.
//
// h1-late is h1 whose socket writes return lateWriteDelay after their bytes
// went out, so that tls.(*Conn).Write returns after the server answered
// and the transport's read goroutine read the answer: what a writing
// thread descheduled between its write(2) and Write's RET does now and
// then (issue 11's go-h1 flake), here on every call.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

type fixture struct {
	ID         string      `json:"id"`
	Host       string      `json:"host"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	ReqHeaders [][2]string `json:"req_headers"`
	ReqBody    string      `json:"req_body_b64"`
	RespBody   string      `json:"resp_body_b64"`
	Status     int         `json:"status"`
	HashOnly   bool        `json:"e2e_hash_only"`
}

var drop = map[string]bool{"authorization": true, "cookie": true, "x-api-key": true,
	"x-goog-api-key": true, "api-key": true, "content-length": true, "host": true,
	"transfer-encoding": true, "connection": true, "accept-encoding": true}

const lateWriteDelay = 30 * time.Millisecond

// lateConn's Write returns lateWriteDelay after the bytes are sent.
type lateConn struct{ net.Conn }

func (c lateConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	time.Sleep(lateWriteDelay)
	return n, err
}

func dialLate(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return lateConn{c}, nil
}

func auth(h http.Header, host string) {
	switch host {
	case "api.anthropic.com":
		h.Set("x-api-key", "sk-ant-e2e-dummy")
		h.Set("anthropic-version", "2023-06-01")
	case "generativelanguage.googleapis.com":
		h.Set("x-goog-api-key", "e2e-dummy")
	default:
		h.Set("authorization", "Bearer sk-e2e-dummy")
	}
}

func call(c *http.Client, f *fixture, wantProto int) (string, error) {
	body, err := base64.StdEncoding.DecodeString(f.ReqBody)
	if err != nil {
		return "", err
	}
	want, err := base64.StdEncoding.DecodeString(f.RespBody)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(f.Method, "https://"+f.Host+f.Path, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	for _, kv := range f.ReqHeaders {
		if !drop[strings.ToLower(kv[0])] {
			req.Header.Add(kv[0], kv[1])
		}
	}
	auth(req.Header, f.Host)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != f.Status || !bytes.Equal(got, want) {
		return "", fmt.Errorf("status %d (want %d), %d bytes (want %d)", resp.StatusCode,
			f.Status, len(got), len(want))
	}
	if resp.ProtoMajor != wantProto {
		return "", fmt.Errorf("answered over %s", resp.Proto)
	}
	return fmt.Sprintf("status=%d bytes=%d %s", resp.StatusCode, len(got), resp.Proto), nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go_client h1|h1-late|h2 FIXTURES.jsonl [WAIT_MS]")
		os.Exit(2)
	}
	mode := os.Args[1]
	tr := &http.Transport{ForceAttemptHTTP2: mode == "h2", MaxIdleConnsPerHost: 4}
	wantProto := 2
	if mode != "h2" {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		wantProto = 1
	}
	if mode == "h1-late" {
		tr.DialContext = dialLate
	}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if len(os.Args) > 3 {
		ms, _ := strconv.Atoi(os.Args[3])
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	file, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	ok, failed := 0, 0
	for sc.Scan() {
		var f fixture
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			fmt.Println("FAIL go bad fixture:", err)
			failed++
			continue
		}
		if f.HashOnly {
			continue
		}
		line, err := call(c, &f, wantProto)
		if err != nil {
			fmt.Printf("FAIL go %s %v\n", f.ID, err)
			failed++
			continue
		}
		fmt.Printf("ok go-%s %s %s\n", mode, f.ID, line)
		ok++
	}
	fmt.Printf("go %s: %d ok, %d failed\n", mode, ok, failed)
	// Idle keep-alive connections are never closed by net/http: the
	// process's exit ends them, right after the last call.
	if failed > 0 {
		os.Exit(1)
	}
}
