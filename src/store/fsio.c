/*
 * fsio.c — whole reads and writes, directory fsync, seq file names.
 */
#include "store/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void fn__set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

int fn__pwrite_all(int fd, const void *buf, size_t n, uint64_t off, uint64_t *done)
{
    const uint8_t *p = buf;
    size_t put = 0;
    int rc = 0;
    while (put < n) {
        ssize_t k = pwrite(fd, p + put, n - put, (off_t)(off + put));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO; /* a write that makes no progress would loop forever */
            rc = -1;
            break;
        }
        put += (size_t)k;
    }
    if (done)
        *done = put;
    return rc;
}

int fn__write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int fn__pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = 0;
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int fn__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int fn__seq_name_parse(const char *name, const char *prefix, const char *suffix, uint64_t *seq)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    uint64_t v = 0;
    if (strlen(name) != pl + 16 + sl || memcmp(name, prefix, pl) != 0 || strcmp(name + pl + 16, suffix) != 0)
        return 0;
    for (size_t i = pl; i < pl + 16; i++) {
        char c = name[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return 0;
    }
    *seq = v;
    return 1;
}
