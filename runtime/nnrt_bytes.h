/*
 * nnrt_bytes.h - byte-order helpers shared by the runtime's parsers (private).
 *
 * File formats fix their byte order (safetensors and npy '<' are little-endian,
 * IDX and npy '>' big-endian); these helpers read integers of a given order
 * from unaligned bytes and swap arrays in place, whatever the host order.
 * Only <stdint.h>, <stddef.h> and <string.h>, so the embedded core may use it.
 */
#ifndef NNRT_BYTES_H
#define NNRT_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Nonzero when the host stores integers least significant byte first. */
static inline int nnrt_host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reads an n-byte (n <= 8) little-endian unsigned integer. */
static inline uint64_t nnrt_rd_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Reads an n-byte (n <= 8) big-endian unsigned integer. */
static inline uint64_t nnrt_rd_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Writes v as an n-byte little-endian integer. */
static inline void nnrt_wr_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

/* Reverses the bytes of each of count elements of elsize bytes. */
static inline void nnrt_bswap_inplace(void *data, size_t count, size_t elsize)
{
    unsigned char *p = (unsigned char *)data;
    if (elsize < 2)
        return;
    for (size_t i = 0; i < count; i++, p += elsize)
        for (size_t a = 0, b = elsize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

#endif /* NNRT_BYTES_H */
