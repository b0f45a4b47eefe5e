/* C ABI of the secagg client (ffi/src/lib.rs). Written by hand: keep it in step with the Rust
 * signatures (the C test program in ffi/tests/client.c compiles against it in CI).
 *
 * A client is an opaque handle from secagg_client_start, freed with secagg_client_free.
 * Functions return >= 0 on success and a SECAGG_ERR_* code on error; secagg_last_error gives the
 * message (per thread). The buffer from secagg_client_output stays valid until the next call on
 * the same client. No Rust panic crosses this boundary. */
#ifndef SECAGG_H
#define SECAGG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SECAGG_ERR_ARGUMENT (-1) /* null pointer or bad argument */
#define SECAGG_ERR_SETUP (-2)    /* session or input refused (parameters, policy, input) */
#define SECAGG_ERR_ABORT (-3)    /* the client aborted on a server message */
#define SECAGG_ERR_PANIC (-4)    /* a bug, caught at the boundary */

typedef struct SecaggClient SecaggClient;

/* Starts a client: encoded session parameters, participant id, the app's input length (the
 * default client policy), 32 bytes of OS randomness. The AdvertiseKeys message is then in
 * secagg_client_output. Returns 0 and stores the client in *out. */
int32_t secagg_client_start(const uint8_t *params, size_t params_len, uint16_t id,
                            uint32_t vector_len, const uint8_t *seed, SecaggClient **out);

/* Gives the input (read in place) any time before the masked-input round. Returns 1 if the
 * MaskedInput message is now in secagg_client_output, 0 otherwise. */
int32_t secagg_client_set_input_f32(SecaggClient *c, const float *input, size_t len,
                                    uint32_t weight);
int32_t secagg_client_set_input_f64(SecaggClient *c, const double *input, size_t len,
                                    uint32_t weight);

/* Passes one server message. Returns 1 if a reply is in secagg_client_output, 0 if none. */
int32_t secagg_client_handle(SecaggClient *c, const uint8_t *msg, size_t len);

/* The message to send: *ptr, *len, valid until the next call on c. */
int32_t secagg_client_output(SecaggClient *c, const uint8_t **ptr, size_t *len);

/* 0 waiting, 1 needs its input, 2 finished and included, 3 finished and excluded, 4 aborted. */
int32_t secagg_client_status(SecaggClient *c);

/* Input coordinates clipped by the quantizer (-1 before the input is set). */
int64_t secagg_client_clipped(SecaggClient *c);

/* Copies the last error message (NUL-terminated, truncated to cap - 1); returns its length. */
size_t secagg_last_error(char *buf, size_t cap);

/* Frees a client and erases its secrets. Null is ignored. */
void secagg_client_free(SecaggClient *c);

#ifdef __cplusplus
}
#endif

#endif /* SECAGG_H */
