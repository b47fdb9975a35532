/* main.c — entry point of the `toptheta` command-line tool: dispatches to a subcommand. Every
 * subcommand accepts --device SEL and --json (design §5). */
#include "commands.h"
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
#ifdef TT_HAVE_CMD_DEVICES
    {"devices", cmd_devices, "list OpenCL platforms and devices with their capabilities"},
#endif
#ifdef TT_HAVE_CMD_SELFTEST
    {"selftest", cmd_selftest, "check every mode and variant on the device against the CPU reference"},
#endif
#ifdef TT_HAVE_CMD_DEMO
    {"demo", cmd_demo, "device info, a short selftest, Top-theta vs dense on an LLM-like workload"},
#endif
#ifdef TT_HAVE_CMD_TABLE
    {"table", cmd_table, "inspect, export and import threshold tables"},
#endif
#ifdef TT_HAVE_CMD_CALIBRATE
    {"calibrate", cmd_calibrate, "calibrate a threshold table on a model and token file"},
#endif
#ifdef TT_HAVE_CMD_EVAL
    {"eval", cmd_eval, "perplexity and fidelity of a mode against dense"},
#endif
#ifdef TT_HAVE_CMD_GENERATE
    {"generate", cmd_generate, "generate tokens with a model"},
#endif
#ifdef TT_HAVE_CMD_BENCH
    {"bench", cmd_bench, "time one attention operation on the device"},
#endif
#ifdef TT_HAVE_CMD_TUNE
    {"tune", cmd_tune, "measure launch parameters on this device"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "usage: toptheta <command> [options]   (toptheta %s)\n\ncommands:\n",
            tt_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\ncommon options: --device SEL (P:D, cpu, gpu, accelerator or a name substring;\n"
               "default $TOPTHETA_DEVICE, else the first GPU, else the first device), --json\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("toptheta %s\n", tt_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "toptheta: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
