export { serve, Server, STATS_FIELDS, type ServeOptions, type Handler, type H3Request, type RouteValue } from "./server.ts";
export { ZigH3Error } from "./errors.ts";
export { version } from "./loader.ts";
