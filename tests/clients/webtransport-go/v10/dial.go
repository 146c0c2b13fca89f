package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	webtransport "github.com/quic-go/webtransport-go"
)

// webtransport-go v0.10.0: draft-02 settings (SETTINGS_ENABLE_WEBTRANSPORT),
// :protocol "webtransport". It has no session flow control.
func dial(ctx context.Context, url, protocols string, _ bool) (*webtransport.Session, string, func(), error) {
	d := &webtransport.Dialer{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{http3.NextProtoH3}},
		QUICConfig:      &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true, MaxIncomingStreams: 1000, MaxIncomingUniStreams: 1000},
	}
	if protocols != "" {
		d.ApplicationProtocols = strings.Split(protocols, ",")
	}
	_, session, err := d.Dial(ctx, url, http.Header{})
	if err != nil {
		return nil, "", func() {}, err
	}
	return session, session.SessionState().ApplicationProtocol, func() { _ = d.Close() }, nil
}
