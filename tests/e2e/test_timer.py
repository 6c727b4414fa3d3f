"""Timer triggers (AZURE-CONTRACT.md section 2, timerTrigger): schedules in
six and five fields, TimeSpan intervals, %Setting% schedules, runOnStartup,
the TimerInfo payload, no overlapping runs, useMonitor with the status kept
in the store, IsPastDue after a run missed while the host was down, and a
clear error for each bad configuration.

One host serves most tests (module scope): its functions record every run
(start and end wall-clock times and the TimerInfo they got) into a file of
their own, and the tests read those files."""
import calendar
import json
import os
import re
import sqlite3
import time

import pytest

from conftest import SETTINGS, wait_for, write_app

# Each function appends "start end <TimerInfo>" to OUT_DIR/<name>.log; a
# function whose name starts with "slow" sleeps 2.5 s first.
RECORD_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
int ENTRY(stratus_ctx *ctx)
{
    double start = now();
    const char *name = stratus_function_name(ctx);
    if (strncmp(name, "slow", 4) == 0)
        usleep(2500 * 1000);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.log", stratus_setting(ctx, "OUT_DIR"), name);
    size_t n;
    const char *info = stratus_trigger_data(ctx, &n);
    FILE *f = fopen(path, "a");
    if (!f)
        return 1;
    fprintf(f, "%.6f %.6f %.*s\n", start, now(), (int)n, info);
    fclose(f);
    return 0;
}
"""


def timer_fn(name, **trigger):
    t = {"type": "timerTrigger", "direction": "in", "name": "myTimer"}
    t.update(trigger)
    return {"function.json": {"scriptFile": name + ".so", "bindings": [t]},
            name + ".c": RECORD_C.replace("ENTRY", name)}


def runs(out_dir, name):
    """[(start, end, TimerInfo)] recorded by function name."""
    try:
        with open(os.path.join(out_dir, name + ".log")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        start, end, info = line.split(" ", 2)
        out.append((float(start), float(end), json.loads(info)))
    return out


def iso_to_epoch(s):
    """'2026-11-26T21:00:00+00:00' (or with a fraction) -> seconds."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d):(\d\d)$", s)
    assert m, s
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    t = calendar.timegm((y, mo, d, h, mi, sec)) + float(m.group(7) or 0)
    off = (int(m.group(9)) * 60 + int(m.group(10))) * 60
    return t - off if m.group(8) == "+" else t + off


def settings(out_dir, **extra):
    s = json.loads(json.dumps(SETTINGS))
    s["Values"]["OUT_DIR"] = out_dir
    s["Values"].update(extra)
    return s


@pytest.fixture(scope="module")
def timers(module_hosts):
    root = os.path.join(module_hosts.workdir, "timers")
    out_dir = os.path.join(module_hosts.workdir, "out")
    os.makedirs(out_dir)
    functions = {
        "everysecond": timer_fn("everysecond", schedule="* * * * * *"),
        "interval": timer_fn("interval", schedule="00:00:01"),
        "everyminute": timer_fn("everyminute", schedule="0 */1 * * * *"),
        "fivefields": timer_fn("fivefields", schedule="0 1 1 1 *", runOnStartup=True),
        "startup": timer_fn("startup", schedule="0 0 0 1 1 *", runOnStartup=True),
        "fromsetting": timer_fn("fromsetting", schedule="%TICK_SCHEDULE%"),
        "slowtick": timer_fn("slowtick", schedule="* * * * * *"),
        # Bad configurations: each is reported, the others still run.
        "badfield": timer_fn("badfield", schedule="61 * * * * *"),
        "badcount": timer_fn("badcount", schedule="* * * *"),
        "badmonth": timer_fn("badmonth", schedule="0 0 * * Foo *"),
        "noschedule": timer_fn("noschedule"),
        "unsetsetting": timer_fn("unsetsetting", schedule="%NOT_SET_TIMER_SCHEDULE%"),
        "badmonitor": timer_fn("badmonitor", schedule="0 * * * * *", useMonitor="sometimes"),
    }
    write_app(root, functions, settings=settings(out_dir, TICK_SCHEDULE="*/1 * * * * *"))
    host = module_hosts.start(root)
    host.out_dir = out_dir
    host.started_at = time.time()
    return host


def test_one_second_schedule_fires_every_second(timers):
    got = wait_for(lambda: len(runs(timers.out_dir, "everysecond")) >= 4 and
                   runs(timers.out_dir, "everysecond"), timeout=30)
    assert got, timers.log()[-3000:]
    seconds = [int(start) for start, _, _ in got]
    assert seconds == sorted(set(seconds)), seconds  # one run per second, in order
    for start, _, info in got:
        # A sub-minute schedule has no monitor: ScheduleStatus is null.
        assert info == {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None,
                        "IsPastDue": False}, info
    log = timers.log()
    assert "The next 5 occurrences of the 'everysecond' schedule (Cron: '* * * * * *')" in log
    assert re.search(r"Executing 'Functions\.everysecond' \(Reason='Timer fired at "
                     r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00'", log), log[-3000:]


def test_timespan_interval(timers):
    got = wait_for(lambda: len(runs(timers.out_dir, "interval")) >= 3 and
                   runs(timers.out_dir, "interval"), timeout=30)
    assert got, timers.log()[-3000:]
    assert "(Constant: '00:00:01')" in timers.log()
    starts = [s for s, _, _ in got]
    assert all(b > a for a, b in zip(starts, starts[1:]))


def test_setting_schedule(timers):
    got = wait_for(lambda: len(runs(timers.out_dir, "fromsetting")) >= 2 and
                   runs(timers.out_dir, "fromsetting"), timeout=30)
    assert got, timers.log()[-3000:]
    assert "schedule (Cron: '*/1 * * * * *')" in timers.log()


def test_run_on_startup_runs_once(timers):
    got = wait_for(lambda: runs(timers.out_dir, "startup"), timeout=30)
    assert got, timers.log()[-3000:]
    time.sleep(1.5)
    got = runs(timers.out_dir, "startup")
    assert len(got) == 1, got
    info = got[0][2]
    assert info["IsPastDue"] is False
    # A yearly schedule is monitored: the status as it was before the run.
    status = info["ScheduleStatus"]
    assert status["Last"] == "0001-01-01T00:00:00+00:00", status
    assert re.match(r"\d{4}-01-01T00:00:00\+00:00$", status["Next"]), status
    assert "Function 'startup' is configured to run on startup. Executing now." in timers.log()
    # Five fields: a schedule without seconds (yearly here), also run on startup.
    five = wait_for(lambda: runs(timers.out_dir, "fivefields"), timeout=10)
    assert five and len(five) == 1
    assert re.match(r"\d{4}-01-01T01:00:00\+00:00$", five[0][2]["ScheduleStatus"]["Next"])


def test_no_overlap_while_a_run_is_still_going(timers):
    # slowtick runs for 2.5 s on a one-second schedule: the occurrences that
    # come while it runs are skipped, never run beside it or queued.
    got = wait_for(lambda: len(runs(timers.out_dir, "slowtick")) >= 3 and
                   runs(timers.out_dir, "slowtick"), timeout=40)
    assert got, timers.log()[-3000:]
    for (s1, e1, _), (s2, _, _) in zip(got, got[1:]):
        assert s2 >= e1, (s1, e1, s2)
    assert re.search(r"Function 'slowtick': the occurrence at \S+ is skipped: the previous "
                     r"run is still going", timers.log())


BAD = {
    "badfield": "binding 'myTimer' (timerTrigger): field 'schedule': schedule '61 * * * * *': "
                "field 1 (second): 61 is out of range 0-59",
    "badcount": "field 'schedule': schedule '* * * *': expected 6 fields",
    "badmonth": "schedule '0 0 * * Foo *': field 5 (month): 'Foo' is not a number or a month",
    "noschedule": "binding 'myTimer' (timerTrigger): field 'schedule' is required",
    "unsetsetting": "field 'schedule': '%NOT_SET_TIMER_SCHEDULE%': the app setting "
                    "'NOT_SET_TIMER_SCHEDULE' is not set",
    "badmonitor": "field 'useMonitor': expected true or false",
}


def test_bad_configurations_get_clear_errors(timers):
    errors = timers.get("/admin/host/status").json()["errors"]
    log = timers.log()
    for name, text in BAD.items():
        assert any(name in e and text in e for e in errors), (name, text, errors)
        assert text in log, (name, log[-3000:])
    assert len(errors) == len(BAD), errors
    # None of them runs; the good ones do.
    for name in BAD:
        assert not runs(timers.out_dir, name)
    assert runs(timers.out_dir, "everysecond")


def test_minute_schedule_fires_on_the_minute(timers):
    # The one test that waits for a minute boundary (up to ~60 s).
    got = wait_for(lambda: runs(timers.out_dir, "everyminute"), timeout=80, interval=0.2)
    assert got, timers.log()[-3000:]
    start, _, info = got[0]
    slot = iso_to_epoch(info["ScheduleStatus"]["Next"])
    assert slot % 60 == 0, info
    assert start >= slot, (start, slot)      # never early
    assert start - slot < 5, (start, slot)    # and on time, within a generous margin
    assert info["IsPastDue"] is False
    # The status kept in the store after the run: Last is that minute.
    db = os.path.join(timers.app, ".stratus", "store.db")

    def kept():
        con = sqlite3.connect(db, timeout=10)
        try:
            row = con.execute("SELECT value FROM kv WHERE ns='timer' AND key='everyminute'"
                              ).fetchone()
        finally:
            con.close()
        return row and json.loads(row[0])
    status = wait_for(lambda: (kept() or {}).get("Last", "").startswith(
        info["ScheduleStatus"]["Next"][:16]) and kept(), timeout=10)
    assert status, kept()
    assert iso_to_epoch(status["Next"]) == slot + 60, status


# ---- past due: a run missed while the host was down ----

def test_missed_run_is_reported_past_due_once(tmp_path, start_host):
    out_dir = str(tmp_path / "out")
    os.makedirs(out_dir)
    root = write_app(tmp_path / "app", {"hourly": timer_fn("hourly", schedule="0 0 * * * *")},
                     settings=settings(out_dir))
    host = start_host(root)
    db = os.path.join(root, ".stratus", "store.db")

    def kept():
        con = sqlite3.connect(db, timeout=10)
        try:
            row = con.execute("SELECT value FROM kv WHERE ns='timer' AND key='hourly'").fetchone()
        finally:
            con.close()
        return row and json.loads(row[0])
    first = wait_for(kept, timeout=20)
    assert first, host.log()[-3000:]
    assert first["Last"] == "0001-01-01T00:00:00+00:00"
    assert host.stop() == 0
    assert not runs(out_dir, "hourly")

    # The host was down over an occurrence: the kept Next lies 3 hours ago.
    hour = int(time.time()) // 3600 * 3600
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
    last, nxt = hour - 4 * 3600, hour - 3 * 3600
    con = sqlite3.connect(db, timeout=10)
    with con:
        con.execute("UPDATE kv SET value=? WHERE ns='timer' AND key='hourly'",
                    (json.dumps({"Last": fmt(last), "Next": fmt(nxt),
                                 "LastUpdated": fmt(last)}).encode(),))
    con.close()

    host = start_host(root)
    got = wait_for(lambda: runs(out_dir, "hourly"), timeout=20)
    assert got, host.log()[-3000:]
    time.sleep(1.5)
    got = [r for r in runs(out_dir, "hourly") if r[2]["IsPastDue"]]
    assert len(got) == 1, got  # one catch-up run, not one per missed occurrence
    info = got[0][2]
    assert info["ScheduleStatus"] == {"Last": fmt(last), "Next": fmt(nxt),
                                      "LastUpdated": fmt(last)}, info
    assert "Function 'hourly' is past due on startup" in host.log()
    # After the catch-up run the kept status counts from it.
    status = wait_for(lambda: (kept() or {}).get("Last", "") > fmt(hour) and kept(), timeout=10)
    assert status, kept()
    assert iso_to_epoch(status["Next"]) == hour + 3600, status
    assert host.stop() == 0
