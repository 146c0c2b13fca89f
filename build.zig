//! Builds libzigquicheh3.so: cargo builds quiche (pinned in
//! third_party/quiche/Cargo.lock, bundled BoringSSL) as a static archive,
//! and Zig links it into one self-contained shared library.
//!
//!   zig build            -> zig-out/lib/libzigquicheh3.so
//!   zig build test       -> Zig unit tests (protocol logic, no sockets)

const std = @import("std");
const builtin = @import("builtin");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{ .default_target = portableTarget() });
    const optimize = b.standardOptimizeOption(.{});

    const quiche_archive = buildQuiche(b);

    const lib_module = b.createModule(.{
        .root_source_file = b.path("zig-src/lib.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .pic = true,
    });
    const object = b.addObject(.{ .name = "zigquicheh3", .root_module = lib_module });
    object.bundle_compiler_rt = true;

    // The system linker makes the shared library because it honours the
    // version script: only zig_h3_* is exported, and quiche, BoringSSL and
    // Rust's std stay local so they can never interpose on (or be
    // interposed by) the same libraries in the host process. Bun itself
    // bundles BoringSSL. (No --gc-sections: combined with hidden symbols it
    // drops part of the TLS segment and glibc then aborts in pthread_create.)
    const link = b.addSystemCommand(&.{ "cc", "-shared", "-Wl,--exclude-libs,ALL", "-Wl,-z,now", "-Wl,-z,noexecstack", "-o" });
    const shared_library = link.addOutputFileArg("libzigquicheh3.so");
    link.addFileArg(object.getEmittedBin());
    link.addFileArg(quiche_archive.path);
    link.addPrefixedFileArg("-Wl,--version-script=", b.path("zig-src/abi/exports.map"));
    link.addArgs(&.{ "-lpthread", "-ldl", "-lm", "-lgcc_s" });
    link.step.dependOn(quiche_archive.step);
    b.getInstallStep().dependOn(&b.addInstallLibFile(shared_library, "libzigquicheh3.so").step);

    // bench/loadgen: the native HTTP/3 load generator (quiche's client API).
    const loadgen_module = b.createModule(.{
        .root_source_file = b.path("bench/loadgen/h3load.zig"),
        .target = target,
        .optimize = .ReleaseFast,
        .link_libc = true,
    });
    loadgen_module.addImport("quiche", b.createModule(.{ .root_source_file = b.path("zig-src/ffi/quiche.zig") }));
    loadgen_module.addImport("batch", b.createModule(.{ .root_source_file = b.path("zig-src/net/batch.zig") }));
    linkQuiche(loadgen_module, quiche_archive);
    const loadgen = b.addExecutable(.{ .name = "h3load", .root_module = loadgen_module });
    loadgen.step.dependOn(quiche_archive.step);
    const loadgen_step = b.step("loadgen", "Build the h3load load generator (zig-out/bin/h3load)");
    loadgen_step.dependOn(&b.addInstallArtifact(loadgen, .{}).step);

    const test_module = b.createModule(.{
        .root_source_file = b.path("zig-src/tests.zig"),
        .target = target,
        .optimize = .Debug,
        .link_libc = true,
    });
    linkQuiche(test_module, quiche_archive);
    const unit_tests = b.addTest(.{ .root_module = test_module });
    unit_tests.step.dependOn(quiche_archive.step);
    const run_tests = b.addRunArtifact(unit_tests);
    const test_step = b.step("test", "Run the Zig unit tests (and check the generated ABI constants)");
    test_step.dependOn(&run_tests.step);

    // The ABI's constants for C (include/zig_h3.h) and TypeScript
    // (ts/abi.generated.ts), generated from their Zig declarations.
    const generator = b.addExecutable(.{ .name = "generate-abi", .root_module = b.createModule(.{
        .root_source_file = b.path("zig-src/generate.zig"),
        .target = b.graph.host,
        .optimize = .Debug,
        .link_libc = true,
    }) });
    const generate = b.addRunArtifact(generator);
    generate.setCwd(b.path("."));
    generate.has_side_effects = true;
    b.step("gen", "Rewrite ts/abi.generated.ts and the generated block of include/zig_h3.h").dependOn(&generate.step);
    const generate_check = b.addRunArtifact(generator);
    generate_check.addArg("check");
    generate_check.setCwd(b.path("."));
    generate_check.has_side_effects = true;
    const check_step = b.step("gen-check", "Fail if the generated ABI constants are out of date");
    check_step.dependOn(&generate_check.step);
    test_step.dependOn(&generate_check.step);

    // QPACK interop against other implementations' encodings (qpackers/qifs),
    // which are not in this repository: QPACK_QIFS_DIR=<checkout> zig build qifs
    const qifs_tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("zig-src/h3/qpack/qifs_interop_test.zig"),
        .target = target,
        .optimize = optimize,
    }) });
    const qifs_step = b.step("qifs", "Decode the qpackers/qifs interop files (QPACK_QIFS_DIR)");
    qifs_step.dependOn(&b.addRunArtifact(qifs_tests).step);
}

/// The CPU the library is compiled for unless `-Dcpu` says otherwise. Zig's
/// default is the build machine's own CPU, so a library built on an Intel CPU
/// with AVX-512 carried AVX-512 instructions in our own code: it could not
/// run on an older CPU, and valgrind 3.19 (which decodes no AVX-512) stopped
/// on them with "Illegal instruction". x86-64-v2 (SSE4.2, POPCNT) runs on
/// every x86-64 server of the last fifteen years; quiche (Rust, built by
/// cargo for the baseline) and BoringSSL (which picks its vector code at run
/// time) are unaffected. `-Dcpu=native` gives a build for this machine only.
fn portableTarget() std.Target.Query {
    if (builtin.cpu.arch != .x86_64) return .{};
    return .{ .cpu_model = .{ .explicit = &std.Target.x86.cpu.x86_64_v2 } };
}

const QuicheArchive = struct {
    step: *std.Build.Step,
    path: std.Build.LazyPath,
};

/// scripts/build-quiche.sh: quiche from the Rust crate registry with our fix applied
/// (third_party/quiche/patch.py), built by cargo. cargo keeps its own
/// incremental state, so the step always runs and costs well under a
/// second when nothing changed.
fn buildQuiche(b: *std.Build) QuicheArchive {
    const build_quiche = b.addSystemCommand(&.{"bash"});
    build_quiche.addFileArg(b.path("scripts/build-quiche.sh"));
    build_quiche.has_side_effects = true;
    return .{
        .step = &build_quiche.step,
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
}
