// zRPC frames without a network: the layout byte for byte, a stream cut at
// every byte, and each kind of malformed input refused with its status.
import { describe, expect, test } from "bun:test";
import { decodeHead, decodeStatus, encodeFrame, encodeHead, encodeStatus, FrameDecoder, FrameType, RpcError } from "../ts/rpc/client-index.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

function rpcError(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error("no error thrown");
}

describe("the frame layout", () => {
  test("type, 4-byte big-endian length, payload", () => {
    expect(encodeFrame(FrameType.message, bytes(7, 8, 9))).toEqual(bytes(0x00, 0, 0, 0, 3, 7, 8, 9));
    expect(encodeFrame(FrameType.status, bytes())).toEqual(bytes(0x02, 0, 0, 0, 0));
  });

  test("HEADERS: path, timeout, metadata", () => {
    const payload = encodeHead({ path: "a.B/c", timeoutMs: 258, metadata: { k: "v" } });
    expect(payload).toEqual(bytes(0, 5, ...new TextEncoder().encode("a.B/c"), 0, 0, 1, 2, 0, 1, 0, 1, 0x6b, 0, 1, 0x76));
    expect(decodeHead(payload)).toEqual({ path: "a.B/c", timeoutMs: 258, metadata: { k: "v" } });
  });

  test("STATUS: code, message, metadata (UTF-8)", () => {
    const status = { code: 4, message: "zu spät", metadata: { "retry-after-ms": "50", note: "ü" } };
    expect({ ...decodeStatus(encodeStatus(status)) }).toEqual(status);
  });

  test("metadata names are lower-case tokens", () => {
    expect(rpcError(() => encodeHead({ path: "a/b", timeoutMs: 0, metadata: { "Bad Name": "x" } })).code).toBe("INVALID_ARGUMENT");
  });
});

describe("decoding a stream", () => {
  const stream = [
    encodeFrame(FrameType.headers, encodeHead({ path: "s/m", timeoutMs: 0, metadata: {} })),
    encodeFrame(FrameType.message, new TextEncoder().encode('{"n":1}')),
    encodeFrame(FrameType.message, bytes()),
    encodeFrame(FrameType.status, encodeStatus({ code: 0, message: "", metadata: {} })),
  ];
  const whole = new Uint8Array(stream.reduce((n, f) => n + f.byteLength, 0));
  stream.reduce((offset, f) => (whole.set(f, offset), offset + f.byteLength), 0);

  test("cut at every byte, the same four frames come out", () => {
    for (let cut = 0; cut <= whole.byteLength; cut++) {
      const decoder = new FrameDecoder(1024);
      const frames = [...decoder.push(whole.subarray(0, cut)), ...decoder.push(whole.subarray(cut))];
      decoder.end();
      expect(frames.map((f) => f.type)).toEqual([FrameType.headers, FrameType.message, FrameType.message, FrameType.status]);
      expect(new TextDecoder().decode(frames[1]!.payload)).toBe('{"n":1}');
      expect(frames[2]!.payload.byteLength).toBe(0);
    }
  });

  test("one byte at a time", () => {
    const decoder = new FrameDecoder(1024);
    const frames = [];
    for (const byte of whole) frames.push(...decoder.push(bytes(byte)));
    decoder.end();
    expect(frames).toHaveLength(4);
    expect(decodeHead(frames[0]!.payload).path).toBe("s/m");
  });

  test("a length past the limit is refused at the header, before its payload arrives", () => {
    const decoder = new FrameDecoder(100);
    const error = rpcError(() => decoder.push(bytes(0x00, 0, 0, 0, 101)));
    expect(error.code).toBe("RESOURCE_EXHAUSTED");
    expect(error.status).toBe(8);
    expect(error.message).toContain("101");
  });

  test("a stream that ends inside a frame is a truncated frame", () => {
    const decoder = new FrameDecoder(100);
    expect(decoder.push(bytes(0x00, 0, 0, 0, 4, 1, 2))).toEqual([]);
    const error = rpcError(() => decoder.end());
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("truncated frame");
  });

  test("an unknown frame type is refused", () => {
    const error = rpcError(() => new FrameDecoder(100).push(bytes(0x07, 0, 0, 0, 0)));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("0x07");
  });

  test("a HEADERS payload whose fields run past it, or with bytes left over, or not UTF-8, is malformed", () => {
    expect(rpcError(() => decodeHead(bytes(0, 9, 0x61))).message).toContain("run past");
    const good = encodeHead({ path: "a/b", timeoutMs: 0, metadata: {} });
    expect(rpcError(() => decodeHead(new Uint8Array([...good, 0]))).message).toContain("past its fields");
    expect(rpcError(() => decodeHead(bytes(0, 1, 0xff, 0, 0, 0, 0, 0, 0))).message).toContain("UTF-8");
  });

  test("status numbers map to gRPC's names; unknown ones read as UNKNOWN", () => {
    expect(RpcError.fromStatus(12, "x").code).toBe("UNIMPLEMENTED");
    expect(RpcError.fromStatus(99, "x").code).toBe("UNKNOWN");
    expect(new RpcError("DEADLINE_EXCEEDED", "late").status).toBe(4);
  });
});
