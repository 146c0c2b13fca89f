// rpcload: unary zRPC round trips over each transport, with clients nobody
// in this project wrote (quic-go's HTTP/3 client, webtransport-go, quic-go's
// raw QUIC), and the same call as a JSON POST for comparison with
// Bun.serve. Prints one JSON object on stdout.
//
//	rpcload -port P -mode h3|json|wt|quic [-connections C] [-streams S] [-duration-ms D]
//
// Every call sends {"text":"hello"} and expects it back: over zRPC as a
// MESSAGE frame answered by a MESSAGE and an OK STATUS frame (h3: POST
// /zrpc/bench.v1.Echo/say; wt: a bidirectional stream on a session at
// /zrpc; quic: a bidirectional stream on a connection with ALPN "zr/1"),
// as JSON for json (POST /json). C connections each keep S calls in flight
// for D ms.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
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
	webtransport "github.com/quic-go/webtransport-go"
)

var (
	host        = flag.String("host", "127.0.0.1", "server address")
	port        = flag.Int("port", 0, "server UDP port")
	mode        = flag.String("mode", "h3", "h3, json, wt or quic")
	connections = flag.Int("connections", 1, "connections")
	streams     = flag.Int("streams", 16, "calls in flight per connection")
	durationMs  = flag.Int("duration-ms", 3000, "how long to issue calls")
)

const path = "bench.v1.Echo/say"

var request = []byte(`{"text":"hello"}`)

func frame(kind byte, payload []byte) []byte {
	out := make([]byte, 5+len(payload))
	out[0] = kind
	binary.BigEndian.PutUint32(out[1:5], uint32(len(payload)))
	copy(out[5:], payload)
	return out
}

// head is a HEADERS frame: u16 path length, path, u32 timeout (0), u16 no metadata.
func head() []byte {
	payload := make([]byte, 2+len(path)+4+2)
	binary.BigEndian.PutUint16(payload, uint16(len(path)))
	copy(payload[2:], path)
	return frame(1, payload)
}

// checkReply expects one MESSAGE equal to the request and an OK STATUS.
func checkReply(reply []byte) error {
	var frames [][2][]byte
	for len(reply) >= 5 {
		n := int(binary.BigEndian.Uint32(reply[1:5]))
		if len(reply) < 5+n {
			return errors.New("truncated reply")
		}
		frames = append(frames, [2][]byte{{reply[0]}, reply[5 : 5+n]})
		reply = reply[5+n:]
	}
	if len(frames) != 2 || frames[0][0][0] != 0 || frames[1][0][0] != 2 {
		return fmt.Errorf("unexpected frames (%d)", len(frames))
	}
	if !bytes.Equal(frames[0][1], request) {
		return fmt.Errorf("unexpected message %q", frames[0][1])
	}
	if code := binary.BigEndian.Uint32(frames[1][1][:4]); code != 0 {
		return fmt.Errorf("status %d", code)
	}
	return nil
}

type caller func() error

func tlsConf(alpn string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{alpn}}
}

// streamCaller makes each call on a new bidirectional stream from open():
// the call's HEADERS and MESSAGE frames, FIN, then the whole reply (WebTransport
// and raw QUIC carry the same frames).
func streamCaller(open func() (io.ReadWriteCloser, error)) caller {
	call := append(head(), frame(0, request)...)
	return func() error {
		stream, err := open()
		if err != nil {
			return err
		}
		if _, err := stream.Write(call); err != nil {
			return err
		}
		stream.Close()
		reply, err := io.ReadAll(stream)
		if err != nil {
			return err
		}
		return checkReply(reply)
	}
}

func dial() (caller, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr := fmt.Sprintf("%s:%d", *host, *port)
	quicConf := &quic.Config{MaxIdleTimeout: 30 * time.Second, MaxIncomingStreams: 1000, EnableDatagrams: true, EnableStreamResetPartialDelivery: true}
	switch *mode {
	case "h3", "json":
		conn, err := quic.DialAddr(ctx, addr, tlsConf(http3.NextProtoH3), quicConf)
		if err != nil {
			return nil, nil, err
		}
		client := (&http3.Transport{DisableCompression: true}).NewClientConn(conn)
		url, contentType, body := fmt.Sprintf("https://%s/zrpc/%s", addr, path), "application/zrpc", frame(0, request)
		if *mode == "json" {
			url, contentType, body = fmt.Sprintf("https://%s/json", addr), "application/json", request
		}
		return func() error {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("content-type", contentType)
			resp, err := client.RoundTrip(req)
			if err != nil {
				return err
			}
			reply, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			if *mode == "json" {
				if !bytes.Equal(bytes.TrimSpace(reply), request) {
					return fmt.Errorf("unexpected JSON %q", reply)
				}
				return nil
			}
			return checkReply(reply)
		}, func() { conn.CloseWithError(0, "") }, nil
	case "wt":
		conn, err := quic.DialAddr(ctx, addr, tlsConf(http3.NextProtoH3), quicConf)
		if err != nil {
			return nil, nil, err
		}
		clientConn, err := (&webtransport.Transport{}).NewClientConn(conn)
		if err != nil {
			return nil, nil, err
		}
		_, session, err := clientConn.Dial(ctx, fmt.Sprintf("https://%s/zrpc", addr), http.Header{})
		if err != nil {
			return nil, nil, err
		}
		return streamCaller(func() (io.ReadWriteCloser, error) { return session.OpenStreamSync(context.Background()) }), func() { conn.CloseWithError(0, "") }, nil
	case "quic":
		conn, err := quic.DialAddr(ctx, addr, tlsConf("zr/1"), quicConf)
		if err != nil {
			return nil, nil, err
		}
		return streamCaller(func() (io.ReadWriteCloser, error) { return conn.OpenStreamSync(context.Background()) }), func() { conn.CloseWithError(0, "") }, nil
	}
	return nil, nil, fmt.Errorf("unknown mode %q", *mode)
}

func main() {
	flag.Parse()
	callers := make([]caller, *connections)
	for i := range callers {
		call, closeConn, err := dial()
		if err != nil {
			fmt.Fprintln(os.Stderr, "rpcload:", err)
			os.Exit(1)
		}
		defer closeConn()
		callers[i] = call
	}
	start := time.Now()
	deadline := start.Add(time.Duration(*durationMs) * time.Millisecond)
	type worker struct {
		latencies []time.Duration
		errors    int
		last      error
	}
	workers := make([]worker, *connections**streams)
	var wg sync.WaitGroup
	for i := range workers {
		w, call := &workers[i], callers[i / *streams]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				began := time.Now()
				if err := call(); err != nil {
					w.errors++
					w.last = err
					if w.errors > 100 {
						return
					}
					continue
				}
				w.latencies = append(w.latencies, time.Since(began))
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	var latencies []time.Duration
	errs := 0
	for _, w := range workers {
		latencies = append(latencies, w.latencies...)
		errs += w.errors
		if w.last != nil {
			fmt.Fprintln(os.Stderr, "rpcload: last error:", w.last)
		}
	}
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	pct := func(p float64) int64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))].Microseconds()
	}
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	cpu := float64(usage.Utime.Sec+usage.Stime.Sec) + float64(usage.Utime.Usec+usage.Stime.Usec)/1e6
	json.NewEncoder(os.Stdout).Encode(map[string]any{"requests": len(latencies), "errors": errs, "seconds": seconds, "rps": float64(len(latencies)) / seconds, "p50_us": pct(0.5), "p99_us": pct(0.99), "cpu_seconds": cpu})
}
