//! Integer status codes of the C ABI (include/zig_h3.h). Every Zig error
//! that can reach an export is mapped by an exhaustive switch, so adding an
//! error without a code is a compile error, and no Zig error crosses the ABI.

const std = @import("std");
const server_mod = @import("../server.zig");
const router = @import("../h3/router.zig");
const steering = @import("../steering.zig");

pub const Status = enum(c_int) {
    ok = 0,
    invalid_argument = -1,
    abi_mismatch = -2,
    out_of_memory = -3,
    invalid_state = -4,
    config_invalid = -5,
    cc_algorithm_invalid = -6,
    ticket_key_invalid = -7,
    cert_not_found = -10,
    cert_invalid = -11,
    key_not_found = -12,
    key_invalid = -13,
    address_invalid = -20,
    address_in_use = -21,
    address_not_available = -22,
    permission_denied = -23,
    socket_failed = -24,
    route_invalid = -30,
    route_duplicate = -31,
    too_many_routes = -32,
    buffer_too_small = -41,
    malformed_command = -42,
    thread_failed = -50,
    quiche_failed = -51,

    pub fn code(status: Status) c_int {
        return @intFromEnum(status);
    }

    /// Name as in the header (ZIG_H3_ERR_*), for messages.
    pub fn name(status: Status) [:0]const u8 {
        return switch (status) {
            inline else => |s| "ZIG_H3_" ++ comptime upper(if (s == .ok) "ok" else "err_" ++ @tagName(s)),
        };
    }

    pub fn message(status: Status) [:0]const u8 {
        return switch (status) {
            .ok => "success",
            .invalid_argument => "an argument is null or out of range",
            .abi_mismatch => "the config struct is smaller than this library needs (header/library version mismatch)",
            .out_of_memory => "out of memory",
            .invalid_state => "not allowed in the server's current state",
            .config_invalid => "a config value is out of its allowed range",
            .cc_algorithm_invalid => "unknown congestion control algorithm (use reno, cubic or bbr2)",
            .ticket_key_invalid => "the TLS session ticket key must be exactly 48 bytes (96 hex digits)",
            .cert_not_found => "certificate file not found or not readable",
            .cert_invalid => "certificate file is not a valid PEM certificate chain",
            .key_not_found => "private key file not found or not readable",
            .key_invalid => "private key file is not a valid PEM private key matching the certificate",
            .address_invalid => "bind address is not a numeric IPv4 or IPv6 address",
            .address_in_use => "address already in use",
            .address_not_available => "address not available on this host",
            .permission_denied => "permission denied binding the address",
            .socket_failed => "could not create the UDP socket or its event descriptors",
            .route_invalid => "route method or pattern is invalid",
            .route_duplicate => "a route with this method and pattern already exists",
            .too_many_routes => "too many routes",
            .buffer_too_small => "buffer too small for the next event",
            .malformed_command => "malformed command record",
            .thread_failed => "could not spawn the loop thread",
            .quiche_failed => "quiche refused its configuration",
        };
    }
};

fn upper(comptime text: []const u8) []const u8 {
    @setEvalBranchQuota(10_000);
    var out: [text.len]u8 = undefined;
    for (text, 0..) |c, i| out[i] = std.ascii.toUpper(c);
    const final = out;
    return &final;
}

pub fn fromCreateError(err: server_mod.CreateError) Status {
    return switch (err) {
        error.OutOfMemory => .out_of_memory,
        error.QuicheConfigFailed => .quiche_failed,
        error.CertPathMissing, error.CertNotFound => .cert_not_found,
        error.CertInvalid => .cert_invalid,
        error.KeyPathMissing, error.KeyNotFound => .key_not_found,
        error.KeyInvalid => .key_invalid,
        error.BindAddressInvalid => .address_invalid,
        error.CcAlgorithmInvalid => .cc_algorithm_invalid,
        error.TicketKeyInvalid => .ticket_key_invalid,
        error.TicketKeyCallbackFailed => .quiche_failed,
        error.LimitOutOfRange, error.WebTransportNeedsDatagrams, error.WorkersNeedPlaintextCids, error.ApplicationProtosInvalid => .config_invalid,
        error.AddressInUse => .address_in_use,
        error.AddressNotAvailable => .address_not_available,
        error.PermissionDenied => .permission_denied,
        error.SocketFailed => .socket_failed,
    };
}

pub fn fromSteeringError(err: steering.Error) Status {
    return switch (err) {
        error.BindAddressInvalid => .address_invalid,
        error.LimitOutOfRange, error.WorkersNeedPlaintextCids => .config_invalid,
        error.AddressInUse => .address_in_use,
        error.AddressNotAvailable => .address_not_available,
        error.PermissionDenied => .permission_denied,
        error.SocketFailed, error.AttachFailed => .socket_failed,
        error.InvalidArgument => .invalid_argument,
        error.InvalidState => .invalid_state,
    };
}

pub fn fromRouteError(err: (router.Error || error{InvalidState})) Status {
    return switch (err) {
        error.TooManyRoutes => .too_many_routes,
        error.PatternInvalid, error.MethodInvalid => .route_invalid,
        error.DuplicateRoute => .route_duplicate,
        error.OutOfMemory => .out_of_memory,
        error.InvalidState => .invalid_state,
    };
}

test "names match the header's spelling" {
    try std.testing.expectEqualStrings("ZIG_H3_OK", Status.ok.name());
    try std.testing.expectEqualStrings("ZIG_H3_ERR_ADDRESS_IN_USE", Status.address_in_use.name());
}
