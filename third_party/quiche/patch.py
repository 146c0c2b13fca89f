#!/usr/bin/env python3
"""Applies zig-quiche-h3's fixes to an unpacked quiche 0.28.0 crate.

Usage: patch.py <unpacked quiche-0.28.0 directory>

Each edit names the exact text it expects to find once; if quiche's source
differs (another version), the script stops rather than guess.

The fix: a FIN written on its own (no bytes with it) after the stream's
bytes were sent could be lost. quiche counted a sending side complete as
soon as the bytes up to the final size were acknowledged, so the stream was
collected (and its queued FIN with it) when that acknowledgment arrived
before a frame carried the FIN, or while the frame carrying it was still
unacknowledged and later lost. The peer got every byte and never the end of
the stream. Upstream: https://github.com/cloudflare/quiche/issues/2525
(fix proposed in pull request 2665, unreleased). With the edits, the
sending side is complete only once a frame carrying the FIN was
acknowledged, or the final size went in a RESET_STREAM instead.
zig-src/quic/fin_delivery_test.zig is the witness.

The extension: RESET_STREAM_AT (draft-ietf-quic-reliable-stream-reset), a
stream reset that still delivers the stream's first bytes. The current
WebTransport draft resets its streams this way so that a reset stream
still tells the peer its stream type and session ID, and draft-16 clients
(webtransport-go 0.12 and later) refuse a server whose transport
parameters lack `reset_stream_at`. quiche 0.28.0 has no such thing (nor
has upstream, as of this writing). The edits add:
  - Config::enable_reset_stream_at(): the empty `reset_stream_at`
    transport parameter, sent under both code points in use (0x1d since
    draft-08, 0x17f7586d2cb571 in drafts 05-07; the frame is 0x24 in all of
    them) and accepted under either; Connection::
    peer_supports_reset_stream_at() says whether the peer sent it.
  - Connection::stream_reset_at(stream_id, err, reliable_size): like
    stream_shutdown(Write), but the bytes below the reliable size are kept
    and retransmitted until acknowledged; the rest are dropped. The frame
    is sent again when lost, and the sending side is complete once it and
    the reliable bytes are acknowledged. A later stream_shutdown(Write)
    (or STOP_SENDING) sends RESET_STREAM with the same final size.
  - Receiving: RESET_STREAM_AT without having advertised the parameter is
    an unknown frame (FRAME_ENCODING_ERROR, RFC 9000 section 12.4), as is
    a reliable size above the final size (the draft's rule). Otherwise the
    application reads exactly the bytes below the reliable size, then
    stream_recv() fails with StreamReset(code) as after RESET_STREAM.
    Final size and flow control are checked as for RESET_STREAM; a later
    frame may lower the reliable size, never raise it.
  - quiche_conn_send_reset_stream_at_for_testing(): queues a frame with any
    fields, so that tests can play a misbehaving peer.
zig-src/quic/reset_stream_at_test.zig is the witness.

The accessor: quiche_config_ssl_ctx() returns the configuration's BoringSSL
SSL_CTX. quiche's only ticket key control, quiche_config_set_ticket_key(),
calls SSL_CTX_set_tlsext_ticket_keys(), which keeps one key and forgets the
previous one, so every ticket sealed before a rotation would fall back to a
full handshake. The library installs a ticket key callback on the SSL_CTX
instead (SSL_CTX_set_tlsext_ticket_key_cb), which seals with the current key
and still opens tickets sealed with the previous one
(zig-src/quic/ticket_keys.zig).

The migration fix: data in flight on the path a peer migrated away from
was never retransmitted. quiche keeps loss detection per path; once the
peer's packets arrive on a new path, no acknowledgment ever covers a
packet sent on the old one again, so the old path's recovery neither
declares its outstanding packets lost (that needs a later packet of the
same path acknowledged) nor retransmits more than one probe's worth per
PTO, with the PTO doubling each time. After a NAT rebinding or a
migration during a transfer, the receiving stream kept a hole and the
connection stalled until its idle timeout. Upstream:
https://github.com/cloudflare/quiche/issues/2452 (open). With the edits,
leaving a path (Connection::set_active_path calls on_path_change for it)
declares everything still outstanding on it lost, in both recovery
implementations, so its frames are sent again on the new active path.
zig-src/quic/migration_test.zig is the witness (with
tests/interop-cases.test.ts: rebind-port, rebind-addr and
connectionmigration through a relay that drops the old binding).

The path limit: a server kept every path a peer had left, each holding one
of the peer's connection IDs, and only evicts a path that holds none, so
once a connection had as many paths as its active_connection_id_limit
(two here), a further NAT rebinding found no room and every packet from
the new address was dropped: the connection survived one rebinding and
stalled at the second. With the edits, a server that needs room for a new
path first gives up a path it no longer uses (not active, no lost frames
left to send; one whose validation is over first): the peer's connection
ID on it is
retired (RETIRE_CONNECTION_ID, so the peer issues another) unless another
path still uses it, which makes the path evictable. A connection ID of ours
that still names an evicted path is treated as naming none.
zig-src/quic/migration_test.zig (four rebindings) is the witness, with
tests/interop-cases.test.ts (rebind-port: five rebindings in one transfer).

The connection ID accessors: quiche_conn_retired_scid_next() and
quiche_connection_id_iter_next() hand out a pointer into a ConnectionId
they drop before returning (the one popped from the retired queue, and a
clone of the iterator's element), so the caller reads freed memory
(valgrind: tests/leaks.test.ts, "Invalid read" in the CID table's hash).
With the edits, the iterator hands out its own element, which lives as long
as the iterator, and quiche_conn_retired_scid_next_into() copies a retired
ID into the caller's buffer.
"""
import sys
from pathlib import Path

MARK = "zig-quiche-h3"

EDITS = [
    (
        "src/stream/send_buf.rs",
        "    fin_off: Option<u64>,\n",
        "    fin_off: Option<u64>,\n\n"
        f"    /// ({MARK}) Whether a frame carrying the FIN was acknowledged, or\n"
        "    /// the final size went in a RESET_STREAM instead.\n"
        "    fin_acked: bool,\n",
    ),
    (
        "src/stream/send_buf.rs",
        "    pub fn ack_and_drop(&mut self, off: u64, len: usize) {\n",
        f"    /// ({MARK}) A frame carrying the FIN was acknowledged. After\n"
        "    /// RESET_STREAM_AT only that frame's acknowledgment counts: the FIN\n"
        "    /// alone does not tell the peer to stop waiting for bytes.\n"
        "    pub fn ack_fin(&mut self) {\n"
        "        if self.reliable_size.is_none() {\n"
        "            self.fin_acked = true;\n"
        "        }\n"
        "    }\n\n"
        "    pub fn ack_and_drop(&mut self, off: u64, len: usize) {\n",
    ),
    (
        "src/stream/send_buf.rs",
        "        self.fin_off = Some(unsent_off);\n",
        "        self.fin_off = Some(unsent_off);\n"
        f"        // ({MARK}) RESET_STREAM carries the final size.\n"
        "        self.fin_acked = true;\n",
    ),
    (
        "src/stream/send_buf.rs",
        "            if self.acked == (0..fin_off) {\n",
        f"            // ({MARK}) Acknowledged bytes do not tell the peer the\n"
        "            // final size; only the FIN (or a reset) does.\n"
        "            if self.fin_acked && self.acked == (0..fin_off) {\n",
    ),
    (
        "src/lib.rs",
        "                        length,\n"
        "                        ..\n"
        "                    } => {\n"
        "                        // Update tx_buffered and emit qlog",
        "                        length,\n"
        "                        fin,\n"
        "                    } => {\n"
        "                        // Update tx_buffered and emit qlog",
    ),
    (
        "src/lib.rs",
        "                        let empty_fin = length == 0 && fin;\n",
        f"                        // ({MARK}) A lost frame that carried the FIN\n"
        "                        // queues the FIN again even when its bytes were\n"
        "                        // acknowledged in another packet.\n"
        "                        let empty_fin = fin;\n",
    ),
    (
        "src/lib.rs",
        "                        stream.send.ack_and_drop(offset, length);\n",
        "                        stream.send.ack_and_drop(offset, length);\n\n"
        f"                        // ({MARK}) The peer now knows the final size.\n"
        "                        if fin {\n"
        "                            stream.send.ack_fin();\n"
        "                        }\n",
    ),
]


# RESET_STREAM_AT (see the module docstring). Written as (file, anchor,
# replacement) like EDITS, with @MARK@ standing for MARK; most replacements
# keep the anchor and add code before or after it.
RESET_STREAM_AT_EDITS = [
    # The transport parameter.
    (
        "src/transport_params.rs",
        "    pub max_datagram_frame_size: Option<u64>,\n",
        """    pub max_datagram_frame_size: Option<u64>,
    /// (@MARK@) reset_stream_at (draft-ietf-quic-reliable-stream-reset):
    /// the endpoint accepts RESET_STREAM_AT frames.
    pub reset_stream_at: bool,
""",
    ),
    (
        "src/transport_params.rs",
        "            max_datagram_frame_size: None,\n",
        """            max_datagram_frame_size: None,
            reset_stream_at: false,
""",
    ),
    (
        "src/transport_params.rs",
        "                // Track unknown transport parameters specially.\n",
        """                // (@MARK@) reset_stream_at: 0x1d since draft-08 of
                // draft-ietf-quic-reliable-stream-reset, 0x17f7586d2cb571
                // in drafts 05 to 07 (same frame). The value is empty.
                0x1d | 0x17f7586d2cb571 => {
                    if val.cap() != 0 {
                        return Err(Error::InvalidTransportParam);
                    }

                    tp.reset_stream_at = true;
                },

                // Track unknown transport parameters specially.
""",
    ),
    (
        "src/transport_params.rs",
        "        let out_len = b.off();\n",
        """        // (@MARK@) Under both code points, for peers of either draft.
        if tp.reset_stream_at {
            TransportParams::encode_param(&mut b, 0x1d, 0)?;
            TransportParams::encode_param(&mut b, 0x17f7586d2cb571, 0)?;
        }

        let out_len = b.off();
""",
    ),
    # The frame.
    (
        "src/frame.rs",
        "    ResetStream {\n"
        "        stream_id: u64,\n"
        "        error_code: u64,\n"
        "        final_size: u64,\n"
        "    },\n",
        """    ResetStream {
        stream_id: u64,
        error_code: u64,
        final_size: u64,
    },

    // (@MARK@) RESET_STREAM_AT (draft-ietf-quic-reliable-stream-reset).
    ResetStreamAt {
        stream_id: u64,
        error_code: u64,
        final_size: u64,
        reliable_size: u64,
    },
""",
    ),
    (
        "src/frame.rs",
        "            0x05 => Frame::StopSending {\n",
        """            // (@MARK@) A reliable size above the final size is a
            // FRAME_ENCODING_ERROR (draft-ietf-quic-reliable-stream-reset).
            0x24 => {
                let stream_id = b.get_varint()?;
                let error_code = b.get_varint()?;
                let final_size = b.get_varint()?;
                let reliable_size = b.get_varint()?;

                if reliable_size > final_size {
                    return Err(Error::InvalidFrame);
                }

                Frame::ResetStreamAt {
                    stream_id,
                    error_code,
                    final_size,
                    reliable_size,
                }
            },

            0x05 => Frame::StopSending {
""",
    ),
    (
        "src/frame.rs",
        "                b.put_varint(*final_size)?;\n            },\n",
        """                b.put_varint(*final_size)?;
            },

            // (@MARK@)
            Frame::ResetStreamAt {
                stream_id,
                error_code,
                final_size,
                reliable_size,
            } => {
                b.put_varint(0x24)?;

                b.put_varint(*stream_id)?;
                b.put_varint(*error_code)?;
                b.put_varint(*final_size)?;
                b.put_varint(*reliable_size)?;
            },
""",
    ),
    (
        "src/frame.rs",
        "                octets::varint_len(*final_size) // final_size\n"
        "            },\n",
        """                octets::varint_len(*final_size) // final_size
            },

            // (@MARK@)
            Frame::ResetStreamAt {
                stream_id,
                error_code,
                final_size,
                reliable_size,
            } => {
                1 + // frame type
                octets::varint_len(*stream_id) +
                octets::varint_len(*error_code) +
                octets::varint_len(*final_size) +
                octets::varint_len(*reliable_size)
            },
""",
    ),
    (
        "src/frame.rs",
        "                final_size: *final_size,\n"
        "                raw: None,\n"
        "            },\n",
        """                final_size: *final_size,
                raw: None,
            },

            // (@MARK@) qlog 0.17 has no RESET_STREAM_AT.
            Frame::ResetStreamAt { .. } => QuicFrame::Unknown {
                frame_type_bytes: Some(0x24),
                raw: None,
            },
""",
    ),
    (
        "src/frame.rs",
        '                    "RESET_STREAM stream={stream_id} err={error_code:x} size={final_size}"\n'
        "                )?;\n"
        "            },\n",
        """                    "RESET_STREAM stream={stream_id} err={error_code:x} size={final_size}"
                )?;
            },

            // (@MARK@)
            Frame::ResetStreamAt {
                stream_id,
                error_code,
                final_size,
                reliable_size,
            } => {
                write!(
                    f,
                    "RESET_STREAM_AT stream={stream_id} err={error_code:x} size={final_size} reliable={reliable_size}"
                )?;
            },
""",
    ),
    # Sending side of a stream.
    (
        "src/stream/send_buf.rs",
        "    fin_acked: bool,\n",
        """    fin_acked: bool,

    /// (@MARK@) The reliable size of the RESET_STREAM_AT that reset this
    /// stream, while no RESET_STREAM replaced it.
    reliable_size: Option<u64>,
""",
    ),
    (
        "src/stream/send_buf.rs",
        "        let fin = self.fin_off == Some(next_off);\n",
        """        // (@MARK@) After RESET_STREAM_AT no frame carries the FIN: the peer
        // is to see the reset, not a clean end, after the reliable bytes.
        let fin = self.fin_off == Some(next_off) && self.reliable_size.is_none();
""",
    ),
    (
        "src/stream/send_buf.rs",
        "        let unsent_off = cmp::max(self.off_front(), self.emit_off);\n",
        """        // (@MARK@) A RESET_STREAM after RESET_STREAM_AT repeats its final
        // size (`off` is that size then).
        let reset_at_size = self.reliable_size.take().map(|_| self.off);
        let unsent_off = reset_at_size
            .unwrap_or_else(|| cmp::max(self.off_front(), self.emit_off));
""",
    ),
    (
        "src/stream/send_buf.rs",
        "        (self.emit_off, unsent_len)\n",
        """        (reset_at_size.unwrap_or(self.emit_off), unsent_len)
    }

    /// (@MARK@) Resets the stream with RESET_STREAM_AT: the bytes below
    /// `reliable_size` stay buffered and are (re)sent until acknowledged;
    /// the rest are dropped and count as acknowledged. Returns the final
    /// size and how many written bytes will never be sent. The caller
    /// checks that `reliable_size` is at most the bytes written.
    pub fn reset_at(&mut self, reliable_size: u64) -> Result<(u64, u64)> {
        if self.shutdown || self.error.is_some() || self.reliable_size.is_some()
        {
            return Err(Error::Done);
        }

        let final_size = self
            .fin_off
            .unwrap_or_else(|| cmp::max(self.emit_off, reliable_size));
        let unsent = self.off - final_size;

        // Drop the buffered bytes from the reliable size on.
        let keep = self
            .data
            .iter()
            .position(|b| b.off >= reliable_size)
            .unwrap_or(self.data.len());

        for b in self.data.drain(keep..) {
            self.len -= b.len() as u64;
        }

        if let Some(b) = self.data.back_mut() {
            if b.off + b.len as u64 > reliable_size {
                let tail = b.split_off((reliable_size - b.off) as usize);
                self.len -= tail.len() as u64;
            }
        }

        self.pos = cmp::min(self.pos, self.data.len());

        self.fin_off = Some(final_size);
        self.off = final_size;
        self.fin_acked = false;
        self.reliable_size = Some(reliable_size);

        if final_size > reliable_size {
            self.ack(reliable_size, (final_size - reliable_size) as usize);
        }

        Ok((final_size, unsent))
    }

    /// (@MARK@) The reliable size of the RESET_STREAM_AT to send, if any.
    pub fn reliable_size(&self) -> Option<u64> {
        self.reliable_size
    }

    /// (@MARK@) The RESET_STREAM_AT was acknowledged.
    pub fn ack_reset_at(&mut self) {
        self.fin_acked = true;
    }

    /// (@MARK@) For tests: the next reset of this stream goes as
    /// RESET_STREAM_AT with this reliable size, unchecked.
    pub fn set_reliable_size_for_testing(&mut self, reliable_size: u64) {
        self.reliable_size = Some(reliable_size);
""",
    ),
    # Receiving side of a stream.
    (
        "src/stream/recv_buf.rs",
        "    drain: bool,\n",
        """    drain: bool,

    /// (@MARK@) The error code and reliable size of a RESET_STREAM_AT whose
    /// reliable bytes the application has yet to read. Bytes above the
    /// reliable size are not buffered.
    reliable_reset: Option<(u64, u64)>,
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "        let mut tmp_bufs = VecDeque::with_capacity(2);\n",
        """        // (@MARK@) After RESET_STREAM_AT, bytes from the reliable size on
        // are validated (above) but not kept.
        let mut buf = buf;

        if let Some((_, reliable_size)) = self.reliable_reset {
            if buf.off() >= reliable_size {
                return Ok(());
            }

            if buf.max_off() > reliable_size {
                let at = (reliable_size - buf.off()) as usize;
                let _ = buf.split_off(buf.pos - buf.start + at);
            }
        }

        let mut tmp_bufs = VecDeque::with_capacity(2);
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "        if !self.ready() {\n"
        "            return Err(Error::Done);\n"
        "        }\n",
        """        if !self.ready() {
            return Err(Error::Done);
        }

        // (@MARK@) The reliable bytes of a RESET_STREAM_AT were read: now
        // the stream is reset, as after RESET_STREAM.
        if let Some((e, reliable_size)) = self.reliable_reset {
            if reliable_size == self.off {
                self.reliable_reset = None;
                self.error = Some(e);
                self.data.clear();
                self.off = self.fin_off.unwrap_or(self.off);
                return Err(Error::StreamReset(e));
            }
        }
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "        // Calculate how many bytes need to be removed from the connection flow\n",
        """        // (@MARK@) After RESET_STREAM_AT, the bytes above its reliable
        // size went back to flow control when it arrived, and its final size
        // (checked above) is forgotten for a moment so that the zero-length
        // buffer below is queued for the application all the same.
        let unread_end = match self.reliable_reset.take() {
            Some((_, reliable_size)) => {
                self.fin_off = None;
                reliable_size
            },

            None => final_size,
        };

        // Calculate how many bytes need to be removed from the connection flow
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "            consumed_flowcontrol: final_size - self.off,\n",
        "            consumed_flowcontrol: unread_end - self.off,\n",
    ),
    (
        "src/stream/recv_buf.rs",
        "    /// Commits the new max_data limit.\n",
        """    /// (@MARK@) Resets the stream with RESET_STREAM_AT: the application
    /// reads the bytes below `reliable_size`, then gets StreamReset. A
    /// higher reliable size than an earlier frame's is ignored; one the
    /// application has read past is a plain reset.
    pub fn reset_at(
        &mut self, error_code: u64, final_size: u64, reliable_size: u64,
    ) -> Result<RecvBufResetReturn> {
        if final_size > self.max_data() {
            return Err(Error::FlowControl);
        }

        let earlier = self.reliable_reset.map(|(_, size)| size);
        let reliable_size = earlier.map_or(reliable_size, |size| {
            cmp::min(size, reliable_size)
        });

        if self.error.is_some() || self.drain || reliable_size <= self.off {
            return self.reset(error_code, final_size);
        }

        // Stream's size is already known, forbid changing it.
        if let Some(fin_off) = self.fin_off {
            if fin_off != final_size {
                return Err(Error::FinalSize);
            }
        }

        // Stream's known size is lower than data already received.
        if final_size < self.len {
            return Err(Error::FinalSize);
        }

        // The bytes from the reliable size on will never be read: they go
        // back to flow control now (those above an earlier frame's reliable
        // size already did).
        let result = RecvBufResetReturn {
            max_data_delta: final_size - self.len,
            consumed_flowcontrol: earlier.unwrap_or(final_size) - reliable_size,
        };

        self.reliable_reset = Some((error_code, reliable_size));
        self.fin_off = Some(final_size);
        self.len = final_size;

        // Drop buffered bytes from the reliable size on.
        let above: Vec<u64> = self
            .data
            .range(reliable_size + 1..)
            .map(|(&max_off, _)| max_off)
            .collect();

        for max_off in above {
            if let Some(mut b) = self.data.remove(&max_off) {
                if b.off() < reliable_size {
                    let at = (reliable_size - b.off()) as usize;
                    let _ = b.split_off(b.pos - b.start + at);
                    self.data.insert(b.max_off(), b);
                }
            }
        }

        Ok(result)
    }

    /// Commits the new max_data limit.
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "        let consumed = self.max_off() - self.off;\n",
        """        // (@MARK@) A pending RESET_STREAM_AT: the bytes above its reliable
        // size went back to flow control already.
        let consumed = match self.reliable_reset.take() {
            Some((e, reliable_size)) => {
                self.error = Some(e);
                reliable_size - self.off
            },

            None => self.max_off() - self.off,
        };
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "        if self.fin_off == Some(self.off) {\n",
        """        // (@MARK@) Not while the reset of a RESET_STREAM_AT is unread.
        if self.fin_off == Some(self.off) && self.reliable_reset.is_none() {
""",
    ),
    (
        "src/stream/recv_buf.rs",
        "    pub fn ready(&self) -> bool {\n",
        """    pub fn ready(&self) -> bool {
        // (@MARK@) The reliable bytes of a RESET_STREAM_AT were read: the
        // reset is left to read.
        if matches!(self.reliable_reset, Some((_, size)) if size == self.off) {
            return true;
        }

""",
    ),
    # Connection: configuration, API, frames sent, acknowledged, lost and
    # received.
    (
        "src/lib.rs",
        "    pub fn set_disable_active_migration(&mut self, v: bool) {\n"
        "        self.local_transport_params.disable_active_migration = v;\n"
        "    }\n",
        """    pub fn set_disable_active_migration(&mut self, v: bool) {
        self.local_transport_params.disable_active_migration = v;
    }

    /// (@MARK@) Advertises the `reset_stream_at` transport parameter
    /// (draft-ietf-quic-reliable-stream-reset): the connection accepts
    /// RESET_STREAM_AT frames.
    ///
    /// The default value is `false`.
    pub fn enable_reset_stream_at(&mut self, v: bool) {
        self.local_transport_params.reset_stream_at = v;
    }
""",
    ),
    (
        "src/lib.rs",
        "    /// Returns the stream's send capacity in bytes.\n",
        """    /// (@MARK@) Whether the peer advertised `reset_stream_at`, that is
    /// whether [`stream_reset_at()`] may be used.
    ///
    /// [`stream_reset_at()`]: struct.Connection.html#method.stream_reset_at
    pub fn peer_supports_reset_stream_at(&self) -> bool {
        self.peer_transport_params.reset_stream_at
    }

    /// (@MARK@) Resets the sending side of a stream with RESET_STREAM_AT
    /// (draft-ietf-quic-reliable-stream-reset): as
    /// `stream_shutdown(stream_id, Shutdown::Write, err)`, except that the
    /// first `reliable_size` bytes written are still delivered (and sent
    /// again when lost); the peer reads them, then sees the reset.
    ///
    /// Returns [`InvalidState`] if the peer did not advertise
    /// `reset_stream_at`, [`InvalidStreamState`] if `reliable_size` is
    /// more than was written or the stream is the peer's unidirectional
    /// one, and [`Done`] if the stream is gone or was reset already.
    ///
    /// [`InvalidState`]: enum.Error.html#variant.InvalidState
    /// [`InvalidStreamState`]: enum.Error.html#variant.InvalidStreamState
    /// [`Done`]: enum.Error.html#variant.Done
    pub fn stream_reset_at(
        &mut self, stream_id: u64, err: u64, reliable_size: u64,
    ) -> Result<()> {
        if !self.peer_transport_params.reset_stream_at {
            return Err(Error::InvalidState);
        }

        if !stream::is_local(stream_id, self.is_server) &&
            !stream::is_bidi(stream_id)
        {
            return Err(Error::InvalidStreamState(stream_id));
        }

        let stream = self.streams.get_mut(stream_id).ok_or(Error::Done)?;

        if reliable_size > stream.send.off_back() {
            return Err(Error::InvalidStreamState(stream_id));
        }

        let priority_key = Arc::clone(&stream.priority_key);

        let (final_size, unsent) = stream.send.reset_at(reliable_size)?;

        let flushable = stream.is_flushable();

        // Claw back the flow control allowance of bytes never to be sent.
        self.tx_data = self.tx_data.saturating_sub(unsent);

        self.tx_buffered = self.tx_buffered.saturating_sub(unsent as usize);

        self.update_tx_cap();

        self.streams.insert_reset(stream_id, err, final_size);

        self.streams.remove_writable(&priority_key);

        if !flushable {
            self.streams.remove_flushable(&priority_key);
        }

        self.reset_stream_local_count =
            self.reset_stream_local_count.saturating_add(1);

        Ok(())
    }

    /// (@MARK@) For tests that play a misbehaving peer: sends
    /// RESET_STREAM_AT with the given fields, without any of
    /// [`stream_reset_at()`]'s checks and without resetting the stream.
    ///
    /// [`stream_reset_at()`]: struct.Connection.html#method.stream_reset_at
    #[doc(hidden)]
    pub fn send_reset_stream_at_for_testing(
        &mut self, stream_id: u64, err: u64, final_size: u64,
        reliable_size: u64,
    ) -> Result<()> {
        let stream = self.streams.get_mut(stream_id).ok_or(Error::Done)?;

        stream.send.set_reliable_size_for_testing(reliable_size);

        self.streams.insert_reset(stream_id, err, final_size);

        Ok(())
    }

    /// Returns the stream's send capacity in bytes.
""",
    ),
    (
        "src/lib.rs",
        "                let frame = frame::Frame::ResetStream {\n"
        "                    stream_id,\n"
        "                    error_code,\n"
        "                    final_size,\n"
        "                };\n",
        """                // (@MARK@) A stream reset by stream_reset_at() gets
                // RESET_STREAM_AT.
                let reliable_size = self
                    .streams
                    .get(stream_id)
                    .and_then(|s| s.send.reliable_size());

                let frame = match reliable_size {
                    Some(reliable_size) => frame::Frame::ResetStreamAt {
                        stream_id,
                        error_code,
                        final_size,
                        reliable_size,
                    },

                    None => frame::Frame::ResetStream {
                        stream_id,
                        error_code,
                        final_size,
                    },
                };
""",
    ),
    (
        "src/lib.rs",
        "                            .insert_reset(stream_id, error_code, final_size);\n"
        "                    },\n",
        """                            .insert_reset(stream_id, error_code, final_size);
                    },

                    // (@MARK@) A lost RESET_STREAM_AT is sent again unless a
                    // RESET_STREAM replaced it or the stream is complete.
                    frame::Frame::ResetStreamAt {
                        stream_id,
                        error_code,
                        final_size,
                        reliable_size,
                    } => {
                        let current = self
                            .streams
                            .get(stream_id)
                            .and_then(|s| s.send.reliable_size());

                        if current == Some(reliable_size) {
                            self.streams
                                .insert_reset(stream_id, error_code, final_size);
                        }
                    },
""",
    ),
    (
        "src/lib.rs",
        "                    frame::Frame::ResetStream { stream_id, .. } => {\n",
        """                    // (@MARK@) With the RESET_STREAM_AT acknowledged, the
                    // sending side is complete once the reliable bytes are.
                    frame::Frame::ResetStreamAt { stream_id, .. } => {
                        let stream = match self.streams.get_mut(stream_id) {
                            Some(v) => v,

                            None => continue,
                        };

                        stream.send.ack_reset_at();

                        let priority_key = Arc::clone(&stream.priority_key);

                        // As for RESET_STREAM below.
                        let is_writable = priority_key.writable.is_linked() &&
                            stream.send.is_stopped();

                        if stream.is_complete() &&
                            !stream.is_readable() &&
                            !is_writable
                        {
                            let local = stream.local;
                            self.streams.collect(stream_id, local);
                        }
                    },

                    frame::Frame::ResetStream { stream_id, .. } => {
""",
    ),
    (
        "src/lib.rs",
        "                self.reset_stream_remote_count =\n"
        "                    self.reset_stream_remote_count.saturating_add(1);\n"
        "            },\n",
        """                self.reset_stream_remote_count =
                    self.reset_stream_remote_count.saturating_add(1);
            },

            // (@MARK@) As RESET_STREAM, except that the bytes below the
            // reliable size are still delivered. Not having advertised
            // reset_stream_at, the frame is of an unknown type.
            frame::Frame::ResetStreamAt {
                stream_id,
                error_code,
                final_size,
                reliable_size,
            } => {
                if !self.local_transport_params.reset_stream_at {
                    return Err(Error::InvalidFrame);
                }

                // Peer can't send on our unidirectional streams.
                if !stream::is_bidi(stream_id) &&
                    stream::is_local(stream_id, self.is_server)
                {
                    return Err(Error::InvalidStreamState(stream_id));
                }

                let max_rx_data_left = self.max_rx_data() - self.rx_data;

                // As for RESET_STREAM: ignore frames of collected streams.
                let stream = match self.get_or_create_stream(stream_id, false) {
                    Ok(v) => v,

                    Err(Error::Done) => return Ok(()),

                    Err(e) => return Err(e),
                };

                let was_readable = stream.is_readable();
                let priority_key = Arc::clone(&stream.priority_key);

                let stream::RecvBufResetReturn {
                    max_data_delta,
                    consumed_flowcontrol,
                } = stream.recv.reset_at(error_code, final_size, reliable_size)?;

                if max_data_delta > max_rx_data_left {
                    return Err(Error::FlowControl);
                }

                if !was_readable && stream.is_readable() {
                    self.streams.insert_readable(&priority_key);
                }

                self.rx_data += max_data_delta;
                self.flow_control.add_consumed(consumed_flowcontrol);

                self.reset_stream_remote_count =
                    self.reset_stream_remote_count.saturating_add(1);
            },
""",
    ),
    # C API.
    (
        "src/ffi.rs",
        '#[no_mangle]\npub extern "C" fn quiche_config_enable_dgram(\n',
        """// (@MARK@) See Config::enable_reset_stream_at().
#[no_mangle]
pub extern "C" fn quiche_config_enable_reset_stream_at(
    config: &mut Config, v: bool,
) {
    config.enable_reset_stream_at(v);
}

#[no_mangle]
pub extern "C" fn quiche_config_enable_dgram(
""",
    ),
    (
        "src/ffi.rs",
        '#[no_mangle]\npub extern "C" fn quiche_conn_stream_shutdown(\n',
        """// (@MARK@) See Connection::peer_supports_reset_stream_at().
#[no_mangle]
pub extern "C" fn quiche_conn_peer_supports_reset_stream_at(
    conn: &Connection,
) -> bool {
    conn.peer_supports_reset_stream_at()
}

// (@MARK@) See Connection::stream_reset_at().
#[no_mangle]
pub extern "C" fn quiche_conn_stream_reset_at(
    conn: &mut Connection, stream_id: u64, err: u64, reliable_size: u64,
) -> c_int {
    match conn.stream_reset_at(stream_id, err, reliable_size) {
        Ok(_) => 0,

        Err(e) => e.to_c() as c_int,
    }
}

// (@MARK@) See Connection::send_reset_stream_at_for_testing().
#[no_mangle]
pub extern "C" fn quiche_conn_send_reset_stream_at_for_testing(
    conn: &mut Connection, stream_id: u64, err: u64, final_size: u64,
    reliable_size: u64,
) -> c_int {
    match conn.send_reset_stream_at_for_testing(
        stream_id,
        err,
        final_size,
        reliable_size,
    ) {
        Ok(_) => 0,

        Err(e) => e.to_c() as c_int,
    }
}

#[no_mangle]
pub extern "C" fn quiche_conn_stream_shutdown(
""",
    ),
]

EDITS += [
    (relative, old, new.replace("@MARK@", MARK))
    for relative, old, new in RESET_STREAM_AT_EDITS
]


# The SSL_CTX (see the module docstring): the library installs a session
# ticket key callback on it, so a rotated-out key still opens tickets.
SSL_CTX_EDITS = [
    (
        "src/tls/mod.rs",
        "    pub fn set_ticket_key(&mut self, key: &[u8]) -> Result<()> {\n",
        "    /// (@MARK@) The SSL_CTX itself, for callbacks quiche does not wrap.\n"
        "    pub fn ssl_ctx_ptr(&mut self) -> *mut c_void {\n"
        "        self.as_mut_ptr() as *mut c_void\n"
        "    }\n"
        "\n"
        "    pub fn set_ticket_key(&mut self, key: &[u8]) -> Result<()> {\n",
    ),
    (
        "src/lib.rs",
        "    pub fn set_ticket_key(&mut self, key: &[u8]) -> Result<()> {\n"
        "        self.tls_ctx.set_ticket_key(key)\n"
        "    }\n",
        "    pub fn set_ticket_key(&mut self, key: &[u8]) -> Result<()> {\n"
        "        self.tls_ctx.set_ticket_key(key)\n"
        "    }\n"
        "\n"
        "    /// (@MARK@) The BoringSSL SSL_CTX behind this configuration. It\n"
        "    /// lives as long as the Config; whatever the caller installs on it\n"
        "    /// must not outlive that.\n"
        "    pub fn ssl_ctx_ptr(&mut self) -> *mut std::ffi::c_void {\n"
        "        self.tls_ctx.ssl_ctx_ptr()\n"
        "    }\n",
    ),
    (
        "src/ffi.rs",
        "#[no_mangle]\npub extern \"C\" fn quiche_config_set_ticket_key(\n",
        "/// (@MARK@) The configuration's BoringSSL SSL_CTX.\n"
        "#[no_mangle]\n"
        "pub extern \"C\" fn quiche_config_ssl_ctx(config: &mut Config) -> *mut c_void {\n"
        "    config.ssl_ctx_ptr()\n"
        "}\n"
        "\n"
        "#[no_mangle]\npub extern \"C\" fn quiche_config_set_ticket_key(\n",
    ),
]

EDITS += [
    (relative, old, new.replace("@MARK@", MARK))
    for relative, old, new in SSL_CTX_EDITS
]


# Leaving a path: everything outstanding on it is lost (see the docstring).
# The largest acknowledged packet number is raised past every packet sent
# on the path for one loss detection pass, then restored, so that both
# recovery implementations' own loss detection does the work (frames to
# retransmit, bytes in flight, congestion signal) and later
# acknowledgments are judged against the real value.
MIGRATION_EDITS = [
    (
        "src/recovery/congestion/recovery.rs",
        """    fn on_path_change(
        &mut self, epoch: Epoch, now: Instant, trace_id: &str,
    ) -> (usize, usize) {
        // Time threshold loss detection.
        self.detect_lost_packets(epoch, now, trace_id)
    }
""",
        """    fn on_path_change(
        &mut self, epoch: Epoch, now: Instant, trace_id: &str,
    ) -> (usize, usize) {
        // (@MARK@) The connection leaves this path: no acknowledgment will
        // cover its outstanding packets again, so they are all lost now.
        let largest_acked = self.epochs[epoch].largest_acked_packet;
        if let Some(last) = self.epochs[epoch].sent_packets.back() {
            self.epochs[epoch].largest_acked_packet =
                Some(last.pkt_num + LEAVE_PATH_PKT_GAP);
        }
        let lost = self.detect_lost_packets(epoch, now, trace_id);
        self.epochs[epoch].largest_acked_packet = largest_acked;
        lost
    }
""",
    ),
    (
        "src/recovery/congestion/recovery.rs",
        "impl RecoveryOps for LegacyRecovery {\n",
        """// (@MARK@) Larger than any packet threshold, so that every packet sent on a
// path being left counts as lost (see on_path_change).
const LEAVE_PATH_PKT_GAP: u64 = 1 << 20;

impl RecoveryOps for LegacyRecovery {
""",
    ),
    (
        "src/recovery/gcongestion/recovery.rs",
        """    fn on_path_change(
        &mut self, epoch: packet::Epoch, now: Instant, _trace_id: &str,
    ) -> (usize, usize) {
        let (lost_bytes, lost_packets) =
            self.detect_and_remove_lost_packets(epoch, now);
""",
        """    fn on_path_change(
        &mut self, epoch: packet::Epoch, now: Instant, _trace_id: &str,
    ) -> (usize, usize) {
        // (@MARK@) The connection leaves this path: no acknowledgment will
        // cover its outstanding packets again, so they are all lost now.
        let largest_acked = self.epochs[epoch].largest_acked_packet;
        if let Some(last) = self.epochs[epoch].sent_packets.back() {
            self.epochs[epoch].largest_acked_packet =
                Some(last.pkt_num + (1 << 20));
        }
        let (lost_bytes, lost_packets) =
            self.detect_and_remove_lost_packets(epoch, now);
        self.epochs[epoch].largest_acked_packet = largest_acked;
""",
    ),
]

EDITS += [
    (relative, old, new.replace("@MARK@", MARK))
    for relative, old, new in MIGRATION_EDITS
]


# The path limit (see the docstring).
PATH_LIMIT_EDITS = [
    (
        "src/path.rs",
        "    /// Records the provided `Path` and returns its assigned identifier.\n",
        """    /// (@MARK@) Whether inserting a path now would find no unused path to
    /// evict.
    pub fn full_without_unused(&self) -> bool {
        self.paths.len() >= self.max_concurrent_paths &&
            !self.paths.iter().any(|(_, p)| p.unused())
    }

    /// Records the provided `Path` and returns its assigned identifier.
""",
    ),
    (
        "src/lib.rs",
        """        // Ignore this step if are using zero-length SCID.
        if ids.zero_length_scid() {
            in_scid_pid = None;
        }
""",
        """        // Ignore this step if are using zero-length SCID.
        if ids.zero_length_scid() {
            in_scid_pid = None;
        }

        // (@MARK@) A path evicted earlier may still be named by the CID.
        if in_scid_pid.is_some_and(|pid| self.paths.get(pid).is_err()) {
            in_scid_pid = None;
        }

        // (@MARK@) No room for the new path: give up one the connection left.
        if self.is_server && self.paths.full_without_unused() {
            // A path left before its validation ended (the peer moved on
            // again at once) is given up too, but only if no other is free.
            let left_paths = || {
                self.paths.iter().filter(|(_, p)| {
                    !p.active() &&
                        !p.recovery.has_lost_frames(packet::Epoch::Application)
                })
            };
            let left = left_paths()
                .find(|(_, p)| !p.under_validation())
                .or_else(|| left_paths().next())
                .map(|(pid, _)| pid);

            if let Some(left) = left {
                if let Some(seq) = self.paths.get(left)?.active_dcid_seq {
                    let shared = self.paths.iter().any(|(pid, p)| {
                        pid != left && p.active_dcid_seq == Some(seq)
                    });

                    if !shared && !ids.zero_length_dcid() {
                        let _ = ids.retire_dcid(seq);
                    }
                }

                self.paths.get_mut(left)?.active_dcid_seq = None;

                if in_scid_pid == Some(left) {
                    in_scid_pid = None;
                }
            }
        }
""",
    ),
]

EDITS += [
    (relative, old, new.replace("@MARK@", MARK))
    for relative, old, new in PATH_LIMIT_EDITS
]


# The connection ID accessors (see the module docstring).
CID_FFI_EDITS = [
    (
        "src/ffi.rs",
        """    if let Some(conn_id) = iter.next() {
        let id = conn_id.as_ref();
        *out = id.as_ptr();
        *out_len = id.len();
        return true;
    }
""",
        """    // (@MARK@) The iterator's own element: a clone would be freed on return.
    if let Some(conn_id) = iter.cids.get(iter.index) {
        iter.index += 1;
        let id = conn_id.as_ref();
        *out = id.as_ptr();
        *out_len = id.len();
        return true;
    }
""",
    ),
    (
        "src/ffi.rs",
        """#[no_mangle]
pub extern "C" fn quiche_conn_retired_scid_next(
""",
        """/// (@MARK@) Copies the next retired source connection ID into `out`
/// (`out_cap` bytes, at least 20); false when none is left.
#[no_mangle]
pub extern "C" fn quiche_conn_retired_scid_next_into(
    conn: &mut Connection, out: *mut u8, out_cap: size_t, out_len: &mut size_t,
) -> bool {
    match conn.retired_scid_next() {
        None => false,

        Some(conn_id) => {
            let id = conn_id.as_ref();
            let len = id.len().min(out_cap);
            unsafe { ptr::copy_nonoverlapping(id.as_ptr(), out, len) };
            *out_len = len;
            true
        },
    }
}

#[no_mangle]
pub extern "C" fn quiche_conn_retired_scid_next(
""",
    ),
]

EDITS += [
    (relative, old, new.replace("@MARK@", MARK))
    for relative, old, new in CID_FFI_EDITS
]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    manifest = (root / "Cargo.toml").read_text()
    if 'name = "quiche"' not in manifest or 'version = "0.28.0"' not in manifest:
        sys.exit(f"{root} is not quiche 0.28.0")
    files: dict[str, str] = {}
    for relative, old, new in EDITS:
        text = files.get(relative) or (root / relative).read_text()
        if MARK in text and relative not in files:
            sys.exit(f"{root / relative} is already patched; unpack a fresh copy")
        count = text.count(old)
        if count != 1:
            sys.exit(f"{relative}: expected the text once, found it {count} times:\n{old}")
        files[relative] = text.replace(old, new)
    for relative, text in files.items():
        (root / relative).write_text(text)


if __name__ == "__main__":
    main()
