"""Unit tests of the Python worker's bindings other than HTTP: queue, timer
and blob triggers (func.QueueMessage, func.TimerRequest, func.InputStream),
input bindings, func.Out outputs and $return, and the retry context. The
worker is driven by harness.Worker with INVOKE frames as the host builds
them for these triggers (body = the trigger's payload, triggerMetadata,
inputs, retryContext)."""
import base64
import json
import os

import pytest

from harness import Worker, write_fn

QUEUE_META = {
    "Id": "5f1a0c4e-8d3b-4c55-9a7e-0b6b2f1e9d11",
    "DequeueCount": 2,
    "InsertionTime": "2026-11-27T10:15:30.1234567+00:00",
    "ExpirationTime": "2026-12-04T10:15:30Z",
    "NextVisibleTime": "2026-11-27T10:25:30+00:00",
    "PopReceipt": "AgAAAAMAAAAAAAAA",
    "QueueTrigger": '{"order": 42}',
    "sys": {"MethodName": "onmsg", "UtcNow": "2026-11-27T10:15:31Z", "RandGuid": "x"},
}


@pytest.fixture
def app(tmp_path):
    return str(tmp_path)


@pytest.fixture
def worker(app):
    started = []

    def start(functions):
        w = Worker(app)
        started.append(w)
        loaded = w.handshake(functions)
        for name, entry in loaded.items():
            assert entry["ok"], entry
        return w

    yield start
    for w in started:
        w.close()


def fn(app, name, bindings):
    return {"name": name, "directory": os.path.join(app, name), "bindings": bindings}


def queue_trigger(name="msg", **extra):
    return dict({"type": "queueTrigger", "direction": "in", "name": name, "queueName": "in"},
                **extra)


def test_queue_message_parameter_has_azure_types(worker, app):
    write_fn(app, "onmsg", '''
import datetime
import json
import azure.functions as func

def main(msg: func.QueueMessage) -> str:
    utc = datetime.timezone.utc
    return json.dumps({
        "type": type(msg).__name__,
        "is_qm": isinstance(msg, func.QueueMessage),
        "body": msg.get_body().decode(),
        "body_is_bytes": isinstance(msg.get_body(), bytes),
        "json": msg.get_json(),
        "id": msg.id,
        "dequeue_count": msg.dequeue_count,
        "count_is_int": type(msg.dequeue_count) is int,
        "insertion": msg.insertion_time.isoformat(),
        "insertion_utc": msg.insertion_time.tzinfo is utc,
        "expiration": msg.expiration_time.isoformat(),
        "next_visible": msg.time_next_visible.isoformat(),
        "next_visible_alias": msg.next_visible_time == msg.time_next_visible,
        "pop_receipt": msg.pop_receipt,
    })
''')
    w = worker([fn(app, "onmsg", [queue_trigger(),
                                  {"type": "queue", "direction": "out", "name": "$return",
                                   "queueName": "out"}])])
    res, _ = w.invoke("onmsg", body=b'{"order": 42}', extra={"triggerMetadata": QUEUE_META})
    assert res.meta["ok"], res.meta
    out = json.loads(res.meta["outputs"]["$return"])
    assert out == {
        "type": "QueueMessage", "is_qm": True, "body": '{"order": 42}', "body_is_bytes": True,
        "json": {"order": 42}, "id": QUEUE_META["Id"], "dequeue_count": 2,
        "count_is_int": True, "insertion": "2026-11-27T10:15:30.123456+00:00",
        "insertion_utc": True, "expiration": "2026-12-04T10:15:30+00:00",
        "next_visible": "2026-11-27T10:25:30+00:00", "next_visible_alias": True,
        "pop_receipt": "AgAAAAMAAAAAAAAA"}
    assert res.body == b""
    assert "status" not in res.meta


def test_queue_message_without_annotation_and_get_json_error(worker, app):
    write_fn(app, "plain", '''
def main(msg):
    return msg.get_json()["n"]
''')
    w = worker([fn(app, "plain", [queue_trigger(),
                                  {"type": "queue", "direction": "out", "name": "$return"}])])
    res, _ = w.invoke("plain", body=b'{"n": 5}', extra={"triggerMetadata": QUEUE_META})
    assert res.meta == {"ok": True, "outputs": {"$return": 5}}
    res, _ = w.invoke("plain", body=b"not json", extra={"triggerMetadata": QUEUE_META})
    assert not res.meta["ok"]
    assert "JSONDecodeError" in res.meta["error"]


def test_str_and_bytes_annotations_get_the_payload(worker, app):
    write_fn(app, "as_text", '''
import azure.functions as func
def main(msg: str, out: func.Out[str]):
    out.set("got " + msg + " " + type(msg).__name__)
''')
    write_fn(app, "as_bytes", '''
import azure.functions as func
def main(msg: bytes, out: func.Out[bytes]):
    out.set(msg[::-1])
''')
    qout = {"type": "queue", "direction": "out", "name": "out", "queueName": "o"}
    w = worker([fn(app, "as_text", [queue_trigger(), qout]),
                fn(app, "as_bytes", [queue_trigger(), qout])])
    res, _ = w.invoke("as_text", body="héllo".encode(), extra={"triggerMetadata": QUEUE_META})
    assert res.meta == {"ok": True, "outputs": {"out": "got héllo str"}}
    res, _ = w.invoke("as_bytes", body=b"\x00\xff\x01", extra={"triggerMetadata": QUEUE_META})
    assert res.meta["ok"], res.meta
    assert res.meta["outputs"] == {"out": {"$binary": base64.b64encode(b"\x01\xff\x00").decode()}}


def test_queue_output_list_and_queue_messages(worker, app):
    write_fn(app, "fanout", '''
from typing import List
import azure.functions as func

def main(msg: func.QueueMessage, many: func.Out[List[str]],
         one: func.Out[func.QueueMessage], objs: func.Out[list]) -> None:
    n = msg.get_json()["n"]
    many.set(["item %d" % i for i in range(n)])
    one.set(func.QueueMessage(body="as message"))
    objs.set([{"i": 1}, func.QueueMessage(body=b"raw"), "text"])
''')
    out = lambda name: {"type": "queue", "direction": "out", "name": name, "queueName": name}
    w = worker([fn(app, "fanout", [queue_trigger(), out("many"), out("one"), out("objs")])])
    res, _ = w.invoke("fanout", body=b'{"n": 3}', extra={"triggerMetadata": QUEUE_META})
    assert res.meta["ok"], res.meta
    assert res.meta["outputs"] == {"many": ["item 0", "item 1", "item 2"], "one": "as message",
                                   "objs": [{"i": 1}, "raw", "text"]}


def test_unset_out_sends_nothing_and_bad_value_names_the_binding(worker, app):
    write_fn(app, "partial", '''
import azure.functions as func
def main(msg: func.QueueMessage, a: func.Out[str], b: func.Out[str]):
    if msg.get_body() == b"bad":
        b.set(object())
    else:
        a.set("only a")
''')
    out = lambda name: {"type": "queue", "direction": "out", "name": name, "queueName": name}
    w = worker([fn(app, "partial", [queue_trigger(), out("a"), out("b")])])
    res, _ = w.invoke("partial", body=b"ok", extra={"triggerMetadata": QUEUE_META})
    assert res.meta == {"ok": True, "outputs": {"a": "only a"}}
    res, _ = w.invoke("partial", body=b"bad", extra={"triggerMetadata": QUEUE_META})
    assert not res.meta["ok"]
    assert "output binding 'b'" in res.meta["error"]
    assert "object" in res.meta["error"]


def test_timer_request(worker, app):
    write_fn(app, "tick", '''
import json
import azure.functions as func
def main(mytimer: func.TimerRequest, out: func.Out[str]) -> None:
    out.set(json.dumps({"past_due": mytimer.past_due, "type": type(mytimer).__name__,
                        "is_tr": isinstance(mytimer, func.TimerRequest),
                        "status": mytimer.schedule_status, "schedule": mytimer.schedule}))
''')
    w = worker([fn(app, "tick", [{"type": "timerTrigger", "direction": "in", "name": "mytimer",
                                  "schedule": "*/5 * * * * *"},
                                 {"type": "queue", "direction": "out", "name": "out"}])])
    info = {"Schedule": {"AdjustForDST": True},
            "ScheduleStatus": {"Last": "2026-11-27T10:00:00+00:00",
                               "Next": "2026-11-27T10:00:05+00:00",
                               "LastUpdated": "2026-11-27T10:00:00+00:00"},
            "IsPastDue": True}
    res, _ = w.invoke("tick", body=json.dumps(info).encode())
    assert res.meta["ok"], res.meta
    assert json.loads(res.meta["outputs"]["out"]) == {
        "past_due": True, "type": "TimerRequest", "is_tr": True,
        "status": info["ScheduleStatus"], "schedule": {"AdjustForDST": True}}
    res, _ = w.invoke("tick", body=b'{"Schedule": {}, "ScheduleStatus": null, "IsPastDue": false}')
    assert json.loads(res.meta["outputs"]["out"])["past_due"] is False
    res, _ = w.invoke("tick", body=b"[1, 2]")
    assert not res.meta["ok"]
    assert "trigger 'mytimer' (timerTrigger)" in res.meta["error"]


def test_blob_trigger_input_stream_and_blob_outputs(worker, app):
    write_fn(app, "onblob", '''
import json
import azure.functions as func

def main(myblob: func.InputStream, copy: func.Out[bytes], info: func.Out[str]) -> None:
    first = myblob.read(2)
    rest = myblob.read()
    copy.set(first + rest)
    info.set(json.dumps({"name": myblob.name, "length": myblob.length, "uri": myblob.uri,
                         "first": list(first), "is_is": isinstance(myblob, func.InputStream),
                         "readable": myblob.readable()}))
''')
    w = worker([fn(app, "onblob", [
        {"type": "blobTrigger", "direction": "in", "name": "myblob", "path": "in/{name}",
         "dataType": "binary"},
        {"type": "blob", "direction": "out", "name": "copy", "path": "out/{name}"},
        {"type": "blob", "direction": "out", "name": "info", "path": "out/{name}.json"}])])
    data = bytes(range(256))
    meta = {"BlobTrigger": "in/pic.bin", "Uri": "http://127.0.0.1/blobs/in/pic.bin",
            "Properties": {"Length": 256, "ContentType": "application/octet-stream"},
            "name": "pic.bin"}
    res, _ = w.invoke("onblob", body=data, extra={"triggerMetadata": meta})
    assert res.meta["ok"], res.meta
    outs = res.meta["outputs"]
    assert base64.b64decode(outs["copy"]["$binary"]) == data
    assert json.loads(outs["info"]) == {"name": "in/pic.bin", "length": 256,
                                        "uri": "http://127.0.0.1/blobs/in/pic.bin",
                                        "first": [0, 1], "is_is": True, "readable": True}


def test_blob_input_binding_values(worker, app):
    write_fn(app, "readin", '''
import json
import azure.functions as func

def main(msg: func.QueueMessage, doc: func.InputStream, text: str, raw: bytes, gone,
         out: func.Out[str]):
    out.set(json.dumps({"doc": doc.read().decode(), "doc_name": doc.name,
                        "text": text, "raw": list(raw), "gone": gone}))
''')
    blob_in = lambda name: {"type": "blob", "direction": "in", "name": name, "path": "c/" + name}
    w = worker([fn(app, "readin", [queue_trigger(), blob_in("doc"), blob_in("text"),
                                   blob_in("raw"), blob_in("gone"),
                                   {"type": "queue", "direction": "out", "name": "out"}])])
    inputs = {"doc": "document", "text": {"$binary": base64.b64encode(b"t\xc3\xa9").decode()},
              "raw": {"$binary": base64.b64encode(b"\x00\xfe").decode()}, "gone": None}
    res, _ = w.invoke("readin", body=b"go", extra={"triggerMetadata": QUEUE_META,
                                                   "inputs": inputs})
    assert res.meta["ok"], res.meta
    assert json.loads(res.meta["outputs"]["out"]) == {
        "doc": "document", "doc_name": None, "text": "té", "raw": [0, 254], "gone": None}
    inputs["raw"] = {"$binary": "***"}
    res, _ = w.invoke("readin", body=b"go", extra={"triggerMetadata": QUEUE_META,
                                                   "inputs": inputs})
    assert not res.meta["ok"]
    assert "input binding 'raw' (blob)" in res.meta["error"]
    assert "base64" in res.meta["error"]


def test_blob_output_from_return_and_input_stream(worker, app):
    write_fn(app, "relay", '''
import azure.functions as func
def main(myblob: func.InputStream) -> func.InputStream:
    return myblob
''')
    w = worker([fn(app, "relay", [
        {"type": "blobTrigger", "direction": "in", "name": "myblob", "path": "in/{name}"},
        {"type": "blob", "direction": "out", "name": "$return", "path": "out/{name}"}])])
    res, _ = w.invoke("relay", body=b"plain text", extra={"triggerMetadata": {
        "BlobTrigger": "in/a.txt", "Uri": "u", "Properties": {"ContentLength": 10}}})
    assert res.meta == {"ok": True, "outputs": {"$return": {
        "$binary": base64.b64encode(b"plain text").decode()}}}


def test_retry_context(worker, app):
    write_fn(app, "retrying", '''
import azure.functions as func
def main(msg: func.QueueMessage, context: func.Context) -> str:
    rc = context.retry_context
    return "%d/%d" % (rc.retry_count, rc.max_retry_count)
''')
    w = worker([fn(app, "retrying", [queue_trigger(),
                                     {"type": "queue", "direction": "out", "name": "$return"}])])
    res, _ = w.invoke("retrying", body=b"x", extra={
        "triggerMetadata": QUEUE_META, "retryContext": {"retryCount": 2, "maxRetryCount": 5}})
    assert res.meta == {"ok": True, "outputs": {"$return": "2/5"}}
    res, _ = w.invoke("retrying", body=b"x", extra={"triggerMetadata": QUEUE_META})
    assert res.meta == {"ok": True, "outputs": {"$return": "0/0"}}


def test_bad_metadata_fails_with_the_field(worker, app):
    write_fn(app, "strict", '''
import azure.functions as func
def main(msg: func.QueueMessage):
    pass
''')
    w = worker([fn(app, "strict", [queue_trigger()])])
    res, _ = w.invoke("strict", body=b"x", extra={"triggerMetadata": dict(
        QUEUE_META, InsertionTime="yesterday")})
    assert not res.meta["ok"]
    assert "InsertionTime" in res.meta["error"] and "trigger 'msg'" in res.meta["error"]


def test_string_annotations_are_understood(worker, app):
    write_fn(app, "future", '''
from __future__ import annotations
import azure.functions as func
def main(msg: str, out: func.Out[str]):
    out.set(msg.upper())
''')
    w = worker([fn(app, "future", [queue_trigger(),
                                   {"type": "queue", "direction": "out", "name": "out"}])])
    res, _ = w.invoke("future", body=b"abc", extra={"triggerMetadata": QUEUE_META})
    assert res.meta == {"ok": True, "outputs": {"out": "ABC"}}
