"""Queue types of the azure.functions stand-in: QueueMessage, the value of a
queueTrigger parameter (and a message a function may put on a queue
output), with Azure's names: get_body() gives bytes, get_json() decodes
them, dequeue_count is an int and the times are datetime objects."""


class QueueMessage:
    """A queue message. Functions build one with id, body and pop_receipt;
    the worker also fills the metadata of a received message."""

    __slots__ = ("_id", "_body", "_pop_receipt", "_dequeue_count", "_expiration_time",
                 "_insertion_time", "_time_next_visible")

    def __init__(self, *, id=None, body=None, pop_receipt=None, dequeue_count=None,
                 expiration_time=None, insertion_time=None, time_next_visible=None):
        self._id = id
        self._pop_receipt = pop_receipt
        self._dequeue_count = dequeue_count
        self._expiration_time = expiration_time
        self._insertion_time = insertion_time
        self._time_next_visible = time_next_visible
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray)):
            body = bytes(body)
        else:
            raise TypeError("response is expected to be either of str, bytes, or bytearray, "
                            "got %s" % type(body).__name__)
        self._body = body

    @property
    def id(self):
        """Message ID (a string), or None."""
        return self._id

    @property
    def dequeue_count(self):
        """The number of times this message has been dequeued (an int)."""
        return self._dequeue_count

    @property
    def expiration_time(self):
        """A datetime object with the message expiry time."""
        return self._expiration_time

    @property
    def insertion_time(self):
        """A datetime object with the message queue insertion time."""
        return self._insertion_time

    @property
    def time_next_visible(self):
        """A datetime object with the time the message will be visible next."""
        return self._time_next_visible

    # The same under the name of the trigger's metadata (NextVisibleTime).
    next_visible_time = time_next_visible

    @property
    def pop_receipt(self):
        """The message pop receipt token as a string."""
        return self._pop_receipt

    def get_body(self):
        """Return message content as bytes."""
        return self._body

    def get_json(self):
        """Decode and return message content as a JSON object; ValueError
        when the body is not valid JSON."""
        import json
        return json.loads(self._body)

    def __repr__(self):
        return "<azure.QueueMessage id=%s dequeue_count=%s insertion_time=%s " \
               "expiration_time=%s at 0x%x>" % (self._id, self._dequeue_count,
                                                self._insertion_time, self._expiration_time,
                                                id(self))
