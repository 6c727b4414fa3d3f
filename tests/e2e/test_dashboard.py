"""The dashboard at /admin/ui (docs/dashboard.md): its files over plain HTTP
(master key, Content-Type, Content-Security-Policy, ETag), then the page in
headless Chromium driven through the DevTools protocol (tests/e2e/cdp.py):
it loads, shows the functions and what was just invoked, asks nothing of
another origin and logs no error. The screenshot is kept as
build/test-artifacts/dashboard.png."""
import json
import os
import re
import time
import urllib.parse

import pytest

from cdp import Browser, find_chromium
from conftest import ROOT, function_key, http_fn, master_key, wait_for, write_app

ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts")

# Logs a line, then fails: the dashboard shows it among the failures.
BOOM_C = r"""
#include <stratus.h>
int boom(stratus_ctx *ctx)
{
    stratus_log(ctx, STRATUS_LOG_ERROR, "boom: the disk is on fire");
    return 1;
}
"""

# Endpoints other branches of the admin API provide; the page must do
# without them (a 404 for these is expected, not a failure).
OPTIONAL = ("/metrics", "/admin/invocations", "/admin/queues", "/admin/usage")


def functions():
    return {
        "hello": http_fn("hello", auth="function"),
        "boom": http_fn("boom", source=BOOM_C, auth="anonymous"),
    }


@pytest.fixture(scope="module")
def hosts(module_hosts):
    w = module_hosts.workdir
    auth = write_app(os.path.join(w, "auth"), functions())
    dev = write_app(os.path.join(w, "dev"), functions())
    a = module_hosts.spawn(auth, "--enable-auth")
    b = module_hosts.spawn(dev)
    return {"auth": module_hosts.ready(a), "dev": module_hosts.ready(b)}


@pytest.fixture
def host(hosts):
    return hosts["auth"]


def code(h):
    return "?code=" + urllib.parse.quote(master_key(h.app), safe="")


# ---- plain HTTP ----

@pytest.mark.parametrize("path", ["/admin/ui", "/admin/ui/", "/admin/ui/app.js",
                                  "/admin/ui/app.css", "/admin/ui/index.html"])
def test_needs_the_master_key(host, path):
    r = host.get(path)
    assert r.status == 401, r.text
    assert "master key" in r.json()["error"]
    fk = function_key(host.app, "hello")
    # A key that is valid but not the master key: 403, as for the rest of /admin.
    assert host.get(path, headers={"x-functions-key": fk}).status == 403
    assert host.get(path + "?code=not-a-key-at-all").status == 401
    hk = json.load(open(os.path.join(host.app, ".stratus", "secrets", "host.json")))
    hostkey = hk["functionKeys"][0]["value"]
    assert host.get(path + "?code=" + hostkey).status == 403


@pytest.mark.parametrize("path,ctype", [
    ("/admin/ui", "text/html; charset=utf-8"),
    ("/admin/ui/", "text/html; charset=utf-8"),
    ("/admin/ui/index.html", "text/html; charset=utf-8"),
    ("/admin/ui/app.js", "text/javascript; charset=utf-8"),
    ("/admin/ui/app.css", "text/css; charset=utf-8"),
])
def test_files_and_headers(host, path, ctype):
    r = host.get(path + code(host))
    assert r.status == 200, r.text
    assert r.header("Content-Type") == ctype
    csp = r.header("Content-Security-Policy")
    assert csp and "default-src 'none'" in csp
    for directive in csp.split(";"):
        words = directive.split()
        # Only 'self', 'none' and data: images: no host, scheme or inline source.
        assert all(w in ("'self'", "'none'", "data:") for w in words[1:]), directive
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("Referrer-Policy") == "no-referrer"
    name = path[len("/admin/ui/"):] or "index.html"
    with open(os.path.join(ROOT, "ui", name), "rb") as f:
        disk = f.read()
    if ctype.startswith("text/html"):
        assert r.header("Cache-Control") == "no-store"
        assert r.header("ETag") is None
        # The assets are asked for with the same key.
        q = re.escape(code(host))
        assert re.search(r'href="/admin/ui/app\.css%s"' % q, r.text), r.text[:800]
        assert re.search(r'src="/admin/ui/app\.js%s"' % q, r.text)
        assert b"{{code}}" not in r.body
        assert r.body == disk.replace(b"{{code}}", code(host).encode())
    else:
        assert r.body == disk
        assert r.header("Cache-Control") == "private, no-cache"
        assert re.fullmatch(r'"[0-9a-f]{16}"', r.header("ETag") or "")


def test_page_without_key_in_url(host):
    """A key in the header, not the URL: the asset URLs carry it the same way."""
    r = host.get("/admin/ui", headers={"x-functions-key": master_key(host.app)})
    assert r.status == 200
    assert code(host).encode() in r.body


def test_etag_revalidation(host):
    r = host.get("/admin/ui/app.js" + code(host))
    tag = r.header("ETag")
    again = host.get("/admin/ui/app.js" + code(host), headers={"If-None-Match": tag})
    assert again.status == 304
    assert again.body == b""
    assert again.header("ETag") == tag
    assert host.get("/admin/ui/app.js" + code(host),
                    headers={"If-None-Match": '"0000000000000000"'}).status == 200
    # Each file has its own tag.
    assert host.get("/admin/ui/app.css" + code(host)).header("ETag") != tag


def test_head_unknown_and_methods(host):
    r = host.request("HEAD", "/admin/ui/app.css" + code(host))
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Type") == "text/css; charset=utf-8"
    for bad in ("/admin/ui/nope.js", "/admin/ui/app.js/x", "/admin/ui/..%2Fapp.js",
                "/admin/ui/APP.JS"):
        r = host.get(bad + code(host))
        assert r.status == 404, bad
        assert "no dashboard file" in r.text
    r = host.post("/admin/ui" + code(host), body=b"x")
    assert r.status == 405
    assert r.header("Allow") == "GET, HEAD"
    # Not a prefix match on a longer word.
    assert host.get("/admin/uix" + code(host)).status == 404


def test_development_loopback_needs_no_key(hosts):
    dev = hosts["dev"]
    r = dev.get("/admin/ui")
    assert r.status == 200
    assert b'href="/admin/ui/app.css"' in r.body
    assert dev.get("/admin/ui/app.js").status == 200


# ---- in the browser ----

def chromium_or_fail():
    binary = find_chromium()
    if binary:
        return binary
    if os.environ.get("STRATUS_SKIP_BROWSER"):
        pytest.skip("STRATUS_SKIP_BROWSER is set")
    pytest.fail("chromium is needed for the dashboard test: sh scripts/deps.sh installs it "
                "(or set STRATUS_CHROMIUM, or STRATUS_SKIP_BROWSER=1 to skip)")


def available(h, path):
    return h.get(path, headers={"x-functions-key": master_key(h.app)}).status == 200


JS_FUNCTIONS = """(() => Array.from(document.querySelectorAll('#functions tbody tr[data-function]'))
  .map(tr => Array.from(tr.cells).map(td => td.textContent.trim())))()"""

JS_INVOCATIONS = """(() => Array.from(document.querySelectorAll('#invocations tbody tr[data-id]'))
  .map(tr => ({id: tr.dataset.id, fn: tr.dataset.function, status: tr.dataset.status,
               badge: tr.querySelector('.badge') && tr.querySelector('.badge').className})))()"""


# The latest point of the charts, read back from the legend's text.
JS_RATE = """(() => { const r = /now ([0-9.]+)\\/s/.exec(document.getElementById('rate-now').textContent);
  const l = /p95 ([0-9.]+) (ms|s)/.exec(document.getElementById('latency-now').textContent);
  return r && {rate: parseFloat(r[1]), p95: l ? parseFloat(l[1]) : null}; })()"""


def test_dashboard_in_chromium(hosts, tmp_path):
    binary = chromium_or_fail()
    host = hosts["auth"]
    key = master_key(host.app)
    fk = function_key(host.app, "hello")
    for _ in range(3):
        assert host.get("/api/hello?code=" + fk).status == 200
    r = host.get("/api/boom")
    assert r.status == 500, r.text
    has_history = available(host, "/admin/invocations")
    has_metrics = available(host, "/metrics")
    has_usage = available(host, "/admin/usage")
    origin = "http://127.0.0.1:%d" % host.port

    with Browser.launch(str(tmp_path), binary) as browser:
        page = browser.new_page()
        page.navigate(origin + "/admin/ui" + code(host))
        assert page.wait_for("document.readyState === 'complete'", timeout=60), browser.log()
        # Two rounds of the 2 s refresh have run.
        assert page.wait_for("Number(document.body.dataset.refreshes || 0) >= 2", timeout=90), \
            page.evaluate("document.body.innerText")
        assert page.evaluate("document.getElementById('host-state').textContent") == "Running"
        assert host.app in page.evaluate("document.getElementById('host-app').textContent")

        rows = {r[0]: r for r in page.evaluate(JS_FUNCTIONS)}
        assert set(rows) == {"hello", "boom"}, rows
        assert rows["hello"][1] == "httpTrigger"
        assert rows["hello"][2] == origin + "/api/hello"
        assert rows["hello"][3] == "enabled"

        if has_history:
            got = page.wait_for(
                "(%s).some(r => r.fn === 'hello') && (%s).some(r => r.fn === 'boom')"
                % (JS_INVOCATIONS, JS_INVOCATIONS), timeout=60)
            assert got, page.evaluate("document.getElementById('invocations').innerText")
            invs = page.evaluate(JS_INVOCATIONS)
            boom = [i for i in invs if i["fn"] == "boom"][0]
            assert "bad" in boom["badge"], boom
            assert all("ok" in i["badge"] for i in invs if i["fn"] == "hello"), invs
            # Open the failed invocation: its error and log lines show.
            page.evaluate("document.querySelector('#invocations tr[data-id=\"%s\"] button').click()"
                          % boom["id"])
            text = page.wait_for("(() => { const d = document.querySelector("
                                 "'#invocations tr.detail'); return d && "
                                 "!/loading/.test(d.innerText) && d.innerText; })()", timeout=30)
            assert text and "disk is on fire" in text, text
            # Failures only: hello disappears.
            page.evaluate("(() => { const c = document.getElementById('filter-failures'); "
                          "c.checked = true; c.dispatchEvent(new Event('change')); })()")
            assert page.wait_for("(%s).length > 0 && (%s).every(r => r.fn === 'boom')"
                                 % (JS_INVOCATIONS, JS_INVOCATIONS), timeout=30)
        else:
            msg = page.evaluate("document.getElementById('invocations').innerText")
            assert "not available" in msg, msg
        if has_metrics:
            # Invocations while the page watches: the rate and latency lines rise.
            n_hello, n_boom = 3, 1
            seen = None
            for _ in range(60):
                for _ in range(5):
                    assert host.get("/api/hello?code=" + fk).status == 200
                assert host.get("/api/boom").status == 500
                n_hello, n_boom = n_hello + 5, n_boom + 1
                seen = page.evaluate(JS_RATE)
                if seen and seen["rate"] > 0 and seen["p95"]:
                    break
                time.sleep(0.5)
            assert seen and seen["rate"] > 0 and seen["p95"], (seen, page.evaluate(
                "document.getElementById('rate-now').textContent"))
            want = (str(n_hello), "0", str(n_boom), str(n_boom))
            got = page.wait_for("(() => { const r = %s; const h = r.find(x => x[0] === 'hello'), "
                                "b = r.find(x => x[0] === 'boom'); return h[4] === '%s' && "
                                "h[5] === '%s' && b[4] === '%s' && b[5] === '%s'; })()"
                                % ((JS_FUNCTIONS,) + want), timeout=30)
            assert got, (want, page.evaluate(JS_FUNCTIONS))
        if has_usage:
            got = page.wait_for("(%s).every(r => /^[0-9]+\\.[0-9]{3}$/.test(r[7]))" % JS_FUNCTIONS,
                                timeout=30)
            assert got, page.evaluate(JS_FUNCTIONS)
        else:
            assert "not available" in page.evaluate(
                "document.getElementById('rate-now').parentNode.parentNode.innerText") or \
                page.evaluate("document.getElementById('rate-now').textContent") == ""

        os.makedirs(ARTIFACTS, exist_ok=True)
        png = page.screenshot()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
        with open(os.path.join(ARTIFACTS, "dashboard.png"), "wb") as f:
            f.write(png)

        # Nothing asked of another origin; no failed load; no error logged
        # but the 404 of an endpoint this host does not have.
        problems = []
        urls = {}
        for m, p in page.events("Network.requestWillBeSent"):
            url = p["request"]["url"]
            urls[p["requestId"]] = url
            if not (url.startswith(origin + "/") or url.startswith("data:")
                    or url == "about:blank"):
                problems.append("request to another origin: " + url)
        for m, p in page.events("Network.loadingFailed"):
            if not p.get("canceled"):
                problems.append("failed: %s %s" % (urls.get(p["requestId"]), p.get("errorText")))
        for m, p in page.events("Network.responseReceived"):
            url, status = p["response"]["url"], p["response"]["status"]
            path = urllib.parse.urlsplit(url).path
            if status >= 400 and not (status == 404 and path.startswith(OPTIONAL)):
                problems.append("HTTP %d for %s" % (status, url))
        for m, p in page.events("Runtime.exceptionThrown"):
            problems.append("exception: %s" % json.dumps(p["exceptionDetails"])[:500])
        for m, p in page.events("Runtime.consoleAPICalled"):
            if p["type"] in ("error", "assert", "warning"):
                problems.append("console.%s: %s" % (p["type"], json.dumps(p["args"])[:500]))
        for m, p in page.events("Log.entryAdded"):
            e = p["entry"]
            if e["level"] != "error":
                continue
            path = urllib.parse.urlsplit(e.get("url", "")).path
            if e.get("source") == "network" and path.startswith(OPTIONAL):
                continue
            problems.append("log: %s %s" % (e.get("text"), e.get("url")))
        assert not problems, "\n".join(problems)
        # The key went out as a header, never in the query of an API call.
        for url in urls.values():
            if "/admin/ui" not in url:
                assert key not in url, url


METRICS_TEXT = r"""# HELP stratus_function_invocations_total Invocations.
# TYPE stratus_function_invocations_total counter
stratus_function_invocations_total{function="hello",trigger="httpTrigger",status="success"} 7
stratus_function_invocations_total{function="hello",trigger="httpTrigger",status="failure"} 2
stratus_function_invocations_total{function="q\"x",trigger="queueTrigger",status="success"} 1
stratus_function_inflight{function="hello"} 3
stratus_function_duration_seconds_bucket{function="hello",le="0.01"} 4
stratus_function_duration_seconds_bucket{function="hello",le="0.1"} 8
stratus_function_duration_seconds_bucket{function="hello",le="+Inf"} 10
stratus_function_duration_seconds_bucket{function="other",le="0.01"} 0
stratus_function_duration_seconds_bucket{function="other",le="0.1"} 0
stratus_function_duration_seconds_bucket{function="other",le="+Inf"} 10
stratus_app_instances{runtime="native"} 2
stratus_queue_messages{queue="orders",state="visible"} 5
"""


def test_metrics_arithmetic_in_chromium(tmp_path):
    """The page's Prometheus parsing and histogram quantiles, run in the browser."""
    binary = chromium_or_fail()
    with Browser.launch(str(tmp_path), binary) as browser:
        page = browser.new_page()
        with open(os.path.join(ROOT, "ui", "app.js")) as f:
            page.evaluate(f.read())
        s = page.evaluate("(() => { const d = window.stratusDashboard; "
                          "return d.summarize(d.parseMetrics(%s)); })()" % json.dumps(METRICS_TEXT))
        assert s["total"] == 10 and s["failed"] == 2
        assert s["fn"]["hello"] == {"total": 9, "failed": 2, "inflight": 3}
        assert s["fn"]['q"x']["total"] == 1
        assert s["instances"] == {"native": 2}
        assert s["queues"] == {"orders": {"visible": 5}}
        q = "window.stratusDashboard.quantile"
        prev = {"0.01": 2, "0.1": 2, "Infinity": 2}
        cur = {"0.01": 4, "0.1": 8, "Infinity": 12}     # 2 + 4 + 4 new observations
        assert page.evaluate("%s(0.1, %s, %s)" % (q, json.dumps(prev), json.dumps(cur))) == \
            pytest.approx(0.005)                       # rank 1 of 2 in [0, 0.01]
        assert page.evaluate("%s(0.5, %s, %s)" % (q, json.dumps(prev), json.dumps(cur))) == \
            pytest.approx(0.01 + 0.09 * 3 / 4)         # rank 5: 3rd of 4 in (0.01, 0.1]
        # In the +Inf bucket the answer is the highest finite bound.
        assert page.evaluate("%s(0.95, %s, %s)" % (q, json.dumps(prev), json.dumps(cur))) == \
            pytest.approx(0.1)
        assert page.evaluate("%s(0.5, %s, %s)" % (q, json.dumps(cur), json.dumps(cur))) is None
