/*
 * main.c -- the stratus command: dispatches to a sub-command (src/cli/), or
 * runs as a worker when re-executed by the host.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"init", cmd_init, "create a new function app folder"},
    {"new", cmd_new, "add a function to the app from a template"},
    {"templates", cmd_templates, "list the function templates"},
    {"settings", cmd_settings, "list, get, add and delete the app settings of local.settings.json"},
    {"start", cmd_start, "run the app locally for development (auth off, readable logs)"},
    {"host", cmd_host, "run the app in production (auth enforced, JSON logs)"},
    {"invoke", cmd_invoke, "run a function of a running host through its admin API"},
    {"keys", cmd_keys, "list, set, generate and delete function and host keys"},
    {"queue", cmd_queue, "put, peek, list and clear the messages of queues"},
    {"blob", cmd_blob, "put, get, list and delete blobs"},
    {"usage", cmd_usage, "show executions and GB-seconds per function of a running host"},
    {"logs", cmd_logs, "show or follow the log of a running host"},
    {"invocations", cmd_invocations, "list a running host's recent invocations, or show one"},
    {"extensions", cmd_extensions, "(Core Tools' extension installer: nothing to install)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Stratus %s -- a self-hosted, event-driven functions host.\n\n"
            "Usage: stratus <command> [options]\n\nCommands:\n",
            STRATUS_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'stratus <command> --help' for a command's options.\n"
                 "Quick start: stratus init myapp && cd myapp && stratus new --template http "
                 "--name hello && stratus start\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        /* `stratus help start` is `stratus start --help`, as with git. */
        if (argc > 2 && !strcmp(name, "help"))
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *args[] = {argv[2], (char *)"--help", NULL};
                    return commands[i].run(2, args);
                }
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("stratus %s\n", STRATUS_VERSION);
        return 0;
    }
    if (!strcmp(name, "worker")) /* re-executed by the host; not for users */
        return cmd_worker(argc - 1, argv + 1);
    if (!strcmp(name, "lambda-bootstrap")) /* started by the host; not for users */
        return cmd_lambda_bootstrap(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    if (cli_core_tools_command(name))
        return 2;
    fprintf(stderr, "stratus: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
