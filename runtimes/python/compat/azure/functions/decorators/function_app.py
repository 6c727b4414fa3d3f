"""The v2 programming model of the azure.functions stand-in: FunctionApp,
Blueprint and their decorators, with the names, signatures and defaults of
Azure's azure.functions.decorators.function_app:

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="hello/{name}", methods=["GET"])
    @app.queue_output(arg_name="msg", queue_name="out", connection="Storage")
    def hello(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse: ...

Each decorator adds to the function's FunctionBuilder (decorators stack in
any order; the name `hello` is then bound to the builder, as in Azure).
app.get_functions() builds and checks them: a function needs exactly one
trigger, names must be unique, an HTTP trigger without a route gets the
function's name and one without an auth level gets the app's. The worker
indexes the app through this API (get_functions(), and each Function's
get_function_name(), get_user_function(), get_function_json(),
get_settings_dict()), which Azure's package has too."""
import json

from .bindings import (BlobInput, BlobOutput, BlobTrigger, FunctionName, GenericInputBinding,
                       GenericOutputBinding, GenericTrigger, HttpMethod, HttpOutput, HttpTrigger,
                       QueueOutput, QueueTrigger, RetryPolicy, TimerTrigger, FUNCTION_NAME)
from .core import (SCRIPT_FILE_NAME, AuthLevel, DataType, StringifyEnumJsonEncoder, Trigger,
                   parse_enum, parse_enums)


class Function:
    """A function of the app: the user's Python function, its trigger, its
    bindings (the trigger included) and its settings."""

    def __init__(self, func, script_file):
        self._name = func.__name__
        self._func = func
        self._trigger = None
        self._bindings = []
        self._settings = {}
        self.function_script_file = script_file
        self.http_type = "function"
        self._is_http_function = False

    def add_binding(self, binding):
        self._bindings.append(binding)

    def add_trigger(self, trigger):
        if self._trigger is not None:
            raise ValueError("A trigger was already registered to this function. Adding "
                             "another trigger is not the correct behavior as a function can "
                             "only have one trigger. Existing registered trigger is %s and New "
                             "trigger being added is %s" % (self._trigger.get_dict_repr(),
                                                            trigger.get_dict_repr()))
        self._trigger = trigger
        self._bindings.append(trigger)

    def add_setting(self, setting):
        self._settings[setting.get_setting_name()] = setting

    def get_setting(self, setting_name):
        return self._settings.get(setting_name)

    def get_settings_dict(self, setting_name):
        setting = self._settings.get(setting_name)
        return setting.get_dict_repr() if setting is not None else None

    def set_function_name(self, function_name=None):
        if function_name:
            self._name = function_name

    def set_http_type(self, http_type):
        self.http_type = http_type

    def is_http_function(self):
        return self._is_http_function

    def get_trigger(self):
        return self._trigger

    def get_bindings(self):
        return self._bindings

    def get_raw_bindings(self):
        return [json.dumps(b.get_dict_repr(), cls=StringifyEnumJsonEncoder)
                for b in self._bindings]

    def get_bindings_dict(self):
        return {"bindings": [b.get_dict_repr() for b in self._bindings]}

    def get_dict_repr(self):
        d = {"scriptFile": self.function_script_file}
        d.update(self.get_bindings_dict())
        return d

    def get_user_function(self):
        return self._func

    def get_function_name(self):
        setting = self._settings.get(FUNCTION_NAME)
        if setting is not None and setting.get_settings_value(FUNCTION_NAME):
            return setting.get_settings_value(FUNCTION_NAME)
        return self._name

    def get_function_json(self):
        return json.dumps(self.get_dict_repr(), cls=StringifyEnumJsonEncoder)

    def __str__(self):
        return self.get_function_json()


class FunctionBuilder:
    """What a decorated name is bound to: the Function being described.
    Calling it does nothing, as in Azure (the worker calls the user's
    function itself)."""

    def __init__(self, func, function_script_file):
        self._function = Function(func, function_script_file)

    def __call__(self, *args, **kwargs):
        pass

    def configure_function_name(self, function_name):
        self._function.set_function_name(function_name)
        return self

    def configure_http_type(self, http_type):
        self._function.set_http_type(http_type)
        return self

    def add_trigger(self, trigger):
        self._function.add_trigger(trigger=trigger)
        return self

    def add_binding(self, binding):
        self._function.add_binding(binding=binding)
        return self

    def add_setting(self, setting):
        self._function.add_setting(setting=setting)
        return self

    def _validate_function(self, auth_level=None):
        function_name = self._function.get_function_name()
        trigger = self._function.get_trigger()
        if trigger is None:
            raise ValueError("Function %s does not have a trigger. A valid function must have "
                             "one and only one trigger registered." % function_name)
        if Trigger.is_supported_trigger_type(trigger, HttpTrigger):
            if getattr(trigger, "route", None) is None:
                trigger._add_field("route", function_name)
            if getattr(trigger, "auth_level", None) is None and auth_level is not None:
                trigger._add_field("auth_level", parse_enum(auth_level, AuthLevel))
            self._function._is_http_function = True

    def build(self, auth_level=None):
        self._validate_function(auth_level)
        return self._function


def _fields(extra):
    return dict(extra) if extra else {}


class DecoratorApi:
    """What FunctionApp and Blueprint share: the list of function builders
    and the decorators that are not bindings."""

    def __init__(self, *args, **kwargs):
        self._function_builders = []
        self._app_script_file = SCRIPT_FILE_NAME

    @property
    def app_script_file(self):
        return self._app_script_file

    def _validate_type(self, func):
        if isinstance(func, FunctionBuilder):
            # Decorated before: the builder is taken off the list and put
            # back at its end (by the caller).
            try:
                self._function_builders.remove(func)
            except ValueError:
                pass
            return func
        if callable(func):
            return FunctionBuilder(func, self._app_script_file)
        raise ValueError("Unsupported type for function app decorator found.")

    def _configure_function_builder(self, wrap):
        def decorator(func):
            fb = self._validate_type(func)
            self._function_builders.append(fb)
            return wrap(fb)
        return decorator

    def _decorator(self, configure):
        """A decorator that calls configure(fb) on the function's builder."""
        @self._configure_function_builder
        def wrap(fb):
            configure(fb)
            return fb
        return wrap

    def function_name(self, name, setting_extra_fields=None):
        """The function's name (by default the Python function's name)."""
        def configure(fb):
            fb.add_setting(FunctionName(function_name=name, **_fields(setting_extra_fields)))
            fb.configure_function_name(name)
        return self._decorator(configure)

    def http_type(self, http_type):
        return self._decorator(lambda fb: fb.configure_http_type(http_type))


class HttpFunctionsAuthLevelMixin:
    def __init__(self, auth_level, *args, **kwargs):
        self._auth_level = parse_enum(auth_level, AuthLevel)

    @property
    def auth_level(self):
        return self._auth_level


class TriggerApi(DecoratorApi):
    """The trigger decorators."""

    def route(self, route=None, trigger_arg_name="req", binding_arg_name="$return",
              methods=None, auth_level=None, trigger_extra_fields=None,
              binding_extra_fields=None):
        """An HTTP trigger (the request as trigger_arg_name) and an http
        output (binding_arg_name; "$return": the return value is the
        response). route defaults to the function's name, auth_level to the
        FunctionApp's http_auth_level, methods to all."""
        def configure(fb):
            fb.add_trigger(HttpTrigger(name=trigger_arg_name,
                                       methods=parse_enums(methods, HttpMethod),
                                       auth_level=parse_enum(auth_level, AuthLevel),
                                       route=route, **_fields(trigger_extra_fields)))
            fb.add_binding(HttpOutput(name=binding_arg_name, **_fields(binding_extra_fields)))
        return self._decorator(configure)

    def schedule(self, arg_name, schedule, run_on_startup=None, use_monitor=None,
                 data_type=None, **kwargs):
        """A timer trigger: schedule is an NCRONTAB expression or a TimeSpan."""
        return self._decorator(lambda fb: fb.add_trigger(TimerTrigger(
            name=arg_name, schedule=schedule, run_on_startup=run_on_startup,
            use_monitor=use_monitor, data_type=parse_enum(data_type, DataType), **kwargs)))

    timer_trigger = schedule

    def queue_trigger(self, arg_name, queue_name, connection, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_trigger(QueueTrigger(
            name=arg_name, queue_name=queue_name, connection=connection,
            data_type=parse_enum(data_type, DataType), **kwargs)))

    def blob_trigger(self, arg_name, path, connection, source=None, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_trigger(BlobTrigger(
            name=arg_name, path=path, connection=connection, source=source,
            data_type=parse_enum(data_type, DataType), **kwargs)))

    def generic_trigger(self, arg_name, type, data_type=None, **kwargs):
        """A trigger of any type; keyword arguments become its fields."""
        return self._decorator(lambda fb: fb.add_trigger(GenericTrigger(
            name=arg_name, type=type, data_type=parse_enum(data_type, DataType), **kwargs)))


class BindingApi(DecoratorApi):
    """The input and output binding decorators."""

    def queue_output(self, arg_name, queue_name, connection, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_binding(QueueOutput(
            name=arg_name, queue_name=queue_name, connection=connection,
            data_type=parse_enum(data_type, DataType), **kwargs)))

    def blob_input(self, arg_name, path, connection, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_binding(BlobInput(
            name=arg_name, path=path, connection=connection,
            data_type=parse_enum(data_type, DataType), **kwargs)))

    def blob_output(self, arg_name, path, connection, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_binding(BlobOutput(
            name=arg_name, path=path, connection=connection,
            data_type=parse_enum(data_type, DataType), **kwargs)))

    def generic_input_binding(self, arg_name, type, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_binding(GenericInputBinding(
            name=arg_name, type=type, data_type=parse_enum(data_type, DataType), **kwargs)))

    def generic_output_binding(self, arg_name, type, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_binding(GenericOutputBinding(
            name=arg_name, type=type, data_type=parse_enum(data_type, DataType), **kwargs)))


class SettingsApi(DecoratorApi):
    """Settings of a function that are not bindings."""

    def retry(self, strategy, max_retry_count, delay_interval=None, minimum_interval=None,
              maximum_interval=None, setting_extra_fields=None):
        """The function's retry policy: strategy "fixed_delay" with
        delay_interval, or "exponential_backoff" with minimum_interval and
        maximum_interval; max_retry_count retries at most (-1: no end)."""
        return self._decorator(lambda fb: fb.add_setting(RetryPolicy(
            strategy=strategy, max_retry_count=max_retry_count, delay_interval=delay_interval,
            minimum_interval=minimum_interval, maximum_interval=maximum_interval,
            **_fields(setting_extra_fields))))


# Azure's decorators for the bindings Stratus does not run (Service Bus,
# Event Hubs, Cosmos DB, ...): each records its binding under Azure's type
# name, its keyword arguments as fields, so that the app imports and the
# host reports the binding type it does not support for that function only.
_OTHER_TRIGGERS = {
    "service_bus_queue_trigger": "serviceBusTrigger",
    "service_bus_topic_trigger": "serviceBusTrigger",
    "event_hub_message_trigger": "eventHubTrigger",
    "cosmos_db_trigger": "cosmosDBTrigger",
    "cosmos_db_trigger_v3": "cosmosDBTrigger",
    "event_grid_trigger": "eventGridTrigger",
    "kafka_trigger": "kafkaTrigger",
    "sql_trigger": "sqlTrigger",
    "warm_up_trigger": "warmupTrigger",
    "redis_pub_sub_trigger": "redisPubSubTrigger",
    "redis_list_trigger": "redisListTrigger",
    "redis_stream_trigger": "redisStreamTrigger",
    "mcp_tool_trigger": "mcpToolTrigger",
}
_OTHER_BINDINGS = {
    "service_bus_queue_output": (GenericOutputBinding, "serviceBus"),
    "service_bus_topic_output": (GenericOutputBinding, "serviceBus"),
    "event_hub_output": (GenericOutputBinding, "eventHub"),
    "cosmos_db_input": (GenericInputBinding, "cosmosDB"),
    "cosmos_db_input_v3": (GenericInputBinding, "cosmosDB"),
    "cosmos_db_output": (GenericOutputBinding, "cosmosDB"),
    "cosmos_db_output_v3": (GenericOutputBinding, "cosmosDB"),
    "event_grid_output": (GenericOutputBinding, "eventGrid"),
    "table_input": (GenericInputBinding, "table"),
    "table_output": (GenericOutputBinding, "table"),
    "sql_input": (GenericInputBinding, "sql"),
    "sql_output": (GenericOutputBinding, "sql"),
    "kafka_output": (GenericOutputBinding, "kafka"),
    "redis_input": (GenericInputBinding, "redis"),
    "redis_output": (GenericOutputBinding, "redis"),
}


def _other_trigger(btype):
    def decorator(self, arg_name, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_trigger(GenericTrigger(
            name=arg_name, type=btype, data_type=parse_enum(data_type, DataType), **kwargs)))
    return decorator


def _other_binding(cls, btype):
    def decorator(self, arg_name, data_type=None, **kwargs):
        return self._decorator(lambda fb: fb.add_binding(cls(
            name=arg_name, type=btype, data_type=parse_enum(data_type, DataType), **kwargs)))
    return decorator


for _name, _type in _OTHER_TRIGGERS.items():
    setattr(TriggerApi, _name, _other_trigger(_type))
for _name, (_cls, _type) in _OTHER_BINDINGS.items():
    setattr(BindingApi, _name, _other_binding(_cls, _type))
del _name, _type, _cls


class FunctionRegister(DecoratorApi, HttpFunctionsAuthLevelMixin):
    """The app's top level: what the worker indexes (exactly one per
    script file)."""

    def __init__(self, auth_level, *args, **kwargs):
        DecoratorApi.__init__(self, *args, **kwargs)
        HttpFunctionsAuthLevelMixin.__init__(self, auth_level, *args, **kwargs)
        self._require_auth_level = None

    def get_functions(self):
        """The app's functions, built and checked (ValueError names the
        first function that is wrong)."""
        functions = [fb.build(self.auth_level) for fb in self._function_builders]
        if not self._require_auth_level:
            self._require_auth_level = any(f.is_http_function() for f in functions)
        self.validate_function_names(functions)
        return functions

    def validate_function_names(self, functions):
        seen = set()
        for f in functions:
            name = f.get_function_name()
            if name in seen:
                raise ValueError("Function %s does not have a unique function name. Please "
                                 "change @app.function_name() or the function method name to "
                                 "be unique." % name)
            seen.add(name)

    def register_functions(self, function_container):
        """Add the functions of a Blueprint (or another DecoratorApi)."""
        if isinstance(function_container, FunctionRegister):
            raise TypeError("functions can not be type of FunctionRegister!")
        self._function_builders.extend(function_container._function_builders)

    register_blueprint = register_functions


class FunctionApp(FunctionRegister, TriggerApi, BindingApi, SettingsApi):
    """The function app of function_app.py; http_auth_level is the auth
    level of HTTP functions that do not name one."""

    def __init__(self, http_auth_level=AuthLevel.FUNCTION):
        super().__init__(auth_level=http_auth_level)


class Blueprint(TriggerApi, BindingApi, SettingsApi):
    """Functions declared apart (in another module) and added to the app
    with app.register_functions(bp)."""


class ExternalHttpFunctionApp(FunctionRegister, TriggerApi):
    """An app of one HTTP function that runs a WSGI or ASGI application
    for every path and method."""

    def _add_http_app(self, http_middleware, http_type):
        if http_type == "asgi":
            async def http_app_func(req, context):
                return await http_middleware.handle_async(req, context)
        else:
            def http_app_func(req, context):
                return http_middleware.handle(req, context)
        self.http_type(http_type=http_type)(
            self.route(methods=list(HttpMethod), auth_level=self.auth_level,
                       route="/{*route}")(http_app_func))


class AsgiFunctionApp(ExternalHttpFunctionApp):
    def __init__(self, app, http_auth_level=AuthLevel.FUNCTION):
        super().__init__(auth_level=http_auth_level)
        from .._http_asgi import AsgiMiddleware
        self._add_http_app(AsgiMiddleware(app), "asgi")


class WsgiFunctionApp(ExternalHttpFunctionApp):
    def __init__(self, app, http_auth_level=AuthLevel.FUNCTION):
        super().__init__(auth_level=http_auth_level)
        from .._http_wsgi import WsgiMiddleware
        self._add_http_app(WsgiMiddleware(app), "wsgi")
