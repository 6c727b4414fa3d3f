"""The admin API: ping, status, function listing, invocation of any function,
its authorization, and the key endpoints (AZURE-CONTRACT.md section 4)."""
import json
import os
import re
import stat
import time
import uuid

import pytest

from conftest import function_key, http_fn, master_key, wait_for, write_app

# Logs its trigger data (the "input" of an admin invocation).
LOG_C = r"""
#include <stratus.h>
int logger(stratus_ctx *ctx)
{
    size_t n;
    const char *d = stratus_trigger_data(ctx, &n);
    stratus_log(ctx, STRATUS_LOG_INFO, "logger got [%.*s] len=%zu", (int)n, d, n);
    stratus_res_printf(ctx, "logged\n");
    return 0;
}
"""

NEW_KEY = "MyNewFunctionKey_abcdefghij0123456789"
NEW_KEY2 = "ReplacedFunctionKey_zyxwvu9876543210"


def functions():
    return {
        "echo": http_fn("echo", auth="function"),
        "logger": http_fn("logger", source=LOG_C, auth="function"),
        "anon": http_fn("anon", auth="anonymous"),
        "adminfn": http_fn("adminfn", auth="admin"),
    }


@pytest.fixture(scope="module")
def hosts(module_hosts):
    w = module_hosts.workdir
    prod = write_app(os.path.join(w, "prod"), functions())
    dev = write_app(os.path.join(w, "dev"), functions())
    a = module_hosts.spawn(prod, mode="host")
    b = module_hosts.spawn(dev)
    return {"host": module_hosts.ready(a), "dev": module_hosts.ready(b)}


@pytest.fixture
def host(hosts):
    return hosts["host"]


def mk(h):
    return {"x-functions-key": master_key(h.app)}


def jpost(h, path, obj, method="POST"):
    hdr = dict(mk(h))
    hdr["Content-Type"] = "application/json"
    return h.request(method, path, body=json.dumps(obj).encode(), headers=hdr)


# ---- ping and status -----------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ping_needs_no_key(host, method):
    r = host.request(method, "/admin/host/ping", body=b"" if method == "POST" else None)
    assert r.status == 200, r.text


def test_status(host):
    r = host.get("/admin/host/status", headers=mk(host))
    assert r.status == 200, r.text
    assert "application/json" in (r.header("Content-Type") or "")
    s = r.json()
    assert isinstance(s["id"], str) and s["id"]
    assert s["state"] == "Running"
    assert isinstance(s["version"], str) and re.match(r"^\d+\.\d+", s["version"])
    assert isinstance(s["processUptime"], (int, float)) and s["processUptime"] >= 0
    assert s["errors"] == []


def test_status_uptime_grows(host):
    a = host.get("/admin/host/status", headers=mk(host)).json()["processUptime"]
    time.sleep(0.05)
    b = host.get("/admin/host/status", headers=mk(host)).json()["processUptime"]
    assert b >= a
    assert host.get("/admin/host/status", headers=mk(host)).json()["id"] == \
        host.get("/admin/host/status", headers=mk(host)).json()["id"]


def test_functions_list(host):
    r = host.get("/admin/functions", headers=mk(host))
    assert r.status == 200, r.text
    fns = r.json()
    assert isinstance(fns, list)
    by_name = {f["name"]: f for f in fns}
    assert set(by_name) == {"echo", "logger", "anon", "adminfn"}
    for name, f in by_name.items():
        assert f["invoke_url_template"] == "http://127.0.0.1:%d/api/%s" % (host.port, name), f


def test_function_get(host):
    r = host.get("/admin/functions/echo", headers=mk(host))
    assert r.status == 200
    assert r.json()["name"] == "echo"
    assert host.get("/admin/functions/nosuch", headers=mk(host)).status == 404


# ---- invocation ----------------------------------------------------------------

@pytest.mark.parametrize("which", ["host", "dev"])
def test_invoke_runs_function_with_input(hosts, which):
    h = hosts[which]
    marker = "hello-" + uuid.uuid4().hex
    r = jpost(h, "/admin/functions/logger", {"input": marker})
    assert r.status == 202, r.text
    line = wait_for(lambda: next((ln for ln in h.log().splitlines()
                                  if "logger got [%s]" % marker in ln), None), timeout=30)
    assert line, h.log()[-3000:]
    # the invocation ends as succeeded, with the id the 202 answer gave
    inv = r.header("x-invocation-id")
    if inv:
        assert wait_for(lambda: any(inv in ln and "Succeeded" in ln
                                    for ln in h.log().splitlines()), timeout=30), h.log()[-3000:]


def test_invoke_function_name_case_insensitive(host):
    marker = "case-" + uuid.uuid4().hex
    assert jpost(host, "/admin/functions/LOGGER", {"input": marker}).status == 202
    assert wait_for(lambda: marker in host.log(), timeout=30)


def test_invoke_without_body_is_400(host):
    r = host.post("/admin/functions/logger", body=b"", headers=mk(host))
    assert r.status == 400, r.text


def test_invoke_bad_json_is_400(host):
    hdr = dict(mk(host), **{"Content-Type": "application/json"})
    r = host.post("/admin/functions/logger", body=b'{"input": "x"', headers=hdr)
    assert r.status == 400, r.text
    r = host.post("/admin/functions/logger", body=b"not json", headers=hdr)
    assert r.status == 400, r.text
    r = host.post("/admin/functions/logger", body=b'["input"]', headers=hdr)
    assert r.status == 400, r.text


def test_invoke_unknown_function_is_404(host):
    r = jpost(host, "/admin/functions/nosuchfn", {"input": "x"})
    assert r.status == 404, r.text


# ---- admin authorization ---------------------------------------------------------

ADMIN_PATHS = [("GET", "/admin/host/status"), ("GET", "/admin/functions"),
               ("GET", "/admin/host/keys"), ("GET", "/admin/functions/echo/keys")]


@pytest.mark.parametrize("method,path", ADMIN_PATHS)
def test_admin_without_key_is_401(host, method, path):
    assert host.request(method, path).status == 401
    assert host.request(method, path, headers={"x-functions-key": "z" * 54}).status == 401


@pytest.mark.parametrize("method,path", ADMIN_PATHS)
def test_admin_with_function_key_is_403(host, method, path):
    r = host.request(method, path, headers={"x-functions-key": function_key(host.app, "echo")})
    assert r.status == 403, r.text


def test_admin_with_host_function_key_is_403(host):
    with open(os.path.join(host.app, ".stratus", "secrets", "host.json")) as f:
        hk = json.load(f)["functionKeys"][0]["value"]
    assert host.get("/admin/host/status", headers={"x-functions-key": hk}).status == 403


def test_admin_invoke_needs_master(host):
    body = json.dumps({"input": "x"}).encode()
    assert host.post("/admin/functions/logger", body=body).status == 401
    assert host.post("/admin/functions/logger", body=body, headers={
        "x-functions-key": function_key(host.app, "logger")}).status == 403


@pytest.mark.parametrize("method,path", ADMIN_PATHS)
def test_admin_with_master_key_is_200(host, method, path):
    assert host.request(method, path, headers=mk(host)).status == 200
    assert host.request(method, path + "?code=" + master_key(host.app)).status == 200


def test_admin_open_from_loopback_in_dev(hosts):
    h = hosts["dev"]
    assert h.get("/admin/host/status").status == 200
    assert h.get("/admin/functions").status == 200


def test_admin_wrong_method_is_405_with_allow(host):
    r = host.request("DELETE", "/admin/host/status", headers=mk(host))
    assert r.status == 405
    assert "GET" in (r.header("Allow") or "")


def test_unknown_admin_path_is_404(host):
    assert host.get("/admin/nothing", headers=mk(host)).status == 404


# ---- function keys ---------------------------------------------------------------

def test_function_keys_list(host):
    r = host.get("/admin/functions/echo/keys", headers=mk(host))
    assert r.status == 200, r.text
    keys = r.json()["keys"]
    assert {"name": "default", "value": function_key(host.app, "echo")} in \
        [{"name": k["name"], "value": k["value"]} for k in keys]
    assert host.get("/admin/functions/nosuch/keys", headers=mk(host)).status == 404


def test_function_key_put_create_replace_use_delete(host):
    path = "/admin/functions/echo/keys/mykey"
    r = jpost(host, path, {"name": "mykey", "value": NEW_KEY}, method="PUT")
    assert r.status == 201, r.text
    assert r.json()["value"] == NEW_KEY and r.json()["name"] == "mykey"
    assert host.get("/api/echo", headers={"x-functions-key": NEW_KEY}).status == 200
    # not valid for another function
    assert host.get("/api/logger", headers={"x-functions-key": NEW_KEY}).status == 401
    # listed, and persisted in the function's key file
    names = {k["name"]: k["value"] for k in
             host.get("/admin/functions/echo/keys", headers=mk(host)).json()["keys"]}
    assert names.get("mykey") == NEW_KEY
    kf = os.path.join(host.app, ".stratus", "secrets", "echo.json")
    with open(kf) as f:
        assert NEW_KEY in f.read()
    assert stat.S_IMODE(os.stat(kf).st_mode) == 0o600

    r = jpost(host, path, {"name": "mykey", "value": NEW_KEY2}, method="PUT")
    assert r.status == 200, r.text
    assert host.get("/api/echo", headers={"x-functions-key": NEW_KEY2}).status == 200
    assert host.get("/api/echo", headers={"x-functions-key": NEW_KEY}).status == 401

    r = host.request("DELETE", path, headers=mk(host))
    assert r.status == 204, r.text
    assert host.get("/api/echo", headers={"x-functions-key": NEW_KEY2}).status == 401
    assert host.request("DELETE", path, headers=mk(host)).status == 404
    # the default key still works
    assert host.get("/api/echo?code=" + function_key(host.app, "echo")).status == 200


def test_function_key_put_refuses_short_value(host):
    r = jpost(host, "/admin/functions/echo/keys/shorty", {"name": "shorty", "value": "abc"},
              method="PUT")
    assert r.status == 400, r.text
    assert host.get("/api/echo?code=abc").status == 401
    for bad in ("k" * 300, "has a space in the value 0123456789"):
        r = jpost(host, "/admin/functions/echo/keys/badval", {"name": "badval", "value": bad},
                  method="PUT")
        assert r.status == 400, (bad, r.text)
    assert host.get("/admin/functions/echo/keys/badval", headers=mk(host)).status == 404


def test_function_key_with_reserved_characters_via_code(host):
    value = "abc/def=ghi~jkl_" + uuid.uuid4().hex
    r = jpost(host, "/admin/functions/logger/keys/odd", {"name": "odd", "value": value},
              method="PUT")
    assert r.status == 201, r.text
    enc = value.replace("/", "%2F").replace("=", "%3D")
    assert host.get("/api/logger?code=" + enc).status == 200
    assert host.get("/api/logger", headers={"x-functions-key": value}).status == 200


def test_key_for_anonymous_function_gets_its_own_file(host):
    value = "AnonKey_" + uuid.uuid4().hex
    r = jpost(host, "/admin/functions/anon/keys/k1", {"name": "k1", "value": value},
              method="PUT")
    assert r.status == 201, r.text
    kf = os.path.join(host.app, ".stratus", "secrets", "anon.json")
    with open(kf) as f:
        assert value in f.read()
    assert stat.S_IMODE(os.stat(kf).st_mode) == 0o600


def test_key_endpoints_for_unknown_function_are_404(host):
    r = jpost(host, "/admin/functions/nosuch/keys/k", {"name": "k", "value": "x" * 30},
              method="PUT")
    assert r.status == 404
    assert host.get("/admin/functions/echo/keys/nokey", headers=mk(host)).status == 404


def test_function_key_put_without_body_is_400(host):
    r = host.request("PUT", "/admin/functions/echo/keys/nobody", body=b"", headers=mk(host))
    assert r.status == 400


def test_function_key_generate(host):
    r = host.post("/admin/functions/echo/keys/gen", body=b"", headers=mk(host))
    assert r.status == 201, r.text
    value = r.json()["value"]
    assert isinstance(value, str) and len(value) >= 32
    assert host.get("/api/echo", headers={"x-functions-key": value}).status == 200
    r = host.get("/admin/functions/echo/keys/gen", headers=mk(host))
    assert r.status == 200 and r.json()["value"] == value
    assert host.request("DELETE", "/admin/functions/echo/keys/gen", headers=mk(host)).status == 204
    assert host.get("/api/echo", headers={"x-functions-key": value}).status == 401


def test_function_key_delete_unknown_is_404(host):
    r = host.request("DELETE", "/admin/functions/echo/keys/neverexisted", headers=mk(host))
    assert r.status == 404


# ---- host keys ------------------------------------------------------------------

def test_host_keys_list(host):
    r = host.get("/admin/host/keys", headers=mk(host))
    assert r.status == 200, r.text
    keys = r.json()["keys"]
    with open(os.path.join(host.app, ".stratus", "secrets", "host.json")) as f:
        default = json.load(f)["functionKeys"][0]["value"]
    assert ("default", default) in [(k["name"], k["value"]) for k in keys]
    # the master key is not among the host function keys
    assert master_key(host.app) not in [k["value"] for k in keys]


def test_host_key_put_use_delete(host):
    value = "HostLevelKey_" + uuid.uuid4().hex
    path = "/admin/host/keys/hk1"
    r = jpost(host, path, {"name": "hk1", "value": value}, method="PUT")
    assert r.status == 201, r.text
    # a host function key works for every function
    assert host.get("/api/echo", headers={"x-functions-key": value}).status == 200
    assert host.get("/api/logger?code=" + value).status == 200
    # but not on the admin API
    assert host.get("/admin/host/status", headers={"x-functions-key": value}).status == 403
    r = jpost(host, path, {"name": "hk1", "value": value + "x"}, method="PUT")
    assert r.status == 200
    assert host.request("DELETE", path, headers=mk(host)).status == 204
    assert host.get("/api/echo", headers={"x-functions-key": value + "x"}).status == 401
    assert host.request("DELETE", path, headers=mk(host)).status == 404


def test_host_key_generate(host):
    r = host.post("/admin/host/keys/hgen", body=b"", headers=mk(host))
    assert r.status == 201, r.text
    value = r.json()["value"]
    assert host.get("/api/logger", headers={"x-functions-key": value}).status == 200
    assert host.request("DELETE", "/admin/host/keys/hgen", headers=mk(host)).status == 204
    assert host.get("/api/logger", headers={"x-functions-key": value}).status == 401


def test_system_key(host):
    value = "SystemKey_" + uuid.uuid4().hex
    r = jpost(host, "/admin/host/systemkeys/sk1", {"name": "sk1", "value": value}, method="PUT")
    assert r.status == 201, r.text
    # above function level, below admin
    assert host.get("/api/echo", headers={"x-functions-key": value}).status == 200
    assert host.get("/api/adminfn", headers={"x-functions-key": value}).status == 401
    assert host.get("/admin/host/status", headers={"x-functions-key": value}).status == 403
    keys = host.get("/admin/host/systemkeys", headers=mk(host)).json()["keys"]
    assert ("sk1", value) in [(k["name"], k["value"]) for k in keys]
    assert host.request("DELETE", "/admin/host/systemkeys/sk1", headers=mk(host)).status == 204
    assert host.get("/api/echo", headers={"x-functions-key": value}).status == 401


def test_host_master_key(host):
    r = host.get("/admin/host/keys/_master", headers=mk(host))
    assert r.status == 200, r.text
    assert r.json()["value"] == master_key(host.app)
    # the master key cannot be deleted
    assert host.request("DELETE", "/admin/host/keys/_master", headers=mk(host)).status != 204
    assert host.get("/admin/host/status", headers=mk(host)).status == 200


def test_keys_survive_a_restart(make_app, start_host):
    app = make_app(functions())
    h = start_host(app, mode="host")
    old_master = master_key(app)
    fkey = "RestartFnKey_" + uuid.uuid4().hex
    hkey = "RestartHostKey_" + uuid.uuid4().hex
    new_master = "RestartMaster_" + uuid.uuid4().hex
    assert jpost(h, "/admin/functions/echo/keys/r1", {"name": "r1", "value": fkey},
                 method="PUT").status == 201
    assert jpost(h, "/admin/host/keys/r2", {"name": "r2", "value": hkey},
                 method="PUT").status == 201
    r = h.request("PUT", "/admin/host/keys/_master",
                  body=json.dumps({"name": "_master", "value": new_master}).encode(),
                  headers={"x-functions-key": old_master, "Content-Type": "application/json"})
    assert r.status == 200, r.text
    # the new master works at once, the old one no longer
    assert h.get("/admin/host/status", headers={"x-functions-key": new_master}).status == 200
    assert h.get("/admin/host/status", headers={"x-functions-key": old_master}).status == 401
    assert master_key(app) == new_master
    assert h.stop() == 0

    h2 = start_host(app, mode="host")
    assert h2.get("/api/echo", headers={"x-functions-key": fkey}).status == 200
    assert h2.get("/api/logger", headers={"x-functions-key": hkey}).status == 200
    assert h2.get("/admin/host/status", headers={"x-functions-key": new_master}).status == 200
    assert h2.get("/admin/host/status", headers={"x-functions-key": old_master}).status == 401
