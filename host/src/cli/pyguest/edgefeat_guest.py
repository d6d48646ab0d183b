"""edgefeat's Python guest runtime: a Feast on-demand transform as an edgefeat plugin.

`edgefeat plugin build-feast` compiles this module, `minipandas.py` and a generated
`udf_config.py` (the view's name, mode, schema and its UDF source from the registry) into a
WebAssembly component of the `transformer` world with componentize-py. The UDF's source is
executed when the component is built (componentize-py pre-initializes the module), so an
instance starts with the function ready.

Each call gets the request's rows as columns and hands them to the UDF as Feast does:
`mode="pandas"` as a DataFrame (`minipandas.DataFrame`), `mode="python"` as a dict of lists.
"""

import datetime
import json
import traceback
import typing

import minipandas
import udf_config as cfg
import wit_world
from componentize_py_types import Err
from wit_world.exports import transform as wt
from wit_world.imports import types as t

_TYPES = {
    "bool": (t.ValueType.BOOL, t.ColumnData_Bool, False),
    "int32": (t.ValueType.INT32, t.ColumnData_Int32, 0),
    "int64": (t.ValueType.INT64, t.ColumnData_Int64, 0),
    "float32": (t.ValueType.FLOAT32, t.ColumnData_Float32, 0.0),
    "float64": (t.ValueType.FLOAT64, t.ColumnData_Float64, 0.0),
    "string": (t.ValueType.STRING, t.ColumnData_String, ""),
    "bytes": (t.ValueType.BYTES, t.ColumnData_Bytes, b""),
    "unix-timestamp": (t.ValueType.UNIX_TIMESTAMP, t.ColumnData_UnixTimestamp, 0),
    "json": (t.ValueType.JSON, t.ColumnData_Json, "null"),
    "bool-list": (t.ValueType.BOOL_LIST, t.ColumnData_BoolList, []),
    "int32-list": (t.ValueType.INT32_LIST, t.ColumnData_Int32List, []),
    "int64-list": (t.ValueType.INT64_LIST, t.ColumnData_Int64List, []),
    "float32-list": (t.ValueType.FLOAT32_LIST, t.ColumnData_Float32List, []),
    "float64-list": (t.ValueType.FLOAT64_LIST, t.ColumnData_Float64List, []),
    "string-list": (t.ValueType.STRING_LIST, t.ColumnData_StringList, []),
    "bytes-list": (t.ValueType.BYTES_LIST, t.ColumnData_BytesList, []),
    "unix-timestamp-list": (t.ValueType.UNIX_TIMESTAMP_LIST, t.ColumnData_UnixTimestampList, []),
}

# Error messages carry at most this much of a traceback.
_TRACEBACK_CHARS = 1500


def _udf():
    """The UDF, defined from its source as Feast's decorator saw it (decorators dropped)."""
    lines = cfg.SOURCE.splitlines()
    start = next(
        (i for i, l in enumerate(lines) if l.startswith(("def ", "async def "))), None
    )
    if start is None:
        raise RuntimeError(f"the UDF source of {cfg.NAME} defines no function")
    namespace = {"pd": minipandas, "pandas": minipandas, "__name__": "feast_udf"}
    namespace.update({k: getattr(typing, k) for k in typing.__all__})
    exec(compile("\n".join(lines[start:]) + "\n", f"<{cfg.NAME}>", "exec"), namespace)
    return namespace[cfg.FUNCTION]


UDF = _udf()
_INPUT_TYPES = dict(cfg.INPUTS)


def _from_wit(column, vtype):
    values = list(column.data.value)
    if column.valid is not None:
        values = [v if ok else None for v, ok in zip(values, column.valid)]
    if vtype == "json":
        values = [None if v is None else json.loads(v) for v in values]
    elif vtype == "unix-timestamp":
        values = [
            None if v is None else datetime.datetime.fromtimestamp(v, tz=datetime.timezone.utc)
            for v in values
        ]
    return values


def _to_wit(name, vtype, values, rows):
    _, data, zero = _TYPES[vtype]
    if len(values) != rows:
        raise ValueError(f"output `{name}` has {len(values)} values for {rows} rows")
    if vtype in ("float32", "float64", "int32", "int64"):
        # Numbers, the common output: one comprehension each way (NaN is missing, as in pandas).
        cast = float if vtype.startswith("float") else int
        valid = [v is not None and v == v for v in values]
        out = [cast(v) if ok else zero for v, ok in zip(values, valid)]
        return t.Column(name, data(out), None if all(valid) else valid)
    out, valid = [], []
    for v in values:
        missing = minipandas.isna(v) if not isinstance(v, (list, dict)) else False
        valid.append(not missing)
        if missing:
            out.append(zero)
        elif vtype in ("float32", "float64"):
            out.append(float(v))
        elif vtype in ("int32", "int64"):
            out.append(int(v))
        elif vtype == "bool":
            out.append(bool(v))
        elif vtype == "string":
            out.append(str(v))
        elif vtype == "json":
            out.append(v if isinstance(v, str) else json.dumps(v))
        elif vtype == "unix-timestamp":
            out.append(int(v.timestamp()) if isinstance(v, datetime.datetime) else int(v))
        else:
            out.append(v)
    return t.Column(name, data(out), None if all(valid) else valid)


def _run(columns, rows):
    if cfg.MODE == "pandas":
        frame = minipandas.DataFrame(columns)
        if not columns:
            frame._rows = rows
        result = UDF(frame)
        if not isinstance(result, minipandas.DataFrame):
            raise TypeError(f"the UDF returned {type(result).__name__}, not a DataFrame")
        return result.to_dict()
    result = UDF(columns)
    if not isinstance(result, dict):
        raise TypeError(f"the UDF returned {type(result).__name__}, not a dict")
    return {k: (v.tolist() if isinstance(v, minipandas.Series) else v) for k, v in result.items()}


class Transform(wit_world.exports.Transform):
    def describe(self):
        field = lambda f: t.Field(f[0], _TYPES[f[1]][0])
        return wt.TransformInfo(
            cfg.NAME,
            cfg.VERSION,
            [field(f) for f in cfg.INPUTS],
            [field(f) for f in cfg.OUTPUTS],
        )

    def transform(self, input):
        # Any exception that left this method would trap the instance: every one becomes a
        # plugin error, which fails the request with its message.
        try:
            rows = input.num_rows
            columns = {c.name: _from_wit(c, _INPUT_TYPES.get(c.name, "")) for c in input.columns}
        except Exception as e:
            raise Err(t.PluginError_InvalidInput(f"{type(e).__name__}: {e}"))
        try:
            out = _run(columns, rows)
        except minipandas.Unsupported as e:
            raise Err(t.PluginError_InvalidInput(f"Unsupported: {e}"))
        except Exception as e:
            tb = traceback.format_exc()
            if len(tb) > _TRACEBACK_CHARS:
                tb = "..." + tb[-_TRACEBACK_CHARS:]
            raise Err(t.PluginError_Internal(f"{type(e).__name__}: {e}\n{tb}"))
        missing = [name for name, _ in cfg.OUTPUTS if name not in out]
        if missing:
            raise Err(
                t.PluginError_Internal(
                    f"the UDF's result has no column {', '.join(missing)}; it has {', '.join(out)}"
                )
            )
        try:
            return t.Batch(rows, [_to_wit(n, ty, list(out[n]), rows) for n, ty in cfg.OUTPUTS])
        except Exception as e:
            raise Err(t.PluginError_Internal(f"{type(e).__name__}: {e}"))
