// What a handler that failed or ran out of time looks like to the
// application: the error handed to the `error` hook on a timeout, and the
// `development: true` error page.

/** The error a handler timeout reports: `code` "ERR_HANDLER_TIMEOUT". */
export class HandlerTimeoutError extends Error {
  /** Always "ERR_HANDLER_TIMEOUT". */
  readonly code = "ERR_HANDLER_TIMEOUT";
  /** The request that timed out. */
  readonly request: { method: string; path: string };

  constructor(method: string, path: string, timeoutMs: number) {
    super(`handler for ${method} ${path} did not respond within ${timeoutMs} ms: sent 504`);
    this.name = "HandlerTimeoutError";
    this.request = { method, path };
  }
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** The `development: true` page for a handler that threw: the error, its stack and the request, escaped. */
export function errorPage(error: unknown, method: string, path: string): string {
  const title = error instanceof Error ? `${error.name}: ${error.message}` : `Thrown: ${Bun.inspect(error)}`;
  const stack = error instanceof Error && error.stack ? error.stack : Bun.inspect(error);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>500 ${escapeHtml(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head>
<body><h1>500 Internal Server Error</h1>
<p>The handler for <code>${escapeHtml(method)} ${escapeHtml(path)}</code> threw (this page is shown because the server was started with <code>development: true</code>).</p>
<h2>${escapeHtml(title)}</h2>
<pre>${escapeHtml(stack)}</pre>
</body></html>
`;
}
