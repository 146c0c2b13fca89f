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
        f"    /// ({MARK}) A frame carrying the FIN was acknowledged.\n"
        "    pub fn ack_fin(&mut self) {\n"
        "        self.fin_acked = true;\n"
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
