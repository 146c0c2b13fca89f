// Route declarations: the native router matches (so 404/405 never cross into
// JS); this side keeps each route's handler and extracts `:param` values.

export const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT"] as const;

export interface CompiledRoute<H> {
  id: number;
  method: string;
  pattern: string;
  handler: H;
  params: (path: string) => Record<string, string>;
}

export function validatePattern(pattern: unknown): string {
  if (typeof pattern !== "string" || !pattern.startsWith("/")) {
    throw new TypeError(`route pattern must be a string starting with "/", got ${JSON.stringify(pattern)}`);
  }
  return pattern;
}

export function validateMethod(method: unknown): string {
  if (typeof method !== "string" || !(method === "*" || /^[A-Z]{1,32}$/.test(method))) {
    throw new TypeError(`route method must be an uppercase HTTP method or "*", got ${JSON.stringify(method)}`);
  }
  return method;
}

/** Returns a function mapping a request path to the pattern's parameters. */
export function paramExtractor(pattern: string): (path: string) => Record<string, string> {
  const segments = pattern.split("/").slice(1);
  const named = segments.map((segment, index) => [segment, index] as const).filter(([s]) => s.startsWith(":"));
  if (named.length === 0) return () => ({});
  return (path) => {
    const query = path.indexOf("?");
    const parts = (query < 0 ? path : path.slice(0, query)).split("/").slice(1);
    const params: Record<string, string> = {};
    for (const [segment, index] of named) {
      const raw = parts[index] ?? "";
      try {
        params[segment.slice(1)] = decodeURIComponent(raw);
      } catch {
        params[segment.slice(1)] = raw;
      }
    }
    return params;
  };
}

/**
 * Whether `path` (without its query) matches `pattern` as the library's
 * router matches it (zig-src/h3/router.zig): exact segments, `:name` for
 * one non-empty segment, a trailing `*` for the rest.
 */
export function patternMatches(pattern: string, path: string): boolean {
  if (!path.startsWith("/")) return false;
  const expected = pattern.split("/").slice(1);
  const actual = path.split("/").slice(1);
  for (let i = 0; i < expected.length; i++) {
    const segment = expected[i]!;
    if (segment === "*" && i === expected.length - 1) return true;
    const part = actual[i];
    if (part === undefined) return false;
    if (segment.startsWith(":")) {
      if (part.length === 0) return false;
    } else if (segment !== part) return false;
  }
  return actual.length === expected.length;
}
