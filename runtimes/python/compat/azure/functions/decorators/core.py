"""The building blocks of the v2 programming model in the azure.functions
stand-in, with the names of Azure's azure.functions.decorators.core: the
enums (BindingDirection, DataType, AuthLevel, Cardinality, AccessRights),
Binding and its Trigger, InputBinding and OutputBinding kinds, and Setting
(function_name, retry).

A binding's get_dict_repr() is its function.json entry: "type",
"direction", "dataType", "name" and each field it was made with, the
snake_case keyword turned camelCase as Azure turns it (run_on_startup ->
runOnStartup), fields that are None left out. Enum values are written by
their names (get_function_json() gives "direction": "IN", "authLevel":
"ANONYMOUS"), as Azure's library writes them; hosts read them without
regard to case."""
import json
import re
from enum import Enum

SCRIPT_FILE_NAME = "function_app.py"

_SNAKE = re.compile(r"^([a-zA-Z]+\d*_|_+[a-zA-Z\d])\w*$")
_WORD = re.compile(r"^([a-zA-Z]+\d*)$")


class StringifyEnum(Enum):
    """An enum written as its name."""

    def __str__(self):
        return str(self.name)


class StringifyEnumJsonEncoder(json.JSONEncoder):
    """JSON with StringifyEnum members written as their names."""

    def default(self, o):
        if isinstance(o, StringifyEnum):
            return str(o)
        return super().default(o)


class BindingDirection(StringifyEnum):
    IN = 0
    OUT = 1
    INOUT = 2


class DataType(StringifyEnum):
    UNDEFINED = 0
    STRING = 1
    BINARY = 2
    STREAM = 3


class AuthLevel(StringifyEnum):
    FUNCTION = "function"
    ANONYMOUS = "anonymous"
    ADMIN = "admin"


class Cardinality(StringifyEnum):
    ONE = "one"
    MANY = "many"


class AccessRights(StringifyEnum):
    MANAGE = "manage"
    LISTEN = "listen"


def to_camel_case(snake):
    """run_on_startup -> runOnStartup, as Azure's library converts binding
    fields (a single word stays as it is)."""
    if not snake:
        raise ValueError("Please ensure arg name %s is not empty!" % (snake,))
    if _SNAKE.match(snake) is None and _WORD.match(snake) is None:
        raise ValueError("Please ensure %s is a word or snake case string with underscore "
                         "as separator." % snake)
    words = snake.split("_")
    return words[0] + "".join(w.title() for w in words[1:])


def parse_enum(value, enum):
    """A str (any case) or an enum member as a member of enum; None stays."""
    if value is None or isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum[value.upper()]
        except KeyError:
            raise KeyError("Can not parse str '%s' to %s. Allowed values are %s"
                           % (value, enum.__name__, [e.name for e in enum])) from None
    return value


def parse_enums(values, enum):
    """Each element of values (an iterable of str or members) as a member."""
    if values is None:
        return None
    if isinstance(values, (str, enum)):
        values = [values]
    try:
        return [enum[v.upper()] if isinstance(v, str) else v for v in values]
    except KeyError:
        raise KeyError("Can not parse '%s' to Optional[Iterable[%s]]. Please ensure param all "
                       "list elements exist in %s"
                       % (values, enum.__name__, [e.name for e in enum])) from None


def clean_nones(value):
    """value without the None entries of its dicts and lists, recursively."""
    if isinstance(value, list):
        return [clean_nones(v) for v in value if v is not None]
    if isinstance(value, dict):
        return {k: clean_nones(v) for k, v in value.items() if v is not None}
    return value


_NOT_FIELDS = frozenset(("self", "kwargs", "type", "data_type", "direction"))


class Binding:
    """A binding of a function. Subclasses name their type in
    get_binding_name() (None for generic bindings, whose type is given)."""

    @staticmethod
    def get_binding_name():
        return None

    def __init__(self, name, direction, data_type=None, type=None, **fields):
        self.type = self.get_binding_name() or type
        self.name = name
        self._direction = direction
        self._data_type = parse_enum(data_type, DataType)
        self._dict = {"direction": self._direction, "dataType": self._data_type,
                      "type": self.type}
        self.init_params = ["name"]
        for key, value in fields.items():
            self._add_field(key, value)

    def _add_field(self, key, value):
        if key in _NOT_FIELDS:
            return
        if key not in self.init_params:
            self.init_params.append(key)
        # A field named like a method or property of the class stays out
        # of the attributes (it is still written to the JSON).
        if not hasattr(type(self), key):
            setattr(self, key, value)
        else:
            self.__dict__.setdefault("_shadowed", {})[key] = value

    def _field(self, key):
        shadowed = self.__dict__.get("_shadowed")
        if shadowed and key in shadowed:
            return shadowed[key]
        return getattr(self, key, None)

    @property
    def data_type(self):
        return self._data_type.value if self._data_type else None

    @property
    def direction(self):
        return self._direction.value

    def get_dict_repr(self):
        """The binding's function.json entry (fields that are None left out)."""
        for key in self.init_params:
            self._dict[to_camel_case(key)] = self._field(key)
        return clean_nones(self._dict)

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__,
                            json.dumps(self.get_dict_repr(), cls=StringifyEnumJsonEncoder))


class Trigger(Binding):
    """What starts a function (one per function)."""

    @staticmethod
    def is_supported_trigger_type(trigger_instance, trigger_type):
        return isinstance(trigger_instance, trigger_type) or \
            trigger_instance.type == trigger_type.get_binding_name()

    def __init__(self, name, data_type=None, type=None, **fields):
        super().__init__(name, BindingDirection.IN, data_type, type, **fields)


class InputBinding(Binding):
    def __init__(self, name, data_type=None, type=None, **fields):
        super().__init__(name, BindingDirection.IN, data_type, type, **fields)


class OutputBinding(Binding):
    def __init__(self, name, data_type=None, type=None, **fields):
        super().__init__(name, BindingDirection.OUT, data_type, type, **fields)


class Setting:
    """A setting of a function that is not a binding (its name, its retry
    policy). get_dict_repr() keeps the snake_case keys, as Azure's does:
    {"setting_name": "retry_policy", "strategy": ..., "max_retry_count": ...}."""

    def __init__(self, setting_name, **fields):
        self.setting_name = setting_name
        self._fields = dict(fields)

    def get_setting_name(self):
        return self.setting_name

    def get_dict_repr(self):
        d = {"setting_name": self.setting_name}
        d.update(self._fields)
        return clean_nones(d)

    def get_settings_value(self, key):
        return self.get_dict_repr().get(key)

    def __repr__(self):
        return "<%s %r>" % (type(self).__name__, self.get_dict_repr())
