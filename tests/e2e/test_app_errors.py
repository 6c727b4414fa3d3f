"""A broken app: each broken function is reported (startup log and
/admin/host/status) and skipped while the others serve; broken host-level
configuration stops the host with a clear message; function filters, app
settings, failing functions (AZURE-CONTRACT.md sections 1 and 2)."""
import os
import re
import subprocess
import tempfile

import pytest

from conftest import BIN, ECHO_C, http_fn, sanitizer_report, wait_for, write_app

HTTP_OUT = {"type": "http", "direction": "out", "name": "res"}


def trig(**kw):
    t = {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req"}
    t.update(kw)
    return t


def fj(name, bindings, **extra):
    d = {"scriptFile": name + ".so", "bindings": bindings}
    d.update(extra)
    return d


def with_source(name, function_json, source=None):
    src = source if source is not None else ECHO_C.replace("int echo(", "int %s(" % name)
    return {"function.json": function_json, name + ".c": src}


SETTING_C = r"""
#include <stratus.h>
int settingfn(stratus_ctx *ctx)
{
    const char *v = stratus_setting(ctx, "MY_SETTING");
    const char *u = stratus_setting(ctx, "NOT_SET_ANYWHERE_42");
    stratus_res_printf(ctx, "MY_SETTING=%s unset=%s\n", v ? v : "(null)", u ? u : "(null)");
    return 0;
}
"""

FAIL_C = r"""
#include <stratus.h>
int failing(stratus_ctx *ctx)
{
    stratus_res_printf(ctx, "partial output\n");
    return 3;
}
"""

COMPILE_ERROR_C = r"""
#include <stratus.h>
int compileerr(stratus_ctx *ctx)
{
    return undeclared_thing_xyz;
}
"""

# Compiles, but defines no symbol named after the function.
NO_ENTRY_C = r"""
#include <stratus.h>
int something_else(stratus_ctx *ctx) { (void)ctx; return 0; }
"""

ABI99_C = r"""
const int stratus_abi_version = 99;
int abi99(void *ctx) { (void)ctx; return 0; }
"""

NO_ABI_C = r"""
int noabi(void *ctx) { (void)ctx; return 0; }
"""

BAD_JSON = '{\n  "scriptFile": "badjson.so",\n  "bindings": [ oops ]\n}\n'

# function folder -> (a regex every report of it must match)
EXPECTED = {
    "badjson": r"badjson/function\.json:3:\d+",
    "unknowntype": r"unknowntype/function\.json.*unknown binding type 'fooTrigger'",
    "notrigger": r"notrigger/function\.json.*no trigger",
    "twotriggers": r"twotriggers/function\.json.*only one trigger",
    "1bad": r"invalid function name '1bad'",
    "badbindingname": r"badbindingname/function\.json.*field 'name'.*'1req'",
    "baddirection": r"baddirection/function\.json.*direction.*'sideways'",
    "missingscript": r"missingscript/function\.json.*scriptFile.*nothere\.so.*not found",
    "compileerr": r"compileerr.*undeclared_thing_xyz",
    "noentry": r"entry point 'noentry' not found",
    "abi99": r"abi99.*ABI version 99",
    "noabi": r"noabi.*stratus_abi_version",
    "host": r"invalid function name 'host'",
    "emptybindings": r"emptybindings/function\.json.*At least one binding must be declared",
    "notobject": r"notobject/function\.json.*expected a JSON object",
    "badauth": r"badauth/function\.json.*authLevel.*'superuser'",
    "badmethods": r"badmethods/function\.json.*methods.*'fetch'",
    "twin": r"twin/function\.json.*used twice",
}


def build_so(source, out):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "x.c")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run(["cc", "-shared", "-fPIC", "-o", out, src], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)


@pytest.fixture(scope="module")
def broken(module_hosts):
    """One app holding every kind of broken function, plus working ones."""
    root = os.path.join(module_hosts.workdir, "broken")
    fns = {
        "good": http_fn("good"),
        "settingfn": http_fn("settingfn", source=SETTING_C),
        "failing": http_fn("failing", source=FAIL_C),
        "badjson": {"function.json": BAD_JSON,
                    "badjson.c": ECHO_C.replace("int echo(", "int badjson(")},
        "unknowntype": with_source("unknowntype", fj("unknowntype", [
            {"type": "fooTrigger", "direction": "in", "name": "req"}, HTTP_OUT])),
        "notrigger": with_source("notrigger", fj("notrigger", [HTTP_OUT])),
        "twotriggers": with_source("twotriggers", fj("twotriggers", [
            trig(), trig(name="req2"), HTTP_OUT])),
        "1bad": with_source("bad1", fj("1bad", [trig(), HTTP_OUT], entryPoint="bad1")),
        "badbindingname": with_source("badbindingname", fj("badbindingname", [
            trig(name="1req"), HTTP_OUT])),
        "baddirection": with_source("baddirection", fj("baddirection", [
            trig(), dict(HTTP_OUT, direction="sideways")])),
        "missingscript": {"function.json": {"scriptFile": "nothere.so",
                                            "bindings": [trig(), HTTP_OUT]}},
        "compileerr": with_source("compileerr", fj("compileerr", [trig(), HTTP_OUT]),
                                  COMPILE_ERROR_C),
        "noentry": with_source("noentry", fj("noentry", [trig(), HTTP_OUT]), NO_ENTRY_C),
        "abi99": {"function.json": fj("abi99", [trig(), HTTP_OUT])},
        "noabi": {"function.json": fj("noabi", [trig(), HTTP_OUT])},
        "host": with_source("hostfn", fj("host", [trig(), HTTP_OUT], entryPoint="hostfn")),
        "emptybindings": with_source("emptybindings", fj("emptybindings", [])),
        "notobject": {"function.json": []},
        "badauth": with_source("badauth", fj("badauth", [trig(authLevel="superuser"),
                                                         HTTP_OUT])),
        "badmethods": with_source("badmethods", fj("badmethods", [
            trig(methods=["get", "fetch"]), HTTP_OUT])),
        # names are case-insensitive: "Twin" sorts first and loads
        "Twin": with_source("Twin", fj("Twin", [trig(), HTTP_OUT])),
        "twin": with_source("twin", fj("twin", [trig(route="twin2"), HTTP_OUT])),
    }
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "native",
                                                 "MY_SETTING": "from-local-settings-42"}}
    app = write_app(root, fns, settings=settings)
    build_so(ABI99_C, os.path.join(app, "abi99", "abi99.so"))
    build_so(NO_ABI_C, os.path.join(app, "noabi", "noabi.so"))
    return module_hosts.start(app)


def status_errors(h):
    r = h.get("/admin/host/status")
    assert r.status == 200, r.text
    errors = r.json()["errors"]
    assert isinstance(errors, list)
    return errors


@pytest.mark.parametrize("fn", sorted(EXPECTED))
def test_broken_function_reported_in_log_and_status(broken, fn):
    pattern = re.compile(EXPECTED[fn], re.S)
    log = broken.log()
    assert pattern.search(log), "%s not in the startup log:\n%s" % (EXPECTED[fn], log[-6000:])
    errors = status_errors(broken)
    assert any(pattern.search(e) for e in errors), (EXPECTED[fn], errors)


# Functions whose configuration is valid but whose code does not load keep
# their route, which answers 500 (as in Azure); the others are not routed.
CODE_ERRORS = {"compileerr", "noentry", "abi99", "noabi"}


@pytest.mark.parametrize("fn", sorted(set(EXPECTED) - {"twin"}))
def test_broken_function_is_skipped(broken, fn):
    r = broken.get("/api/" + fn)
    if fn in CODE_ERRORS:
        assert r.status == 500, r.text
        assert "Function '%s' cannot run: its code did not load" % fn in r.text
        said = "Function '%s' was called, but its code did not load" % fn
        assert wait_for(lambda: said in broken.log(), timeout=10)  # flushed after the answer
    else:
        assert r.status == 404
    names = [f["name"] for f in broken.get("/admin/functions").json()]
    assert fn not in names


def test_route_errors_reported_and_skipped(make_app, start_host):
    """Functions refused when their route is registered (after they were
    loaded): a bad template, and a template already taken."""
    fns = {
        "good": http_fn("good"),
        "badroute": with_source("badroute", fj("badroute", [trig(route="x/{id"), HTTP_OUT])),
        # same template and methods: the first in name order keeps it
        "sameroute1": with_source("sameroute1", fj("sameroute1", [trig(route="same/route"),
                                                                  HTTP_OUT])),
        "sameroute2": with_source("sameroute2", fj("sameroute2", [trig(route="same/route"),
                                                                  HTTP_OUT])),
    }
    h = start_host(make_app(fns))
    expected = [re.compile(r"badroute/function\.json.*route.*\{id"),
                re.compile(r"sameroute2.*route.*already registered")]
    errors = h.get("/admin/host/status").json()["errors"]
    for pat in expected:
        assert pat.search(h.log()), (pat.pattern, h.log()[-3000:])
        assert any(pat.search(e) for e in errors), (pat.pattern, errors)
    assert len(errors) == 2, errors
    r = h.get("/api/same/route")
    assert r.status == 200 and "path=/api/same/route" in r.text
    names = sorted(f["name"] for f in h.get("/admin/functions").json())
    assert names == ["good", "sameroute1"]
    assert h.get("/api/good").status == 200
    # the refused functions were loaded first: they must be unloaded cleanly
    rc = h.stop()
    log = h.log()
    assert not sanitizer_report(log), log[log.find("=================="):][:3000]
    assert rc == 0, log[-3000:]


def test_case_twin_function_is_refused(broken):
    names = [f["name"] for f in broken.get("/admin/functions").json()]
    assert "Twin" in names and "twin" not in names
    assert broken.get("/api/twin2").status == 404
    assert broken.get("/api/twin").status == 200


def test_one_error_per_broken_function(broken):
    errors = status_errors(broken)
    assert len(errors) == len(EXPECTED), errors


def test_working_functions_still_serve(broken):
    r = broken.get("/api/good?q=ok")
    assert r.status == 200 and "q=ok" in r.text
    names = sorted(f["name"] for f in broken.get("/admin/functions").json())
    assert names == ["Twin", "failing", "good", "settingfn"]
    assert "4 function(s) loaded" in broken.log()


def test_compile_error_includes_compiler_message(broken):
    errors = [e for e in status_errors(broken) if "compileerr" in e]
    assert len(errors) == 1, errors
    # the compiler's own diagnostic, with the file and line it points at
    assert re.search(r"compileerr\.c:\d+", errors[0]), errors[0]
    assert "error" in errors[0].lower()


def test_abi_mismatch_names_both_versions(broken):
    e = [e for e in status_errors(broken) if "abi99" in e]
    assert len(e) == 1, e
    # the shared object's version (99) and the host's own (1)
    assert re.search(r"(?<![\w./-])99(?![\w./-])", e[0]), e[0]
    assert re.search(r"(?<![\w./-])1(?![\w./-])", e[0]), e[0]


def test_settings_reach_the_function(broken):
    r = broken.get("/api/settingfn")
    assert r.status == 200, r.text
    assert "MY_SETTING=from-local-settings-42" in r.text
    assert "unset=(null)" in r.text


def test_failing_function_gives_500_with_invocation_id(broken):
    r = broken.get("/api/failing")
    assert r.status == 500
    m = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", r.text)
    assert m, r.text
    inv = m.group(0)
    hdr = r.header("x-invocation-id")
    if hdr is not None:
        assert hdr == inv
    line = wait_for(lambda: next((ln for ln in broken.log().splitlines()
                                  if inv in ln and "Failed" in ln), None), timeout=30)
    assert line, broken.log()[-3000:]


# ---- host-level errors: the host exits --------------------------------------------

def run_host(app, *args, env=None, timeout=90):
    e = dict(os.environ)
    e.pop("STRATUS_MASTER_KEY", None)
    e["NO_COLOR"] = "1"
    if env:
        e.update(env)
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([BIN, "start", app, "--port", "0", "--listen", "127.0.0.1",
                            "--port-file", os.path.join(d, "port")] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e,
                           timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    assert not sanitizer_report(out), out
    return p.returncode, out


@pytest.fixture
def tmpapp(tmp_path):
    def make(functions=None, **kw):
        return write_app(tmp_path / "app", functions or {"good": http_fn("good")}, **kw)
    return make


def test_host_json_invalid_json_exits(tmpapp):
    app = tmpapp(host='{"version": "2.0",\n  "extensions": }\n')
    rc, out = run_host(app)
    assert rc != 0, out
    assert "host.json" in out
    assert re.search(r"host\.json:2:\d+", out), out


def test_host_json_version_1_exits(tmpapp):
    app = tmpapp(host={"version": "1.0"})
    rc, out = run_host(app)
    assert rc != 0, out
    assert "host.json" in out and "version" in out and "1.0" in out, out


def test_host_json_missing_version_exits(tmpapp):
    app = tmpapp(host={"extensions": {}})
    rc, out = run_host(app)
    assert rc != 0, out
    assert "host.json" in out and "version" in out, out


def test_unsupported_worker_runtime_exits(tmpapp):
    app = tmpapp(settings={"IsEncrypted": False,
                           "Values": {"FUNCTIONS_WORKER_RUNTIME": "cobol"}})
    rc, out = run_host(app)
    assert rc != 0, out
    assert "FUNCTIONS_WORKER_RUNTIME" in out and "cobol" in out, out


def test_python_and_node_code_without_a_worker_runtime_say_what_to_set(make_app, start_host):
    fjson = {"bindings": [trig(), HTTP_OUT]}
    app = make_app({"py": {"function.json": fjson, "__init__.py": "def main(req): return 'x'\n"},
                    "js": {"function.json": dict(fjson, scriptFile="main.mjs"),
                           "main.mjs": "export default async () => ({});\n"}},
                   settings={"IsEncrypted": False, "Values": {}})
    h = start_host(app)
    for name, rt, script in (("py", "python", "__init__.py"), ("js", "node", "main.mjs")):
        msg = ("%s/function.json: FUNCTIONS_WORKER_RUNTIME is not set, so functions are native "
               "C shared objects, but this one is %s code (%s): set \"FUNCTIONS_WORKER_RUNTIME\": "
               "\"%s\" in local.settings.json Values" % (name, rt, script, rt))
        assert wait_for(lambda: msg in h.log(), timeout=10), h.log()
    assert "ELF" not in h.log()


# ---- function filters --------------------------------------------------------------

def two_functions():
    return {"alpha": http_fn("alpha"), "beta": http_fn("beta")}


def test_host_json_functions_filter(make_app, start_host):
    app = make_app(two_functions(), host={"version": "2.0", "functions": ["alpha"]})
    h = start_host(app)
    assert h.get("/api/alpha").status == 200
    assert h.get("/api/beta").status == 404
    names = [f["name"] for f in h.get("/admin/functions").json()]
    assert names == ["alpha"]


def test_command_line_functions_filter(make_app, start_host):
    app = make_app(two_functions())
    h = start_host(app, "--functions", "beta")
    assert h.get("/api/beta").status == 200
    assert h.get("/api/alpha").status == 404
    names = [f["name"] for f in h.get("/admin/functions").json()]
    assert names == ["beta"]


def test_missing_app_folder_exits(tmp_path):
    rc, out = run_host(str(tmp_path / "does-not-exist"))
    assert rc != 0
    assert "does-not-exist" in out, out


def test_missing_host_json_exits(tmpapp, tmp_path):
    app = tmpapp()
    os.unlink(os.path.join(app, "host.json"))
    rc, out = run_host(app)
    assert rc != 0
    assert "host.json" in out, out


def test_functions_filter_naming_a_missing_function_is_reported(make_app, start_host):
    app = make_app(two_functions(), host={"version": "2.0", "functions": ["alpha", "gamma"]})
    h = start_host(app)
    assert h.get("/api/alpha").status == 200
    errors = h.get("/admin/host/status").json()["errors"]
    assert any("gamma" in e for e in errors), errors
    assert "gamma" in h.log()
