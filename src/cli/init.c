/*
 * init.c -- `stratus init`: create a function app folder, as `func init`
 * does (host.json, local.settings.json, .gitignore; for the models that
 * declare functions in code, function_app.py and requirements.txt (Python
 * V2) or package.json, src/functions and `npm install` (Node.js V4)).
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
            "  -m, --model M        the programming model of python and node apps:\n"
            "                       V1 (python) or V3 (node), the default: a folder with a\n"
            "                       function.json per function;\n"
            "                       V2 (python): decorators in function_app.py, also writes\n"
            "                       it and requirements.txt;\n"
            "                       V4 (node, JavaScript): app.http(...) in src/functions,\n"
            "                       also writes package.json and runs npm install.\n"
            "                       (Core Tools' default is V2 and V4: pass --model for them)\n"
            "  --skip-npm-install   with --model V4: do not run npm install\n"
            "  --force              overwrite an existing host.json and local.settings.json\n"
            "                       (never function_app.py, requirements.txt, package.json)\n"
            "  -h, --help           show this help\n\n"
            "Example: stratus init myapp && cd myapp && stratus new --template http --name hello\n");
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

/* The lines .gitignore must have: every app's, then what the Python V2 and
 * Node.js V4 models add (installed packages, caches). NULL-terminated. */
static const char *const ignored_all[] = {"local.settings.json", ".stratus/", "*.so", NULL};
static const char *const ignored_python[] = {"local.settings.json", ".stratus/", "*.so",
                                             "__pycache__/", ".venv/", ".python_packages/",
                                             NULL};
static const char *const ignored_node[] = {"local.settings.json", ".stratus/", "*.so",
                                           "node_modules/", NULL};

/* Write .gitignore, or add the lines it lacks to an existing one. Sets
 * *what to "created", "updated" or "kept". */
static int gitignore(const char *path, const char *const *ignored, const char **what)
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
        for (size_t i = 0; ignored[i]; i++) {
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
    for (size_t i = 0; ignored[i]; i++)
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

/* Core Tools' --model: V1 (function folders) or V2 (decorators in
 * function_app.py) for python, V3 (function folders) or V4 (app.http(...)
 * in src/functions) for node. Sets *code when the model declares functions
 * in code. 0, or -1 after a message. */
static int check_model(const char *runtime, const char *model, int *code)
{
    int python = !strcasecmp(runtime, "python"), node = !strcasecmp(runtime, "node");
    if (!python && !node) {
        fprintf(stderr, "stratus init: --model is for python (V1 or V2) and node (V3 or V4) "
                        "apps, not %s\n",
                runtime);
        return -1;
    }
    const char *folders = python ? "V1" : "V3", *in_code = python ? "V2" : "V4";
    if (!strcasecmp(model, folders) || !strcasecmp(model, in_code)) {
        *code = !strcasecmp(model, in_code);
        return 0;
    }
    fprintf(stderr,
            "stratus init: --model %s: expected %s (a folder with a function.json per "
            "function) or %s (%s) for %s\n",
            model, folders, in_code,
            python ? "functions declared with decorators in function_app.py"
                   : "functions declared with app.http(...) in src/functions",
            python ? "python" : "node");
    return -1;
}

/* ---- the models that declare functions in code (Python V2, Node.js V4) ---- */

/* function_app.py as Core Tools writes it: the imports the templates use
 * and the FunctionApp their decorators register with. */
static const char function_app_py[] =
    "import azure.functions as func\n"
    "import datetime\n"
    "import json\n"
    "import logging\n"
    "\n"
    "app = func.FunctionApp()\n";

static const char requirements_txt[] =
    "# The app's Python packages. Stratus does not run pip: to use them, install\n"
    "# them into the app with\n"
    "#   pip install --target .python_packages/lib/site-packages -r requirements.txt\n"
    "# azure-functions is the library function_app.py imports (without it, the\n"
    "# worker's stand-in for it is used).\n"
    "\n"
    "azure-functions\n";

/* Write dir/name unless it exists: an app's code is never replaced, not
 * even with --force. Sets *kept when it was there. 0, or -1 after a
 * message. */
static int write_unless_there(const char *dir, const char *name, const char *text, int *kept)
{
    char path[PATH_MAX];
    if (join(path, sizeof path, dir, name)) {
        fprintf(stderr, "stratus init: folder name too long\n");
        return -1;
    }
    *kept = exists(path);
    if (*kept) {
        printf("Keeping the existing %s\n", path);
        return 0;
    }
    if (write_text(path, text) != 0)
        return -1;
    printf("Writing %s\n", path);
    return 0;
}

/* An npm package name for the app in dir: the folder's name in lower case,
 * other characters than letters, digits, '-', '.' and '_' as '-' (npm's
 * rules), "function-app" when nothing is left. */
static void package_name(const char *dir, char *out, size_t outlen)
{
    char real[PATH_MAX];
    const char *base = realpath(dir, real) ? real : dir;
    const char *slash = strrchr(base, '/');
    if (slash && slash[1])
        base = slash + 1;
    size_t n = 0;
    for (; *base && n + 1 < outlen && n < 214; base++) {
        unsigned char c = (unsigned char)*base;
        if (n == 0 && (c == '.' || c == '_'))
            continue;
        out[n++] = (char)(isalnum(c) ? tolower(c) : c == '-' || c == '.' || c == '_' ? c : '-');
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, outlen, "function-app");
}

/* package.json of the Node.js V4 model, as Core Tools writes it ("start"
 * runs the Stratus host). NULL when out of memory; the caller frees it. */
static char *package_json(const char *dir)
{
    char name[256];
    package_name(dir, name, sizeof name);
    json_t *pkg = json_object(), *scripts = json_object(), *deps = json_object();
    json_object_set_new(pkg, "name", json_string(name));
    json_object_set_new(pkg, "version", json_string("1.0.0"));
    json_object_set_new(pkg, "description", json_string(""));
    json_object_set_new(pkg, "main", json_string("src/functions/*.js"));
    json_object_set_new(scripts, "start", json_string("stratus start"));
    json_object_set_new(scripts, "test", json_string("echo \"No tests yet...\""));
    json_object_set_new(pkg, "scripts", scripts);
    json_object_set_new(deps, "@azure/functions", json_string("^4.0.0"));
    json_object_set_new(pkg, "dependencies", deps);
    json_object_set_new(pkg, "devDependencies", json_object());
    char *text = json_dumps(pkg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(pkg);
    size_t n = text ? strlen(text) + 2 : 0;
    char *with_newline = text ? malloc(n) : NULL;
    if (with_newline)
        snprintf(with_newline, n, "%s\n", text);
    free(text);
    return with_newline;
}

/* What an existing package.json lacks for the V4 model, said as a note. */
static void check_package_json(const char *dir)
{
    char path[PATH_MAX];
    if (join(path, sizeof path, dir, "package.json"))
        return;
    json_error_t je;
    json_t *pkg = json_load_file(path, 0, &je);
    if (!json_is_object(pkg)) {
        printf("Note: %s is not a JSON object (%s, line %d): the V4 model needs \"main\" and "
               "the dependency \"@azure/functions\" in it\n",
               path, je.text, je.line);
    } else {
        if (!json_is_string(json_object_get(pkg, "main")))
            printf("Note: %s has no \"main\": add \"main\": \"src/functions/*.js\" for the "
                   "worker to find the functions\n",
                   path);
        if (!json_object_get(json_object_get(pkg, "dependencies"), "@azure/functions"))
            printf("Note: %s has no dependency \"@azure/functions\": add "
                   "\"@azure/functions\": \"^4.0.0\" to \"dependencies\"\n",
                   path);
    }
    json_decref(pkg);
}

/* npm's path on PATH, in out; NULL when there is none. */
static const char *find_npm(char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && snprintf(out, outlen, "%.*s/npm", (int)n, path) < (int)outlen &&
            access(out, X_OK) == 0)
            return out;
        path += n + (path[n] == ':');
    }
    return NULL;
}

/* Run `npm install` in dir, as Core Tools does after writing package.json,
 * its output shown. 0 when it succeeded, else -1 after saying what to do. */
static int npm_install(const char *dir)
{
    char npm[PATH_MAX];
    if (!find_npm(npm, sizeof npm)) {
        fprintf(stderr, "stratus init: npm is not on PATH: run 'npm install' in %s before "
                        "'stratus start' (the functions need the package @azure/functions)\n",
                dir);
        return -1;
    }
    printf("Running npm install in %s\n", dir);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) == 0)
            execl(npm, "npm", "install", (char *)NULL);
        fprintf(stderr, "stratus init: cannot run %s in %s: %s\n", npm, dir, strerror(errno));
        _exit(127);
    }
    int status = 0;
    pid_t w = pid;
    while (pid > 0 && (w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (pid < 0 || w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char why[64];
        if (pid < 0 || w < 0)
            snprintf(why, sizeof why, "%s", strerror(errno));
        else if (WIFEXITED(status))
            snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
        else
            snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
        fprintf(stderr, "stratus init: npm install failed (%s): run 'npm install' in %s "
                        "before 'stratus start' (the functions need the package "
                        "@azure/functions)\n",
                why, dir);
        return -1;
    }
    return 0;
}

/* The files of the Python V2 model. 0, or -1 after a message. */
static int write_python_v2(const char *dir)
{
    int kept;
    return write_unless_there(dir, "requirements.txt", requirements_txt, &kept) != 0 ||
                   write_unless_there(dir, "function_app.py", function_app_py, &kept) != 0
               ? -1
               : 0;
}

/* The files of the Node.js V4 model, then `npm install` unless skip_npm.
 * Sets *need_npm when the app still needs it. 0, or -1 after a message. */
static int write_node_v4(const char *dir, int skip_npm, int *need_npm)
{
    char *pkg = package_json(dir);
    int kept = 0;
    if (!pkg) {
        fprintf(stderr, "stratus init: out of memory\n");
        return -1;
    }
    int rc = write_unless_there(dir, "package.json", pkg, &kept);
    free(pkg);
    if (rc != 0)
        return -1;
    if (kept)
        check_package_json(dir);
    char functions[PATH_MAX];
    if (join(functions, sizeof functions, dir, "src/functions")) {
        fprintf(stderr, "stratus init: folder name too long\n");
        return -1;
    }
    if (!exists(functions)) {
        if (cli_mkdir_p(functions) != 0) {
            fprintf(stderr, "stratus init: cannot create folder %s: %s\n", functions,
                    strerror(errno));
            return -1;
        }
        printf("Writing %s/\n", functions);
    }
    *need_npm = skip_npm || npm_install(dir) != 0;
    return 0;
}

int cmd_init(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *dir = NULL, *runtime = "native", *language = NULL, *model = NULL, *shortcut;
    int force = 0, opts_done = 0, skip_npm = 0, code = 0;
    int typescript = 0; /* the runtime was given as TypeScript */
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
            typescript = !strcasecmp(v, "typescript");
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
            typescript = !strcmp(argv[i], "--typescript");
        } else if (!opts_done && !strcmp(argv[i], "--skip-npm-install")) {
            skip_npm = 1;
        } else if (!opts_done && (!strcmp(argv[i], "--no-bundle") ||
                                  !strcmp(argv[i], "--no-docs"))) {
            /* Core Tools' ways to leave out what `stratus init` never
             * writes (extensionBundle, docs) */
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
    if (model && check_model(runtime, model, &code) != 0)
        return 2;
    if (language && !strcasecmp(language, "typescript"))
        typescript = 1;
    if (code && typescript) {
        fprintf(stderr, "stratus init: --model %s with TypeScript: Stratus writes apps of the "
                        "Node.js V4 model in JavaScript only (no tsconfig.json or build step); "
                        "use --javascript, or compile TypeScript to the files package.json "
                        "\"main\" names yourself\n",
                model);
        return 2;
    }
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
    if (cli_mkdir_p(dir) != 0) {
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
    int python_v2 = code && !strcmp(runtime, "python"), node_v4 = code && !strcmp(runtime, "node");
    if (!failed)
        failed = gitignore(ignore_path,
                           python_v2 ? ignored_python : node_v4 ? ignored_node : ignored_all,
                           &what) != 0;
    if (failed)
        return 1;
    if (!strcmp(what, "created"))
        printf("Writing %s\n", ignore_path);
    else if (!strcmp(what, "updated"))
        printf("Updating %s\n", ignore_path);
    int need_npm = 0;
    if ((python_v2 && write_python_v2(dir) != 0) ||
        (node_v4 && write_node_v4(dir, skip_npm, &need_npm) != 0))
        return 1;

    printf("\nCreated a function app (worker runtime: %s%s) in %s\n", runtime,
           python_v2 ? ", model V2: functions in function_app.py"
           : node_v4 ? ", model V4: functions in src/functions"
                     : "",
           dir);
    if (strcmp(runtime, "custom") != 0) {
        int here = !strcmp(dir, ".");
        int quote = strspn(dir, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_-./+,:@%") != strlen(dir);
        printf("Next: %s%s%s%s%s%sstratus new --template http --name hello && stratus start\n",
               here ? "" : "cd ", here || !quote ? "" : "'", here ? "" : dir,
               here || !quote ? "" : "'", here ? "" : " && ", need_npm ? "npm install && " : "");
    } else {
        printf("Next: put your handler executable at %s/handler (or change\n"
               "customHandler.description.defaultExecutablePath in host.json), add a folder\n"
               "with a function.json per function, then run 'stratus start'.\n",
               dir);
    }
    return 0;
}
