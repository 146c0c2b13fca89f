//! Builds libzigquicheh3.so: cargo builds quiche (pinned in
//! third_party/quiche/Cargo.lock, bundled BoringSSL) as a static archive,
//! and Zig links it into one self-contained shared library.
//!
//!   zig build            -> zig-out/lib/libzigquicheh3.so
//!   zig build test       -> Zig unit tests (protocol logic, no sockets)

const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{ .preferred_optimize_mode = .ReleaseSafe });

    const quiche_archive = buildQuiche(b);

    const lib_module = b.createModule(.{
        .root_source_file = b.path("zig-src/lib.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    linkQuiche(lib_module, quiche_archive);
    const lib = b.addLibrary(.{
        .name = "zigquicheh3",
        .linkage = .dynamic,
        .root_module = lib_module,
    });
    b.installArtifact(lib);

    const test_module = b.createModule(.{
        .root_source_file = b.path("zig-src/tests.zig"),
        .target = target,
        .optimize = .Debug,
        .link_libc = true,
    });
    linkQuiche(test_module, quiche_archive);
    const unit_tests = b.addTest(.{ .root_module = test_module });
    const run_tests = b.addRunArtifact(unit_tests);
    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&run_tests.step);
}

const QuicheArchive = struct {
    step: *std.Build.Step,
    path: std.Build.LazyPath,
};

/// cargo keeps its own incremental state, so the step always runs and costs
/// well under a second when nothing changed.
fn buildQuiche(b: *std.Build) QuicheArchive {
    const cargo = b.addSystemCommand(&.{ "cargo", "build", "--release", "--locked", "--quiet" });
    cargo.addArg("--manifest-path");
    cargo.addFileArg(b.path("third_party/quiche/Cargo.toml"));
    cargo.has_side_effects = true;
    return .{
        .step = &cargo.step,
        .path = b.path("third_party/quiche/target/release/libzigquicheh3_quiche.a"),
    };
}

fn linkQuiche(module: *std.Build.Module, archive: QuicheArchive) void {
    module.addObjectFile(archive.path);
    // Rust's std (inside the archive) needs these from the system.
    module.linkSystemLibrary("pthread", .{});
    module.linkSystemLibrary("dl", .{});
    module.linkSystemLibrary("m", .{});
    module.linkSystemLibrary("gcc_s", .{});
    _ = archive.step;
}
