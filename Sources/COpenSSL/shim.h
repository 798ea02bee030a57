#ifndef PROJECTOR_COPENSSL_SHIM_H
#define PROJECTOR_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* HMAC-SHA256 in one call; returns 1 on success. `out` must hold 32 bytes. */
static inline int projector_hmac_sha256(const void *key, int keyLength, const unsigned char *data, size_t length,
                                        unsigned char *out) {
    unsigned int outLength = 0;
    return HMAC(EVP_sha256(), key, keyLength, data, length, out, &outLength) != NULL && outLength == 32;
}
#endif
