"""Authorization of HTTP functions: keys, levels, disabled functions, the key
files, development mode (AZURE-CONTRACT.md section 4)."""
import json
import os
import stat

import pytest

from conftest import function_key, http_fn, master_key, write_app

ENV_MASTER = "EnvMasterKey_0123456789abcdefghijklmnopqrstuvwxyz"


def app_functions():
    return {
        "anon": http_fn("anon", auth="anonymous"),
        "func": http_fn("func", auth="function"),
        "other": http_fn("other", auth="function"),
        "adminfn": http_fn("adminfn", auth="admin"),
        "disabledfn": http_fn("disabledfn", auth="function", extra={"disabled": True}),
        "disabledanon": http_fn("disabledanon", auth="anonymous", extra={"disabled": True}),
        "settingoff": http_fn("settingoff", auth="anonymous"),
        "pub": http_fn("pub", auth="anonymous", route="pub/{*rest}"),
    }


# Azure's app setting AzureWebJobs.<name>.Disabled disables a function too.
SETTINGS = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "native",
                                             "AzureWebJobs.settingoff.Disabled": "true"}}


def host_function_key(app):
    with open(os.path.join(app, ".stratus", "secrets", "host.json")) as f:
        return json.load(f)["functionKeys"][0]["value"]


@pytest.fixture(scope="module")
def hosts(module_hosts):
    w = module_hosts.workdir
    apps = {name: write_app(os.path.join(w, name), app_functions(), settings=SETTINGS)
            for name in ("enable-auth", "host", "dev", "envmaster")}
    spawned = {
        "enable-auth": module_hosts.spawn(apps["enable-auth"], "--enable-auth"),
        "host": module_hosts.spawn(apps["host"], mode="host"),
        "dev": module_hosts.spawn(apps["dev"]),
        "envmaster": module_hosts.spawn(apps["envmaster"], mode="host",
                                        env={"STRATUS_MASTER_KEY": ENV_MASTER}),
    }
    return {k: module_hosts.ready(h) for k, h in spawned.items()}


@pytest.fixture(params=["enable-auth", "host"])
def authed(request, hosts):
    """A host that enforces keys: `start --enable-auth`, then `host`."""
    return hosts[request.param]


def key_header(k):
    return {"x-functions-key": k}


# ---- levels ------------------------------------------------------------------

def test_anonymous_needs_nothing(authed):
    r = authed.get("/api/anon")
    assert r.status == 200, r.text
    # a wrong key does not hurt an anonymous function
    assert authed.get("/api/anon?code=wrong-key-value-xxxxxxxx").status == 200


def test_function_level_without_key_is_401(authed):
    assert authed.get("/api/func").status == 401


@pytest.mark.parametrize("path", ["/api/pub/../func", "/api/pub/%2e%2e/func",
                                  "/api/pub/%2E./func", "/api/pub/./../func",
                                  "/api/pub/x/../../func?q=1", "/api/pub/../../api/func",
                                  "/api/pub/%2e%2e/%66unc"])
def test_dot_segments_do_not_bypass_a_key(authed, path):
    # The path is routed as it resolves: a dot segment cannot make a
    # function-level route look like the anonymous catch-all before it.
    assert authed.get(path).status == 401
    real = function_key(authed.app, "func")
    r = authed.get(path, headers=key_header(real))
    assert r.status == 200, r.text
    assert r.text.startswith("method=GET path=/api/func ")


@pytest.mark.parametrize("path", ["/api/../admin/host/status", "/api/pub/../../admin/host/status",
                                  "/%61dmin/host/status", "/api/%2e%2e/admin/host/status"])
def test_dot_segments_reach_the_admin_api_only_with_its_key(authed, path):
    assert authed.get(path).status == 401
    r = authed.get(path, headers=key_header(master_key(authed.app)))
    assert r.status == 200, r.text
    assert r.json()["state"] == "Running"


def test_encoded_slash_stays_in_a_route_value(authed):
    # %2F is not a segment boundary: ..%2F is a value of the catch-all.
    r = authed.get("/api/pub/..%2Ffunc")
    assert r.status == 200, r.text
    assert "path=/api/pub/../func " in r.text  # stratus_req_path() decodes


def test_function_level_wrong_key_is_401(authed):
    assert authed.get("/api/func", headers=key_header("x" * 54)).status == 401
    assert authed.get("/api/func?code=" + "y" * 54).status == 401
    real = function_key(authed.app, "func")
    assert authed.get("/api/func", headers=key_header(real[:-1])).status == 401
    assert authed.get("/api/func", headers=key_header(real + "A")).status == 401


def test_function_own_key_in_header(authed):
    r = authed.get("/api/func", headers=key_header(function_key(authed.app, "func")))
    assert r.status == 200, r.text


def test_function_own_key_in_code_query(authed):
    r = authed.get("/api/func?code=" + function_key(authed.app, "func"))
    assert r.status == 200, r.text
    # code= among other parameters
    r = authed.get("/api/func?q=1&code=%s&z=2" % function_key(authed.app, "func"))
    assert r.status == 200, r.text


def test_header_key_wins_over_code(authed):
    good = function_key(authed.app, "func")
    r = authed.get("/api/func?code=" + "w" * 54, headers=key_header(good))
    assert r.status == 200
    r = authed.get("/api/func?code=" + good, headers=key_header("w" * 54))
    assert r.status == 401


def test_key_header_name_is_case_insensitive(authed):
    r = authed.get("/api/func", headers={"X-FUNCTIONS-KEY": function_key(authed.app, "func")})
    assert r.status == 200


def test_function_name_case_in_url_keeps_its_key(authed):
    r = authed.get("/api/FUNC", headers=key_header(function_key(authed.app, "func")))
    assert r.status == 200
    assert authed.get("/api/FUNC").status == 401


def test_another_functions_key_is_401(authed):
    other = function_key(authed.app, "other")
    assert authed.get("/api/func", headers=key_header(other)).status == 401
    assert authed.get("/api/other", headers=key_header(other)).status == 200


def test_host_function_key_works_for_every_function(authed):
    hk = host_function_key(authed.app)
    assert authed.get("/api/func", headers=key_header(hk)).status == 200
    assert authed.get("/api/other?code=" + hk).status == 200


def test_master_key_works_for_function_level(authed):
    mk = master_key(authed.app)
    assert authed.get("/api/func", headers=key_header(mk)).status == 200


def test_admin_level(authed):
    app = authed.app
    assert authed.get("/api/adminfn").status == 401
    assert authed.get("/api/adminfn", headers=key_header(function_key(app, "func"))).status == 401
    assert authed.get("/api/adminfn", headers=key_header(host_function_key(app))).status == 401
    r = authed.get("/api/adminfn", headers=key_header(master_key(app)))
    assert r.status == 200, r.text
    assert authed.get("/api/adminfn?code=" + master_key(app)).status == 200


# ---- disabled functions --------------------------------------------------------

def test_disabled_function_is_404_even_with_its_key(authed):
    app = authed.app
    assert authed.get("/api/disabledfn").status == 404
    assert authed.get("/api/disabledfn",
                      headers=key_header(function_key(app, "disabledfn"))).status == 404
    assert authed.get("/api/disabledfn", headers=key_header(host_function_key(app))).status == 404
    assert authed.get("/api/disabledanon").status == 404


def test_disabled_by_app_setting(authed):
    assert authed.get("/api/settingoff").status == 404
    assert authed.get("/api/settingoff", headers=key_header(master_key(authed.app))).status == 200


def test_disabled_function_runs_with_master_key(authed):
    mk = master_key(authed.app)
    r = authed.get("/api/disabledfn", headers=key_header(mk))
    assert r.status == 200, r.text
    assert "path=/api/disabledfn" in r.text
    assert authed.get("/api/disabledanon?code=" + mk).status == 200


# ---- development mode ---------------------------------------------------------

def test_enable_auth_also_guards_the_admin_api(hosts):
    h = hosts["enable-auth"]
    assert h.get("/admin/host/status").status == 401
    assert h.get("/admin/host/status", headers=key_header(master_key(h.app))).status == 200
    assert h.get("/admin/host/ping").status == 200


def test_dev_start_skips_authorization(hosts):
    h = hosts["dev"]
    assert h.get("/api/func").status == 200
    assert h.get("/api/adminfn").status == 200
    assert h.get("/api/func", headers=key_header("not-a-key-at-all-xxxxxxx")).status == 200


def test_dev_start_disabled_function(hosts):
    h = hosts["dev"]
    assert h.get("/api/disabledfn").status == 404
    assert h.get("/api/disabledfn",
                 headers=key_header(function_key(h.app, "disabledfn"))).status == 404
    assert h.get("/api/disabledfn", headers=key_header(master_key(h.app))).status == 200


# ---- key files ----------------------------------------------------------------

@pytest.mark.parametrize("which", ["host", "dev"])
def test_key_files_are_private(hosts, which):
    app = hosts[which].app
    secrets = os.path.join(app, ".stratus", "secrets")
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o700
    files = sorted(os.listdir(secrets))
    assert "host.json" in files and "func.json" in files, files
    for name in files:
        mode = stat.S_IMODE(os.stat(os.path.join(secrets, name)).st_mode)
        assert mode == 0o600, (name, oct(mode))


def test_key_files_have_azure_format(hosts):
    app = hosts["host"].app
    with open(os.path.join(app, ".stratus", "secrets", "host.json")) as f:
        h = json.load(f)
    assert h["masterKey"]["name"] == "master" and len(h["masterKey"]["value"]) >= 16
    assert h["functionKeys"] and h["functionKeys"][0]["name"] == "default"
    with open(os.path.join(app, ".stratus", "secrets", "func.json")) as f:
        fk = json.load(f)
    assert fk["keys"][0]["name"] == "default" and len(fk["keys"][0]["value"]) >= 16
    # every key is distinct
    values = [h["masterKey"]["value"], h["functionKeys"][0]["value"], fk["keys"][0]["value"],
              function_key(app, "other")]
    assert len(set(values)) == len(values)


# ---- STRATUS_MASTER_KEY --------------------------------------------------------

def test_env_master_key_is_the_master_key(hosts):
    h = hosts["envmaster"]
    assert h.get("/api/adminfn", headers=key_header(ENV_MASTER)).status == 200
    assert h.get("/api/disabledfn", headers=key_header(ENV_MASTER)).status == 200
    r = h.get("/admin/host/status", headers=key_header(ENV_MASTER))
    assert r.status == 200, r.text
    assert h.get("/api/adminfn").status == 401
    r = h.get("/admin/host/keys/_master", headers=key_header(ENV_MASTER))
    assert r.status == 200 and r.json()["value"] == ENV_MASTER


def test_env_master_key_is_not_written_to_disk(hosts):
    h = hosts["envmaster"]
    path = os.path.join(h.app, ".stratus", "secrets", "host.json")
    if os.path.exists(path):
        with open(path) as f:
            assert ENV_MASTER not in f.read()
        # whatever masterKey the file holds does not act as the master
        try:
            file_master = master_key(h.app)
        except (KeyError, TypeError, ValueError):
            file_master = None
        if file_master and file_master != ENV_MASTER:
            assert h.get("/api/adminfn", headers=key_header(file_master)).status == 401


def test_env_master_key_cannot_be_replaced(hosts):
    h = hosts["envmaster"]
    r = h.request("PUT", "/admin/host/keys/_master",
                  body=json.dumps({"name": "_master",
                                   "value": "AnotherMaster_0123456789abcdef"}).encode(),
                  headers=dict(key_header(ENV_MASTER), **{"Content-Type": "application/json"}))
    assert 400 <= r.status < 500, r.text
    assert h.get("/api/adminfn", headers=key_header(ENV_MASTER)).status == 200
    assert h.get("/api/adminfn",
                 headers=key_header("AnotherMaster_0123456789abcdef")).status == 401
