/* A C program using only include/zig_h3.h and the library: a native route
 * answered on the loop thread and a static route. Prints its port, serves
 * until stdin closes, then stops and frees. Used by tests/native.test.ts. */
#include <stdio.h>
#include <string.h>
#include "zig_h3.h"

static void hello(void *user, const zig_h3_request *request, zig_h3_response *response) {
    (void)user;
    char body[512];
    int len = snprintf(body, sizeof body, "native %.*s %.*s fields=%zu\n", (int)request->method_len,
                       (const char *)request->method, (int)request->path_len, (const char *)request->path,
                       request->field_count);
    zig_h3_field fields[] = {{(const uint8_t *)"content-type", 12, (const uint8_t *)"text/plain", 10}};
    int first = zig_h3_response_send(response, 200, fields, 1, (const uint8_t *)body, (size_t)len);
    int second = zig_h3_response_send(response, 200, NULL, 0, NULL, 0);
    if (first != ZIG_H3_OK || second != ZIG_H3_ERR_INVALID_STATE) fprintf(stderr, "unexpected: %d %d\n", first, second);
}

static void silent(void *user, const zig_h3_request *request, zig_h3_response *response) {
    (void)user, (void)request, (void)response; /* never answers: the library sends 500 */
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    zig_h3_config config;
    zig_h3_config_init(&config);
    config.cert_path = argv[1];
    config.key_path = argv[2];
    config.port = 0;
    zig_h3_server *server = NULL;
    int status = zig_h3_server_new(&config, &server);
    if (status != ZIG_H3_OK) {
        fprintf(stderr, "new: %s\n", zig_h3_status_name(status));
        return 1;
    }
    zig_h3_field fields[] = {{(const uint8_t *)"x-static", 8, (const uint8_t *)"yes", 3}};
    if (zig_h3_route_native(server, "GET", "/native/*", 1, hello, NULL) != ZIG_H3_OK ||
        zig_h3_route_native(server, "GET", "/silent", 2, silent, NULL) != ZIG_H3_OK ||
        zig_h3_route_native(server, "POST", "/native-post", 5, hello, NULL) != ZIG_H3_OK ||
        zig_h3_route_static(server, "GET", "/static", 3, 203, fields, 1, (const uint8_t *)"static body", 11) != ZIG_H3_OK ||
        zig_h3_route_static(server, "GET", "/bad", 4, 99, NULL, 0, NULL, 0) != ZIG_H3_ERR_INVALID_ARGUMENT ||
        zig_h3_server_start(server) != ZIG_H3_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    printf("%d\n", zig_h3_server_port(server));
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {}
    zig_h3_server_stop(server);
    zig_h3_server_free(server);
    printf("stopped\n");
    return 0;
}
