/* Drives the C ABI the way an embedding application does, for leak
 * checking (bench/leaks.sh runs it under valgrind): a native route, a
 * static route, and application routes answered through the event and
 * command queues (zig_h3_poll / zig_h3_submit), until stdin closes; then
 * stop and free. Prints its port, then at exit how many requests it
 * answered through the queues. */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "zig_h3.h"

static void native_hello(void *user, const zig_h3_request *request, zig_h3_response *response) {
    (void)user, (void)request;
    zig_h3_field fields[] = {{(const uint8_t *)"content-type", 12, (const uint8_t *)"text/plain", 10}};
    zig_h3_response_send(response, 200, fields, 1, (const uint8_t *)"native", 6);
}

static size_t put_u16(uint8_t *at, uint16_t v) { at[0] = v & 0xff; at[1] = v >> 8; return 2; }
static size_t put_u32(uint8_t *at, uint32_t v) { for (int i = 0; i < 4; i++) at[i] = (v >> (8 * i)) & 0xff; return 4; }
static size_t put_u64(uint8_t *at, uint64_t v) { for (int i = 0; i < 8; i++) at[i] = (v >> (8 * i)) & 0xff; return 8; }
static uint32_t get_u32(const uint8_t *at) { return at[0] | at[1] << 8 | at[2] << 16 | (uint32_t)at[3] << 24; }
static uint64_t get_u64(const uint8_t *at) { return (uint64_t)get_u32(at) | (uint64_t)get_u32(at + 4) << 32; }
static size_t padded(size_t n) { return (n + 7) & ~(size_t)7; }

/* HEAD (one field) + BODY with FIN for request `id`, appended at `out`. */
static size_t respond(uint8_t *out, uint64_t id) {
    static const char name[] = "content-type", value[] = "text/plain", body[] = "queued";
    size_t head_len = 16 + 4 + 4 + strlen(name) + strlen(value), at = 0;
    put_u32(out, (uint32_t)head_len);
    out[4] = ZIG_H3_COMMAND_HEAD, out[5] = 0;
    put_u16(out + 6, 200);
    put_u64(out + 8, id);
    at = 16;
    at += put_u32(out + at, 1);
    at += put_u16(out + at, (uint16_t)strlen(name));
    at += put_u16(out + at, (uint16_t)strlen(value));
    memcpy(out + at, name, strlen(name)), at += strlen(name);
    memcpy(out + at, value, strlen(value)), at += strlen(value);
    at = padded(at);
    size_t body_len = 16 + strlen(body);
    put_u32(out + at, (uint32_t)body_len);
    out[at + 4] = ZIG_H3_COMMAND_BODY, out[at + 5] = ZIG_H3_FLAG_FIN;
    put_u16(out + at + 6, 0);
    put_u64(out + at + 8, id);
    memcpy(out + at + 16, body, strlen(body));
    return at + padded(body_len);
}

/* Hands every command over, retrying while the command queue is full. */
static size_t submit_all(zig_h3_server *server, const uint8_t *commands, size_t length) {
    size_t offset = 0;
    while (offset < length) {
        int64_t taken = zig_h3_submit(server, commands + offset, length - offset);
        if (taken < 0) break;
        if (taken == 0) usleep(100);
        offset += (size_t)taken;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    zig_h3_config config;
    zig_h3_config_init(&config);
    config.cert_path = argv[1];
    config.key_path = argv[2];
    config.port = 0;
    zig_h3_server *server = NULL;
    if (zig_h3_server_new(&config, &server) != ZIG_H3_OK) return 1;
    zig_h3_field fields[] = {{(const uint8_t *)"x-static", 8, (const uint8_t *)"yes", 3}};
    if (zig_h3_route_native(server, "GET", "/native", 1, native_hello, NULL) != ZIG_H3_OK ||
        zig_h3_route_static(server, "GET", "/static", 2, 200, fields, 1, (const uint8_t *)"static", 6) != ZIG_H3_OK ||
        zig_h3_route(server, "GET", "/queued", 3) != ZIG_H3_OK || zig_h3_server_start(server) != ZIG_H3_OK) {
        return 1;
    }
    printf("%d\n", zig_h3_server_port(server));
    fflush(stdout);

    static uint8_t events[1 << 20], commands[1 << 20];
    unsigned long answered = 0;
    struct pollfd fds[2] = {{.fd = zig_h3_server_event_fd(server), .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, 1000) < 0) break;
        if (fds[1].revents) {
            char line[64];
            if (read(0, line, sizeof line) <= 0) break;
        }
        if (fds[0].revents) {
            uint64_t counter;
            if (read(fds[0].fd, &counter, sizeof counter) < 0) continue;
        }
        int64_t got;
        while ((got = zig_h3_poll(server, events, sizeof events)) > 0) {
            size_t queued = 0;
            for (size_t at = 0; at < (size_t)got; at += padded(get_u32(events + at))) {
                if (events[at + 4] != ZIG_H3_EVENT_REQUEST) continue;
                queued += respond(commands + queued, get_u64(events + at + 8));
                answered++;
                if (queued > sizeof commands - 512) queued = submit_all(server, commands, queued);
            }
            submit_all(server, commands, queued);
        }
    }
    zig_h3_server_stop(server);
    zig_h3_server_free(server);
    printf("answered %lu\n", answered);
    return 0;
}
