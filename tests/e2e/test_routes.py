"""HTTP routing: route prefixes (host.json, app-setting and environment
overrides), route templates and their constraints, methods (405 + Allow, HEAD),
registration order, reserved paths (AZURE-CONTRACT.md sections 2 and 9)."""
import os

import pytest

from conftest import http_fn, write_app

# Names the function and shows the route parameter "id".
ROUTE_C = r"""
#include <stratus.h>
int ENTRY(stratus_ctx *ctx)
{
    const char *id = stratus_req_param(ctx, "id");
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_header(ctx, "X-Method", stratus_req_method(ctx));
    stratus_res_printf(ctx, "fn=%s id=%s\n", stratus_function_name(ctx), id ? id : "-");
    return 0;
}
"""


def route_fn(name, route=None, methods=None):
    entry = name.replace("-", "_")
    return http_fn(name, source=ROUTE_C.replace("ENTRY", entry), route=route, methods=methods,
                   entry=entry)


# name -> (route template); every one answers "fn=<name> id=<id>".
CONSTRAINED = {
    "alphaf": "alpha/{id:alpha}",
    "boolf": "bool/{id:bool}",
    "dtf": "dt/{id:datetime}",
    "guidf": "guid/{id:guid}",
    "lenf": "len/{id:length(3)}",
    "minf": "min/{id:min(10)}",
    "opt": "opt/{id:int?}",
    "regexf": "re/{id:regex(^a+$)}",
    "rest": "files/{*id}",
    "word": "word/{id}",
}


@pytest.fixture(scope="module")
def hosts(module_hosts):
    """All the hosts of this module, started together."""
    w = module_hosts.workdir
    fns = {
        "echo": http_fn("echo"),                         # default route: /api/echo
        "items": http_fn("items", route="items/{id:int}"),  # ECHO_C prints id=
        "caser": http_fn("caser", route="MixedCase/{ID:int}"),
        "postonly": route_fn("postonly", methods=["post"]),
        "getonly": route_fn("getonly", methods=["get"]),
        # overlapping routes: functions register in name order
        "dupa": route_fn("dupa", route="dup/{id}"),
        "dupb": route_fn("dupb", route="dup/special"),
        "lita": route_fn("lita", route="lit/fixed"),
        "litb": route_fn("litb", route="lit/{id}"),
        # one route, two functions by method
        "samea": route_fn("samea", route="same", methods=["get"]),
        "sameb": route_fn("sameb", route="same", methods=["post", "put"]),
    }
    for name, route in CONSTRAINED.items():
        fns[name] = route_fn(name, route=route)
    main = write_app(os.path.join(w, "main"), fns)

    hello = {"hello": route_fn("hello")}
    empty = write_app(os.path.join(w, "empty"),
                      {"hello": route_fn("hello"), "zcatch": route_fn("zcatch", route="{*id}")},
                      host={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}})
    custom = write_app(os.path.join(w, "custom"), hello,
                       host={"version": "2.0", "extensions": {"http": {"routePrefix": "custom"}}})
    env = write_app(os.path.join(w, "env"), hello,
                    host={"version": "2.0", "extensions": {"http": {"routePrefix": "custom"}}})
    multi = write_app(os.path.join(w, "multi"), hello,
                      host={"version": "2.0",
                            "extensions": {"http": {"routePrefix": "/v1/fns/"}}})
    ls = write_app(os.path.join(w, "ls"), hello,
                   host={"version": "2.0", "extensions": {"http": {"routePrefix": "custom"}}},
                   settings={"IsEncrypted": False, "Values": {
                       "FUNCTIONS_WORKER_RUNTIME": "native",
                       "AzureFunctionsJobHost__extensions__http__routePrefix": "lspfx"}})
    spawned = {
        "main": module_hosts.spawn(main),
        "empty": module_hosts.spawn(empty),
        "custom": module_hosts.spawn(custom),
        "env": module_hosts.spawn(env, env={
            "AzureFunctionsJobHost__extensions__http__routePrefix": "envpfx"}),
        "ls": module_hosts.spawn(ls),
        "multi": module_hosts.spawn(multi),
    }
    return {k: module_hosts.ready(h) for k, h in spawned.items()}


@pytest.fixture
def main(hosts):
    return hosts["main"]


# ---- prefixes ----------------------------------------------------------------

def test_default_route_is_function_name_under_api(main):
    r = main.get("/api/echo?q=1")
    assert r.status == 200, r.text
    assert "path=/api/echo" in r.text and "q=1" in r.text
    assert main.get("/echo").status == 404


def test_empty_route_prefix(hosts):
    h = hosts["empty"]
    r = h.get("/hello")
    assert r.status == 200 and "fn=hello" in r.text
    # /api/hello is not hello's route; only the root catch-all may take it
    r = h.get("/api/hello")
    assert "fn=hello" not in r.text


def test_custom_route_prefix_from_host_json(hosts):
    h = hosts["custom"]
    r = h.get("/custom/hello")
    assert r.status == 200 and "fn=hello" in r.text
    assert h.get("/api/hello").status == 404
    assert h.get("/hello").status == 404


def test_multi_segment_route_prefix_with_slashes(hosts):
    h = hosts["multi"]
    r = h.get("/v1/fns/hello")
    assert r.status == 200 and "fn=hello" in r.text, h.log()
    assert h.get("/v1/hello").status == 404
    assert h.get("/api/hello").status == 404


def test_route_prefix_overridden_by_environment(hosts):
    h = hosts["env"]
    r = h.get("/envpfx/hello")
    assert r.status == 200 and "fn=hello" in r.text, h.log()
    assert h.get("/custom/hello").status == 404
    assert h.get("/api/hello").status == 404


def test_route_prefix_overridden_by_local_settings_values(hosts):
    h = hosts["ls"]
    r = h.get("/lspfx/hello")
    assert r.status == 200 and "fn=hello" in r.text, h.log()
    assert h.get("/custom/hello").status == 404


# ---- templates and constraints ---------------------------------------------

def test_int_param_reaches_function(main):
    r = main.get("/api/items/42")
    assert r.status == 200, r.text
    assert "id=42" in r.text


@pytest.mark.parametrize("path", ["/api/items/abc", "/api/items/4x", "/api/items/99999999999",
                                  "/api/items", "/api/items/1/2"])
def test_int_constraint_rejects(main, path):
    assert main.get(path).status == 404


def test_query_string_is_not_part_of_the_route(main):
    r = main.get("/api/items/5?id=9&q=z")
    assert r.status == 200
    assert "id=5" in r.text and "q=z" in r.text


def test_trailing_slash_matches(main):
    r = main.get("/api/items/6/")
    assert r.status == 200 and "id=6" in r.text
    assert main.get("/api/echo/").status == 200


def test_optional_int_present_and_absent(main):
    r = main.get("/api/opt/7")
    assert r.status == 200 and "fn=opt id=7" in r.text
    r = main.get("/api/opt")
    assert r.status == 200 and "fn=opt id=-" in r.text
    assert main.get("/api/opt/x").status == 404


def test_catch_all_takes_the_rest_of_the_path(main):
    r = main.get("/api/files/a/b/c.txt")
    assert r.status == 200
    assert "fn=rest id=a/b/c.txt" in r.text
    r = main.get("/api/files/a%20b/c")
    assert r.status == 200 and "fn=rest id=a b/c\n" in r.text
    r = main.get("/api/files/one")
    assert r.status == 200 and "id=one" in r.text


@pytest.mark.parametrize("path,value", [
    ("/api/alpha/abcXYZ", "abcXYZ"),
    ("/api/guid/6f9619ff-8b86-d011-b42d-00cf4fc964ff", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
    ("/api/bool/true", "true"),
    ("/api/bool/False", "False"),
    ("/api/dt/2024-02-29", "2024-02-29"),
    ("/api/dt/2024-01-15T10:30:00", "2024-01-15T10:30:00"),
    ("/api/min/10", "10"),
    ("/api/min/12345", "12345"),
    ("/api/len/abc", "abc"),
    ("/api/re/aaa", "aaa"),
])
def test_constraint_accepts(main, path, value):
    r = main.get(path)
    assert r.status == 200, (path, r.status, r.text)
    assert "id=%s\n" % value in r.text


@pytest.mark.parametrize("path", [
    "/api/alpha/abc1",
    "/api/guid/not-a-guid",
    "/api/guid/6f9619ff-8b86-d011-b42d-00cf4fc964f",
    "/api/bool/yes",
    "/api/dt/2023-02-29",
    "/api/dt/yesterday",
    "/api/min/9",
    "/api/min/-50",
    "/api/min/ten",
    "/api/len/ab",
    "/api/len/abcd",
    "/api/re/aab",
    "/api/re/baa",
])
def test_constraint_rejection_is_404(main, path):
    r = main.get(path)
    assert r.status == 404, (path, r.status, r.text)


def test_matching_is_case_insensitive(main):
    r = main.get("/API/ITEMS/5")
    assert r.status == 200 and "id=5" in r.text
    r = main.get("/Api/Echo")
    assert r.status == 200
    # template literal in mixed case, parameter name {ID} read as "id"
    r = main.get("/api/mixedcase/3")
    assert r.status == 200 and "id=3" in r.text
    r = main.get("/api/MIXEDCASE/4")
    assert r.status == 200 and "id=4" in r.text


def test_percent_encoded_literal_matches(main):
    r = main.get("/api/%65cho")
    assert r.status == 200 and "path=/api/echo" in r.text
    r = main.get("/api/items/%34%32")
    assert r.status == 200 and "id=42" in r.text


def test_absolute_form_request_target_is_routed(main):
    # RFC 9112 section 3.2.2: a server MUST accept the absolute-form.
    raw = main.raw(b"GET http://127.0.0.1/api/items/7 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Connection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
    assert b"id=7" in raw


def test_percent_encoded_param_is_decoded(main):
    r = main.get("/api/word/hello%20world")
    assert r.status == 200
    assert "fn=word id=hello world\n" in r.text
    r = main.get("/api/word/caf%C3%A9")
    assert r.status == 200
    assert "id=caf\u00e9\n" in r.text


# ---- methods -----------------------------------------------------------------

def test_post_only_function_answers_get_with_405_and_allow(main):
    r = main.get("/api/postonly")
    assert r.status == 405
    allow = r.header("Allow")
    assert allow is not None, r.headers
    assert "POST" in [m.strip().upper() for m in allow.split(",")]
    assert "GET" not in [m.strip().upper() for m in allow.split(",")]
    r = main.post("/api/postonly", body=b"x")
    assert r.status == 200 and "fn=postonly" in r.text


def test_head_on_post_only_function_is_405(main):
    r = main.request("HEAD", "/api/postonly")
    assert r.status == 405
    assert "POST" in (r.header("Allow") or "")


def test_get_only_function_refuses_post_with_allow_get(main):
    r = main.post("/api/getonly", body=b"x")
    assert r.status == 405
    allow = [m.strip().upper() for m in (r.header("Allow") or "").split(",")]
    assert "GET" in allow


def test_same_route_split_by_method_between_functions(main):
    r = main.get("/api/same")
    assert r.status == 200 and "fn=samea" in r.text
    r = main.post("/api/same", body=b"x")
    assert r.status == 200 and "fn=sameb" in r.text
    r = main.request("PUT", "/api/same", body=b"x")
    assert r.status == 200 and "fn=sameb" in r.text
    r = main.request("DELETE", "/api/same")
    assert r.status == 405
    allow = [m.strip().upper() for m in (r.header("Allow") or "").split(",")]
    assert {"GET", "POST", "PUT"} <= set(allow), allow
    assert "DELETE" not in allow


def test_get_function_answers_head_without_body(main):
    r = main.request("HEAD", "/api/getonly")
    assert r.status == 200
    assert r.header("X-Method") == "HEAD"
    # http.client never reads a HEAD body: check the bytes on the wire.
    raw = main.raw(b"HEAD /api/getonly HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, raw
    assert head.startswith(b"HTTP/1.1 200"), raw
    assert rest == b"", raw


def test_function_without_methods_accepts_any_verb(main):
    for verb in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        r = main.request(verb, "/api/echo", body=b"" if verb != "GET" else None)
        assert r.status == 200, verb
        assert r.header("X-Method") == verb


# ---- order, reserved and unknown paths ---------------------------------------

def test_first_registered_match_wins(main):
    # dupa (dup/{id}) loads before dupb (dup/special): it takes dup/special
    r = main.get("/api/dup/special")
    assert r.status == 200 and "fn=dupa id=special" in r.text
    # lita (lit/fixed) loads before litb (lit/{id})
    r = main.get("/api/lit/fixed")
    assert r.status == 200 and "fn=lita" in r.text
    r = main.get("/api/lit/other")
    assert r.status == 200 and "fn=litb id=other" in r.text


def test_runtime_webhooks_is_reserved(main, hosts):
    assert main.get("/runtime/webhooks/x").status == 404
    # even with a root catch-all function (routePrefix "") it is not routed
    h = hosts["empty"]
    r = h.get("/anything/at/all")
    assert r.status == 200 and "fn=zcatch" in r.text
    r = h.get("/runtime/webhooks/x")
    assert r.status == 404 and "fn=zcatch" not in r.text


def test_unknown_path_is_404(main):
    assert main.get("/api/nothing-here").status == 404
    assert main.get("/nothing").status == 404
    assert main.get("/api").status == 404
    assert main.post("/api/nope/nope", body=b"x").status == 404


def test_the_root_answers_a_home_page_unless_a_function_or_the_setting_says_otherwise(
        make_app, start_host):
    """As Azure's host: GET / is a page saying the app is up (health
    checks probe it); AzureWebJobsDisableHomepage=true turns it off; a
    function whose route is the root takes it."""
    app = make_app({"echo": http_fn("echo")})
    h = start_host(app)
    r = h.get("/")
    assert r.status == 200
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert "Your Functions app is up and running" in r.text
    assert h.request("HEAD", "/").status == 200
    assert h.post("/").status == 404
    assert h.get("/other").status == 404
    h.stop()
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "native",
                                                 "AzureWebJobsDisableHomepage": "true"}}
    h = start_host(make_app({"echo": http_fn("echo")}, settings=settings))
    assert h.get("/").status == 404
    h.stop()
    app = make_app({"root": http_fn("root", route="{*rest}")},
                   host={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}},
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": "native"}})
    h = start_host(app)
    r = h.get("/")
    assert r.status == 200 and "up and running" not in r.text
