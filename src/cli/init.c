/*
 * init.c -- `stratus init`: create a function app folder, as `func init`
 * does (host.json, local.settings.json, .gitignore).
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/buf.h"

static const char *const runtimes[] = {"native", "custom", "python", "node"};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus init [DIR] [options]\n\n"
            "Create a function app in DIR (default: the current folder): host.json,\n"
            "local.settings.json and .gitignore.\n\n"
            "Options:\n"
            "  --worker-runtime RT  native (default), custom, python or node (also\n"
            "                       javascript, typescript; or --python, --node, ...)\n"
            "  --language LANG      with node: javascript or typescript\n"
            "  -m, --model M        the programming model: V1 for python, V3 for node\n"
            "                       (the only ones Stratus runs)\n"
            "  --force              overwrite an existing host.json and local.settings.json\n"
            "  -h, --help           show this help\n\n"
            "Example: stratus init myapp && cd myapp && stratus new --template http --name hello\n");
}

/* Create dir and its missing parents (like mkdir -p). 0 or -1 with errno. */
static int mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Write text to path (replacing it). 0, or -1 after printing why. */
static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "stratus init: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "stratus init: cannot write %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "stratus init: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void host_json(buf_t *b, const char *runtime)
{
    buf_puts(b, "{\n"
                "  \"version\": \"2.0\",\n"
                "  \"logging\": {\n"
                "    \"logLevel\": {\n"
                "      \"default\": \"Information\"\n"
                "    }\n"
                "  },\n");
    if (!strcmp(runtime, "custom"))
        buf_puts(b, "  \"customHandler\": {\n"
                    "    \"description\": {\n"
                    "      \"defaultExecutablePath\": \"handler\",\n"
                    "      \"workingDirectory\": \"\",\n"
                    "      \"arguments\": []\n"
                    "    },\n"
                    "    \"enableForwardingHttpRequest\": false\n"
                    "  },\n");
    buf_puts(b, "  \"extensions\": {\n"
                "    \"http\": {\n"
                "      \"routePrefix\": \"api\"\n"
                "    }\n"
                "  }\n"
                "}\n");
}

static void local_settings_json(buf_t *b, const char *runtime)
{
    buf_printf(b,
               "{\n"
               "  \"IsEncrypted\": false,\n"
               "  \"Values\": {\n"
               "    \"FUNCTIONS_WORKER_RUNTIME\": \"%s\",\n"
               "    \"AzureWebJobsStorage\": \"UseDevelopmentStorage=true\"\n"
               "  },\n"
               "  \"Host\": {\n"
               "    \"LocalHttpPort\": 7071\n"
               "  }\n"
               "}\n",
               runtime);
}

/* An existing local.settings.json keeps its values, with the worker runtime
 * set as asked (as Core Tools does). 0, or -1 after a message. */
static int keep_settings(const char *path, const char *runtime)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_PRESERVE_ORDER, &je);
    json_t *values = json_object_get(j, "Values");
    if (!json_is_object(j) || (values && !json_is_object(values))) {
        printf("Keeping the existing %s (not a JSON object with \"Values\": set "
               "FUNCTIONS_WORKER_RUNTIME to %s in it yourself)\n", path, runtime);
        json_decref(j);
        return 0;
    }
    const char *had = json_string_value(json_object_get(values, "FUNCTIONS_WORKER_RUNTIME"));
    if (had && !strcmp(had, runtime)) {
        printf("Keeping the existing %s\n", path);
        json_decref(j);
        return 0;
    }
    if (!values) {
        values = json_object();
        json_object_set_new(j, "Values", values);
    }
    json_object_set_new(values, "FUNCTIONS_WORKER_RUNTIME", json_string(runtime));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    buf_t b;
    buf_init(&b, 1 << 20);
    int rc = text && buf_puts(&b, text) == 0 && buf_putc(&b, '\n') == 0 ? write_text(path, b.p)
                                                                         : -1;
    buf_free(&b);
    free(text);
    if (rc == 0)
        printf("Setting FUNCTIONS_WORKER_RUNTIME to %s in the existing %s\n", runtime, path);
    return rc;
}

static const char *const ignored[] = {"local.settings.json", ".stratus/", "*.so"};

/* Write .gitignore, or add the lines it lacks to an existing one. Sets
 * *what to "created", "updated" or "kept". */
static int gitignore(const char *path, const char **what)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[1024];
        buf_t old;
        buf_init(&old, 1 << 20);
        while (fgets(line, sizeof line, f))
            buf_puts(&old, line);
        fclose(f);
        int missing = 0;
        for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
            int found = 0;
            size_t n = strlen(ignored[i]);
            for (const char *s = old.p; s && *s && !found;) {
                const char *e = strchr(s, '\n');
                size_t len = e ? (size_t)(e - s) : strlen(s);
                found = len == n && !memcmp(s, ignored[i], n);
                s = e ? e + 1 : s + len;
            }
            if (!found) {
                if (!missing && old.len && old.p[old.len - 1] != '\n')
                    buf_putc(&b, '\n');
                missing = 1;
                buf_printf(&b, "%s\n", ignored[i]);
            }
        }
        buf_free(&old);
        if (!missing) {
            *what = "kept";
            buf_free(&b);
            return 0;
        }
        /* Append what is missing. */
        FILE *a = fopen(path, "a");
        int rc = a && fputs(b.p, a) >= 0 ? 0 : -1;
        if (a && fclose(a) != 0)
            rc = -1;
        if (rc != 0)
            fprintf(stderr, "stratus init: cannot update %s: %s\n", path, strerror(errno));
        *what = "updated";
        buf_free(&b);
        return rc;
    }
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        buf_printf(&b, "%s\n", ignored[i]);
    int rc = write_text(path, b.p);
    *what = "created";
    buf_free(&b);
    return rc;
}

/* Core Tools' shortcuts for --worker-runtime (`func init --python`): the
 * runtime, or NULL when arg is not one of them. */
static const char *runtime_flag(const char *arg)
{
    static const char *const flags[][2] = {
        {"--python", "python"},         {"--node", "node"}, {"--javascript", "node"},
        {"--typescript", "node"},       {"--custom", "custom"}, {"--native", "native"},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(arg, flags[i][0]))
            return flags[i][1];
    return NULL;
}

/* Core Tools' --model: Stratus runs the models that declare functions in
 * function.json (Python V1, Node.js V3). 0, or -1 after a message. */
static int check_model(const char *runtime, const char *model)
{
    const char *ok = !strcasecmp(runtime, "python") ? "V1" : !strcasecmp(runtime, "node") ? "V3"
                                                                                          : NULL;
    if (ok && !strcasecmp(model, ok))
        return 0;
    if (!ok)
        fprintf(stderr, "stratus init: --model is for python (V1) and node (V3) apps, not %s\n",
                runtime);
    else
        fprintf(stderr,
                "stratus init: --model %s: Stratus runs the %s programming model of %s, whose "
                "functions are folders with a function.json (see docs/%s.md); the model that "
                "declares functions in code is not supported\n",
                model, ok, !strcasecmp(runtime, "python") ? "Python" : "Node.js",
                !strcasecmp(runtime, "python") ? "python" : "node");
    return -1;
}

int cmd_init(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *dir = NULL, *runtime = "native", *language = NULL, *model = NULL, *shortcut;
    int force = 0, opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if (!opts_done && !strcmp(argv[i], "--")) {
            opts_done = 1;
        } else if (!opts_done && !strcmp(argv[i], "--force")) {
            force = 1;
        } else if (!opts_done &&
                   (rc = cli_opt_value(argc, argv, &i, "init", "--worker-runtime", &v)) != 0) {
            if (rc < 0)
                return 2;
            runtime = v;
        } else if (!opts_done && (rc = cli_opt_value(argc, argv, &i, "init", "--language", &v))) {
            if (rc < 0)
                return 2;
            language = v;
        } else if (!opts_done && ((rc = cli_opt_value(argc, argv, &i, "init", "--model", &v)) ||
                                  (rc = cli_opt_value(argc, argv, &i, "init", "-m", &v)))) {
            if (rc < 0)
                return 2;
            model = v;
        } else if (!opts_done && (shortcut = runtime_flag(argv[i])) != NULL) {
            runtime = shortcut;
        } else if (!opts_done && (!strcmp(argv[i], "--no-bundle") ||
                                  !strcmp(argv[i], "--no-docs") ||
                                  !strcmp(argv[i], "--skip-npm-install"))) {
            /* Core Tools' ways to leave out what `stratus init` never
             * writes or runs (extensionBundle, docs, npm install) */
        } else if (!opts_done && cli_is_option(argv[i])) {
            if (cli_core_tools_option("init", argv[i]))
                return 2;
            return cli_bad_option("init", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "stratus init: unexpected argument '%s' (one folder only)\n",
                    argv[i]);
            return 2;
        }
    }
    size_t r = 0;
    /* Any case, and Core Tools' "javascript" for node. */
    if (!strcasecmp(runtime, "javascript") || !strcasecmp(runtime, "typescript"))
        runtime = "node";
    if (language && (strcasecmp(runtime, "node") ||
                     (strcasecmp(language, "javascript") && strcasecmp(language, "typescript")))) {
        fprintf(stderr, "stratus init: --language is for --worker-runtime node: javascript or "
                        "typescript (got --worker-runtime %s --language %s)\n",
                runtime, language);
        return 2;
    }
    if (model && check_model(runtime, model) != 0)
        return 2;
    while (r < sizeof runtimes / sizeof runtimes[0] && strcasecmp(runtime, runtimes[r]))
        r++;
    if (r < sizeof runtimes / sizeof runtimes[0])
        runtime = runtimes[r];
    if (r == sizeof runtimes / sizeof runtimes[0]) {
        static const char *const others[] = {"dotnet", "dotnet-isolated", "dotnetIsolated",
                                             "csharp", "java", "powershell"};
        const char *why = "";
        for (size_t k = 0; k < sizeof others / sizeof others[0]; k++)
            if (!strcasecmp(runtime, others[k]))
                why = ": apps of .NET, Java and PowerShell do not run on Stratus";
        if (!strcasecmp(runtime, "lambda"))
            why = ": a Lambda app is a folder with a bootstrap; 'stratus init' does not "
                  "write one (see docs/lambda.md)";
        fprintf(stderr,
                "stratus init: unknown worker runtime '%s' (expected native, custom, python "
                "or node)%s\n",
                runtime, why);
        return 2;
    }
    if (!dir || !*dir)
        dir = ".";
    char dirbuf[PATH_MAX];
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--; /* "app/" -> "app", so that paths read well */
    if (dlen >= sizeof dirbuf) {
        fprintf(stderr, "stratus init: folder name too long\n");
        return 1;
    }
    memcpy(dirbuf, dir, dlen);
    dirbuf[dlen] = '\0';
    dir = dirbuf;

    char host_path[PATH_MAX], settings_path[PATH_MAX], ignore_path[PATH_MAX];
    if (join(host_path, sizeof host_path, dir, "host.json") ||
        join(settings_path, sizeof settings_path, dir, "local.settings.json") ||
        join(ignore_path, sizeof ignore_path, dir, ".gitignore")) {
        fprintf(stderr, "stratus init: folder name too long\n");
        return 1;
    }
    if (exists(host_path) && !force) {
        fprintf(stderr,
                "stratus init: %s already exists: '%s' is already a function app.\n"
                "Use --force to overwrite host.json and local.settings.json.\n",
                host_path, dir);
        return 1;
    }
    if (mkdir_p(dir) != 0) {
        fprintf(stderr, "stratus init: cannot create folder %s: %s\n", dir, strerror(errno));
        return 1;
    }

    buf_t b;
    buf_init(&b, 64 * 1024);
    host_json(&b, runtime);
    int failed = write_text(host_path, b.p) != 0;
    if (!failed)
        printf("Writing %s\n", host_path);

    int had_settings = exists(settings_path);
    if (!failed && had_settings && !force) {
        failed = keep_settings(settings_path, runtime) != 0;
    } else if (!failed) {
        buf_reset(&b);
        local_settings_json(&b, runtime);
        failed = write_text(settings_path, b.p) != 0;
        if (!failed)
            printf("Writing %s\n", settings_path);
    }
    buf_free(&b);

    const char *what = "created";
    if (!failed)
        failed = gitignore(ignore_path, &what) != 0;
    if (failed)
        return 1;
    if (!strcmp(what, "created"))
        printf("Writing %s\n", ignore_path);
    else if (!strcmp(what, "updated"))
        printf("Updating %s\n", ignore_path);

    printf("\nCreated a function app (worker runtime: %s) in %s\n", runtime, dir);
    if (strcmp(runtime, "custom") != 0) {
        int here = !strcmp(dir, ".");
        int quote = strspn(dir, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_-./+,:@%") != strlen(dir);
        printf("Next: %s%s%s%s%sstratus new --template http --name hello && stratus start\n",
               here ? "" : "cd ", here || !quote ? "" : "'", here ? "" : dir,
               here || !quote ? "" : "'", here ? "" : " && ");
    } else {
        printf("Next: put your handler executable at %s/handler (or change\n"
               "customHandler.description.defaultExecutablePath in host.json), add a folder\n"
               "with a function.json per function, then run 'stratus start'.\n",
               dir);
    }
    return 0;
}
