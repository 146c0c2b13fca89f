/* An idle-connection server for memory measurements (bench/idle-rss.sh,
 * heaptrack): the library through the C ABI with bench/servers/ours.ts's
 * configuration (datagrams on, queues of 1024, max_connections 16384), no
 * JavaScript. Prints "ready <port>", drains events until SIGTERM. A few
 * environment switches try quiche settings: CC=<algorithm>, NODGRAM=1,
 * SMALL=1 (64 KiB connection / 16 KiB stream windows, 8 bidi and 4 uni
 * streams), NOGREASE=1. SIGUSR1 prints malloc_info (every arena) on stderr.
 *   cc -std=c11 -D_DEFAULT_SOURCE -O1 -g -I include bench/idle_server.c -o /tmp/idle_server \
 *     -L zig-out/lib -lzigquicheh3 -Wl,-rpath,$PWD/zig-out/lib
 *   ./bench/idle-rss.sh c /tmp/idle_server certs/dev/cert.pem certs/dev/key.pem */
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "zig_h3.h"

static volatile sig_atomic_t stop, report;
static void on_term(int signal_number) { (void)signal_number, stop = 1; }
static void on_usr1(int signal_number) { (void)signal_number, report = 1; }

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    zig_h3_config config;
    zig_h3_config_init(&config);
    config.cert_path = argv[1];
    config.key_path = argv[2];
    config.port = 0;
    config.enable_dgram = getenv("NODGRAM") ? 0 : 1;
    config.dgram_recv_queue_len = 1024;
    config.dgram_send_queue_len = 1024;
    config.max_connections = 16384;
    config.max_requests = 65536;
    if (getenv("CC")) config.cc_algorithm = getenv("CC");
    if (getenv("NOGREASE")) config.grease = 0;
    if (getenv("SMALL")) {
        config.initial_max_data = 64 * 1024;
        config.initial_max_stream_data_bidi_local = 16 * 1024;
        config.initial_max_stream_data_bidi_remote = 16 * 1024;
        config.initial_max_stream_data_uni = 16 * 1024;
        config.initial_max_streams_bidi = 8;
        config.initial_max_streams_uni = 4;
    }
    zig_h3_server *server = NULL;
    if (zig_h3_server_new(&config, &server) != ZIG_H3_OK || zig_h3_server_start(server) != ZIG_H3_OK) return 1;
    signal(SIGTERM, on_term);
    signal(SIGUSR1, on_usr1);
    printf("ready %d\n", zig_h3_server_port(server));
    fflush(stdout);
    static uint8_t events[1 << 20];
    struct pollfd doorbell = {.fd = zig_h3_server_event_fd(server), .events = POLLIN};
    while (!stop) {
        if (report) report = 0, malloc_info(0, stderr), fflush(stderr);
        if (poll(&doorbell, 1, 200) > 0) {
            uint64_t counter;
            if (read(doorbell.fd, &counter, sizeof counter) < 0) continue;
        }
        while (zig_h3_poll(server, events, sizeof events) > 0) {
        }
    }
    zig_h3_server_stop(server);
    zig_h3_server_free(server);
    return 0;
}
