// quicgo: an HTTP/3 load client on quic-go, a client nobody in this project
// wrote, so a benchmark does not only measure our server against our own
// load generator (bench/loadgen/h3load.zig, on quiche). Prints one JSON
// object on stdout.
//
//	quicgo -port P [-host 127.0.0.1] [-path /baseline2?a=1&b=1]
//	       [-connections C] [-streams S] [-duration-ms D]
//	quicgo -port P -path /bulk/u8 -requests N
//	quicgo -port P -path /upload -requests N -upload-bytes B
//
// Rate mode (the default) opens C connections and keeps S requests in flight
// on each for D ms; a request in flight when the time is up still completes
// and counts. With -requests N it instead sends N GETs one after another on
// one connection and reports the goodput (bulk mode); with -upload-bytes B
// each of those requests is instead a POST of B bytes, and the goodput counts
// the bytes sent (an upload to a handler that streams the request body).
//
// Its own CPU time comes from getrusage, so a benchmark can tell a run the
// client limited from one the server limited.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

type options struct {
	host        string
	port        int
	path        string
	connections int
	streams     int
	durationMs  int
	requests    int
	uploadBytes int64
}

func main() {
	var o options
	flag.StringVar(&o.host, "host", "127.0.0.1", "server address")
	flag.IntVar(&o.port, "port", 0, "server UDP port")
	flag.StringVar(&o.path, "path", "/baseline2?a=1&b=1", "request path, query included")
	flag.IntVar(&o.connections, "connections", 1, "connections (rate mode)")
	flag.IntVar(&o.streams, "streams", 1, "requests in flight per connection (rate mode)")
	flag.IntVar(&o.durationMs, "duration-ms", 3000, "how long to issue requests (rate mode)")
	flag.IntVar(&o.requests, "requests", 0, "bulk mode: this many sequential GETs on one connection")
	flag.Int64Var(&o.uploadBytes, "upload-bytes", 0, "bulk mode: POST this many bytes per request instead of a GET")
	flag.Parse()
	if o.port == 0 {
		fail(fmt.Errorf("-port is required"))
	}
	url := fmt.Sprintf("https://%s:%d%s", o.host, o.port, o.path)

	var result map[string]any
	var err error
	if o.requests > 0 {
		result, err = bulk(o, url)
	} else {
		result, err = rate(o, url)
	}
	if err != nil {
		fail(err)
	}
	user, system := cpuSeconds()
	result["cpu_user_seconds"] = user
	result["cpu_sys_seconds"] = system
	result["cpu_seconds"] = user + system
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "quicgo:", err)
	os.Exit(1)
}

// dial opens one QUIC connection (its own UDP socket, as quic.DialAddr does)
// and wraps it in an HTTP/3 client connection. The dev certificate is
// self-signed, hence InsecureSkipVerify; ServerName is set because an IP
// address is never sent as SNI.
func dial(o options) (*http3.ClientConn, *quic.Conn, error) {
	tlsConf := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{http3.NextProtoH3}}
	quicConf := &quic.Config{MaxIdleTimeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, fmt.Sprintf("%s:%d", o.host, o.port), tlsConf, quicConf)
	if err != nil {
		return nil, nil, err
	}
	transport := &http3.Transport{DisableCompression: true}
	return transport.NewClientConn(conn), conn, nil
}

// filler is an endless reader of one repeated non-zero byte: an upload body
// made as it is sent, so the client holds no 64 MiB buffer.
type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// post uploads n bytes and reads the answer, returning n once the server
// answered 200.
func post(client *http3.ClientConn, url string, n int64) (int64, error) {
	req, err := http.NewRequest(http.MethodPost, url, io.LimitReader(filler{}, n))
	if err != nil {
		return 0, err
	}
	req.ContentLength = n
	resp, err := client.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, nil
}

// get sends one GET and reads the whole body, returning its length; any
// status but 200 is an error.
func get(client *http3.ClientConn, url string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, nil
}

func rate(o options, url string) (map[string]any, error) {
	// Every connection is up before the clock starts, so the rate is of
	// requests, not of handshakes.
	clients := make([]*http3.ClientConn, o.connections)
	conns := make([]*quic.Conn, o.connections)
	for i := range clients {
		client, conn, err := dial(o)
		if err != nil {
			return nil, err
		}
		clients[i], conns[i] = client, conn
	}
	defer func() {
		for _, conn := range conns {
			conn.CloseWithError(0, "done")
		}
	}()

	// One goroutine per stream slot, each with its own latency list, merged
	// once at the end so the hot path takes no lock.
	start := time.Now()
	deadline := start.Add(time.Duration(o.durationMs) * time.Millisecond)
	type worker struct {
		latencies []time.Duration
		errors    int
		lastError error
	}
	workers := make([]worker, o.connections*o.streams)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		client := clients[i/o.streams]
		conn := conns[i/o.streams]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && conn.Context().Err() == nil {
				began := time.Now()
				if _, err := get(client, url); err != nil {
					w.errors++
					w.lastError = err
					continue
				}
				w.latencies = append(w.latencies, time.Since(began))
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()

	var latencies []time.Duration
	errors := 0
	for _, w := range workers {
		latencies = append(latencies, w.latencies...)
		errors += w.errors
		if w.lastError != nil {
			fmt.Fprintln(os.Stderr, "quicgo: last error:", w.lastError)
		}
	}
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	return map[string]any{
		"requests": len(latencies),
		"errors":   errors,
		"seconds":  seconds,
		"rps":      float64(len(latencies)) / seconds,
		"p50_us":   percentile(latencies, 0.5),
		"p99_us":   percentile(latencies, 0.99),
	}, nil
}

// percentile uses the same rank as h3load (floor of p × (n − 1)), in µs.
func percentile(sorted []time.Duration, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))].Microseconds()
}

func bulk(o options, url string) (map[string]any, error) {
	client, conn, err := dial(o)
	if err != nil {
		return nil, err
	}
	defer conn.CloseWithError(0, "done")
	start := time.Now()
	var bytes int64
	errors := 0
	for i := 0; i < o.requests; i++ {
		var n int64
		if o.uploadBytes > 0 {
			n, err = post(client, url, o.uploadBytes)
		} else {
			n, err = get(client, url)
		}
		bytes += n
		if err != nil {
			errors++
			fmt.Fprintln(os.Stderr, "quicgo:", err)
		}
	}
	seconds := time.Since(start).Seconds()
	return map[string]any{
		"requests":     o.requests - errors,
		"errors":       errors,
		"bytes":        bytes,
		"seconds":      seconds,
		"goodput_gbps": float64(bytes) * 8 / seconds / 1e9,
	}, nil
}

// cpuSeconds is this process's user and system CPU time so far.
func cpuSeconds() (float64, float64) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		fail(err)
	}
	seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return seconds(usage.Utime), seconds(usage.Stime)
}
