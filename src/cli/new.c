/*
 * new.c -- `stratus new` (add a function to an app from a template) and
 * `stratus templates` (list the templates), as `func new` and
 * `func templates list` do.
 *
 * The templates themselves are descriptors in templates_<trigger>.c (see
 * templates.h); this file picks one for the app's runtime, expands its
 * placeholders and writes its files. Native templates write only sources
 * and function.json: the host compiles the folder's .c files into <fn>.so
 * when they are newer.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/buf.h"
#include "new.h"
#include "templates.h"

static const char *const known_runtimes[] = {"native", "custom", "python", "node"};

/* Core Tools' --language (`func templates list --language JavaScript`,
 * `func new -l Python`): the runtime whose templates it names, or NULL
 * after printing why there is none on stderr. */
static const char *language_runtime(const char *cmd, const char *lang)
{
    static const char *const map[][2] = {
        {"python", "python"}, {"javascript", "node"}, {"node", "node"}, {"js", "node"},
        {"c", "native"},      {"native", "native"},   {"custom", "custom"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(lang, map[i][0]))
            return map[i][1];
    if (!strcasecmp(lang, "typescript"))
        fprintf(stderr, "stratus %s: --language TypeScript: the Node.js templates are "
                        "JavaScript (index.js); use --language JavaScript, and compile "
                        "TypeScript to JavaScript yourself\n", cmd);
    else
        fprintf(stderr, "stratus %s: --language '%s': expected Python, JavaScript, C or "
                        "Custom%s\n", cmd, lang,
                !strcasecmp(lang, "C#") || !strcasecmp(lang, "F#") ||
                        !strcasecmp(lang, "csharp") || !strcasecmp(lang, "java") ||
                        !strcasecmp(lang, "powershell")
                    ? " (apps of .NET, Java and PowerShell do not run on Stratus)"
                    : "");
    return NULL;
}

/* ---- stratus templates ---------------------------------------------------- */

static void templates_usage(FILE *out)
{
    fprintf(out, "Usage: stratus templates [list] [options]\n\n"
                 "List the templates 'stratus new --template NAME' can use.\n\n"
                 "Options:\n"
                 "  --worker-runtime RT  only the templates of RT (native, custom, python, node)\n"
                 "  --language LANG      the same by language: Python, JavaScript, C or Custom\n"
                 "  -h, --help           show this help\n");
}

int cmd_templates(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        templates_usage(stdout);
        return 0;
    }
    const char *only = NULL;
    int listed = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc = cli_opt_value(argc, argv, &i, "templates", "--worker-runtime", &v);
        if (rc < 0)
            return 2;
        if (rc == 0 && (rc = cli_opt_value(argc, argv, &i, "templates", "--language", &v)) > 0 &&
            !(v = language_runtime("templates", v)))
            return 2;
        if (rc < 0)
            return 2;
        if (rc > 0)
            only = v;
        else if (cli_is_option(argv[i]))
            return cli_bad_option("templates", argv[i]);
        else if (!strcmp(argv[i], "list") && !listed)
            listed = 1;
        else {
            fprintf(stderr, "stratus templates: unexpected argument '%s'\n", argv[i]);
            templates_usage(stderr);
            return 2;
        }
    }
    int found = 0, any_template = 0;
    for (size_t r = 0; r < sizeof known_runtimes / sizeof known_runtimes[0]; r++) {
        const char *rt = known_runtimes[r];
        if (only && strcasecmp(only, rt))
            continue;
        found = 1;
        printf("%s%s runtime:\n", r && !only ? "\n" : "", rt);
        int any = 0;
        for (size_t i = 0; i < templates_count(); i++) {
            const template_t *t = templates_at(i);
            if (strcmp(t->runtime, rt))
                continue;
            any = any_template = 1;
            printf("  %-16s %s\n", t->name, t->summary);
            buf_t a;
            buf_init(&a, 4096);
            for (const char *const *al = t->aliases; al && *al; al++)
                buf_printf(&a, "%s%s", a.len ? ", " : "", *al);
            if (a.len)
                printf("  %-16s also: %s\n", "", a.p);
            buf_free(&a);
        }
        if (!any)
            printf("  (no templates yet: add a folder with a function.json by hand)\n");
    }
    if (!found) {
        fprintf(stderr,
                "stratus templates: unknown worker runtime '%s' (expected native, custom, "
                "python or node)\n",
                only);
        return 2;
    }
    if (any_template)
        printf("\nUse: stratus new --template NAME --name FUNCTION [--authlevel LEVEL]\n"
               "(--authlevel is for HTTP triggers; the other templates' queue, blob path and\n"
               "schedule are Azure's defaults, to edit in the new function.json or code)\n"
               "The python and node templates serve every programming model: a function\n"
               "folder in V1 and V3 apps; in a V2 app the function is added to\n"
               "function_app.py, in a V4 app it is src/functions/FUNCTION.js.\n");
    return 0;
}

/* ---- stratus new ---------------------------------------------------------- */

static void new_usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus new --template NAME --name FUNCTION [options]\n\n"
            "Add a function to the app from a template (see 'stratus templates').\n\n"
            "Options:\n"
            "  -t, --template NAME  the template: http, timer, queue or blob, or Azure's\n"
            "                       names (\"HTTP trigger\", \"TimerTrigger\", ...)\n"
            "  -n, --name FUNCTION  the function (folder) name: a letter, then letters,\n"
            "                       digits, '_' or '-' (at most 128; not \"host\"). In an\n"
            "                       app of the Python V2 model the function is added to\n"
            "                       function_app.py; of the Node.js V4 model, it is\n"
            "                       src/functions/FUNCTION.js\n"
            "  --authlevel LEVEL    for an HTTP trigger: anonymous, function (default) or\n"
            "                       admin\n"
            "  --app DIR            the app folder (default: the current folder)\n"
            "  -l, --language LANG  checked against the app's runtime (Python, JavaScript,\n"
            "                       C or Custom); the runtime picks the template's files\n"
            "  -h, --help           show this help\n\n"
            "Example: stratus new --template http --name hello --authlevel anonymous\n");
}

/* Names a native entry point must not take: C keywords, names the C
 * library or the compiler already uses, and the template's own helpers. */
static const char *const reserved_symbols[] = {
    "auto", "bool", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "false", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "true", "typedef", "typeof", "union", "unsigned", "void", "volatile", "while",
    "asm", "main", "abort", "abs", "accept", "access", "alarm", "atoi", "bcmp", "bind", "bzero",
    "calloc", "chdir", "clock", "close", "connect", "creat", "div", "dup", "environ", "errno",
    "exit", "exp", "fabs", "fclose", "ffs", "floor", "fopen", "fork", "free", "getenv",
    "index", "kill", "link", "listen", "log", "malloc", "memchr", "memcmp", "memcpy",
    "memmove", "memset", "mkdir", "open", "pause", "pipe", "poll", "pow", "printf", "puts",
    "qsort", "raise", "rand", "random", "read", "realloc", "recv", "remove", "rename", "rindex",
    "rmdir", "round", "select", "send", "signal", "sin", "sleep", "socket", "sqrt", "stat",
    "strcat", "strchr", "strcmp", "strcpy", "strdup", "strlen", "strstr", "sync", "system",
    "time", "unlink", "wait", "write", "gmtime_r", "strftime", "clock_gettime", "is_space", "find_name", NULL};

/* The C symbol for function fn: fn itself when it is a safe C identifier,
 * else "-" turned into "_" and, for reserved names, an "_fn" suffix. */
static void entry_symbol(const char *fn, char *out, size_t outlen)
{
    size_t n = 0;
    for (; fn[n] && n + 1 < outlen; n++)
        out[n] = fn[n] == '-' ? '_' : fn[n];
    out[n] = '\0';
    int clash = !strncmp(out, "stratus_", 8);
    for (const char *const *r = reserved_symbols; !clash && *r; r++)
        clash = !strcmp(out, *r);
    if (clash && n + 4 <= outlen - 1)
        memcpy(out + n, "_fn", 4);
}

int new_expand(buf_t *b, const char *text, const new_vars_t *v)
{
    char entry_line[200];
    entry_line[0] = '\0';
    if (v->entry && v->fn && strcmp(v->entry, v->fn))
        snprintf(entry_line, sizeof entry_line, "  \"entryPoint\": \"%s\",\n", v->entry);
    const struct {
        const char *key, *value;
    } vars[] = {{"{{FN}}", v->fn},         {"{{ENTRY}}", v->entry},  {"{{ENTRYPOINT}}", entry_line},
                {"{{AUTH}}", v->auth},     {"{{PYDEF}}", v->pydef},  {"{{PYNAME}}", v->pyname},
                {"{{PYAUTH}}", v->pyauth}};
    const char *p = text;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open)
            return buf_puts(b, p);
        if (buf_append(b, p, (size_t)(open - p)))
            return -1;
        size_t k = 0, nvars = sizeof vars / sizeof vars[0];
        while (k < nvars && strncmp(open, vars[k].key, strlen(vars[k].key)))
            k++;
        if (k == nvars) { /* not a placeholder ("{{" in C code): keep it */
            if (buf_puts(b, "{{"))
                return -1;
            p = open + 2;
            continue;
        }
        if (vars[k].value && buf_puts(b, vars[k].value))
            return -1;
        p = open + strlen(vars[k].key);
    }
    return 0;
}

int new_write_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "stratus new: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (close(fd) != 0 || off < len) {
        fprintf(stderr, "stratus new: cannot write %s: %s\n", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* The name of an entry of dir equal to name ignoring case, copied into out;
 * 1 when there is one. */
static int find_entry(const char *dir, const char *name, char *out, size_t outlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (!strcasecmp(e->d_name, name)) {
            snprintf(out, outlen, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

/* The app's worker runtime: local.settings.json Values, else the
 * environment, else "native". Copied into out. */
static void app_runtime(const char *app, char *out, size_t outlen)
{
    char path[PATH_MAX];
    const char *rt = NULL;
    json_t *root = NULL;
    if (snprintf(path, sizeof path, "%s/local.settings.json", app) < (int)sizeof path)
        root = json_load_file(path, 0, NULL);
    rt = json_string_value(json_object_get(json_object_get(root, "Values"),
                                           "FUNCTIONS_WORKER_RUNTIME"));
    if (!rt || !*rt)
        rt = getenv("FUNCTIONS_WORKER_RUNTIME");
    snprintf(out, outlen, "%s", rt && *rt ? rt : "native");
    json_decref(root);
}

/* host.json extensions.http.routePrefix ("api" when unset). */
static void route_prefix(const char *host_json, char *out, size_t outlen)
{
    json_t *root = json_load_file(host_json, 0, NULL);
    json_t *v = json_object_get(json_object_get(json_object_get(root, "extensions"), "http"),
                                "routePrefix");
    snprintf(out, outlen, "%s", json_is_string(v) ? json_string_value(v) : "api");
    json_decref(root);
}

void new_print_created(const template_t *t, const char *app, const char *host_json,
                       const new_vars_t *v, const char *next, char *const *written,
                       size_t nwritten)
{
    const char *fn = v->fn, *auth = v->auth;
    int here = !strcmp(app, ".");
    if (t->trigger == TEMPLATE_HTTP)
        printf("Created function %s from template \"%s\" (authLevel %s):\n", fn, t->name,
               auth);
    else
        printf("Created function %s from template \"%s\":\n", fn, t->name);
    for (size_t i = 0; i < nwritten; i++)
        printf("  %s\n", written[i] ? written[i] : "?");
    if (t->trigger == TEMPLATE_HTTP) {
        char prefix[256];
        route_prefix(host_json, prefix, sizeof prefix);
        printf("\nRun 'stratus start'%s%s; it will answer at http://localhost:%d/%s%s%s\n",
               here ? "" : " in ", here ? "" : app, cli_app_port(app), prefix,
               *prefix ? "/" : "", fn);
        return;
    }
    printf("\nRun 'stratus start'%s%s.\n", here ? "" : " in ", here ? "" : app);
    if (next) {
        buf_t b;
        buf_init(&b, 1 << 16);
        if (new_expand(&b, next, v) == 0 && b.p)
            fputs(b.p, stdout);
        buf_free(&b);
    }
}

int cmd_new(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        new_usage(stdout);
        return 0;
    }
    const char *tname = NULL, *fn = NULL, *auth = "function", *app = ".", *language = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_opt_value(argc, argv, &i, "new", "--template", &v)) ||
            (rc = cli_opt_value(argc, argv, &i, "new", "-t", &v))) {
            if (rc < 0)
                return 2;
            tname = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "new", "--name", &v)) ||
                   (rc = cli_opt_value(argc, argv, &i, "new", "-n", &v))) {
            if (rc < 0)
                return 2;
            fn = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "new", "--authlevel", &v))) {
            if (rc < 0)
                return 2;
            auth = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "new", "--app", &v))) {
            if (rc < 0)
                return 2;
            app = *v ? v : ".";
        } else if ((rc = cli_opt_value(argc, argv, &i, "new", "--language", &v)) ||
                   (rc = cli_opt_value(argc, argv, &i, "new", "-l", &v))) {
            if (rc < 0)
                return 2;
            language = v;
        } else if (cli_is_option(argv[i])) {
            if (cli_core_tools_option("new", argv[i]))
                return 2;
            return cli_bad_option("new", argv[i]);
        } else {
            fprintf(stderr, "stratus new: unexpected argument '%s' (use --name and --template)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!tname || !fn) {
        fprintf(stderr, "stratus new: %s is required\n", !tname ? "--template" : "--name");
        new_usage(stderr);
        return 2;
    }
    static const char *const levels[] = {"anonymous", "function", "admin"};
    size_t l = 0;
    while (l < 3 && strcasecmp(auth, levels[l]))
        l++;
    if (l == 3) {
        fprintf(stderr, "stratus new: --authlevel: expected anonymous, function or admin, got "
                        "'%s'\n",
                auth);
        return 2;
    }
    auth = levels[l];
    if (!cli_valid_function_name(fn)) {
        fprintf(stderr,
                "stratus new: invalid function name '%s': it must start with a letter, then "
                "letters, digits, '_' or '-' (at most 128 characters), and not be \"host\"\n",
                fn);
        return 2;
    }

    char host_json[PATH_MAX];
    struct stat st;
    if (snprintf(host_json, sizeof host_json, "%s/host.json", app) >= (int)sizeof host_json ||
        stat(host_json, &st) != 0) {
        fprintf(stderr,
                "stratus new: '%s' is not a function app (no host.json). Run 'stratus init' "
                "there first, or pass --app DIR.\n",
                app);
        return 1;
    }

    char runtime[64];
    app_runtime(app, runtime, sizeof runtime);
    size_t known = 0;
    while (known < sizeof known_runtimes / sizeof known_runtimes[0] &&
           strcasecmp(runtime, known_runtimes[known]))
        known++;
    if (known == sizeof known_runtimes / sizeof known_runtimes[0] &&
        strcasecmp(runtime, "lambda") != 0) {
        fprintf(stderr, "stratus new: FUNCTIONS_WORKER_RUNTIME in %s/local.settings.json is "
                "'%s', not a runtime Stratus knows (native, custom, python, node or lambda)\n",
                app, runtime);
        return 1;
    }
    if (language) { /* Core Tools' --language: the app's runtime decides, so it must agree */
        const char *lrt = language_runtime("new", language);
        if (!lrt)
            return 2;
        if (strcasecmp(lrt, runtime)) {
            fprintf(stderr, "stratus new: --language %s does not match the app's runtime "
                            "\"%s\" (FUNCTIONS_WORKER_RUNTIME in %s/local.settings.json); "
                            "leave --language out\n", language, runtime, app);
            return 2;
        }
    }
    const template_t *t = templates_find(runtime, tname);
    if (!t) {
        buf_t names;
        buf_init(&names, 4096);
        int ok = templates_names(runtime, &names) == 0 && names.p;
        fprintf(stderr,
                "stratus new: template \"%s\" is not available for runtime \"%s\" "
                "(available: %s). See 'stratus templates'.\n",
                tname, runtime, ok ? names.p : "?");
        buf_free(&names);
        return 1;
    }

    char where[PATH_MAX];
    int model = new_app_model(app, runtime, where, sizeof where);
    if (model < 0)
        return 1;
    if (model != NEW_MODEL_FOLDERS)
        return new_in_code(t, app, host_json, (new_model_t)model, where, fn, auth);

    char existing[NAME_MAX + 1];
    if (find_entry(app, fn, existing, sizeof existing)) {
        fprintf(stderr, "stratus new: '%s/%s' already exists (function names ignore case); "
                        "choose another --name\n",
                app, existing);
        return 1;
    }
    char dir[PATH_MAX];
    int here = !strcmp(app, ".");
    if (snprintf(dir, sizeof dir, "%s%s%s", here ? "" : app, here ? "" : "/", fn) >=
        (int)sizeof dir) {
        fprintf(stderr, "stratus new: path too long\n");
        return 1;
    }
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "stratus new: cannot create folder %s: %s\n", dir, strerror(errno));
        return 1;
    }

    char entry[160];
    entry_symbol(fn, entry, sizeof entry);
    const new_vars_t vars = {.fn = fn, .entry = entry, .auth = auth};
    buf_t text, name;
    buf_init(&text, 1 << 20);
    buf_init(&name, PATH_MAX);
    char *written[8];
    size_t nwritten = 0;
    int failed = 0;
    for (const template_file_t *f = t->files; f->name && !failed; f++) {
        buf_reset(&text);
        buf_reset(&name);
        if (buf_puts(&name, dir) || buf_putc(&name, '/') ||
            new_expand(&name, f->name, &vars) || new_expand(&text, f->text, &vars)) {
            fprintf(stderr, "stratus new: out of memory\n");
            failed = 1;
        } else if (new_write_file(name.p, text.p, text.len) != 0) {
            failed = 1;
        } else if (nwritten < sizeof written / sizeof written[0]) {
            written[nwritten++] = strdup(name.p);
        }
    }
    if (failed) { /* leave nothing half-made behind */
        for (size_t i = 0; i < nwritten; i++)
            if (written[i])
                unlink(written[i]);
        rmdir(dir);
    } else {
        new_print_created(t, app, host_json, &vars, t->next, written, nwritten);
    }
    for (size_t i = 0; i < nwritten; i++)
        free(written[i]);
    buf_free(&text);
    buf_free(&name);
    return failed ? 1 : 0;
}
