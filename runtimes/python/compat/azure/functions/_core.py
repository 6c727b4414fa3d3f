"""Binding-independent types of the azure.functions stand-in: Out (an
output binding's value holder), Context (what a function learns about its
invocation), TraceContext and RetryContext. Out and Context are abstract,
as in Azure: the worker passes its own implementations to functions."""
import abc


class Out(abc.ABC):
    """An interface to set function output parameters. `func.Out[T]` is
    accepted in annotations; the worker implements set() and get()."""

    __slots__ = ()

    def __class_getitem__(cls, item):
        return cls

    @abc.abstractmethod
    def set(self, val):
        """Set the value of the output parameter."""

    @abc.abstractmethod
    def get(self):
        """Get the value of the output parameter."""


class TraceContext:
    """Context for distributed tracing: the W3C traceparent and tracestate
    of the invocation ("" when the caller sent none) and extra attributes,
    as trace_parent, trace_state, attributes (azure.functions' names) and
    Traceparent, Tracestate, Attributes (the names of Azure's worker)."""

    __slots__ = ("_trace_parent", "_trace_state", "_attributes")

    def __init__(self, trace_parent, trace_state, attributes):
        self._trace_parent = trace_parent
        self._trace_state = trace_state
        self._attributes = attributes

    @property
    def trace_parent(self):
        return self._trace_parent

    @property
    def trace_state(self):
        return self._trace_state

    @property
    def attributes(self):
        return self._attributes

    # The names Azure's worker gives the same values: what functions read
    # (context.trace_context.Traceparent, as in Azure's OpenTelemetry
    # samples).
    Traceparent = trace_parent
    Tracestate = trace_state
    Attributes = attributes


class RetryContext:
    """Where the invocation stands in its trigger's retry policy."""

    __slots__ = ("_retry_count", "_max_retry_count", "_exception")

    def __init__(self, retry_count, max_retry_count, exception):
        self._retry_count = retry_count
        self._max_retry_count = max_retry_count
        self._exception = exception

    @property
    def retry_count(self):
        """The current retry count (0 on the first attempt)."""
        return self._retry_count

    @property
    def max_retry_count(self):
        """The most retries of the policy; -1 means retry without end."""
        return self._max_retry_count

    @property
    def exception(self):
        """What made the previous attempt fail, or None."""
        return self._exception


class Context(abc.ABC):
    """Function invocation context."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def invocation_id(self):
        """Function invocation ID."""

    @property
    @abc.abstractmethod
    def function_name(self):
        """Function name."""

    @property
    @abc.abstractmethod
    def function_directory(self):
        """Function directory."""

    @property
    @abc.abstractmethod
    def trace_context(self):
        """Context for distributed tracing (a TraceContext)."""

    @property
    @abc.abstractmethod
    def retry_context(self):
        """Context for retries to the function (a RetryContext)."""

    @property
    @abc.abstractmethod
    def thread_local_storage(self):
        """Thread local storage of the invocation (has invocation_id)."""
