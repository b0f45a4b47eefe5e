/* A secagg client in C over stdin/stdout, with the framing of examples/client_pipe.rs
 * (u32 big-endian length + bytes; the first frame from the coordinator is the encoded session
 * parameters). Usage: client <participant id> <x_1> ... <x_L>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secagg.h"

static int read_exact(void *buf, size_t n) { return fread(buf, 1, n, stdin) == n; }

static uint8_t *read_frame(size_t *len) {
    uint8_t h[4];
    if (!read_exact(h, 4)) return NULL;
    *len = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
    if (*len > (1u << 28)) return NULL;
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf && !read_exact(buf, *len)) { free(buf); return NULL; }
    return buf;
}

static void send_output(SecaggClient *c) {
    const uint8_t *p; size_t n;
    secagg_client_output(c, &p, &n);
    uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    fwrite(h, 1, 4, stdout);
    fwrite(p, 1, n, stdout);
    fflush(stdout);
}

static int fail(int id, const char *what) {
    char msg[256];
    secagg_last_error(msg, sizeof msg);
    fprintf(stderr, "C client %d: %s: %s\n", id, what, msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: client ID X...\n"); return 2; }
    int id = atoi(argv[1]);
    size_t len = (size_t)(argc - 2);
    float *input = malloc(len * sizeof *input);
    for (size_t i = 0; i < len; i++) input[i] = strtof(argv[i + 2], NULL);
    uint8_t seed[32];
    FILE *urandom = fopen("/dev/urandom", "rb");
    if (!urandom || fread(seed, 1, 32, urandom) != 32) { fprintf(stderr, "no randomness\n"); return 1; }
    fclose(urandom);

    size_t plen;
    uint8_t *params = read_frame(&plen);
    if (!params) return 1;
    SecaggClient *c = NULL;
    if (secagg_client_start(params, plen, (uint16_t)id, (uint32_t)len, seed, &c) < 0)
        return fail(id, "start");
    free(params);
    send_output(c);
    int r = secagg_client_set_input_f32(c, input, len, 1);
    if (r < 0) return fail(id, "set_input");
    if (r == 1) send_output(c);

    int status;
    while ((status = secagg_client_status(c)) < 2) {
        size_t n;
        uint8_t *msg = read_frame(&n);
        if (!msg) { fprintf(stderr, "C client %d: coordinator closed\n", id); return 1; }
        r = secagg_client_handle(c, msg, n);
        free(msg);
        if (r < 0) return fail(id, "handle");
        if (r == 1) send_output(c);
    }
    fprintf(stderr, "C client %d: %s, %lld coordinates clipped\n", id,
            status == 2 ? "Included" : status == 3 ? "Excluded" : "Aborted",
            (long long)secagg_client_clipped(c));
    secagg_client_free(c);
    free(input);
    return status == 4;
}
