/*
 * test_timer.c -- the timerTrigger binding kind's configuration: what
 * parse accepts, its defaults, and the errors it gives (src/bindings/timer.c).
 */
#include <jansson.h>
#include <stdlib.h>

#include "../../src/bindings/binding.h"
#include "test.h"

static int parse(const char *json, binding_t *b, char *err, size_t errlen)
{
    const binding_kind_t *k = binding_kind_find("TimerTrigger");
    json_t *e = json_loads(json, 0, NULL);
    memset(b, 0, sizeof *b);
    err[0] = '\0';
    int rc = k && e ? k->parse(e, b, err, errlen) : -2;
    json_decref(e);
    return rc;
}

static void release(binding_t *b)
{
    binding_kind_find("timerTrigger")->free_conf(b->conf);
    b->conf = NULL;
}

TEST(timer_kind_registered)
{
    const binding_kind_t *k = binding_kind_find("timertrigger");
    CHECK(k != NULL);
    CHECK(k && k->is_trigger && k->start && k->stop && k->directions == BINDING_IN);
}

TEST(timer_defaults)
{
    binding_t b;
    char err[512];
    CHECK_INT(parse("{\"schedule\": \"0 */5 * * * *\"}", &b, err, sizeof err), 0);
    timer_trigger_conf_t *c = b.conf;
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->schedule, "0 */5 * * * *");
    CHECK_INT(c->run_on_startup, 0);
    CHECK_INT(c->use_monitor, 1);
    CHECK_INT(c->cron.kind, CRON_KIND_CRON);
    CHECK_INT(c->cron.nfields, 6);
    release(&b);
}

TEST(timer_options)
{
    binding_t b;
    char err[512];
    CHECK_INT(parse("{\"Schedule\": \"00:00:10\", \"RunOnStartup\": true, "
                    "\"useMonitor\": \"false\"}", &b, err, sizeof err), 0);
    timer_trigger_conf_t *c = b.conf;
    if (!c)
        return;
    CHECK_INT(c->cron.kind, CRON_KIND_INTERVAL);
    CHECK_INT(c->cron.interval_ms, 10000);
    CHECK_INT(c->run_on_startup, 1);
    CHECK_INT(c->use_monitor, 0);
    release(&b);
    CHECK_INT(parse("{\"schedule\": \"*/5 * * * *\", \"runOnStartup\": null}", &b, err,
                    sizeof err), 0);
    c = b.conf;
    if (c)
        CHECK_INT(c->cron.nfields, 5);
    release(&b);
}

TEST(timer_errors)
{
    binding_t b;
    char err[512];
    CHECK_INT(parse("{}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "field 'schedule' is required") != NULL);
    CHECK_INT(parse("{\"schedule\": 5}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "field 'schedule': expected a string") != NULL);
    CHECK_INT(parse("{\"schedule\": \"61 * * * * *\"}", &b, err, sizeof err), -1);
    CHECK_STR(err, "field 'schedule': schedule '61 * * * * *': field 1 (second): 61 is out of "
                   "range 0-59");
    CHECK_INT(parse("{\"schedule\": \"* * *\"}", &b, err, sizeof err), -1);
    CHECK(strstr(err, "found 3 fields") != NULL);
    CHECK_INT(parse("{\"schedule\": \"0 * * * * *\", \"useMonitor\": 1}", &b, err, sizeof err),
              -1);
    CHECK(strstr(err, "field 'useMonitor': expected true or false") != NULL);
    CHECK_INT(parse("{\"schedule\": \"0 * * * * *\", \"runOnStartup\": \"yes\"}", &b, err,
                    sizeof err), -1);
    CHECK(strstr(err, "field 'runOnStartup'") != NULL);
    CHECK(b.conf == NULL);
}

int main(void)
{
    RUN(timer_kind_registered);
    RUN(timer_defaults);
    RUN(timer_options);
    RUN(timer_errors);
    return TEST_REPORT();
}
