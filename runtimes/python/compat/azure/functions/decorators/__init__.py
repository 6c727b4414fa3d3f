"""azure.functions.decorators of the stand-in: the v2 programming model
(FunctionApp, Blueprint, their decorators and the types they use). The
names are also exported by azure.functions itself."""
from .bindings import HttpMethod
from .core import AccessRights, AuthLevel, Cardinality, DataType
from .function_app import (AsgiFunctionApp, Blueprint, DecoratorApi, ExternalHttpFunctionApp,
                           Function, FunctionApp, FunctionRegister, TriggerApi, BindingApi,
                           SettingsApi, WsgiFunctionApp)

__all__ = (
    "AccessRights",
    "AsgiFunctionApp",
    "AuthLevel",
    "BindingApi",
    "Blueprint",
    "Cardinality",
    "DataType",
    "DecoratorApi",
    "ExternalHttpFunctionApp",
    "Function",
    "FunctionApp",
    "FunctionRegister",
    "HttpMethod",
    "SettingsApi",
    "TriggerApi",
    "WsgiFunctionApp",
)
