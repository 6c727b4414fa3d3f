"""The examples/pipeline app end to end: an HTTP upload becomes a blob, the
blob trigger writes a result blob and a queue message, the queue trigger
reads the result through a blob input, and the timer reports."""
import json
import os
import shutil

from conftest import ROOT, wait_for


def test_example_pipeline_runs_end_to_end(tmp_path, start_host):
    app = str(tmp_path / "pipeline")
    shutil.copytree(ROOT + "/examples/pipeline", app,
                    ignore=shutil.ignore_patterns(".stratus", "*.so"))
    # every second instead of every 30 s, through the setting the schedule names
    h = start_host(app, env={"REPORT_SCHEDULE": "* * * * * *"})
    text = b"one two three\nfour five\n"
    r = h.post("/api/upload/notes.txt", body=text, timeout=30)
    assert r.status == 202, (r.status, r.text)
    assert "uploads/notes.txt (24 bytes)" in r.text

    blobs = os.path.join(app, ".stratus", "blobs")
    assert open(os.path.join(blobs, "uploads", "notes.txt"), "rb").read() == text
    result = os.path.join(blobs, "results", "notes.txt.json")
    assert wait_for(lambda: os.path.exists(result), timeout=30), h.log()
    assert json.load(open(result)) == {"name": "notes.txt", "bytes": 24, "lines": 2,
                                       "words": 5}
    # notify got the queue message and read the result through its blob input
    assert wait_for(lambda: "upload 'notes.txt' is done" in h.log(), timeout=30), h.log()
    assert '"words": 5' in h.log().split("upload 'notes.txt' is done", 1)[1]
    # a file copied into the folder by another program is processed too
    with open(os.path.join(blobs, "uploads", "copied.txt"), "wb") as f:
        f.write(b"a b c d e f\n")
    assert wait_for(lambda: os.path.exists(os.path.join(blobs, "results", "copied.txt.json")),
                    timeout=30), h.log()
    # the timer reports
    assert wait_for(lambda: "pipeline report" in h.log(), timeout=30), h.log()
    assert "Failed" not in h.log(), h.log()
