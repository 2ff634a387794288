/*
 * datadir.h — making a freightd data dir offline (`freight bulkload`,
 * `freight import`): the directories and token key, small files written
 * whole and fsynced, and the state as the dir's first snapshot.
 */
#ifndef FN_DATADIR_H
#define FN_DATADIR_H

#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"
#include "core/state.h"

/* Creates dir (and snap/, wal/) unless it already holds a data dir, and
 * makes its token key.  Returns 0, or -1 with a message in err. */
int fn_dd_create(const char *dir, uint8_t key[FN_TOKEN_KEY_BYTES], char *err, size_t errlen);
/* Writes dir/name (mode 0600): len bytes of data, then trailer if not NULL;
 * fsynced.  Returns 0 or -1 with a message. */
int fn_dd_write_file(const char *dir, const char *name, const void *data, size_t len, const char *trailer, char *err,
                     size_t errlen);
/* Writes the state as snapshot 1 in dir/snap, at zstd level zstd_level (0:
 * the snapshot files' default).  Returns 0 or -1 with a message. */
int fn_dd_write_snapshot(const char *dir, const fn_state *s, int zstd_level, char *err, size_t errlen);

#endif
