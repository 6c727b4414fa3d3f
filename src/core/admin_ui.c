/*
 * admin_ui.c -- the dashboard's files (the repository's ui/ folder, carried
 * inside the binary by scripts/embed_tree.sh) served at /admin/ui: the page
 * at /admin/ui, /admin/ui/ and /admin/ui/index.html, the other files at
 * /admin/ui/<name>. These are routes of the admin API: admin.c checks the
 * master key and the method before calling here.
 *
 * Every answer forbids other origins (Content-Security-Policy) and keeps the
 * URL, which may hold the key, out of Referer headers. The page itself is
 * never cached (the key is written into its asset URLs); the assets carry an
 * ETag and are revalidated on each use (304 when unchanged).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../runtimes/embedded.h"
#include "admin_ui.h"

#define UI_PREFIX "/admin/ui"
#define CODE_MARK "{{code}}"

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    return "application/octet-stream";
}

static const embedded_file_t *find_file(const char *name, size_t n)
{
    for (const embedded_file_t *f = ui_files; f->path; f++)
        if (strlen(f->path) == n && memcmp(f->path, name, n) == 0)
            return f;
    return NULL;
}

/* A strong validator of a file's bytes: FNV-1a 64, quoted. */
static void etag_of(const embedded_file_t *f, char out[20])
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < f->len; i++) {
        h ^= f->data[i];
        h *= 0x100000001b3ull;
    }
    snprintf(out, 20, "\"%016llx\"", (unsigned long long)h);
}

/* Does If-None-Match (a list of tags, or *) name tag? */
static int etag_matches(sv_t inm, const char *tag)
{
    size_t tn = strlen(tag);
    if (inm.n == 1 && inm.p[0] == '*')
        return 1;
    for (size_t i = 0; i + tn <= inm.n; i++)
        if (memcmp(inm.p + i, tag, tn) == 0)
            return 1;
    return 0;
}

/* The page with each CODE_MARK replaced by "?code=<key, percent-encoded>"
 * (or nothing without a key), in the request's arena; NULL when out of
 * memory. */
static char *page_with_key(http_request_t *req, const embedded_file_t *f, sv_t key, size_t *len)
{
    char q[3 * 256 + 8] = "";
    if (key.n && key.n <= 256) {
        size_t o = 0;
        o += (size_t)snprintf(q, sizeof q, "?code=");
        for (size_t i = 0; i < key.n; i++) {
            unsigned char c = (unsigned char)key.p[i];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '~')
                q[o++] = (char)c;
            else
                o += (size_t)snprintf(q + o, sizeof q - o, "%%%02X", c);
        }
        q[o] = '\0';
    }
    size_t qn = strlen(q), mn = sizeof CODE_MARK - 1, marks = 0;
    const char *src = (const char *)f->data;
    for (const char *p = src; (p = memmem(p, f->len - (size_t)(p - src), CODE_MARK, mn)); p += mn)
        marks++;
    char *out = arena_alloc(&req->arena, f->len + marks * qn + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = src, *end = src + f->len;
    while (p < end) {
        const char *m = memmem(p, (size_t)(end - p), CODE_MARK, mn);
        size_t take = m ? (size_t)(m - p) : (size_t)(end - p);
        memcpy(out + o, p, take);
        o += take;
        if (!m)
            break;
        memcpy(out + o, q, qn);
        o += qn;
        p = m + mn;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

void admin_ui_handle(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)h;
    (void)p;
    size_t n = sizeof UI_PREFIX - 1;
    const char *name = req->path.p + n;
    size_t name_n = req->path.n - n;
    if (name_n && name[0] == '/') {
        name++;
        name_n--;
    }
    int page = name_n == 0 || (name_n == 10 && memcmp(name, "index.html", 10) == 0);
    const embedded_file_t *f = page ? find_file("index.html", 10) : find_file(name, name_n);
    if (!f || memchr(name, '%', name_n)) {
        host_respond_text(req, 404, "no dashboard file at this path");
        return;
    }
    http_header_t hdr[6] = {
        {SV_LIT("Content-Type"), sv_cstr(content_type(f->path))},
        {SV_LIT("Content-Security-Policy"), {CSP, sizeof CSP - 1}},
        {SV_LIT("X-Content-Type-Options"), SV_LIT("nosniff")},
        {SV_LIT("Referrer-Policy"), SV_LIT("no-referrer")},
    };
    if (page) {
        hdr[4] = (http_header_t){SV_LIT("Cache-Control"), SV_LIT("no-store")};
        size_t len;
        char *body = page_with_key(req, f, host_request_key(req), &len);
        if (!body) {
            http_respond(req, 500, NULL, 0, NULL, 0);
            return;
        }
        http_respond(req, 200, hdr, 5, body, len);
        return;
    }
    char tag[20];
    etag_of(f, tag);
    hdr[4] = (http_header_t){SV_LIT("Cache-Control"), SV_LIT("private, no-cache")};
    hdr[5] = (http_header_t){SV_LIT("ETag"), sv_cstr(tag)};
    sv_t inm = http_request_header(req, "If-None-Match");
    if (inm.p && etag_matches(inm, tag)) {
        http_respond(req, 304, hdr + 1, 5, NULL, 0);
        return;
    }
    http_respond(req, 200, hdr, 6, f->data, f->len);
}
