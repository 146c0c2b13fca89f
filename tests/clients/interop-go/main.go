// interop-go: an HTTP/3 client for the QUIC interop runner's cases, built
// on quic-go (a QUIC/HTTP/3 stack nobody in this project wrote). It fetches
// -paths over one connection (concurrently), -connections times in a row,
// and prints one JSON object on stdout; the test compares the bytes.
//
//	interop-go -addr 127.0.0.1:PORT -paths /a,/b [-connections N]
//	           [-migrate port|address -migrate-at BYTES]
//
// Migration (-migrate): once -migrate-at body bytes arrived, the client
// opens a new UDP socket (127.0.0.1 on a new port, or 127.0.0.2), adds it
// as a path (conn.AddPath), probes it (PATH_CHALLENGE, which the server
// must answer) and switches the connection to it (path.Switch), while the
// transfer goes on. quic-go uses a fresh connection ID of the server's on
// the new path, as RFC 9000 9.5 requires.
//
// Key update: quic-go updates its keys on its own after its first 100
// packets of a connection (handshake.FirstKeyUpdateInterval) and every
// 100,000 thereafter; with QLOGDIR set, its qlog (qlog.DefaultConnectionTracer)
// records the update and the key phase of every packet, for the test to read.
//
// The cipher suite is crypto/tls's choice: AES-GCM first on a CPU with AES
// instructions, ChaCha20-Poly1305 first otherwise (GODEBUG=cpu.aes=off makes
// Go believe the CPU has none). The negotiated suite is reported.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/quic-go/qlog"
)

type response struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
	Error  string `json:"error,omitempty"`
}

type connection struct {
	Cipher         string     `json:"cipher"`
	Responses      []response `json:"responses"`
	Migrated       bool       `json:"migrated"`
	LocalAddresses []string   `json:"local_addresses"`
	Error          string     `json:"error,omitempty"`
}

type options struct {
	addr        string
	paths       []string
	connections int
	migrate     string
	migrateAt   int64
}

func main() {
	var o options
	var paths string
	flag.StringVar(&o.addr, "addr", "", "server host:port")
	flag.StringVar(&paths, "paths", "/", "comma-separated request paths")
	flag.IntVar(&o.connections, "connections", 1, "sequential connections")
	flag.StringVar(&o.migrate, "migrate", "", "\"port\" or \"address\": migrate to a new socket mid-transfer")
	flag.Int64Var(&o.migrateAt, "migrate-at", 1<<20, "body bytes received before migrating")
	flag.Parse()
	o.paths = strings.Split(paths, ",")
	results := make([]connection, 0, o.connections)
	for i := 0; i < o.connections; i++ {
		results = append(results, run(o))
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"connections": results})
}

func listen(host string) (*quic.Transport, error) {
	socket, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(host), Port: 0})
	if err != nil {
		return nil, err
	}
	return &quic.Transport{Conn: socket}, nil
}

func run(o options) (result connection) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	server, err := net.ResolveUDPAddr("udp4", o.addr)
	if err != nil {
		result.Error = err.Error()
		return
	}
	transport, err := listen("127.0.0.1")
	if err != nil {
		result.Error = err.Error()
		return
	}
	defer transport.Close()
	result.LocalAddresses = append(result.LocalAddresses, transport.Conn.LocalAddr().String())
	tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{http3.NextProtoH3}}
	quicConf := &quic.Config{Tracer: qlog.DefaultConnectionTracer, MaxIdleTimeout: 30 * time.Second}
	conn, err := transport.Dial(ctx, server, tlsConf, quicConf)
	if err != nil {
		result.Error = err.Error()
		return
	}
	defer conn.CloseWithError(0, "")
	result.Cipher = tls.CipherSuiteName(conn.ConnectionState().TLS.CipherSuite)
	client := (&http3.Transport{}).NewClientConn(conn)

	var received atomic.Int64
	var migration sync.WaitGroup
	var migrateOnce sync.Once
	var migrateErr error
	onBytes := func(n int) {
		total := received.Add(int64(n))
		if o.migrate == "" || total < o.migrateAt {
			return
		}
		migrateOnce.Do(func() {
			migration.Add(1)
			go func() {
				defer migration.Done()
				address, err := migrate(ctx, conn, o.migrate)
				migrateErr = err
				if err == nil {
					result.Migrated = true
					result.LocalAddresses = append(result.LocalAddresses, address)
				}
			}()
		})
	}

	result.Responses = make([]response, len(o.paths))
	var fetches sync.WaitGroup
	for i, path := range o.paths {
		fetches.Add(1)
		go func() {
			defer fetches.Done()
			result.Responses[i] = fetch(ctx, client, o.addr, path, onBytes)
		}()
	}
	fetches.Wait()
	migration.Wait()
	if migrateErr != nil {
		result.Error = "migration: " + migrateErr.Error()
	}
	return
}

// migrate moves the connection to a new socket: AddPath, Probe, Switch.
func migrate(ctx context.Context, conn *quic.Conn, kind string) (string, error) {
	host := "127.0.0.1"
	if kind == "address" {
		host = "127.0.0.2"
	}
	transport, err := listen(host)
	if err != nil {
		return "", err
	}
	path, err := conn.AddPath(transport)
	if err != nil {
		return "", err
	}
	probeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := path.Probe(probeCtx); err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	if err := path.Switch(); err != nil {
		return "", fmt.Errorf("switch: %w", err)
	}
	return transport.Conn.LocalAddr().String(), nil
}

type countingReader struct {
	reader io.Reader
	onRead func(int)
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.reader.Read(p)
	if n > 0 {
		r.onRead(n)
	}
	return n, err
}

func fetch(ctx context.Context, client *http3.ClientConn, addr, path string, onBytes func(int)) response {
	out := response{Path: path}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	reply, err := client.RoundTrip(request)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	defer reply.Body.Close()
	out.Status = reply.StatusCode
	hash := sha256.New()
	out.Length, err = io.Copy(hash, countingReader{reader: reply.Body, onRead: onBytes})
	if err != nil {
		out.Error = err.Error()
	}
	out.SHA256 = hex.EncodeToString(hash.Sum(nil))
	return out
}
