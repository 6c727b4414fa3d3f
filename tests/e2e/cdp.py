"""A small Chrome DevTools Protocol client for the browser tests: starts
headless Chromium with --remote-debugging-pipe (JSON messages ending with a
NUL byte on the child's file descriptors 3 and 4, so no websocket and no
port to find) and speaks to one page through a flattened target session.

    with Browser.launch(tmp_dir) as b:
        page = b.new_page()
        page.navigate("http://127.0.0.1:7071/admin/ui")
        page.evaluate("document.title")
        png = page.screenshot()
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time


class CDPError(Exception):
    """An error answer of the browser, or no answer in time."""


def find_chromium():
    """The Chromium binary: $STRATUS_CHROMIUM, else chromium on PATH; None when absent."""
    env = os.environ.get("STRATUS_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    def __init__(self, proc, to_browser, from_browser, log_path):
        self.proc = proc
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.log_path = log_path
        self.next_id = 0
        self.answers = {}
        self.events = []           # (sessionId, method, params), in arrival order
        self.cond = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def launch(cls, work_dir, binary=None, width=1280, height=1100):
        """Start headless Chromium with a fresh profile in work_dir."""
        binary = binary or find_chromium()
        if not binary:
            raise CDPError("chromium not found (sh scripts/deps.sh installs it)")
        # Our ends and the child's ends; bash (whose redirections take fds above 9)
        # moves the child's to 3 and 4.
        c_in, p_out = os.pipe()      # browser reads commands from c_in
        p_in, c_out = os.pipe()      # browser writes answers to c_out
        hi_in = fcntl.fcntl(c_in, fcntl.F_DUPFD, 10)
        hi_out = fcntl.fcntl(c_out, fcntl.F_DUPFD, 10)
        os.close(c_in)
        os.close(c_out)
        profile = os.path.join(work_dir, "chromium-profile")
        os.makedirs(profile, exist_ok=True)
        log_path = os.path.join(work_dir, "chromium.log")
        args = [binary, "--headless", "--remote-debugging-pipe", "--user-data-dir=" + profile,
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        script = 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (hi_in, hi_out, hi_in, hi_out)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["bash", "-c", script] + args, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    pass_fds=(hi_in, hi_out))
        os.close(hi_in)
        os.close(hi_out)
        return cls(proc, os.fdopen(p_out, "wb", buffering=0), os.fdopen(p_in, "rb", buffering=0),
                   log_path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.from_browser.read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.cond:
                    if "id" in msg:
                        self.answers[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("sessionId"), msg.get("method"),
                                            msg.get("params", {})))
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, method, params=None, session=None, timeout=60):
        """Send a command; its result, or CDPError with the browser's error."""
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            self.to_browser.write(json.dumps(msg).encode() + b"\0")
        except OSError as e:
            raise CDPError("%s: browser gone (%s):\n%s" % (method, e, self.log()[-2000:]))
        deadline = time.time() + timeout
        with self.cond:
            while mid not in self.answers:
                left = deadline - time.time()
                if left <= 0 or self.closed:
                    raise CDPError("%s: no answer from the browser%s:\n%s" % (
                        method, " (it exited)" if self.closed else "", self.log()[-2000:]))
                self.cond.wait(left)
            ans = self.answers.pop(mid)
        if "error" in ans:
            raise CDPError("%s: %s" % (method, ans["error"]))
        return ans.get("result", {})

    def new_page(self):
        """A new tab with Page, Runtime, Network and Log events enabled."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.send(domain + ".enable")
        return page

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=10)
            except CDPError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.to_browser, self.from_browser):
            try:
                f.close()
            except OSError:
                pass


class Page:
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    def send(self, method, params=None, timeout=60):
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def events(self, method=None):
        """The events of this page so far: [(method, params)]."""
        with self.browser.cond:
            evs = list(self.browser.events)
        return [(m, p) for s, m, p in evs if s == self.session and (method is None or m == method)]

    def navigate(self, url, timeout=60):
        res = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if res.get("errorText"):
            raise CDPError("navigating to %s: %s" % (url, res["errorText"]))
        return res

    def evaluate(self, expression, timeout=30):
        """The value of a JavaScript expression (awaited when a promise)."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in res:
            raise CDPError("evaluating %r: %s" % (expression, res["exceptionDetails"]))
        return res.get("result", {}).get("value")

    def wait_for(self, expression, timeout=60, interval=0.2):
        """Poll a JavaScript expression until it is truthy; its value, or None at timeout."""
        deadline = time.time() + timeout
        while True:
            v = self.evaluate(expression)
            if v or time.time() >= deadline:
                return v
            time.sleep(interval)

    def screenshot(self, full_page=True):
        """A PNG of the page (the whole document when full_page)."""
        params = {"format": "png"}
        if full_page:
            m = self.send("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m.get("contentSize")
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                              "scale": 1}
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
