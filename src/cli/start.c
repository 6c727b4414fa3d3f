/*
 * start.c -- `stratus start` (development) and `stratus host` (production):
 * parse the options and run the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/host.h"
#include "cli.h"

static void usage(FILE *out, int production)
{
    if (production)
        fprintf(out,
                "Usage: stratus host [APP_DIR] [options]\n\n"
                "Run the function app in APP_DIR (default: the current folder) in production:\n"
                "authorization is always enforced and logs are JSON lines.\n\n");
    else
        fprintf(out,
                "Usage: stratus start [APP_DIR] [options]\n\n"
                "Run the function app in APP_DIR (default: the current folder) for development:\n"
                "readable coloured logs, authorization off unless --enable-auth, native\n"
                "functions rebuilt from their .c sources when those are newer, and the app\n"
                "reloaded when its files change (in-flight requests finish on the previous\n"
                "version; a broken change is reported and the previous version keeps serving).\n\n");
    fprintf(out,
            "Options:\n"
            "  -p, --port N         port to listen on (default: local.settings.json\n"
            "                       Host.LocalHttpPort, else 7071; 0 = any free port)\n"
            "      --listen ADDR    address to bind (default 0.0.0.0)\n"
            "%s"
            "%s"
            "      --functions A B  load only these functions\n"
            "      --cors ORIGINS   allowed CORS origins, comma-separated, or \"*\" (over\n"
            "                       local.settings.json Host.CORS)\n"
            "      --cors-credentials  allow credentials in CORS requests\n"
            "      --app DIR        the app folder (the same as APP_DIR; also --script-root)\n"
            "      --language-worker ARGS  arguments for the Node.js or Python worker\n"
            "                       interpreter (e.g. \"--inspect=9229\")\n"
            "      --port-file F    write the bound port to file F once listening\n"
            "      --verbose        debug-level logs\n"
            "  -h, --help           show this help\n\n"
            "Options that take a value also accept --name=VALUE.\n"
            "%s"
            "Environment: STRATUS_MASTER_KEY sets the master key (else it is generated into\n"
            "APP_DIR/.stratus/secrets/host.json on first start).\n",
            production ? "" : "      --enable-auth    enforce authLevel keys as in production\n",
            production ? "      --watch          reload the app when its files change (off by default)\n"
                       : "      --no-watch       do not watch the app for changes\n",
            production ? "'stratus host start' is 'stratus start', as 'func host start' is "
                         "'func start'.\n"
                       : "");
}

static int run(int argc, char **argv, int production)
{
    host_options_t o;
    memset(&o, 0, sizeof o);
    o.production = production;
    o.watch = !production;
    const char **fns = calloc((size_t)argc + 1, sizeof *fns);
    if (!fns)
        return 1;
    int rc = 2;
    const char *cmd = production ? "host" : "start";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int vrc;
        struct stat st;
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-?") ||
            (!strcmp(a, "help") && !o.app_dir && stat(a, &st) != 0)) {
            usage(stdout, production);
            rc = 0;
            goto out;
        } else if ((vrc = cli_opt_value(argc, argv, &i, cmd, "--port", &v)) != 0 ||
                   (vrc = cli_opt_value(argc, argv, &i, cmd, "-p", &v)) != 0) {
            char *end;
            if (vrc < 0)
                goto out;
            long p = strtol(v, &end, 10);
            if (!*v || *end || p < 0 || p > 65535) {
                fprintf(stderr, "stratus %s: --port: '%s' is not a port number (0-65535)\n", cmd,
                        v);
                goto out;
            }
            o.port = p == 0 ? -1 : (int)p;
        } else if ((vrc = cli_opt_value(argc, argv, &i, cmd, "--listen", &v)) != 0) {
            if (vrc < 0)
                goto out;
            o.listen = v;
        } else if ((vrc = cli_opt_value(argc, argv, &i, cmd, "--app", &v)) != 0 ||
                   (vrc = cli_opt_value(argc, argv, &i, cmd, "--script-root", &v)) != 0) {
            if (vrc < 0)
                goto out;
            if (o.app_dir) {
                fprintf(stderr, "stratus %s: the app folder is given twice ('%s' and '%s')\n",
                        cmd, o.app_dir, v);
                goto out;
            }
            o.app_dir = v;
        } else if ((vrc = cli_opt_value(argc, argv, &i, cmd, "--port-file", &v)) != 0) {
            if (vrc < 0)
                goto out;
            o.port_file = v;
        } else if ((vrc = cli_opt_value(argc, argv, &i, cmd, "--language-worker", &v)) != 0) {
            if (vrc < 0)
                goto out;
            /* As Core Tools: the arguments of the app's language worker,
             * which the Node.js and Python runtimes read from this setting
             * (the environment wins over local.settings.json). */
            setenv("languageWorkers__node__arguments", v, 1);
            setenv("languageWorkers__python__arguments", v, 1);
        } else if (!production && (!strcmp(a, "--enable-auth") || !strcmp(a, "--enableAuth"))) {
            o.enable_auth = 1;
        } else if (!production && !strcmp(a, "--no-watch")) {
            o.watch = 0;
        } else if (production && !strcmp(a, "--watch")) {
            o.watch = 1;
        } else if (production && !strcmp(a, "--enable-json-output")) {
            /* Core Tools' option for what `stratus host` always writes */
        } else if (!strcmp(a, "--verbose")) {
            o.verbose = 1;
        } else if ((vrc = cli_opt_value(argc, argv, &i, cmd, "--cors", &v)) != 0) {
            if (vrc < 0)
                goto out;
            if (!*v) {
                fprintf(stderr, "stratus %s: --cors needs origins (\"https://a.example,"
                        "https://b.example\" or \"*\")\n", cmd);
                goto out;
            }
            o.cors = v;
        } else if (!strcmp(a, "--cors-credentials")) {
            o.cors_credentials = 1;
        } else if (!strcmp(a, "--functions")) {
            while (i + 1 < argc && argv[i + 1][0] != '-')
                fns[o.nfunctions++] = argv[++i];
            if (!o.nfunctions) {
                fprintf(stderr, "stratus %s: --functions needs at least one function name\n", cmd);
                goto out;
            }
        } else if (a[0] == '-') {
            if (!cli_core_tools_option(cmd, a))
                fprintf(stderr, "stratus %s: unknown option '%s' (see --help)\n", cmd, a);
            goto out;
        } else if (!o.app_dir) {
            o.app_dir = a;
        } else {
            fprintf(stderr, "stratus %s: unexpected argument '%s' (one app folder only)\n", cmd, a);
            goto out;
        }
    }
    if (o.nfunctions)
        o.functions = fns;
    rc = host_run(&o);
out:
    free(fns);
    return rc;
}

int cmd_start(int argc, char **argv) { return run(argc, argv, 0); }

/* `stratus host start` is Core Tools' `func host start`, the same as
 * `func start`: the development host. (An app folder named "start" is
 * `stratus host ./start`.) */
int cmd_host(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "start"))
        return run(argc - 1, argv + 1, 0);
    return run(argc, argv, 1);
}
