//! epoll set of the loop thread plus its wake-up eventfd. Any thread may call
//! `wake`; only the loop thread waits.

const std = @import("std");
const posix = std.posix;
const linux = std.os.linux;

pub const Poller = struct {
    epoll_fd: i32,
    wake_fd: i32,

    pub const wake_tag: u64 = 0;
    pub const max_events = 16;

    pub fn init() !Poller {
        const epoll_fd = try posix.epoll_create1(linux.EPOLL.CLOEXEC);
        errdefer posix.close(epoll_fd);
        const wake_fd = try posix.eventfd(0, linux.EFD.NONBLOCK | linux.EFD.CLOEXEC);
        errdefer posix.close(wake_fd);
        var poller = Poller{ .epoll_fd = epoll_fd, .wake_fd = wake_fd };
        try poller.watch(wake_fd, wake_tag);
        return poller;
    }

    pub fn deinit(poller: *Poller) void {
        posix.close(poller.wake_fd);
        posix.close(poller.epoll_fd);
        poller.* = undefined;
    }

    pub fn watch(poller: *Poller, fd: i32, tag: u64) !void {
        var event = linux.epoll_event{ .events = linux.EPOLL.IN, .data = .{ .u64 = tag } };
        try posix.epoll_ctl(poller.epoll_fd, linux.EPOLL.CTL_ADD, fd, &event);
    }

    /// Also wakes for writability of `fd` (when its send buffer was full),
    /// or stops doing so.
    pub fn watchWritable(poller: *Poller, fd: i32, tag: u64, writable: bool) void {
        const interest: u32 = if (writable) linux.EPOLL.IN | linux.EPOLL.OUT else linux.EPOLL.IN;
        var event = linux.epoll_event{ .events = interest, .data = .{ .u64 = tag } };
        posix.epoll_ctl(poller.epoll_fd, linux.EPOLL.CTL_MOD, fd, &event) catch {};
    }

    /// Waits up to `timeout_ms` (-1 forever) and returns the ready tags.
    pub fn wait(poller: *Poller, events: *[max_events]linux.epoll_event, timeout_ms: i32) []linux.epoll_event {
        const count = posix.epoll_wait(poller.epoll_fd, events, timeout_ms);
        return events[0..count];
    }

    pub fn wake(poller: *const Poller) void {
        signalEventFd(poller.wake_fd);
    }

    pub fn consumeWake(poller: *const Poller) void {
        var value: u64 = 0;
        _ = posix.read(poller.wake_fd, std.mem.asBytes(&value)) catch {};
    }
};

/// Adds one to an eventfd counter. A full counter (never reached in
/// practice) already means "wake", so the error is ignored.
pub fn signalEventFd(fd: i32) void {
    const one: u64 = 1;
    _ = linux.write(fd, std.mem.asBytes(&one), @sizeOf(u64));
}
