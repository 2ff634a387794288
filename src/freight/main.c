/*
 * main.c — the freight command-line tool.  Subcommands are one table.
 */
#include "common/fn.h"
#include "freight/cmds.h"

#include <stdio.h>
#include <string.h>

typedef struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} cmd;

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("freight 0.1\n");
    return 0;
}

static const cmd cmds[] = {
    {"bulkload", fn_cmd_bulkload, "build a synthetic national state into an empty data dir (demo, benchmarks)"},
    {"gen", fn_cmd_gen, "write the synthetic national dataset as JSON Lines (docs/dataset.md)"},
    {"import", fn_cmd_import, "load a dataset (freight gen's JSON Lines) into a new data dir, checked as the API checks it"},
    {"load", fn_cmd_load, "drive a running freightd like the real network: gateway positions and marketplace traffic (docs/load.md)"},
    {"simulate", fn_cmd_simulate, "simulate freight days under each matching policy and the lower bound on empty km (docs/simulation.md)"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: freight <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < FN_ARRAY_LEN(cmds); i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\nEvery command takes --help.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < FN_ARRAY_LEN(cmds); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "freight: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
