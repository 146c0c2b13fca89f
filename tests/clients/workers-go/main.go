// workers-go: a quic-go HTTP/3 client for tests/workers.test.ts. Each
// response body is the id of the worker that served it; the client records
// them per connection and prints one JSON object on stdout.
//
//	workers-go -port P -connections C -requests R [-path /worker]
//	workers-go -port P -connections C -duration-ms D [-path /slow/20]  (SIGTERM ends it early)
//	workers-go -port P -connections C -requests R -rebind
//
// Every connection has its own UDP socket. A request the server did not
// process (see refusedGracefully) is retried on a new connection, as
// quic-go's own http3.Transport does; any other error is a failure. With
// -rebind, the connection's UDP socket is replaced by a new one (a new
// source port, as a NAT rebinding does) after its first request, and the
// old socket is closed. (Once: quiche 0.28 keeps the first path's
// connection ID, so with the default active_connection_id_limit of 2 it
// has no room for a third path.)
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
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
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
	requests    int
	durationMs  int
	rebind      bool
}

// connectionResult is what one QUIC connection saw.
type connectionResult struct {
	Workers    []string `json:"workers"`
	LocalPorts []int    `json:"local_ports"`
}

type result struct {
	Connections []connectionResult `json:"connections"`
	Requests    int                `json:"requests"`
	Failed      int                `json:"failed"`
	Retried     int                `json:"retried"`
	Errors      []string           `json:"errors"`
	RetryCauses []string           `json:"retry_causes"`
}

type collector struct {
	mu     sync.Mutex
	result result
}

func (c *collector) add(conn connectionResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(conn.Workers) > 0 {
		c.result.Connections = append(c.result.Connections, conn)
		c.result.Requests += len(conn.Workers)
	}
}

func (c *collector) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.result.Failed++
	if len(c.result.Errors) < 20 {
		c.result.Errors = append(c.result.Errors, err.Error())
	}
}

func (c *collector) retry(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.result.Retried++
	cause := err.Error()
	for _, seen := range c.result.RetryCauses {
		if seen == cause {
			return
		}
	}
	c.result.RetryCauses = append(c.result.RetryCauses, cause)
}

func main() {
	var o options
	flag.StringVar(&o.host, "host", "127.0.0.1", "server address")
	flag.IntVar(&o.port, "port", 0, "server UDP port")
	flag.StringVar(&o.path, "path", "/worker", "request path")
	flag.IntVar(&o.connections, "connections", 1, "concurrent connections")
	flag.IntVar(&o.requests, "requests", 0, "requests per connection, one after another")
	flag.IntVar(&o.durationMs, "duration-ms", 0, "instead of -requests: keep requesting for this long")
	flag.BoolVar(&o.rebind, "rebind", false, "move each connection to a new UDP socket after its first request")
	flag.Parse()
	if o.port == 0 || (o.requests == 0) == (o.durationMs == 0) {
		fmt.Fprintln(os.Stderr, "workers-go: -port and one of -requests, -duration-ms are required")
		os.Exit(2)
	}
	var c collector
	c.result.Connections = []connectionResult{}
	c.result.Errors = []string{}
	c.result.RetryCauses = []string{}
	deadline := time.Now().Add(time.Duration(o.durationMs) * time.Millisecond)
	// SIGTERM ends a -duration-ms run early: no new request starts, those in
	// flight complete, and the result is printed as usual.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	go func() {
		<-signals
		stopping.Store(true)
	}()
	var wg sync.WaitGroup
	for i := 0; i < o.connections; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(o, deadline, &c)
		}()
	}
	wg.Wait()
	if err := json.NewEncoder(os.Stdout).Encode(c.result); err != nil {
		os.Exit(1)
	}
}

var stopping atomic.Bool

// run is one client slot: a connection that sends its requests, replaced
// by a new one when the server refuses a request gracefully.
func run(o options, deadline time.Time, c *collector) {
	sent := 0
	more := func() bool {
		if o.durationMs > 0 {
			return !stopping.Load() && time.Now().Before(deadline)
		}
		return sent < o.requests
	}
	for attempt := 0; more() && attempt < 1000; attempt++ {
		conn, err := dial(o)
		if err != nil {
			c.fail(err)
			return
		}
		record := connectionResult{Workers: []string{}, LocalPorts: []int{conn.localPort()}}
		for more() {
			if o.rebind && len(record.Workers) == 1 && len(record.LocalPorts) == 1 {
				if err := conn.packets.rebind(); err != nil {
					c.fail(err)
					break
				}
				record.LocalPorts = append(record.LocalPorts, conn.localPort())
			}
			worker, err := get(conn.client, fmt.Sprintf("https://%s:%d%s", o.host, o.port, o.path))
			if err == nil {
				record.Workers = append(record.Workers, worker)
				sent++
				continue
			}
			if refusedGracefully(err) {
				c.retry(err)
			} else {
				c.fail(err)
				sent++
			}
			break
		}
		c.add(record)
		conn.close()
	}
}

// refusedGracefully: the request was not processed, so it may be sent
// again: quic-go's own rule (http3.Transport's canRetryRequest), which is
// RFC 9114 5.2's. Either the request stream could not be opened (quic-go's
// errConnUnusable: after a GOAWAY, or on a connection quic-go closed itself
// once the GOAWAY'd connection had no streams left), or the server reset
// it with H3_REQUEST_REJECTED.
func refusedGracefully(err error) bool {
	if strings.HasPrefix(err.Error(), "http3: conn unusable") {
		return true
	}
	var h3Err *http3.Error
	return errors.As(err, &h3Err) && h3Err.ErrorCode == http3.ErrCodeRequestRejected
}

type connection struct {
	packets *rebindingConn
	quic    *quic.Conn
	client  *http3.ClientConn
	tr      *quic.Transport
}

func (c *connection) localPort() int {
	return c.packets.LocalAddr().(*net.UDPAddr).Port
}

func (c *connection) close() {
	c.quic.CloseWithError(0, "done")
	c.tr.Close()
	c.packets.Close()
}

func dial(o options) (*connection, error) {
	packets, err := newRebindingConn()
	if err != nil {
		return nil, err
	}
	tr := &quic.Transport{Conn: packets}
	tlsConf := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{http3.NextProtoH3}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := &net.UDPAddr{IP: net.ParseIP(o.host), Port: o.port}
	conn, err := tr.Dial(ctx, addr, tlsConf, &quic.Config{MaxIdleTimeout: 30 * time.Second})
	if err != nil {
		tr.Close()
		packets.Close()
		return nil, err
	}
	transport := &http3.Transport{DisableCompression: true}
	return &connection{packets: packets, quic: conn, client: transport.NewClientConn(conn), tr: tr}, nil
}

// get sends one GET and returns the body (the worker id); a status other
// than 200 is an error.
func get(client *http3.ClientConn, url string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := client.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(body), nil
}

// rebindingConn is a net.PacketConn whose UDP socket can be swapped for a
// new one (a new source port) while quic-go uses it: what a NAT rebinding
// looks like to the server.
type rebindingConn struct {
	mu       sync.Mutex
	current  *net.UDPConn
	incoming chan datagram
	closed   chan struct{}
	once     sync.Once
	deadline time.Time
	// Closed and replaced when the read deadline changes, so a blocked
	// ReadFrom sees the new one (quic-go's Transport.Close sets a deadline
	// in the past to stop its read loop).
	deadlineChanged chan struct{}
}

type datagram struct {
	data []byte
	from net.Addr
}

func newRebindingConn() (*rebindingConn, error) {
	c := &rebindingConn{incoming: make(chan datagram, 1024), closed: make(chan struct{}), deadlineChanged: make(chan struct{})}
	return c, c.rebind()
}

// rebind opens a new socket, makes it the one packets leave from, and
// closes the previous one.
func (c *rebindingConn) rebind() error {
	socket, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	go c.pump(socket)
	c.mu.Lock()
	old := c.current
	c.current = socket
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (c *rebindingConn) pump(socket *net.UDPConn) {
	for {
		buffer := make([]byte, 2048)
		n, from, err := socket.ReadFrom(buffer)
		if err != nil {
			return
		}
		select {
		case c.incoming <- datagram{data: buffer[:n], from: from}:
		case <-c.closed:
			return
		}
	}
}

func (c *rebindingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		deadline, changed := c.deadline, c.deadlineChanged
		c.mu.Unlock()
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			timer := time.NewTimer(time.Until(deadline))
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case d := <-c.incoming:
			return copy(p, d.data), d.from, nil
		case <-c.closed:
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-changed:
		}
	}
}

func (c *rebindingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	socket := c.current
	c.mu.Unlock()
	return socket.WriteTo(p, addr)
}

func (c *rebindingConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		c.current.Close()
		c.mu.Unlock()
	})
	return nil
}

func (c *rebindingConn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current.LocalAddr()
}

func (c *rebindingConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }
func (c *rebindingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	close(c.deadlineChanged)
	c.deadlineChanged = make(chan struct{})
	c.mu.Unlock()
	return nil
}
func (c *rebindingConn) SetWriteDeadline(time.Time) error { return nil }
