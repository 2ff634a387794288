/*
 * gen.h — the national dataset's models (gen.c, docs/dataset.md) for other
 * commands: one record of any id as the JSON line `freight gen` writes, so a
 * simulation draws exactly the trucks and loads of the dataset.
 */
#ifndef FN_GEN_H
#define FN_GEN_H

#include <stdint.h>

#include "common/buf.h"
#include "freight/cities.h"

typedef struct fn_gen fn_gen;

/* Builds the models from the city list (which must outlive the result) for
 * a dataset of these counts and seed whose clock starts at start_s.
 * Returns NULL with a message on stderr when the list holds no usable place. */
fn_gen *fn_gen_open(const fn_cities *cities, uint64_t seed, int64_t start_s, uint64_t companies, uint64_t drivers,
                    uint64_t loads);
void fn_gen_close(fn_gen *g);
/* Appends the record of driver / load id (1 ..) to b, a JSON object and a newline. */
void fn_gen_driver_json(const fn_gen *g, uint64_t id, fn_buf *b);
void fn_gen_load_json(const fn_gen *g, uint64_t id, fn_buf *b);

#endif
