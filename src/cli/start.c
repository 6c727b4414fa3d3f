/*
 * start.c -- `stratus start` (development) and `stratus host` (production):
 * parse the options and run the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            "      --app DIR        the app folder (the same as APP_DIR)\n"
            "      --port-file F    write the bound port to file F once listening\n"
            "      --verbose        debug-level logs\n"
            "  -h, --help           show this help\n\n"
            "Environment: STRATUS_MASTER_KEY sets the master key (else it is generated into\n"
            "APP_DIR/.stratus/secrets/host.json on first start).\n",
            production ? "" : "      --enable-auth    enforce authLevel keys as in production\n",
            production ? "      --watch          reload the app when its files change (off by default)\n"
                       : "      --no-watch       do not watch the app for changes\n");
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
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout, production);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            char *end;
            if (i + 1 >= argc) {
                fprintf(stderr, "stratus %s: %s needs a port number\n", cmd, a);
                goto out;
            }
            long p = strtol(argv[++i], &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "stratus %s: --port: '%s' is not a port number (0-65535)\n", cmd,
                        argv[i]);
                goto out;
            }
            o.port = p == 0 ? -1 : (int)p;
        } else if (!strcmp(a, "--listen")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stratus %s: --listen needs an address\n", cmd);
                goto out;
            }
            o.listen = argv[++i];
        } else if (!strcmp(a, "--app")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stratus %s: --app needs the app folder\n", cmd);
                goto out;
            }
            if (o.app_dir) {
                fprintf(stderr, "stratus %s: the app folder is given twice ('%s' and '%s')\n",
                        cmd, o.app_dir, argv[i + 1]);
                goto out;
            }
            o.app_dir = argv[++i];
        } else if (!strcmp(a, "--port-file")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stratus %s: --port-file needs a file name\n", cmd);
                goto out;
            }
            o.port_file = argv[++i];
        } else if (!production && (!strcmp(a, "--enable-auth") || !strcmp(a, "--enableAuth"))) {
            o.enable_auth = 1;
        } else if (!production && !strcmp(a, "--no-watch")) {
            o.watch = 0;
        } else if (production && !strcmp(a, "--watch")) {
            o.watch = 1;
        } else if (!strcmp(a, "--verbose")) {
            o.verbose = 1;
        } else if (!strcmp(a, "--cors")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "stratus %s: --cors needs origins (\"https://a.example,"
                        "https://b.example\" or \"*\")\n", cmd);
                goto out;
            }
            o.cors = argv[++i];
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

int cmd_host(int argc, char **argv) { return run(argc, argv, 1); }
