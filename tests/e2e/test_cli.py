"""The stratus command line: help, init, new, templates, and the commands that
talk to a running host's admin API (invoke, keys) (AZURE-CONTRACT.md section 6)."""
import ast
import json
import os
import re
import socket
import subprocess
import uuid

import pytest

from conftest import BIN, free_port, function_key, master_key, sanitizer_report, wait_for

COMMANDS = ["init", "new", "start", "host", "invoke", "keys", "templates", "settings",
            "extensions"]


def run(*args, cwd=None, env=None, timeout=60, input=None):
    e = dict(os.environ)
    e.pop("STRATUS_MASTER_KEY", None)
    e["NO_COLOR"] = "1"
    if env:
        e.update(env)
    p = subprocess.run([os.path.abspath(BIN)] + [str(a) for a in args], cwd=cwd, env=e,
                       timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, input=input)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    assert not sanitizer_report(p.out + p.err), p.out + p.err
    return p


# ---- help and usage -----------------------------------------------------------------

def test_top_level_help():
    p = run("--help")
    assert p.returncode == 0, p.err
    assert "Usage" in p.out
    for c in COMMANDS:
        assert c in p.out


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(cmd):
    for flag in ("--help", "-h"):
        p = run(cmd, flag)
        assert p.returncode == 0, (cmd, flag, p.err)
        assert "Usage: stratus " + cmd in p.out, (cmd, p.out)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_topic_is_the_commands_help(cmd):
    p = run("help", cmd)   # as `git help <command>`
    assert p.returncode == 0, p.err
    assert "Usage: stratus " + cmd in p.out, p.out


@pytest.mark.parametrize("cmd", ["start", "host"])
def test_help_after_a_host_command_is_its_help(cmd, tmp_path):
    """`stratus start help` (no folder named help here) shows the help
    instead of failing to load an app folder called 'help'."""
    p = subprocess.run([BIN, cmd, "help"], cwd=str(tmp_path), timeout=10,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert b"Usage: stratus " + cmd.encode() in p.stdout, p.stdout


def test_unknown_command_exits_2():
    p = run("frobnicate")
    assert p.returncode == 2
    assert "frobnicate" in p.err


def test_no_command_exits_2():
    p = run()
    assert p.returncode == 2
    assert "Usage" in p.err


def test_templates_lists_http():
    p = run("templates")
    assert p.returncode == 0, p.err
    assert "HTTP trigger" in p.out


# ---- init and new -----------------------------------------------------------------

def test_init_creates_app(tmp_path):
    d = tmp_path / "myapp"
    p = run("init", d)
    assert p.returncode == 0, p.err
    with open(d / "host.json") as f:
        assert json.load(f)["version"] == "2.0"
    with open(d / "local.settings.json") as f:
        ls = json.load(f)
    assert ls["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "native"
    ignore = (d / ".gitignore").read_text().splitlines()
    assert "local.settings.json" in ignore
    # the key store must never be committed
    assert any(line.strip().rstrip("/") == ".stratus" for line in ignore), ignore


def test_init_unknown_runtime_is_usage_error(tmp_path):
    p = run("init", tmp_path / "x", "--worker-runtime", "cobol")
    assert p.returncode == 2
    assert "cobol" in p.err
    assert not (tmp_path / "x" / "host.json").exists()


@pytest.mark.parametrize("given,written", [("Python", "python"), ("NODE", "node"),
                                           ("javascript", "node")])
def test_init_takes_the_runtime_in_any_case_and_core_tools_names(tmp_path, given, written):
    p = run("init", tmp_path / "x", "--worker-runtime", given)
    assert p.returncode == 0, p.err
    with open(tmp_path / "x" / "local.settings.json") as f:
        assert json.load(f)["Values"]["FUNCTIONS_WORKER_RUNTIME"] == written


def test_init_sets_the_runtime_in_an_existing_local_settings(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    (d / "local.settings.json").write_text('{"Values": {"KEEP": "1"}}')
    p = run("init", d, "--worker-runtime", "python")
    assert p.returncode == 0, p.err
    assert "Setting FUNCTIONS_WORKER_RUNTIME to python" in p.out, p.out
    with open(d / "local.settings.json") as f:
        assert json.load(f)["Values"] == {"KEEP": "1", "FUNCTIONS_WORKER_RUNTIME": "python"}


def test_the_banner_puts_an_ipv6_address_in_brackets(tmp_path):
    from conftest import http_fn, write_app
    app = write_app(tmp_path / "app", {"hello": http_fn("hello")})
    port_file = tmp_path / "port"
    e = dict(os.environ, NO_COLOR="1")
    e.pop("STRATUS_MASTER_KEY", None)
    proc = subprocess.Popen([BIN, "start", app, "--port", "0", "--listen", "::1",
                             "--port-file", port_file, "--no-watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e)
    try:
        assert wait_for(lambda: port_file.exists() and port_file.read_text().strip(),
                        timeout=60)
        port = port_file.read_text().strip()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode("utf-8", "replace")
    assert "http://[::1]:%s/api/hello" % port in out, out


def test_second_init_refused_without_force(tmp_path):
    d = tmp_path / "myapp"
    assert run("init", d).returncode == 0
    (d / "host.json").write_text('{"version": "2.0", "marker": 1}')
    p = run("init", d)
    assert p.returncode != 0
    assert "--force" in p.err
    assert "marker" in (d / "host.json").read_text()
    p = run("init", d, "--force")
    assert p.returncode == 0, p.err
    assert "marker" not in (d / "host.json").read_text()


def test_new_creates_function(tmp_path):
    d = tmp_path / "app"
    assert run("init", d).returncode == 0
    p = run("new", "--template", "http", "--name", "hello", "--app", d)
    assert p.returncode == 0, p.err
    with open(d / "hello" / "function.json") as f:
        fj = json.load(f)
    trig = [b for b in fj["bindings"] if b["type"].lower() == "httptrigger"]
    assert len(trig) == 1
    assert any(n.endswith(".c") for n in os.listdir(d / "hello"))
    # a second function with the same name is refused
    p = run("new", "--template", "http", "--name", "HELLO", "--app", d)
    assert p.returncode != 0


@pytest.mark.parametrize("runtime,code,output", [("python", "__init__.py", "$return"),
                                                 ("node", "index.js", "res")])
def test_new_for_interpreter_runtimes(tmp_path, runtime, code, output):
    d = tmp_path / "app"
    p = run("init", d, "--worker-runtime", runtime)
    assert p.returncode == 0, p.err
    assert "stratus new --template http --name hello" in p.out
    p = run("new", "--template", "HTTP trigger", "--name", "hello", "--app", d,
            "--authlevel", "anonymous")
    assert p.returncode == 0, p.err
    fj = json.loads((d / "hello" / "function.json").read_text())
    assert fj["scriptFile"] == code
    assert fj["bindings"][0]["authLevel"] == "anonymous"
    assert fj["bindings"][1] == {"type": "http", "direction": "out", "name": output}
    assert "hello" in (d / "hello" / code).read_text()
    assert sorted(os.listdir(d / "hello")) == sorted(["function.json", code])


@pytest.mark.parametrize("runtime", ["python", "node"])
def test_interpreter_templates_run(tmp_path, start_host, runtime):
    """init + new + start: the template answers as Azure's does."""
    d = tmp_path / "app"
    assert run("init", d, "--worker-runtime", runtime).returncode == 0
    p = run("new", "-t", "http", "-n", "hello", "--authlevel", "anonymous", "--app", d)
    assert p.returncode == 0, p.err
    h = start_host(str(d))
    r = h.get("/api/hello?name=Ada", timeout=60)
    assert r.status == 200, h.log()[-2000:]
    assert r.text.startswith("Hello, Ada. This HTTP triggered function executed successfully"), \
        r.text
    r = h.post("/api/hello", body=b'{"name": "Bo"}', headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.text.startswith("Hello, Bo."), r.text
    r = h.get("/api/hello")
    assert r.status == 200 and "Pass a name in the query string" in r.text, r.text


def test_new_refuses_bad_name_and_template(tmp_path):
    d = tmp_path / "app"
    assert run("init", d).returncode == 0
    p = run("new", "--template", "http", "--name", "1bad", "--app", d)
    assert p.returncode == 2
    assert not (d / "1bad").exists()
    p = run("new", "--template", "nosuchtemplate", "--name", "ok", "--app", d)
    assert p.returncode != 0
    assert "nosuchtemplate" in p.err
    assert not (d / "ok").exists()


def test_new_without_app_refused(tmp_path):
    p = run("new", "--template", "http", "--name", "hello", "--app", tmp_path / "nothing")
    assert p.returncode != 0
    assert "host.json" in p.err


# ---- against a running host --------------------------------------------------------

@pytest.fixture(scope="module")
def live(module_hosts):
    """`stratus init` + `stratus new` app, running with --enable-auth."""
    d = os.path.join(module_hosts.workdir, "cliapp")
    p = run("init", d)
    assert p.returncode == 0, p.err
    p = run("new", "--template", "http", "--name", "hello", "--app", d)
    assert p.returncode == 0, p.err
    p = run("new", "-t", "HTTP trigger", "-n", "pub", "--authlevel", "anonymous", "--app", d)
    assert p.returncode == 0, p.err
    return module_hosts.start(d, "--enable-auth")


def test_template_function_compiles_and_answers(live):
    key = function_key(live.app, "hello")
    r = live.get("/api/hello?name=x&code=" + key)
    assert r.status == 200, (r.text, live.log()[-3000:])
    assert "Hello, x" in r.text
    r = live.post("/api/hello?code=" + key, body=b'{"name": "Ada"}')
    assert r.status == 200 and "Ada" in r.text
    assert live.get("/api/hello?name=x").status == 401


def test_invoke_command(live):
    marker = "cli-" + uuid.uuid4().hex
    p = run("invoke", "hello", "--data", marker, "--port", live.port, "--app", live.app)
    assert p.returncode == 0, p.out + p.err
    assert "hello" in p.out
    # the printed invocation id ends as a succeeded invocation in the host's log
    m = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", p.out)
    assert m, p.out
    inv = m.group(0)
    assert wait_for(lambda: any(inv in ln and "Succeeded" in ln
                                for ln in live.log().splitlines()), timeout=30), \
        live.log()[-3000:]


def test_new_authlevel_anonymous(live):
    r = live.get("/api/pub?name=anon")
    assert r.status == 200, r.text
    assert "Hello, anon" in r.text


def test_invoke_with_file(live, tmp_path):
    marker = "file-" + uuid.uuid4().hex
    f = tmp_path / "input.txt"
    f.write_text(marker)
    p = run("invoke", "hello", "--file", f, "--port", live.port, "--app", live.app)
    assert p.returncode == 0, p.out + p.err
    m = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", p.out)
    assert m, p.out
    assert wait_for(lambda: any(m.group(0) in ln and "Succeeded" in ln
                                for ln in live.log().splitlines()), timeout=30)


def test_invoke_unknown_function_fails(live):
    p = run("invoke", "nosuchfn", "--data", "x", "--port", live.port, "--app", live.app)
    assert p.returncode != 0
    assert "404" in p.err


def test_keys_list(live):
    p = run("keys", "list", "--port", live.port, "--app", live.app)
    assert p.returncode == 0, p.err
    with open(os.path.join(live.app, ".stratus", "secrets", "host.json")) as f:
        default = json.load(f)["functionKeys"][0]["value"]
    assert "default" in p.out and default in p.out
    p = run("keys", "list", "--function", "hello", "--port", live.port, "--app", live.app)
    assert p.returncode == 0, p.err
    assert function_key(live.app, "hello") in p.out


def test_keys_master(live):
    p = run("keys", "master", "--port", live.port, "--app", live.app)
    assert p.returncode == 0, p.err
    assert p.out.strip() == master_key(live.app)


def test_keys_set_then_key_works(live):
    value = "CliSetKey_" + uuid.uuid4().hex
    assert live.get("/api/hello?name=k", headers={"x-functions-key": value}).status == 401
    p = run("keys", "set", "mykey", value, "--function", "hello", "--port", live.port,
            "--app", live.app)
    assert p.returncode == 0, p.out + p.err
    r = live.get("/api/hello?name=k", headers={"x-functions-key": value})
    assert r.status == 200, r.text
    p = run("keys", "delete", "mykey", "--function", "hello", "--port", live.port,
            "--app", live.app)
    assert p.returncode == 0, p.err
    assert live.get("/api/hello?name=k", headers={"x-functions-key": value}).status == 401


def test_keys_generate_prints_working_key(live):
    p = run("keys", "generate", "ci", "--function", "hello", "--port", live.port,
            "--app", live.app)
    assert p.returncode == 0, p.err
    value = p.out.strip().split()[-1]
    assert len(value) >= 32, p.out
    assert live.get("/api/hello?code=" + value).status == 200


def test_cli_without_master_key_is_refused(live, tmp_path):
    # another folder: no master key to send, the host says 401
    p = run("keys", "list", "--port", live.port, "--app", tmp_path)
    assert p.returncode != 0
    assert "401" in p.err


def test_invoke_with_nothing_listening(tmp_path):
    p = run("invoke", "hello", "--data", "x", "--port", free_port(), "--app", tmp_path)
    assert p.returncode != 0
    assert "connect" in p.err.lower(), p.err


@pytest.mark.parametrize("args", [["--port", "notaport"], ["--bogus-option"],
                                  ["--functions"]])
def test_start_bad_options_are_usage_errors(tmp_path, args):
    p = run("start", tmp_path, *args, timeout=30)
    assert p.returncode == 2, (args, p.out, p.err)
    assert p.err.strip(), args


# ---- Core Tools habits: func start / func host start -------------------------------

def http_app(tmp_path, runtime="native", auth="function"):
    d = tmp_path / ("app-" + runtime)
    assert run("init", d, "--worker-runtime", runtime).returncode == 0
    p = run("new", "-t", "http", "-n", "hello", "--authlevel", auth, "--app", d)
    assert p.returncode == 0, p.err
    return d


def test_host_start_is_the_development_host(tmp_path, start_host):
    """`func host start` is `func start`: the development host, auth off, readable logs;
    --script-root=DIR names the app as Core Tools' --script-root does."""
    d = http_app(tmp_path)
    h = start_host("start", "--script-root=%s" % d, mode="host")
    r = h.get("/api/hello?name=Ada", timeout=60)
    assert r.status == 200, h.log()[-2000:]   # authLevel function, but auth is off
    assert "Functions:" in h.log() and not h.log().lstrip().startswith("{"), h.log()[:500]


def test_start_takes_option_values_after_equals(tmp_path):
    p = run("start", tmp_path, "--port=notaport", timeout=30)
    assert p.returncode == 2 and "'notaport' is not a port number" in p.err, p.err
    p = run("start", tmp_path, "--cors=", timeout=30)
    assert p.returncode == 2 and "--cors needs origins" in p.err, p.err


def test_start_language_worker_arguments_reach_the_interpreter(tmp_path, start_host):
    d = http_app(tmp_path, "python", "anonymous")
    h = start_host(str(d), "--language-worker", "-X utf8")
    r = h.get("/api/hello?name=Ada", timeout=60)
    assert r.status == 200, h.log()[-2000:]
    assert "-X utf8" in h.log() and "languageWorkers__python__arguments" in h.log(), \
        h.log()[-2000:]


@pytest.mark.parametrize("args,hint", [
    (["--useHttps"], "TLS-terminating proxy"),
    (["--cert", "x.pfx"], "TLS-terminating proxy"),
    (["--timeout", "20"], "no start-up deadline"),
    (["--timeout=20"], "no start-up deadline"),
    (["--no-build"], "no project build to skip"),
    (["--user-log-level", "Debug"], "\"Function\": \"Warning\""),
    (["--dotnet-isolated-debug"], ".NET"),
])
def test_start_explains_core_tools_options_it_lacks(tmp_path, args, hint):
    p = run("start", tmp_path, *args, timeout=30)
    assert p.returncode == 2, (args, p.out, p.err)
    assert "Core Tools option" in p.err and hint in p.err, p.err


@pytest.mark.parametrize("args,hint", [
    (["azure", "functionapp", "publish", "myapp"], "does not publish to Azure"),
    (["kubernetes", "deploy", "--name", "x"], "stratus host APP_DIR"),
    (["run", "hello"], "stratus invoke"),
    (["durable", "start-new"], "Durable Functions"),
])
def test_core_tools_commands_it_lacks_are_explained(args, hint):
    p = run(*args)
    assert p.returncode == 2, p.err
    assert "Core Tools command" in p.err and hint in p.err, p.err


# ---- Core Tools habits: func init ---------------------------------------------------

@pytest.mark.parametrize("args,written", [
    (["--python"], "python"), (["--node"], "node"), (["--javascript"], "node"),
    (["--custom"], "custom"), (["--worker-runtime", "node", "--language", "javascript"], "node"),
    (["--worker-runtime=python", "--model", "V1"], "python"), (["--node", "-m", "v3"], "node"),
    (["--node", "--no-bundle", "--skip-npm-install"], "node"),
])
def test_init_takes_core_tools_runtime_options(tmp_path, args, written):
    p = run("init", tmp_path / "x", *args)
    assert p.returncode == 0, (args, p.err)
    with open(tmp_path / "x" / "local.settings.json") as f:
        assert json.load(f)["Values"]["FUNCTIONS_WORKER_RUNTIME"] == written


@pytest.mark.parametrize("args,hint", [
    (["--docker"], "writes no Dockerfile"),
    (["--python", "--model", "V5"], "expected V1 (a folder with a function.json per function) "
                                    "or V2"),
    (["--node", "-m", "v2"], "expected V3 (a folder with a function.json per function) or V4"),
    (["--native", "-m", "V2"], "--model is for python (V1 or V2) and node (V3 or V4)"),
    (["--typescript", "-m", "V4"], "JavaScript only (no tsconfig.json or build step)"),
    (["--worker-runtime", "node", "--language", "TypeScript", "--model", "v4"],
     "JavaScript only"),
    (["--worker-runtime", "python", "--language", "typescript"], "--language is for"),
    (["--worker-runtime", "dotnet-isolated"], ".NET, Java and PowerShell"),
    (["--powershell"], ".NET, Java and PowerShell"),
    (["--worker-runtime", "lambda"], "lambda.md"),
])
def test_init_refuses_what_stratus_lacks_with_a_reason(tmp_path, args, hint):
    p = run("init", tmp_path / "x", *args)
    assert p.returncode == 2, (args, p.out)
    assert hint in p.err, p.err
    assert not (tmp_path / "x" / "host.json").exists()


# ---- init of the models that declare functions in code (Python V2, Node.js V4) -----

def settings_values(d):
    with open(d / "local.settings.json") as f:
        return json.load(f)["Values"]


def assert_function_app_py(path):
    """function_app.py imports azure.functions as func and logging, and binds app to
    func.FunctionApp()."""
    tree = ast.parse(path.read_text(), str(path))
    imports = {(a.name, a.asname) for n in tree.body if isinstance(n, ast.Import)
               for a in n.names}
    assert ("azure.functions", "func") in imports and ("logging", None) in imports, imports
    apps = [n for n in tree.body if isinstance(n, ast.Assign)
            and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["app"]]
    assert len(apps) == 1, ast.dump(tree)
    call = apps[0].value
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "func.FunctionApp", \
        ast.dump(call)


@pytest.mark.parametrize("args", [["--python", "--model", "V2"],
                                  ["--worker-runtime", "python", "-m", "v2"],
                                  ["--worker-runtime=Python", "--model=v2"]])
def test_init_python_v2_writes_function_app_py(tmp_path, args):
    d = tmp_path / "x"
    p = run("init", d, *args)
    assert p.returncode == 0, (args, p.err)
    assert sorted(os.listdir(d)) == [".gitignore", "function_app.py", "host.json",
                                     "local.settings.json", "requirements.txt"]
    assert settings_values(d) == {"FUNCTIONS_WORKER_RUNTIME": "python",
                                  "AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert_function_app_py(d / "function_app.py")
    reqs = [ln.strip() for ln in (d / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    assert reqs == ["azure-functions"], reqs
    ignore = (d / ".gitignore").read_text().splitlines()
    for line in ("local.settings.json", ".stratus/", "__pycache__/", ".venv/"):
        assert line in ignore, ignore
    assert "model V2" in p.out and "stratus new --template http" in p.out, p.out


@pytest.mark.parametrize("args", [["--node", "--model", "V4"], ["--javascript", "-m", "v4"],
                                  ["--worker-runtime", "node", "--language", "javascript",
                                   "--model", "V4"]])
def test_init_node_v4_writes_package_json(tmp_path, args):
    d = tmp_path / "x"
    p = run("init", d, *args, "--skip-npm-install")
    assert p.returncode == 0, (args, p.err)
    assert sorted(os.listdir(d)) == [".gitignore", "host.json", "local.settings.json",
                                     "package.json", "src"]
    assert os.listdir(d / "src" / "functions") == []
    assert settings_values(d)["FUNCTIONS_WORKER_RUNTIME"] == "node"
    with open(d / "package.json") as f:
        pkg = json.load(f)
    assert pkg["name"] == "x" and pkg["main"] == "src/functions/*.js", pkg
    assert pkg["dependencies"] == {"@azure/functions": "^4.0.0"}, pkg
    assert set(pkg["scripts"]) == {"start", "test"}, pkg
    assert "node_modules/" in (d / ".gitignore").read_text().splitlines()
    assert "Running npm install" not in p.out
    # the app needs its packages before it runs: the next step says so
    assert "npm install && stratus new" in p.out, p.out


def fake_npm(tmp_path, status):
    """A directory holding an `npm` that records its arguments and folder, then exits."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    npm = bindir / "npm"
    npm.write_text('#!/bin/sh\necho "fake npm: $*"\npwd > "%s"\necho "$*" >> "%s"\nexit %d\n'
                   % (tmp_path / "npm-ran", tmp_path / "npm-ran", status))
    npm.chmod(0o755)
    return bindir


def test_init_node_v4_runs_npm_install(tmp_path):
    bindir = fake_npm(tmp_path, 0)
    d = tmp_path / "my app"
    p = run("init", d, "--node", "--model", "V4",
            env={"PATH": "%s:%s" % (bindir, os.environ.get("PATH", ""))})
    assert p.returncode == 0, p.err
    assert "Running npm install in" in p.out and "fake npm: install" in p.out, p.out
    assert (tmp_path / "npm-ran").read_text().splitlines() == [str(d), "install"]
    assert "npm install &&" not in p.out and p.err == "", (p.out, p.err)
    with open(d / "package.json") as f:
        assert json.load(f)["name"] == "my-app"


def test_init_node_v4_says_when_npm_install_fails_or_is_missing(tmp_path):
    bindir = fake_npm(tmp_path, 3)
    p = run("init", tmp_path / "a", "--node", "-m", "V4", env={"PATH": str(bindir)})
    assert p.returncode == 0, p.err   # the app was written
    assert "npm install failed (exit status 3)" in p.err, p.err
    assert "run 'npm install' in %s before 'stratus start'" % (tmp_path / "a") in p.err, p.err
    assert "npm install && stratus new" in p.out, p.out
    empty = tmp_path / "empty"
    empty.mkdir()
    p = run("init", tmp_path / "b", "--node", "-m", "V4", env={"PATH": str(empty)})
    assert p.returncode == 0, p.err
    assert "npm is not on PATH: run 'npm install' in" in p.err, p.err
    assert (tmp_path / "b" / "package.json").is_file()


def test_init_default_models_are_still_v1_and_v3(tmp_path):
    p = run("init", tmp_path / "py", "--python")
    assert p.returncode == 0, p.err
    assert sorted(os.listdir(tmp_path / "py")) == [".gitignore", "host.json",
                                                   "local.settings.json"]
    p = run("init", tmp_path / "js", "--node", env={"PATH": ""})
    assert p.returncode == 0 and "npm" not in p.out + p.err, p.out + p.err
    assert sorted(os.listdir(tmp_path / "js")) == [".gitignore", "host.json",
                                                   "local.settings.json"]
    p = run("init", "--help")
    assert "Core Tools' default is V2 and V4" in p.out, p.out


def test_init_code_models_keep_the_apps_own_files(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    (d / "function_app.py").write_text("# mine\n")
    (d / "requirements.txt").write_text("requests\n")
    p = run("init", d, "--python", "--model", "V2")
    assert p.returncode == 0, p.err
    assert "Keeping the existing %s" % (d / "function_app.py") in p.out, p.out
    assert (d / "function_app.py").read_text() == "# mine\n"
    assert (d / "requirements.txt").read_text() == "requests\n"
    p = run("init", d, "--python", "--model", "V2", "--force")
    assert p.returncode == 0, p.err
    assert (d / "function_app.py").read_text() == "# mine\n"

    n = tmp_path / "n"
    n.mkdir()
    (n / "package.json").write_text('{"name": "n", "dependencies": {}}')
    p = run("init", n, "--node", "--model", "V4", "--skip-npm-install")
    assert p.returncode == 0, p.err
    assert 'has no "main": add "main": "src/functions/*.js"' in p.out, p.out
    assert 'has no dependency "@azure/functions"' in p.out, p.out
    assert json.loads((n / "package.json").read_text()) == {"name": "n", "dependencies": {}}


# ---- Core Tools habits: func settings, func extensions -------------------------------

def test_settings_add_get_list_delete(tmp_path):
    d = tmp_path / "app"
    assert run("init", d, "--python").returncode == 0
    p = run("settings", "add", "GREETING", "Hello there", cwd=d)
    assert p.returncode == 0 and "Added GREETING" in p.out, p.err
    p = run("settings", "add", "DB", "Server=x", "--connectionString", "--app", d)
    assert p.returncode == 0, p.err
    with open(d / "local.settings.json") as f:
        j = json.load(f)
    assert j["Values"] == {"FUNCTIONS_WORKER_RUNTIME": "python",
                           "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                           "GREETING": "Hello there"}
    assert j["ConnectionStrings"] == {"DB": "Server=x"} and j["Host"]["LocalHttpPort"] == 7071
    p = run("settings", "get", "GREETING", cwd=d)
    assert p.returncode == 0 and p.out == "Hello there\n", p.out
    p = run("settings", "list", cwd=d)
    assert "GREETING = *****" in p.out and "Hello there" not in p.out, p.out
    assert "Connection Strings:" in p.out and "DB = *****" in p.out, p.out
    p = run("settings", "list", "--showValue", cwd=d)
    assert "GREETING = Hello there" in p.out and "DB = Server=x" in p.out, p.out
    p = run("settings", "delete", "GREETING", cwd=d)
    assert p.returncode == 0, p.err
    for action in (["delete", "GREETING"], ["get", "GREETING"]):
        p = run("settings", *action, cwd=d)
        assert p.returncode == 1 and "no setting 'GREETING'" in p.err, p.err
    with open(d / "local.settings.json") as f:
        assert "GREETING" not in json.load(f)["Values"]


def test_settings_add_creates_the_file(tmp_path):
    d = tmp_path / "app"
    d.mkdir()
    (d / "host.json").write_text('{"version": "2.0"}')
    p = run("settings", "add", "Host", "x", cwd=d)   # a setting may be called anything
    assert p.returncode == 0, p.err
    with open(d / "local.settings.json") as f:
        assert json.load(f) == {"IsEncrypted": False, "Values": {"Host": "x"}}


def test_settings_bad_usage_and_encryption(tmp_path):
    assert run("settings", "add", "X", cwd=tmp_path).returncode == 2
    assert run("settings", "frob", cwd=tmp_path).returncode == 2
    p = run("settings", "list", "--app", tmp_path / "none")
    assert p.returncode == 1 and "no local.settings.json" in p.err, p.err
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {}}')
    p = run("settings", "encrypt", cwd=tmp_path)
    assert p.returncode == 1 and "plain text only" in p.err, p.err
    p = run("settings", "decrypt", cwd=tmp_path)
    assert p.returncode == 0 and "nothing to decrypt" in p.out, p.out
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": true, "Values": {"A": "x"}}')
    for action in (["decrypt"], ["add", "B", "y"]):
        p = run("settings", *action, cwd=tmp_path)
        assert p.returncode == 1 and "func settings decrypt" in p.err, p.err
    assert json.loads((tmp_path / "local.settings.json").read_text())["Values"] == {"A": "x"}


@pytest.mark.parametrize("action", ["install", "sync"])
def test_extensions_install_says_there_is_nothing_to_install(tmp_path, action):
    p = run("extensions", action, "--package", "Microsoft.Azure.WebJobs.Extensions.Storage",
            "--version", "5.0.0", cwd=tmp_path)
    assert p.returncode == 0, p.err
    assert "Nothing to install" in p.out and "built in" in p.out, p.out
    assert os.listdir(tmp_path) == []


HOST_NAME_PY = '''
import os

def main(req):
    return os.environ.get("WEBSITE_HOSTNAME", "(not set)")
'''


def test_start_gives_workers_the_port_chosen_with_port_0(make_app, start_host):
    """The port is bound before the workers start, so WEBSITE_HOSTNAME
    names it even when the host chose it (--port 0)."""
    from test_python import PY_SETTINGS, py_fn
    app = make_app({"hostname": py_fn(HOST_NAME_PY)}, settings=PY_SETTINGS)
    host = start_host(app)  # --port 0
    assert host.get("/api/hostname").text == "localhost:%d" % host.port


def test_a_port_in_use_stops_the_host_before_any_worker_starts(make_app, start_host):
    from test_python import PY_SETTINGS, py_fn
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    app = make_app({"hostname": py_fn(HOST_NAME_PY)}, settings=PY_SETTINGS)
    host = start_host(app, "--port", str(port), wait=False)
    assert host.proc.wait(timeout=30) == 1
    s.close()
    log = host.log()
    assert "Cannot listen on 127.0.0.1:%d: address already in use" % port in log
    assert "worker" not in log.lower()
