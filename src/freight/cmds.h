/*
 * cmds.h — the freight tool's subcommands; each takes argc/argv starting at
 * its own name and returns the exit status.
 */
#ifndef FN_CMDS_H
#define FN_CMDS_H

int fn_cmd_bulkload(int argc, char **argv);
int fn_cmd_import(int argc, char **argv);
/* Writes the synthetic national dataset as JSON Lines (gen.c, docs/dataset.md). */
int fn_cmd_gen(int argc, char **argv);
int fn_cmd_load(int argc, char **argv); /* load generator for a running freightd (load.c, docs/load.md) */
/* Freight days on the real engine under each policy, against the lower bound (simulate.c, docs/simulation.md). */
int fn_cmd_simulate(int argc, char **argv);

#endif
