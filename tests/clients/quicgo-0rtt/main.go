// Session resumption and a 0-RTT GET with quic-go's HTTP/3 client (a stack
// nobody here wrote): an http3.Transport whose tls.Config has a
// tls.ClientSessionCache sends GET https://HOST:FIRST/ and keeps the ticket
// the server issues; a second http3.Transport with the same cache dials
// HOST:SECOND and sends its request with http3.MethodGet0RTT, which quic-go
// writes into 0-RTT packets when the ticket allows early data. Prints one
// JSON object.
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
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

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
	transport := &http3.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache, ServerName: "localhost"},
		Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			c, err := quic.DialAddrEarly(ctx, addr, tlsCfg, cfg)
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
		return result{Error: err.Error(), Rejected0RTT: errors.Is(err, quic.Err0RTTRejected)}
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
	return result{Status: response.StatusCode, Body: string(body), DidResume: state.TLS.DidResume, Used0RTT: state.Used0RTT}
}

func main() {
	first := flag.String("first", "", "URL of the first request (a plain GET)")
	second := flag.String("second", "", "URL of the second request (GET in 0-RTT)")
	flag.Parse()
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
