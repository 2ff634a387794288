/*
 * snapfile.h — crash-safe, compressed, self-checking snapshot files.
 *
 * A snapshot is the whole state as of a log seq: every record with a lower
 * seq is in it.  This module knows nothing of what the state is; it frames
 * and compresses the bytes the state module streams into it (zstd, with the
 * frame's content checksum) and guarantees that a snapshot file either is
 * whole and verified or is never used:
 *   write to "<dir>/snap-<seq as 16 hex digits>.fsnap.tmp", fsync it,
 *   rename it to "<dir>/snap-<seq>.fsnap", fsync the directory; only then
 *   delete older snapshots.
 * The format is in snapfile.c's opening comment and docs/storage.md.
 */
#ifndef FN_SNAPFILE_H
#define FN_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fn_snapw fn_snapw;
typedef struct fn_snapr fn_snapr;

/* Starts writing the snapshot for seq in dir (as the .tmp file).
 * Returns 0 or FN_EIO with a sentence in errbuf. */
int fn_snapw_open(fn_snapw **out, const char *dir, uint64_t seq, char *errbuf, size_t errlen);
/* Sets the zstd level (3 unless set) before the first fn_snapw_write: a
 * snapshot that is written once by a tool and soon replaced may trade
 * size for time (zstd clamps a level it does not have).  Returns 0, or
 * FN_EIO when zstd refuses (after the first write). */
int fn_snapw_set_level(fn_snapw *s, int level);
/* Streams n bytes of state into the snapshot (compressed as they come).
 * Returns 0 or FN_EIO. */
int fn_snapw_write(fn_snapw *s, const void *p, size_t n);
/* Finishes the frame, writes the trailer, fsyncs, renames into place, fsyncs
 * the directory, then deletes older snapshots.  Frees s whatever happens.
 * Returns 0 or FN_EIO (the .tmp file is removed on failure). */
int fn_snapw_commit(fn_snapw *s, char *errbuf, size_t errlen);
/* Abandons the snapshot: removes the .tmp file and frees s. */
void fn_snapw_abort(fn_snapw *s);

/* Finds the newest snapshot in dir whose header and trailer are valid and
 * opens it for reading; *seq gets its seq.  Returns 0, 1 when there is no
 * snapshot at all, FN_ECORRUPT when snapshots exist but none is valid, or
 * FN_EIO, with a sentence in errbuf.  Stray .tmp files are removed. */
int fn_snapr_open(fn_snapr **out, const char *dir, uint64_t *seq, char *errbuf, size_t errlen);
/* Reads exactly n bytes of state.  Returns 0, or FN_ECORRUPT if the stream
 * ends early or fails to decompress. */
int fn_snapr_read(fn_snapr *s, void *p, size_t n);
/* Checks that the whole stream was consumed and its checksum matched, then
 * frees s.  Returns 0 or FN_ECORRUPT. */
int fn_snapr_close(fn_snapr *s);
/* Frees s without checks (after an error). */
void fn_snapr_abort(fn_snapr *s);

#endif
