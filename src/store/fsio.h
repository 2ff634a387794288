/*
 * fsio.h — the file-system chores the log and the snapshots share: whole
 * writes and reads that survive short transfers and EINTR, fsync of a
 * directory (so a create, rename or unlink is durable), and the names of
 * files that carry a seq as 16 lowercase hex digits.
 *
 * Internal to src/store (fn__ prefix).
 */
#ifndef FN_FSIO_H
#define FN_FSIO_H

#include <stddef.h>
#include <stdint.h>

/* Writes a printf sentence into errbuf when it is not NULL. */
void fn__set_err(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes all n bytes at off (pwrite), continuing after short writes and
 * EINTR.  Returns 0 or -1 with errno set (EIO for a write that makes no
 * progress); *done (may be NULL) gets the bytes written either way. */
int fn__pwrite_all(int fd, const void *p, size_t n, uint64_t off, uint64_t *done);

/* Writes all n bytes at the file offset (write), likewise. */
int fn__write_all(int fd, const void *p, size_t n);

/* Reads exactly n bytes at off.  Returns 0, or -1 with errno set (0 when the
 * file ends first). */
int fn__pread_all(int fd, void *p, size_t n, uint64_t off);

/* fsyncs a directory.  Returns 0 or -1 with errno set. */
int fn__fsync_dir(const char *dir);

/* Parses "<prefix><16 lowercase hex digits><suffix>" exactly; returns 1 and
 * sets *seq on a match, else 0.  Only lowercase is accepted so that a seq
 * has exactly one file name. */
int fn__seq_name_parse(const char *name, const char *prefix, const char *suffix, uint64_t *seq);

#endif
