// Message codecs: zRPC moves bytes; a codec turns them into values and back.
import { RpcError } from "./status.ts";

/** Encodes and decodes one message. `decode` throws on bytes that are not a message. */
export interface Codec<T = unknown> {
  /** Carried nowhere on the wire: both ends agree on the codec per service. */
  readonly name: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON in UTF-8: the default. A message that is not JSON is INVALID_ARGUMENT. */
export const jsonCodec: Codec<unknown> = {
  name: "json",
  encode: (value) => {
    const text = JSON.stringify(value);
    if (text === undefined) throw new RpcError("INTERNAL", "a message is not representable as JSON");
    return encoder.encode(text);
  },
  decode: (bytes) => {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new RpcError("INVALID_ARGUMENT", `a message is not JSON: ${(error as Error).message}`);
    }
  },
};

/** Messages as they are: `Uint8Array` in, `Uint8Array` out. */
export const bytesCodec: Codec<Uint8Array> = {
  name: "bytes",
  encode: (value) => {
    if (!(value instanceof Uint8Array)) throw new RpcError("INTERNAL", "the bytes codec sends Uint8Array messages only");
    return value;
  },
  decode: (bytes) => bytes,
};
