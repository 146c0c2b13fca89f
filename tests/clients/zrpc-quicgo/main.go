// A raw QUIC client made with quic-go (a stack nobody here wrote), for the
// server's raw QUIC connections. Prints one JSON object.
//
// usage: zrpc-quicgo -addr HOST:PORT -mode zrpc
//
//	ALPN "zr/1": three unary zRPC calls on three concurrent streams
//	(test.v1.Echo/say), then one 64 MiB message through test.v1.Blobs/echo
//	(bytes codec), compared byte for byte with what was sent.
//
// usage: zrpc-quicgo -addr HOST:PORT -mode raw -alpn PROTO
//
//	Raw streams and datagrams, no zRPC: accepts the bidirectional stream
//	the server opens, reads it to its end and answers on it; opens a
//	unidirectional stream and reads the server's unidirectional answer;
//	sends datagrams until each one's echo came back; then opens a stream
//	saying "close", waits for the server to close the connection and
//	reports its application error.
//
// usage: zrpc-quicgo -addr HOST:PORT -mode credit -alpn PROTO
//
//	Allows the server one bidirectional stream at a time (MAX_STREAMS 1):
//	accepts three, one after another, reading each to its end and
//	answering "ack " and what it read; then waits for the server to close.
//
// usage: zrpc-quicgo -addr HOST:PORT -mode close -alpn PROTO
//
//	Opens a bidirectional stream, writes "bye", reads the server's answer
//	to its end, then closes the connection with application error 7
//	"client done".
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

func frame(kind byte, payload []byte) []byte {
	out := make([]byte, 5+len(payload))
	out[0] = kind
	binary.BigEndian.PutUint32(out[1:5], uint32(len(payload)))
	copy(out[5:], payload)
	return out
}

func head(path string) []byte {
	payload := make([]byte, 0, 2+len(path)+6)
	payload = binary.BigEndian.AppendUint16(payload, uint16(len(path)))
	payload = append(payload, path...)
	payload = binary.BigEndian.AppendUint32(payload, 0) // no deadline
	payload = binary.BigEndian.AppendUint16(payload, 0) // no metadata
	return frame(1, payload)
}

type callResult struct {
	Messages [][]byte
	Status   uint32
	Message  string
}

// call sends one request message and reads frames until the stream ends.
func call(ctx context.Context, conn *quic.Conn, path string, message []byte) (callResult, error) {
	stream, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return callResult{}, err
	}
	go func() {
		stream.Write(head(path))
		stream.Write(frame(0, message))
		stream.Close()
	}()
	var result callResult
	header := make([]byte, 5)
	for {
		if _, err := io.ReadFull(stream, header); err != nil {
			if errors.Is(err, io.EOF) {
				return result, nil
			}
			return result, err
		}
		payload := make([]byte, binary.BigEndian.Uint32(header[1:]))
		if _, err := io.ReadFull(stream, payload); err != nil {
			return result, err
		}
		switch header[0] {
		case 0:
			result.Messages = append(result.Messages, payload)
		case 2:
			result.Status = binary.BigEndian.Uint32(payload[:4])
			length := binary.BigEndian.Uint16(payload[4:6])
			result.Message = string(payload[6 : 6+length])
		}
	}
}

func dial(ctx context.Context, addr, alpn string) (*quic.Conn, error) {
	return dialWith(ctx, addr, alpn, &quic.Config{EnableDatagrams: true, MaxIdleTimeout: 30 * time.Second})
}

func dialWith(ctx context.Context, addr, alpn string, config *quic.Config) (*quic.Conn, error) {
	tlsConfig := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpn}}
	return quic.DialAddr(ctx, addr, tlsConfig, config)
}

// runCredit allows the server one bidirectional stream at a time
// (MaxIncomingStreams 1); the server creates three at once. Each is read to
// its end and answered; the next is accepted only then.
func runCredit(ctx context.Context, addr, alpn string) (map[string]any, error) {
	conn, err := dialWith(ctx, addr, alpn, &quic.Config{MaxIncomingStreams: 1, MaxIdleTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	received := []string{}
	ids := []int64{}
	for i := 0; i < 3; i++ {
		stream, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil, err
		}
		text, err := io.ReadAll(stream)
		if err != nil {
			return nil, err
		}
		received = append(received, string(text))
		ids = append(ids, int64(stream.StreamID()))
		stream.Write([]byte("ack " + string(text)))
		stream.Close()
	}
	// The server closes the connection once it read every answer.
	<-conn.Context().Done()
	return map[string]any{"received": received, "ids": ids}, nil
}

func runZrpc(ctx context.Context, addr string) (map[string]any, error) {
	conn, err := dial(ctx, addr, "zr/1")
	if err != nil {
		return nil, err
	}
	defer conn.CloseWithError(0, "")
	out := map[string]any{"alpn": conn.ConnectionState().TLS.NegotiatedProtocol}

	texts := []string{"one", "two", "three"}
	unary := make([]map[string]any, len(texts))
	var wg sync.WaitGroup
	var failure error
	var mu sync.Mutex
	for i, text := range texts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			result, err := call(ctx, conn, "test.v1.Echo/say", []byte(fmt.Sprintf(`{"text":%q}`, text)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failure = err
				return
			}
			var reply any
			if len(result.Messages) == 1 {
				json.Unmarshal(result.Messages[0], &reply)
			}
			unary[i] = map[string]any{"status": result.Status, "reply": reply, "messages": len(result.Messages)}
		}()
	}
	wg.Wait()
	if failure != nil {
		return nil, failure
	}
	out["unary"] = unary

	// 64 MiB of bytes no two positions of which repeat a short pattern.
	big := make([]byte, 64<<20)
	var state uint64 = 0x9e3779b97f4a7c15
	for i := 0; i < len(big); i += 8 {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		binary.LittleEndian.PutUint64(big[i:], state)
	}
	result, err := call(ctx, conn, "test.v1.Blobs/echo", big)
	if err != nil {
		return nil, err
	}
	equal := len(result.Messages) == 1 && string(result.Messages[0]) == string(big)
	received := 0
	if len(result.Messages) == 1 {
		received = len(result.Messages[0])
	}
	sum := sha256.Sum256(big)
	out["big"] = map[string]any{"status": result.Status, "message": result.Message, "sent": len(big), "received": received, "equal": equal, "sha256": hex.EncodeToString(sum[:])}
	return out, nil
}

func runRaw(ctx context.Context, addr, alpn string) (map[string]any, error) {
	conn, err := dial(ctx, addr, alpn)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"alpn": conn.ConnectionState().TLS.NegotiatedProtocol, "datagrams": conn.ConnectionState().SupportsDatagrams.Remote}

	// The server opens a bidirectional stream: read it to its end, answer.
	stream, err := conn.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	fromServer, err := io.ReadAll(stream)
	if err != nil {
		return nil, err
	}
	out["serverStreamId"] = int64(stream.StreamID())
	out["serverBidi"] = string(fromServer)
	stream.Write([]byte("answer from quic-go"))
	stream.Close()

	// Our unidirectional stream; the server answers on one of its own.
	uni, err := conn.OpenUniStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	uni.Write([]byte("uni from quic-go"))
	uni.Close()
	back, err := conn.AcceptUniStream(ctx)
	if err != nil {
		return nil, err
	}
	backBytes, err := io.ReadAll(back)
	if err != nil {
		return nil, err
	}
	out["serverUniStreamId"] = int64(back.StreamID())
	out["serverUni"] = string(backBytes)

	// Datagrams may be lost: each is sent until its echo came back.
	echoed := []string{}
	for i := 0; i < 5; i++ {
		text := fmt.Sprintf("datagram %d", i)
		for attempt := 0; ; attempt++ {
			if attempt == 50 {
				return nil, fmt.Errorf("no echo of %q", text)
			}
			if err := conn.SendDatagram([]byte(text)); err != nil {
				return nil, err
			}
			wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			got, err := conn.ReceiveDatagram(wait)
			cancel()
			if err == nil && string(got) == text {
				echoed = append(echoed, string(got))
				break
			}
		}
	}
	out["echoed"] = echoed

	// A stream saying "close": the server closes the connection.
	closing, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	closing.Write([]byte("close"))
	closing.Close()
	<-conn.Context().Done()
	var appErr *quic.ApplicationError
	if errors.As(context.Cause(conn.Context()), &appErr) {
		out["closeCode"] = uint64(appErr.ErrorCode)
		out["closeReason"] = appErr.ErrorMessage
		out["closeRemote"] = appErr.Remote
	} else {
		out["closeError"] = fmt.Sprint(context.Cause(conn.Context()))
	}
	return out, nil
}

func runClose(ctx context.Context, addr, alpn string) (map[string]any, error) {
	conn, err := dial(ctx, addr, alpn)
	if err != nil {
		return nil, err
	}
	stream, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	stream.Write([]byte("bye"))
	stream.Close()
	answer, err := io.ReadAll(stream)
	if err != nil {
		return nil, err
	}
	conn.CloseWithError(7, "client done")
	return map[string]any{"answer": string(answer)}, nil
}

func main() {
	addr := flag.String("addr", "", "HOST:PORT")
	mode := flag.String("mode", "zrpc", "zrpc, raw, credit or close")
	alpn := flag.String("alpn", "raw/1", "ALPN for -mode raw and close")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var out map[string]any
	var err error
	switch *mode {
	case "zrpc":
		out, err = runZrpc(ctx, *addr)
	case "raw":
		out, err = runRaw(ctx, *addr, *alpn)
	case "close":
		out, err = runClose(ctx, *addr, *alpn)
	case "credit":
		out, err = runCredit(ctx, *addr, *alpn)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
