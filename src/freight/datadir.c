/*
 * datadir.c — the data dir writers behind datadir.h.
 */
#include "freight/datadir.h"
#include "store/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fn_dd_create(const char *dir, uint8_t key[FN_TOKEN_KEY_BYTES], char *err, size_t errlen)
{
    char path[4096];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/token.key", dir);
    if (access(path, F_OK) == 0) {
        snprintf(err, errlen, "%s already holds a freightd data dir; use an empty one", dir);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/snap", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/wal", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/token.key", dir);
    return fn_token_key_load(path, key, err, errlen) == 0 ? 0 : -1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fn_dd_write_file(const char *dir, const char *name, const void *data, size_t len, const char *trailer, char *err,
                     size_t errlen)
{
    char path[4096];
    int fd, bad;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    bad = write_all(fd, data, len) != 0 || (trailer && write_all(fd, trailer, strlen(trailer)) != 0) || fsync(fd) != 0;
    if (close(fd) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int fn_dd_write_snapshot(const char *dir, const fn_state *s, int zstd_level, char *err, size_t errlen)
{
    char path[4096];
    fn_snapw *w;
    snprintf(path, sizeof(path), "%s/snap", dir);
    if (fn_snapw_open(&w, path, 1, err, errlen) != 0)
        return -1;
    if (zstd_level && fn_snapw_set_level(w, zstd_level) != 0) {
        fn_snapw_abort(w);
        snprintf(err, errlen, "zstd refused level %d", zstd_level);
        return -1;
    }
    if (fn_state_snap_save(s, w) != 0) {
        fn_snapw_abort(w);
        snprintf(err, errlen, "writing the snapshot in %s failed", path);
        return -1;
    }
    return fn_snapw_commit(w, err, errlen) == 0 ? 0 : -1;
}
