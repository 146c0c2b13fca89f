// Preloaded by bunfig.toml before every test file. bunfig has no key for the
// default per-test timeout, so it is set here: end-to-end tests start servers
// and real clients, which on a loaded 2-core machine can take tens of seconds.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
