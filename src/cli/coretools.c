/*
 * coretools.c -- the Azure Functions Core Tools (`func`) options and
 * commands that Stratus does not have, each with what to do instead, so
 * that a habit brought from `func` gets an answer rather than a bare
 * "unknown option" (see cli.h).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define DOTNET "apps of .NET, Java and PowerShell do not run on Stratus (it runs native C, " \
               "Python, Node.js, custom handler and Lambda apps)"
#define TLS    "Stratus serves plain HTTP; put a TLS-terminating proxy in front of it " \
               "(see docs/operations.md)"

static const struct {
    const char *cmds;   /* the commands it applies to, space-separated */
    const char *option;
    const char *advice;
} options[] = {
    {"start host", "--useHttps", TLS},
    {"start host", "--cert", TLS},
    {"start host", "--password", TLS},
    {"start host", "--dotnet-isolated-debug", DOTNET},
    {"start host", "--no-build",
     "there is no project build to skip: native functions are rebuilt only when their .c "
     "sources are newer than their .so, and Python and Node.js apps are not built; remove it"},
    {"start host", "--timeout",
     "the host has no start-up deadline to set; remove it (a function's time limit is "
     "host.json \"functionTimeout\")"},
    {"start host", "--user-log-level",
     "set the level of what functions log in host.json instead: \"logging\": "
     "{\"logLevel\": {\"Function\": \"Warning\"}} (see docs/operations.md)"},
    {"start", "--enable-json-output",
     "'stratus host' writes JSON log lines; 'stratus start' writes readable ones"},
    {"start host", "--pause-on-error", "errors are printed and the command exits; remove it"},
    {"init new", "--csx", DOTNET},
    {"init", "--target-framework", DOTNET},
    {"init", "--csharp", DOTNET},
    {"init", "--dotnet", DOTNET},
    {"init", "--java", DOTNET},
    {"init", "--powershell", DOTNET},
    {"init", "--managed-dependencies", DOTNET},
    {"init", "--docker",
     "'stratus init' writes no Dockerfile: an image needs the stratus binary and the app "
     "folder, and runs 'stratus host APP_DIR' (see docs/operations.md)"},
    {"init", "--docker-only",
     "'stratus init' writes no Dockerfile: an image needs the stratus binary and the app "
     "folder, and runs 'stratus host APP_DIR' (see docs/operations.md)"},
    {"init", "--source-control", "'stratus init' does not create a git repository: run 'git init'"},
};

static const struct {
    const char *name;
    const char *advice;
} commands[] = {
    {"azure", "Stratus runs apps on your own machines and does not publish to Azure: copy the "
              "app folder there and run 'stratus host APP_DIR' (see docs/operations.md)"},
    {"azurecontainerapps", "Stratus does not deploy to Azure Container Apps: run 'stratus host "
                           "APP_DIR' where the app should run (see docs/operations.md)"},
    {"kubernetes", "Stratus does not deploy to Kubernetes: run 'stratus host APP_DIR' in the "
                   "container (see docs/operations.md)"},
    {"deploy", "Stratus does not deploy apps: copy the app folder and run 'stratus host "
               "APP_DIR' (see docs/operations.md)"},
    {"pack", "Stratus runs the app folder as it is: there is no package to make; copy the "
             "folder"},
    {"durable", "Durable Functions are not supported by Stratus"},
    {"run", "'func run' is Core Tools 1.x: with the host running, use 'stratus invoke "
            "FUNCTION --data TEXT', or call the function's URL"},
    {"logstream", "use 'stratus logs --follow' with the host running"},
};

/* 1 when the space-separated list has word. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, word, n))
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

int cli_core_tools_option(const char *cmd, const char *arg)
{
    size_t n = strcspn(arg, "=:"); /* "--timeout=20", as Core Tools also takes it */
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strlen(options[i].option) == n && !strncmp(arg, options[i].option, n) &&
            has_word(options[i].cmds, cmd)) {
            fprintf(stderr, "stratus %s: %.*s is an Azure Functions Core Tools option that "
                            "Stratus does not have: %s\n",
                    cmd, (int)n, arg, options[i].advice);
            return 2;
        }
    return 0;
}

int cli_core_tools_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) {
            fprintf(stderr, "stratus: '%s' is an Azure Functions Core Tools command that "
                            "Stratus does not have: %s\n",
                    name, commands[i].advice);
            return 2;
        }
    return 0;
}
