"""The bindings the v2 decorators of the azure.functions stand-in make,
one class per function.json type, with Azure's class names: HTTP
(HttpTrigger, HttpOutput, HttpMethod), timer (TimerTrigger), queue
(QueueTrigger, QueueOutput), blob (BlobTrigger, BlobInput, BlobOutput) and
generic ones (GenericTrigger, GenericInputBinding, GenericOutputBinding),
and the settings (FunctionName, RetryPolicy). Keyword arguments beyond a
binding's own are written to its JSON as well (camelCase)."""
from .core import InputBinding, OutputBinding, Setting, StringifyEnum, Trigger

FUNCTION_NAME = "function_name"
RETRY_POLICY = "retry_policy"


class HttpMethod(StringifyEnum):
    GET = "GET"
    POST = "POST"
    DELETE = "DELETE"
    HEAD = "HEAD"
    PATCH = "PATCH"
    PUT = "PUT"
    OPTIONS = "OPTIONS"


class HttpTrigger(Trigger):
    @staticmethod
    def get_binding_name():
        return "httpTrigger"

    def __init__(self, name, methods=None, data_type=None, auth_level=None, route=None,
                 **kwargs):
        super().__init__(name, data_type, methods=methods, auth_level=auth_level,
                         route=route, **kwargs)


class HttpOutput(OutputBinding):
    @staticmethod
    def get_binding_name():
        return "http"

    def __init__(self, name, data_type=None, **kwargs):
        super().__init__(name, data_type, **kwargs)


class TimerTrigger(Trigger):
    @staticmethod
    def get_binding_name():
        return "timerTrigger"

    def __init__(self, name, schedule, run_on_startup=None, use_monitor=None, data_type=None,
                 **kwargs):
        super().__init__(name, data_type, schedule=schedule, run_on_startup=run_on_startup,
                         use_monitor=use_monitor, **kwargs)


class QueueTrigger(Trigger):
    @staticmethod
    def get_binding_name():
        return "queueTrigger"

    def __init__(self, name, queue_name, connection, data_type=None, **kwargs):
        super().__init__(name, data_type, queue_name=queue_name, connection=connection,
                         **kwargs)


class QueueOutput(OutputBinding):
    @staticmethod
    def get_binding_name():
        return "queue"

    def __init__(self, name, queue_name, connection, data_type=None, **kwargs):
        super().__init__(name, data_type, queue_name=queue_name, connection=connection,
                         **kwargs)


class BlobTrigger(Trigger):
    @staticmethod
    def get_binding_name():
        return "blobTrigger"

    def __init__(self, name, path, connection, source=None, data_type=None, **kwargs):
        super().__init__(name, data_type, path=path, connection=connection, source=source,
                         **kwargs)


class BlobInput(InputBinding):
    @staticmethod
    def get_binding_name():
        return "blob"

    def __init__(self, name, path, connection, data_type=None, **kwargs):
        super().__init__(name, data_type, path=path, connection=connection, **kwargs)


class BlobOutput(OutputBinding):
    @staticmethod
    def get_binding_name():
        return "blob"

    def __init__(self, name, path, connection, data_type=None, **kwargs):
        super().__init__(name, data_type, path=path, connection=connection, **kwargs)


class GenericTrigger(Trigger):
    def __init__(self, name, type, data_type=None, **kwargs):
        super().__init__(name, data_type, type, **kwargs)


class GenericInputBinding(InputBinding):
    def __init__(self, name, type, data_type=None, **kwargs):
        super().__init__(name, data_type, type, **kwargs)


class GenericOutputBinding(OutputBinding):
    def __init__(self, name, type, data_type=None, **kwargs):
        super().__init__(name, data_type, type, **kwargs)


class FunctionName(Setting):
    def __init__(self, function_name, **kwargs):
        super().__init__(FUNCTION_NAME, function_name=function_name, **kwargs)


class RetryPolicy(Setting):
    """@app.retry(): strategy "fixed_delay" (with delay_interval) or
    "exponential_backoff" (with minimum_interval and maximum_interval), and
    max_retry_count (-1: without end); intervals as "hh:mm:ss"."""

    def __init__(self, strategy, max_retry_count, delay_interval=None, minimum_interval=None,
                 maximum_interval=None, **kwargs):
        self.strategy = strategy
        self.max_retry_count = max_retry_count
        self.delay_interval = delay_interval
        self.minimum_interval = minimum_interval
        self.maximum_interval = maximum_interval
        super().__init__(RETRY_POLICY, strategy=strategy, max_retry_count=max_retry_count,
                         delay_interval=delay_interval, minimum_interval=minimum_interval,
                         maximum_interval=maximum_interval, **kwargs)

    def get_value(self, name):
        return self.get_dict_repr().get(name)
