/*
 * test_blob.c -- the blobTrigger and blob binding kinds' configuration:
 * what parse accepts and the errors it gives (src/bindings/blob.c).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/bindings/binding.h"
#include "../../src/util/blobpath.h"
#include "test.h"

static int parse(const char *type, const char *json, binding_t *b, char *err, size_t errlen)
{
    const binding_kind_t *k = binding_kind_find(type);
    json_t *e = json_loads(json, 0, NULL);
    memset(b, 0, sizeof *b);
    err[0] = '\0';
    int rc = k && e ? k->parse(e, b, err, errlen) : -2;
    json_decref(e);
    return rc;
}

static void release(binding_t *b)
{
    binding_kind_find("blob")->free_conf(b->conf);
    b->conf = NULL;
}

TEST(blob_kinds_registered)
{
    const binding_kind_t *t = binding_kind_find("BlobTrigger");
    const binding_kind_t *io = binding_kind_find("blob");
    CHECK(t && t->is_trigger && t->start && t->stop && t->directions == BINDING_IN);
    CHECK(io && !io->is_trigger && io->read && io->write &&
          io->directions == (BINDING_IN | BINDING_OUT));
}

TEST(blob_trigger_parse)
{
    binding_t b;
    char err[512];
    CHECK_INT(parse("blobTrigger", "{\"Path\": \"images/{stem}.{ext}\"}", &b, err, sizeof err),
              0);
    blob_conf_t *c = b.conf;
    CHECK(c && c->pattern);
    if (!c)
        return;
    CHECK_STR(c->path, "images/{stem}.{ext}");
    CHECK_STR(blobpath_container(c->pattern), "images");
    CHECK_INT(blobpath_capture_count(c->pattern), 2);
    release(&b);

    CHECK_INT(parse("blobTrigger", "{}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "field 'path' is required") != NULL);
    CHECK_INT(parse("blobTrigger", "{\"path\": 7}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "field 'path': expected a string") != NULL);
    CHECK_INT(parse("blobTrigger", "{\"path\": \"inbox/{name\"}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "field 'path': 'inbox/{name': unclosed '{'") != NULL);
    CHECK_INT(parse("blobTrigger", "{\"path\": \"In_Box/{name}\"}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "field 'path': 'In_Box/{name}': ") != NULL);
    CHECK(b.conf == NULL);
}

TEST(blob_io_parse)
{
    binding_t b;
    char err[512];
    CHECK_INT(parse("blob", "{\"path\": \"thumbnails/{name}.png\"}", &b, err, sizeof err), 0);
    blob_conf_t *c = b.conf;
    CHECK(c && !c->pattern);
    release(&b);
    CHECK_INT(parse("blob", "{\"path\": \"{container}/x.txt\"}", &b, err, sizeof err), 0);
    release(&b);

    static const char *const bad[][2] = {
        {"{}", "field 'path' is required"},
        {"{\"path\": \"\"}", "expected a string such as"},
        {"{\"path\": \"onlycontainer\"}", "expected 'container/blob name'"},
        {"{\"path\": \"out/{name\"}", "'out/{name': unclosed '{' at position 5"},
        {"{\"path\": \"out/{}\"}", "empty '{}' at position 5"},
        {"{\"path\": \"out/a}\"}", "'}' without '{' at position 6"},
        {"{\"path\": \"Out/a.txt\"}", "field 'path': 'Out/a.txt': "},
        {"{\"path\": \"out/../a.txt\"}", "field 'path': 'out/../a.txt': "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(parse("blob", bad[i][0], &b, err, sizeof err), -1);
        CHECK(strstr(err, bad[i][1]) != NULL);
        CHECK(b.conf == NULL);
    }
}

int main(void)
{
    RUN(blob_kinds_registered);
    RUN(blob_trigger_parse);
    RUN(blob_io_parse);
    return TEST_REPORT();
}
