/*
 * new_code.c -- `stratus new` in apps that declare their functions in code,
 * as `func new` does there: in the Python V2 model it appends the decorated
 * function to function_app.py (or the file PYTHON_SCRIPT_FILE_NAME names);
 * in the Node.js V4 model it writes src/functions/<name>.js (the folder of
 * package.json "main"). The code is each template's `code` (templates.h).
 *
 * The app's model is told apart as the host does (docs/app-format.md): code
 * only when the app has no function folders.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
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

/* The largest function_app.py `new` reads to add a function to. */
#define MAX_SCRIPT (16u << 20)

/* 1 when some immediate sub-folder of app (not starting with '.') holds a
 * function.json, as the host looks for functions. */
static int has_function_folders(const char *app)
{
    DIR *d = opendir(app);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.' ||
            snprintf(path, sizeof path, "%s/%s/function.json", app, e->d_name) >=
                (int)sizeof path)
            continue;
        found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    }
    closedir(d);
    return found;
}

/* An app setting: local.settings.json Values, else the environment, else
 * NULL. Copied into out. */
static const char *app_setting(const char *app, const char *name, char *out, size_t outlen)
{
    char path[PATH_MAX];
    json_t *root = NULL;
    if (snprintf(path, sizeof path, "%s/local.settings.json", app) < (int)sizeof path)
        root = json_load_file(path, 0, NULL);
    const char *v = json_string_value(json_object_get(json_object_get(root, "Values"), name));
    if (!v || !*v)
        v = getenv(name);
    int found = v && *v;
    if (found)
        snprintf(out, outlen, "%s", v);
    json_decref(root);
    return found ? out : NULL;
}

/* The major version a package.json dependency range asks for ("^4.0.0" ->
 * 4), or -1 when it names none ("latest", "*", a URL or a path). */
static int range_major(const char *range)
{
    while (*range == '^' || *range == '~' || *range == '>' || *range == '=' || *range == 'v' ||
           *range == ' ')
        range++;
    if (!isdigit((unsigned char)*range))
        return -1;
    return (int)strtol(range, NULL, 10);
}

int new_app_model(const char *app, const char *runtime, char *where, size_t wherelen)
{
    int python = !strcasecmp(runtime, "python"), node = !strcasecmp(runtime, "node");
    if ((!python && !node) || has_function_folders(app))
        return NEW_MODEL_FOLDERS;
    char path[PATH_MAX];
    struct stat st;
    if (python) {
        char script[PATH_MAX];
        const char *name = app_setting(app, "PYTHON_SCRIPT_FILE_NAME", script, sizeof script);
        if (!name)
            name = "function_app.py";
        if (snprintf(path, sizeof path, "%s/%s", app, name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            return NEW_MODEL_FOLDERS;
        snprintf(where, wherelen, "%s", name);
        return NEW_MODEL_PYTHON_V2;
    }
    /* Node.js: package.json "main" and the @azure/functions library of the
     * V4 model (an app of the V3 model may have a "main" too, e.g. the one
     * `npm init` writes). */
    if (snprintf(path, sizeof path, "%s/package.json", app) >= (int)sizeof path)
        return NEW_MODEL_FOLDERS;
    json_t *pkg = json_load_file(path, 0, NULL);
    const char *main = json_string_value(json_object_get(pkg, "main"));
    const char *dep = json_string_value(
        json_object_get(json_object_get(pkg, "dependencies"), "@azure/functions"));
    if (!dep)
        dep = json_string_value(
            json_object_get(json_object_get(pkg, "devDependencies"), "@azure/functions"));
    int v4 = main && *main && dep && (range_major(dep) < 0 || range_major(dep) >= 4);
    if (v4)
        snprintf(where, wherelen, "%s", main);
    json_decref(pkg);
    if (!v4)
        return NEW_MODEL_FOLDERS;
    if (snprintf(path, sizeof path, "%s/tsconfig.json", app) < (int)sizeof path &&
        stat(path, &st) == 0) {
        fprintf(stderr,
                "stratus new: '%s' is a TypeScript app of the Node.js V4 model (it has a "
                "tsconfig.json; package.json \"main\" is \"%s\"): the templates are "
                "JavaScript. Write src/functions/<name>.ts yourself, with app.http(...) as "
                "in 'stratus new' in a JavaScript app.\n",
                app, where);
        return -1;
    }
    return NEW_MODEL_NODE_V4;
}

/* ---- Python V2: a decorated function in function_app.py -------------------- */

static int ident_char(int c)
{
    return isalnum(c) || c == '_';
}

/* Python's keywords, and the names function_app.py itself uses: a
 * function's def must not take them. */
static const char *const python_reserved[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", "app", "func", "logging", "datetime", "json", NULL};

/* The name of fn's def: fn with '-' as '_', and "_fn" after a reserved
 * name. */
static void python_def(const char *fn, char *out, size_t outlen)
{
    size_t n = 0;
    for (; fn[n] && n + 4 < outlen; n++)
        out[n] = fn[n] == '-' ? '_' : fn[n];
    out[n] = '\0';
    for (const char *const *r = python_reserved; *r; r++)
        if (!strcmp(out, *r)) {
            memcpy(out + n, "_fn", 4);
            break;
        }
}

/* Where text declares a function named fn (ignoring case, as function names
 * do) or a def named pydef: `def NAME(` or `function_name(name="NAME")`.
 * Copies what it found into found; 1 when there is one. Comments and
 * strings are not told apart: a mention there counts too. */
static int python_declares(const char *text, const char *fn, const char *pydef, char *found,
                           size_t foundlen)
{
    for (const char *p = text; *p; p++) {
        if (p > text && ident_char((unsigned char)p[-1]))
            continue;
        const char *q = NULL;
        int is_def = 0;
        if (!strncmp(p, "def", 3) && (p[3] == ' ' || p[3] == '\t')) {
            q = p + 3;
            while (*q == ' ' || *q == '\t')
                q++;
            is_def = 1;
        } else if (!strncmp(p, "function_name", 13)) {
            q = p + 13;
            while (isspace((unsigned char)*q))
                q++;
            if (*q++ != '(')
                continue;
            while (isspace((unsigned char)*q))
                q++;
            if (!strncmp(q, "name", 4) && !ident_char((unsigned char)q[4])) {
                q += 4;
                while (isspace((unsigned char)*q))
                    q++;
                if (*q++ != '=')
                    continue;
                while (isspace((unsigned char)*q))
                    q++;
            }
            if (*q != '"' && *q != '\'')
                continue;
        } else {
            continue;
        }
        char name[256];
        size_t n = 0;
        if (is_def) {
            while (ident_char((unsigned char)q[n]) && n + 1 < sizeof name) {
                name[n] = q[n];
                n++;
            }
            const char *after = q + n;
            while (*after == ' ' || *after == '\t')
                after++;
            if (*after != '(')
                n = 0;
        } else {
            char quote = *q++;
            while (q[n] && q[n] != quote && q[n] != '\n' && n + 1 < sizeof name) {
                name[n] = q[n];
                n++;
            }
            if (q[n] != quote)
                n = 0;
        }
        name[n] = '\0';
        if (n && (!strcasecmp(name, fn) || (is_def && !strcmp(name, pydef)))) {
            snprintf(found, foundlen, "%s %s%s%s", is_def ? "def" : "function_name",
                     is_def ? "" : "\"", name, is_def ? "(" : "\"");
            return 1;
        }
    }
    return 0;
}

/* 1 when text binds the name `app` at the start of a line (`app = ...`). */
static int python_has_app(const char *text)
{
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, "app", 3) || ident_char((unsigned char)p[3]))
            continue;
        const char *q = p + 3;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == ':') /* app: func.FunctionApp = ... */
            q = strchr(q, '=');
        if (q && q[0] == '=' && q[1] != '=')
            return 1;
    }
    return 0;
}

/* 1 when text imports module (`import logging`, `import datetime, json`,
 * `import azure.functions as func`) on some line. */
static int python_imports(const char *text, const char *module)
{
    size_t n = strlen(module);
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, "import ", 7))
            continue;
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        for (const char *q = p + 6; q + n <= p + len; q++)
            if (!memcmp(q, module, n) && !ident_char((unsigned char)q[-1]) &&
                (q + n == p + len || !ident_char((unsigned char)q[n])) && q[-1] != '.')
                return 1;
    }
    return 0;
}

static int add_python(const template_t *t, const char *app, const char *host_json,
                      const char *script, const char *fn, const char *auth)
{
    char path[PATH_MAX];
    int here = !strcmp(app, ".");
    if (snprintf(path, sizeof path, "%s%s%s", here ? "" : app, here ? "" : "/", script) >=
        (int)sizeof path) {
        fprintf(stderr, "stratus new: path too long\n");
        return 1;
    }
    char pydef[200], pyname[300], pyauth[16], found[300];
    python_def(fn, pydef, sizeof pydef);
    pyname[0] = '\0';
    if (strcmp(pydef, fn))
        snprintf(pyname, sizeof pyname, "@app.function_name(name=\"%s\")\n", fn);
    size_t i = 0;
    for (; auth[i] && i + 1 < sizeof pyauth; i++)
        pyauth[i] = (char)toupper((unsigned char)auth[i]);
    pyauth[i] = '\0';

    buf_t old, add;
    buf_init(&old, MAX_SCRIPT);
    buf_init(&add, 1 << 20);
    int rc = 1;
    if (cli_read_file("new", path, &old) != 0)
        goto out;
    if (buf_putc(&old, '\0') != 0) { /* a C string to scan */
        fprintf(stderr, "stratus new: %s is larger than %u bytes\n", path, MAX_SCRIPT);
        goto out;
    }
    old.len--;
    if (strlen(old.p) != old.len) {
        fprintf(stderr, "stratus new: %s is not a text file (it holds a NUL byte)\n", path);
        goto out;
    }
    if (python_declares(old.p, fn, pydef, found, sizeof found)) {
        fprintf(stderr,
                "stratus new: %s already declares a function '%s' (%s; function names "
                "ignore case); choose another --name\n",
                path, fn, found);
        goto out;
    }
    if (!python_has_app(old.p)) {
        fprintf(stderr,
                "stratus new: %s has no 'app = func.FunctionApp()' line for the new "
                "function's decorators (@app.route, ...); add one, as 'stratus init --python "
                "--model V2' writes it\n",
                path);
        goto out;
    }

    /* Two blank lines before the new function, as PEP 8 has it. */
    size_t trailing = 0;
    while (trailing < old.len && old.p[old.len - 1 - trailing] == '\n')
        trailing++;
    for (size_t k = trailing; old.len && k < 3; k++)
        buf_putc(&add, '\n');
    const new_vars_t vars = {.fn = fn, .auth = auth, .pydef = pydef, .pyname = pyname,
                             .pyauth = pyauth};
    if (new_expand(&add, t->code, &vars) != 0 || !add.p) {
        fprintf(stderr, "stratus new: out of memory\n");
        goto out;
    }

    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "stratus new: cannot open %s: %s\n", path, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < add.len) {
        ssize_t w = write(fd, add.p + off, add.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        off += (size_t)w;
    }
    int err = errno;
    if (off < add.len) /* leave the file as it was */
        while (ftruncate(fd, (off_t)old.len) != 0 && errno == EINTR)
            ;
    if (close(fd) != 0 && off == add.len) {
        err = errno;
        off = 0;
    }
    if (off < add.len) {
        fprintf(stderr, "stratus new: cannot write %s: %s\n", path, strerror(err));
        goto out;
    }

    char *written[] = {path};
    new_print_created(t, app, host_json, &vars, t->code_next, written, 1);
    for (const char *const *m = (const char *const[]){"logging", "datetime", "json", NULL}; *m;
         m++) {
        char use[32];
        snprintf(use, sizeof use, "%s.", *m);
        if (strstr(add.p, use) && !python_imports(old.p, *m))
            printf("Note: the new function uses the module %s, which %s does not import: add "
                   "'import %s' at its top.\n",
                   *m, script, *m);
    }
    if (strstr(add.p, "func.") && !python_imports(old.p, "func"))
        printf("Note: the new function uses func, which %s does not import: add 'import "
               "azure.functions as func' at its top.\n",
               script);
    rc = 0;
out:
    buf_free(&old);
    buf_free(&add);
    return rc;
}

/* ---- Node.js V4: src/functions/<name>.js ----------------------------------- */

/* The folder of main's files when main is a folder without wildcards, a
 * slash and "*.js" (as Azure's default, whose folder is src/functions),
 * else NULL. In out. */
static const char *main_folder(const char *main, char *out, size_t outlen)
{
    size_t n = strlen(main);
    if (n < 6 || strcmp(main + n - 5, "/*.js") || main[0] == '/' || strstr(main, ".."))
        return NULL;
    while (!strncmp(main, "./", 2)) {
        main += 2;
        n -= 2;
    }
    if (n - 5 == 0 || n - 5 >= outlen || strcspn(main, "*?[{") < n - 5)
        return NULL;
    memcpy(out, main, n - 5);
    out[n - 5] = '\0';
    return out;
}

static int add_node(const template_t *t, const char *app, const char *host_json,
                    const char *main, const char *fn, const char *auth)
{
    char folder[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], rel[PATH_MAX];
    const char *f = main_folder(main, folder, sizeof folder);
    if (!f)
        f = "src/functions";
    int here = !strcmp(app, ".");
    if (snprintf(dir, sizeof dir, "%s%s%s", here ? "" : app, here ? "" : "/", f) >=
            (int)sizeof dir ||
        snprintf(path, sizeof path, "%s/%s.js", dir, fn) >= (int)sizeof path ||
        snprintf(rel, sizeof rel, "%s/%s.js", f, fn) >= (int)sizeof rel) {
        fprintf(stderr, "stratus new: path too long\n");
        return 1;
    }
    /* Function names ignore case: so do the file names. */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char want[NAME_MAX + 1];
        snprintf(want, sizeof want, "%s.js", fn);
        while ((e = readdir(d)) != NULL)
            if (!strcasecmp(e->d_name, want)) {
                fprintf(stderr,
                        "stratus new: '%s/%s' already exists (function names ignore case); "
                        "choose another --name\n",
                        dir, e->d_name);
                closedir(d);
                return 1;
            }
        closedir(d);
    }
    if (cli_mkdir_p(dir) != 0) {
        fprintf(stderr, "stratus new: cannot create folder %s: %s\n", dir, strerror(errno));
        return 1;
    }
    const new_vars_t vars = {.fn = fn, .auth = auth};
    buf_t text;
    buf_init(&text, 1 << 20);
    int rc = 1;
    if (new_expand(&text, t->code, &vars) != 0 || !text.p)
        fprintf(stderr, "stratus new: out of memory\n");
    else if (new_write_file(path, text.p, text.len) == 0)
        rc = 0;
    buf_free(&text);
    if (rc)
        return rc;
    char *written[] = {path};
    new_print_created(t, app, host_json, &vars, t->code_next, written, 1);
    const char *pattern = main;
    while (!strncmp(pattern, "./", 2))
        pattern += 2;
    if (fnmatch(pattern, rel, FNM_PATHNAME) != 0)
        printf("Note: package.json \"main\" is \"%s\", which does not name %s: the worker "
               "loads only the files \"main\" names (Azure's default is "
               "\"src/functions/*.js\").\n",
               main, rel);
    return 0;
}

int new_in_code(const template_t *t, const char *app, const char *host_json, new_model_t model,
                const char *where, const char *fn, const char *auth)
{
    if (!t->code) {
        fprintf(stderr, "stratus new: template \"%s\" has no version for an app that declares "
                        "its functions in code\n",
                t->name);
        return 1;
    }
    return model == NEW_MODEL_PYTHON_V2 ? add_python(t, app, host_json, where, fn, auth)
                                        : add_node(t, app, host_json, where, fn, auth);
}
