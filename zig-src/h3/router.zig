//! Route table: method plus path pattern to a route id. Patterns are exact
//! segments, `:name` (one segment) and a trailing `*` (the rest of the path).
//! Matching runs on the loop thread for every request, takes no allocation,
//! and tells a 404 (no pattern matched) from a 405 (pattern matched, method
//! did not). Extracting parameter values is left to the side that owns the
//! handler, which has the pattern.

const std = @import("std");
const assert = std.debug.assert;

pub const max_routes = 1024;
pub const max_pattern_len = 1024;
pub const max_method_len = 32;

/// A ready-made response the loop sends without involving the application.
/// `head` is encoded like a HEAD command's payload: u16 status, then a
/// u32-counted field block (queue/wire.zig).
pub const StaticResponse = struct {
    head: []const u8,
    body: []const u8,
};

/// A C function that answers a request synchronously on the loop thread.
/// `request` and `response` are only valid during the call (abi/native.zig).
pub const NativeHandler = struct {
    function: *const fn (user: ?*anyopaque, request: *const anyopaque, response: *anyopaque) callconv(.c) void,
    user: ?*anyopaque,
};

/// Who answers a route. The slices of `static` are owned by the router and
/// stable until it is freed, so a copied Target stays valid after the lock
/// is released even if more routes are added meanwhile.
pub const Target = union(enum) {
    app,
    static: StaticResponse,
    native: NativeHandler,
};

pub const Route = struct {
    /// Empty matches any method.
    method: []const u8,
    pattern: []const u8,
    id: u32,
    target: Target = .app,
};

pub const Match = union(enum) {
    found: struct { id: u32, target: Target },
    method_not_allowed,
    not_found,
};

pub const Error = error{ TooManyRoutes, PatternInvalid, MethodInvalid, DuplicateRoute, OutOfMemory };

pub const Router = struct {
    routes: std.ArrayListUnmanaged(Route) = .empty,

    pub fn deinit(router: *Router, allocator: std.mem.Allocator) void {
        for (router.routes.items) |route| {
            allocator.free(route.method);
            allocator.free(route.pattern);
            if (route.target == .static) {
                allocator.free(route.target.static.head);
                allocator.free(route.target.static.body);
            }
        }
        router.routes.deinit(allocator);
        router.* = undefined;
    }

    /// Copies `method` and `pattern` (and a static response's bytes).
    /// `method` "*" or "" means any method.
    pub fn add(router: *Router, allocator: std.mem.Allocator, method: []const u8, pattern: []const u8, id: u32) Error!void {
        return router.addTarget(allocator, method, pattern, id, .app);
    }

    pub fn addTarget(router: *Router, allocator: std.mem.Allocator, method: []const u8, pattern: []const u8, id: u32, target: Target) Error!void {
        if (router.routes.items.len >= max_routes) return error.TooManyRoutes;
        try validatePattern(pattern);
        const any_method = method.len == 0 or std.mem.eql(u8, method, "*");
        if (!any_method) try validateMethod(method);
        const stored_method = if (any_method) "" else method;
        for (router.routes.items) |route| {
            if (std.mem.eql(u8, route.method, stored_method) and std.mem.eql(u8, route.pattern, pattern))
                return error.DuplicateRoute;
        }
        const method_copy = try allocator.dupe(u8, stored_method);
        errdefer allocator.free(method_copy);
        const pattern_copy = try allocator.dupe(u8, pattern);
        errdefer allocator.free(pattern_copy);
        var owned_target = target;
        if (target == .static) {
            const head = try allocator.dupe(u8, target.static.head);
            errdefer allocator.free(head);
            owned_target = .{ .static = .{ .head = head, .body = try allocator.dupe(u8, target.static.body) } };
        }
        errdefer if (owned_target == .static) {
            allocator.free(owned_target.static.head);
            allocator.free(owned_target.static.body);
        };
        try router.routes.append(allocator, .{ .method = method_copy, .pattern = pattern_copy, .id = id, .target = owned_target });
    }

    /// First registered route wins, so registration order is precedence,
    /// except that the bare catch-all "/*" (a `fetch` fallback) only matches
    /// when no other route does: routes added later are not shadowed by it,
    /// and a method a matching route lacks falls through to it (as Bun.serve
    /// falls back to `fetch`); without a catch-all that is a 405.
    /// `path` may carry a query string, which is ignored.
    pub fn match(router: *const Router, method: []const u8, path: []const u8) Match {
        const path_only = if (std.mem.indexOfScalar(u8, path, '?')) |q| path[0..q] else path;
        var path_matched = false;
        for ([_]bool{ false, true }) |catch_all_pass| {
            for (router.routes.items) |route| {
                if (isCatchAll(route.pattern) != catch_all_pass) continue;
                if (!patternMatches(route.pattern, path_only)) continue;
                const hit: Match = .{ .found = .{ .id = route.id, .target = route.target } };
                // Any-method routes do not take CONNECT: a tunnel or a
                // WebTransport session must be asked for by name.
                const any_method = route.method.len == 0 and !std.mem.eql(u8, method, "CONNECT");
                if (any_method or std.mem.eql(u8, route.method, method)) return hit;
                // HEAD is answered by a GET route, as in Bun.serve.
                if (std.mem.eql(u8, method, "HEAD") and std.mem.eql(u8, route.method, "GET")) return hit;
                path_matched = true;
            }
        }
        return if (path_matched) .method_not_allowed else .not_found;
    }
};

fn isCatchAll(pattern: []const u8) bool {
    return std.mem.eql(u8, pattern, "/*");
}

fn validateMethod(method: []const u8) Error!void {
    if (method.len > max_method_len) return error.MethodInvalid;
    for (method) |c| if (!std.ascii.isUpper(c)) return error.MethodInvalid;
}

fn validatePattern(pattern: []const u8) Error!void {
    if (pattern.len == 0 or pattern.len > max_pattern_len or pattern[0] != '/') return error.PatternInvalid;
    var segments = std.mem.splitScalar(u8, pattern[1..], '/');
    while (segments.next()) |segment| {
        if (std.mem.eql(u8, segment, "*")) {
            if (segments.peek() != null) return error.PatternInvalid;
            continue;
        }
        if (segment.len > 0 and segment[0] == ':' and segment.len == 1) return error.PatternInvalid;
        for (segment) |c| if (c == '?' or c == '#' or c == '*' or c <= ' ' or c == 0x7f) return error.PatternInvalid;
    }
}

fn patternMatches(pattern: []const u8, path: []const u8) bool {
    if (path.len == 0 or path[0] != '/') return false;
    var pattern_segments = std.mem.splitScalar(u8, pattern[1..], '/');
    var path_segments = std.mem.splitScalar(u8, path[1..], '/');
    while (pattern_segments.next()) |expected| {
        if (std.mem.eql(u8, expected, "*")) return true;
        const actual = path_segments.next() orelse return false;
        if (expected.len > 0 and expected[0] == ':') {
            if (actual.len == 0) return false;
        } else if (!std.mem.eql(u8, expected, actual)) return false;
    }
    return path_segments.next() == null;
}

const testing = std.testing;

fn found(id: u32) Match {
    return .{ .found = .{ .id = id, .target = .app } };
}

test "static targets are copied and owned" {
    var router = Router{};
    defer router.deinit(testing.allocator);
    var head = [_]u8{ 200, 0, 0, 0, 0, 0 };
    var body = [_]u8{ 'o', 'k' };
    try router.addTarget(testing.allocator, "GET", "/health", 4, .{ .static = .{ .head = &head, .body = &body } });
    body[0] = 'x';
    const match = router.match("GET", "/health");
    try testing.expectEqual(@as(u32, 4), match.found.id);
    try testing.expectEqualStrings("ok", match.found.target.static.body);
}

test "exact paths" {
    var router = Router{};
    defer router.deinit(testing.allocator);
    try router.add(testing.allocator, "GET", "/hello", 1);
    try router.add(testing.allocator, "POST", "/hello", 2);
    try router.add(testing.allocator, "GET", "/", 3);
    try testing.expectEqual(found(1), router.match("GET", "/hello"));
    try testing.expectEqual(found(1), router.match("GET", "/hello?x=1"));
    try testing.expectEqual(found(1), router.match("HEAD", "/hello"));
    try testing.expectEqual(found(2), router.match("POST", "/hello"));
    try testing.expectEqual(found(3), router.match("GET", "/"));
    try testing.expectEqual(Match.method_not_allowed, router.match("DELETE", "/hello"));
    try testing.expectEqual(Match.not_found, router.match("GET", "/hello/"));
    try testing.expectEqual(Match.not_found, router.match("GET", "/hell"));
    try testing.expectEqual(Match.not_found, router.match("GET", "/hello/x"));
    try testing.expectEqual(Match.not_found, router.match("GET", "hello"));
    try testing.expectEqual(Match.not_found, router.match("GET", ""));
}

test "parameters and wildcards" {
    var router = Router{};
    defer router.deinit(testing.allocator);
    try router.add(testing.allocator, "GET", "/users/:id", 1);
    try router.add(testing.allocator, "*", "/files/*", 2);
    try router.add(testing.allocator, "GET", "/users/:id/posts/:post", 3);
    try testing.expectEqual(found(1), router.match("GET", "/users/42"));
    try testing.expectEqual(Match.not_found, router.match("GET", "/users/"));
    try testing.expectEqual(found(3), router.match("GET", "/users/42/posts/7"));
    try testing.expectEqual(found(2), router.match("PUT", "/files/a/b/c"));
    try testing.expectEqual(found(2), router.match("GET", "/files/"));
    try testing.expectEqual(Match.method_not_allowed, router.match("CONNECT", "/files/x"));
}

test "the catch-all /* only matches when nothing else does" {
    var router = Router{};
    defer router.deinit(testing.allocator);
    try router.add(testing.allocator, "*", "/*", 1);
    try router.add(testing.allocator, "GET", "/hello", 2);
    try testing.expectEqual(found(2), router.match("GET", "/hello"));
    try testing.expectEqual(found(1), router.match("GET", "/other"));
    try testing.expectEqual(found(1), router.match("POST", "/hello/x"));
    // A method the route lacks falls through to the catch-all, as in Bun.serve...
    try testing.expectEqual(found(1), router.match("POST", "/hello"));
    // ...which does not take CONNECT: with no CONNECT route that is a 405.
    try testing.expectEqual(Match.method_not_allowed, router.match("CONNECT", "/hello"));
}

test "without a catch-all a method mismatch is a 405" {
    var router = Router{};
    defer router.deinit(testing.allocator);
    try router.add(testing.allocator, "GET", "/hello", 1);
    try router.add(testing.allocator, "GET", "/*", 2);
    try testing.expectEqual(Match.method_not_allowed, router.match("POST", "/hello"));
    try testing.expectEqual(Match.method_not_allowed, router.match("POST", "/other"));
}

test "invalid registrations are refused" {
    var router = Router{};
    defer router.deinit(testing.allocator);
    try testing.expectError(error.PatternInvalid, router.add(testing.allocator, "GET", "hello", 1));
    try testing.expectError(error.PatternInvalid, router.add(testing.allocator, "GET", "/a/*/b", 1));
    try testing.expectError(error.PatternInvalid, router.add(testing.allocator, "GET", "/a/:", 1));
    try testing.expectError(error.PatternInvalid, router.add(testing.allocator, "GET", "/a b", 1));
    try testing.expectError(error.MethodInvalid, router.add(testing.allocator, "get", "/a", 1));
    try router.add(testing.allocator, "GET", "/a", 1);
    try testing.expectError(error.DuplicateRoute, router.add(testing.allocator, "GET", "/a", 2));
}
