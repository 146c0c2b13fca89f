package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	webtransport "github.com/quic-go/webtransport-go"
)

// webtransport-go v0.13.0: draft-16 (SETTINGS_WT_ENABLED, :protocol
// "webtransport-h3", reset_stream_at required). With -flow-control it
// announces session flow control: 2 bidirectional and 2 unidirectional
// streams, 32 KiB of data, which the server must respect.
//
// The QUIC connection is dialed here and handed to NewClientConn, because
// Transport.Dial closes it the moment the session ends, which drops a
// CLOSE_WEBTRANSPORT_SESSION capsule still queued (client-close).
func dial(ctx context.Context, rawURL, protocols string, flowControl bool) (*webtransport.Session, string, func(), error) {
	t := &webtransport.Transport{}
	if flowControl {
		t.Config = &webtransport.Config{MaxIncomingStreams: 2, MaxIncomingUniStreams: 2, MaxIncomingData: 32 * 1024}
	}
	if protocols != "" {
		t.ApplicationProtocols = strings.Split(protocols, ",")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", func() {}, err
	}
	tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{http3.NextProtoH3}}
	quicConf := &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true, MaxIncomingStreams: 1000, MaxIncomingUniStreams: 1000}
	qconn, err := quic.DialAddrEarly(ctx, u.Host, tlsConf, quicConf)
	if err != nil {
		return nil, "", func() {}, err
	}
	closeConn := func() { _ = qconn.CloseWithError(0, "") }
	clientConn, err := t.NewClientConn(qconn)
	if err != nil {
		closeConn()
		return nil, "", func() {}, err
	}
	_, session, err := clientConn.Dial(ctx, rawURL, http.Header{})
	if err != nil {
		closeConn()
		return nil, "", func() {}, err
	}
	return session, session.SessionState().ApplicationProtocol, closeConn, nil
}
