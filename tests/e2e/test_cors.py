"""CORS, as Azure's host and Core Tools do it: local.settings.json
Host.CORS and Host.CORSCredentials, or `stratus start --cors ORIGINS
[--cors-credentials]`. A preflight (OPTIONS with Origin and
Access-Control-Request-Method) is answered by the host, 204, before any
function; an allowed Origin gets Access-Control-Allow-Origin on the
answer; another origin gets no CORS headers."""
import os

import pytest

from conftest import http_fn, write_app


def settings(cors=None, credentials=None):
    host = {}
    if cors is not None:
        host["CORS"] = cors
    if credentials is not None:
        host["CORSCredentials"] = credentials
    return {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "native"},
            "Host": host}


@pytest.fixture(scope="module")
def listed(module_hosts):
    app = write_app(os.path.join(module_hosts.workdir, "listed"),
                    {"echo": http_fn("echo", methods=["get", "post"])},
                    settings=settings("https://a.example, https://b.example:8443/", True))
    return module_hosts.start(app)


def hdr(r, name):
    return r.header(name)


def test_preflight_of_an_allowed_origin_is_answered_by_the_host(listed):
    r = listed.request("OPTIONS", "/api/echo", headers={
        "Origin": "https://a.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-one, content-type"})
    assert r.status == 204, (r.status, r.text)
    assert hdr(r, "Access-Control-Allow-Origin") == "https://a.example"
    assert hdr(r, "Access-Control-Allow-Credentials") == "true"
    assert hdr(r, "Access-Control-Allow-Methods") == "PUT"
    assert hdr(r, "Access-Control-Allow-Headers") == "x-one, content-type"
    assert hdr(r, "Vary") == "Origin"
    assert r.body == b""


def test_an_allowed_origin_gets_the_header_on_answers_and_errors(listed):
    r = listed.get("/api/echo?x=1", headers={"Origin": "https://B.example:8443"})
    assert r.status == 200
    assert hdr(r, "Access-Control-Allow-Origin") == "https://B.example:8443"
    assert hdr(r, "Access-Control-Allow-Credentials") == "true"
    r = listed.get("/api/nothing-here", headers={"Origin": "https://a.example"})
    assert r.status == 404
    assert hdr(r, "Access-Control-Allow-Origin") == "https://a.example"


def test_another_origin_gets_no_cors_headers(listed):
    r = listed.get("/api/echo", headers={"Origin": "https://evil.example"})
    assert r.status == 200
    assert hdr(r, "Access-Control-Allow-Origin") is None
    r = listed.request("OPTIONS", "/api/echo", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert r.status == 204 and hdr(r, "Access-Control-Allow-Origin") is None
    # no Origin: no CORS at all
    assert hdr(listed.get("/api/echo"), "Access-Control-Allow-Origin") is None


def test_any_origin_from_the_command_line(make_app, start_host):
    app = make_app({"echo": http_fn("echo")}, settings=settings())
    h = start_host(app, "--cors", "*")
    r = h.get("/api/echo", headers={"Origin": "http://localhost:3000"})
    assert hdr(r, "Access-Control-Allow-Origin") == "*"
    assert hdr(r, "Vary") is None
    h.stop()
    # with credentials, a browser needs the origin itself
    h2 = start_host(app, "--cors", "*", "--cors-credentials")
    r = h2.get("/api/echo", headers={"Origin": "http://localhost:3000"})
    assert hdr(r, "Access-Control-Allow-Origin") == "http://localhost:3000"
    assert hdr(r, "Access-Control-Allow-Credentials") == "true"


def test_bad_cors_settings_are_clear_errors(make_app, start_host):
    app = make_app({"echo": http_fn("echo")}, settings=settings("*", "yes please"))
    h = start_host(app, wait=False)
    assert h.proc.wait(60) != 0
    assert "Host.CORSCredentials': expected true or false" in h.log()
