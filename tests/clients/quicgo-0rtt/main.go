// Session resumption and a 0-RTT GET with quic-go's HTTP/3 client (a stack
// nobody here wrote): an http3.Transport whose tls.Config has a
// tls.ClientSessionCache sends GET https://HOST:FIRST/ and keeps the ticket
// the server issues; a second http3.Transport with the same cache dials
// HOST:SECOND and sends its request with http3.MethodGet0RTT, which quic-go
// writes into 0-RTT packets when the ticket allows early data. Prints one
// JSON object.
//
// The 0-RTT connection reads nothing until quic-go has written the
// request's last frame into a 0-RTT packet (seen through quic-go's qlog
// events), so the server's answer cannot complete the handshake first and
// push the request into 1-RTT packets: whether the request travels as
// early data does not depend on goroutine scheduling.
//
// usage: quicgo-0rtt -first URL -second URL
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/quic-go/qlog"
	"github.com/quic-go/quic-go/qlogwriter"
)

// gate holds back the client's reads until released (or 2 s passed).
type gate struct {
	net.PacketConn
	open chan struct{}
	once sync.Once
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case <-g.open:
	case <-time.After(2 * time.Second):
		g.release()
	}
	return g.PacketConn.ReadFrom(p)
}

// requestWatch is a qlog trace that notes when the request stream's FIN
// (stream 0, the first request) leaves in a 0-RTT packet, and then
// releases the gate.
type requestWatch struct {
	gate   *gate
	in0RTT atomic.Bool
}

func (w *requestWatch) AddProducer() qlogwriter.Recorder { return w }
func (w *requestWatch) SupportsSchemas(string) bool      { return false }
func (w *requestWatch) Close() error                     { return nil }

func (w *requestWatch) RecordEvent(event qlogwriter.Event) {
	sent, ok := event.(qlog.PacketSent)
	if !ok || sent.Header.PacketType != qlog.PacketType0RTT {
		return
	}
	for _, frame := range sent.Frames {
		if stream, ok := frame.Frame.(*qlog.StreamFrame); ok && stream.StreamID == 0 && stream.Fin {
			w.in0RTT.Store(true)
			w.gate.release()
		}
	}
}

// ticketCache is the standard LRU cache, plus a signal when a ticket is stored.
type ticketCache struct {
	tls.ClientSessionCache
	stored chan struct{}
	once   sync.Once
}

func (c *ticketCache) Put(key string, state *tls.ClientSessionState) {
	c.ClientSessionCache.Put(key, state)
	if state != nil {
		c.once.Do(func() { close(c.stored) })
	}
}

type result struct {
	Status    int    `json:"status"`
	Body      string `json:"body"`
	DidResume bool   `json:"didResume"`
	Used0RTT  bool   `json:"used0RTT"`
	// The request's last frame left in a 0-RTT packet (a 0-RTT request).
	RequestIn0RTT bool `json:"requestIn0RTT"`
	// The server refused the 0-RTT data (quic.Err0RTTRejected): quic-go
	// leaves the retry to the application, which sends the request again
	// as a plain GET on a new connection with no ticket (Retry).
	Rejected0RTT bool    `json:"rejected0RTT"`
	Retry        *result `json:"retry,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// fetch sends one request on a new transport and reports what quic-go says
// of the connection once its handshake completed.
// With `ticket`, the connection stays open until a session ticket was
// stored (or 5 s passed): the server sends its tickets right after the
// handshake, and they may trail the response.
func fetch(cache tls.ClientSessionCache, method, url string, ticket ...<-chan struct{}) result {
	var conn *quic.Conn
	var udpTransport *quic.Transport
	defer func() {
		if udpTransport != nil {
			udpTransport.Close()
		}
	}()
	watch := &requestWatch{}
	transport := &http3.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache, ServerName: "localhost"},
		Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			udp, err := net.ListenUDP("udp", nil)
			if err != nil {
				return nil, err
			}
			watch.gate = &gate{PacketConn: udp, open: make(chan struct{})}
			if method != http3.MethodGet0RTT {
				watch.gate.release()
			}
			remote, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			config := &quic.Config{}
			if cfg != nil {
				config = cfg.Clone()
			}
			config.Tracer = func(context.Context, bool, quic.ConnectionID) qlogwriter.Trace { return watch }
			udpTransport = &quic.Transport{Conn: watch.gate}
			c, err := udpTransport.DialEarly(ctx, remote, tlsCfg, config)
			conn = c
			return c, err
		},
	}
	defer transport.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return result{Error: err.Error()}
	}
	response, err := transport.RoundTrip(request)
	if err != nil {
		return result{Error: err.Error(), Rejected0RTT: errors.Is(err, quic.Err0RTTRejected), RequestIn0RTT: watch.in0RTT.Load()}
	}
	body, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		return result{Error: err.Error()}
	}
	select {
	case <-conn.HandshakeComplete():
	case <-ctx.Done():
		return result{Error: "handshake did not complete"}
	}
	for _, stored := range ticket {
		select {
		case <-stored:
		case <-time.After(5 * time.Second):
		}
	}
	state := conn.ConnectionState()
	return result{Status: response.StatusCode, Body: string(body), DidResume: state.TLS.DidResume, Used0RTT: state.Used0RTT, RequestIn0RTT: watch.in0RTT.Load()}
}

func main() {
	first := flag.String("first", "", "URL of the first request (a plain GET)")
	second := flag.String("second", "", "URL of the second request (GET in 0-RTT)")
	flag.Parse()
	// The gate is not a *net.UDPConn, so quic-go cannot size its buffers;
	// loopback needs no more than the default.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	cache := &ticketCache{ClientSessionCache: tls.NewLRUClientSessionCache(8), stored: make(chan struct{})}
	out := map[string]any{}
	out["first"] = fetch(cache, http.MethodGet, *first, cache.stored)
	select {
	case <-cache.stored:
		out["ticket"] = true
	default:
		out["ticket"] = false
	}
	early := fetch(cache, http3.MethodGet0RTT, *second)
	if early.Rejected0RTT {
		// Without a ticket: the cache may still hold the one just refused
		// (the rejecting server's own may not have arrived), and quic-go's
		// http3 client cannot use a connection whose 0-RTT was refused.
		retry := fetch(tls.NewLRUClientSessionCache(1), http.MethodGet, *second)
		early.Retry = &retry
	}
	out["second"] = early
	encoded, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(encoded))
}
