"""The part of pandas that Feast's on-demand transforms use, in plain Python.

CPython compiled to WebAssembly has no pandas (nor numpy), so `pd` inside a transform built by
`edgefeat plugin build-feast` is this module. It keeps pandas' semantics where a transform can
see them:

- A column (`Series`) holds one value per request row; a missing value is `None`, and, as NaN in
  pandas, it propagates through arithmetic and makes comparisons false.
- Operators work element-wise between two columns or a column and a scalar.
- Anything else raises `Unsupported`, naming the operation, so that a transform using it is
  refused when it is built rather than answering wrong values later.
"""

import math
import operator

__all__ = ["DataFrame", "Series", "Unsupported", "isna", "isnull", "notna", "notnull"]


class Unsupported(Exception):
    """A pandas operation this subset does not provide."""

    def __init__(self, what):
        super().__init__(
            f"pandas operation `{what}` is not supported in edgefeat's Python sandbox "
            "(supported: column access and assignment, arithmetic and comparison, fillna, astype, "
            "where, boolean masks, apply, round, abs, isna/notna, len)"
        )
        self.what = what


def _missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def isna(v):
    if isinstance(v, Series):
        return v.isna()
    return _missing(v)


isnull = isna


def notna(v):
    if isinstance(v, Series):
        return v.notna()
    return not _missing(v)


notnull = notna


def _binary(op, name):
    def method(self, other):
        if isinstance(other, Series):
            if len(other) != len(self):
                raise ValueError("Can only compare identically-labeled Series objects")
            right = other._values
        elif isinstance(other, (list, tuple)):
            right = other
        else:
            right = None
        left = self._values
        # The common case, no missing value and no division by zero, in one pass of C code.
        try:
            if right is None:
                if not _missing(other) and None not in left:
                    return Series([op(a, other) for a in left], name=self.name)
            elif None not in left and None not in right:
                return Series(list(map(op, left, right)), name=self.name)
        except ZeroDivisionError:
            pass
        pairs = zip(left, right) if right is not None else ((v, other) for v in left)
        out = []
        for a, b in pairs:
            if _missing(a) or _missing(b):
                out.append(None)
                continue
            try:
                out.append(op(a, b))
            except ZeroDivisionError:
                # pandas divides by zero into inf or NaN, never raising.
                out.append(None if a == 0 else math.copysign(math.inf, a) * (1 if b >= 0 else -1))
        return Series(out, name=self.name)

    method.__name__ = name
    return method


def _reflected(op, name):
    forward = _binary(lambda a, b: op(b, a), name)
    return forward


def _compare(op, name):
    def method(self, other):
        values = _binary(op, name)(self, other)._values
        # NaN compares false in pandas (and `!=` true).
        missing_is = name == "__ne__"
        return Series([missing_is if v is None else bool(v) for v in values], name=self.name)

    method.__name__ = name
    return method


def _logical(op, name):
    def method(self, other):
        other_values = other._values if isinstance(other, Series) else [other] * len(self)
        return Series(
            [bool(op(bool(a), bool(b))) for a, b in zip(self._values, other_values)],
            name=self.name,
        )

    method.__name__ = name
    return method


class Series:
    """One column of a `DataFrame`: a list of values, `None` for missing."""

    def __init__(self, data=None, name=None, dtype=None, index=None):
        if index is not None:
            raise Unsupported("Series(index=...)")
        if isinstance(data, Series):
            values = list(data._values)
        elif data is None:
            values = []
        else:
            values = list(data)
        self._values = values
        self.name = name
        if dtype is not None:
            self._values = self.astype(dtype)._values

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __getitem__(self, key):
        if isinstance(key, Series):
            raise Unsupported("Series[boolean mask] (it changes the number of rows)")
        if isinstance(key, int):
            return self._values[key]
        raise Unsupported(f"Series[{type(key).__name__}]")

    def __setitem__(self, key, value):
        if isinstance(key, Series):
            for i, m in enumerate(key._values):
                if m:
                    self._values[i] = value._values[i] if isinstance(value, Series) else value
            return
        if isinstance(key, int):
            self._values[key] = value
            return
        raise Unsupported(f"Series[{type(key).__name__}] = ...")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise Unsupported(f"Series.{name}")

    def __repr__(self):
        return f"Series({self._values!r}, name={self.name!r})"

    __add__ = _binary(operator.add, "__add__")
    __sub__ = _binary(operator.sub, "__sub__")
    __mul__ = _binary(operator.mul, "__mul__")
    __truediv__ = _binary(operator.truediv, "__truediv__")
    __floordiv__ = _binary(operator.floordiv, "__floordiv__")
    __mod__ = _binary(operator.mod, "__mod__")
    __pow__ = _binary(operator.pow, "__pow__")
    __radd__ = _reflected(operator.add, "__radd__")
    __rsub__ = _reflected(operator.sub, "__rsub__")
    __rmul__ = _reflected(operator.mul, "__rmul__")
    __rtruediv__ = _reflected(operator.truediv, "__rtruediv__")
    __rfloordiv__ = _reflected(operator.floordiv, "__rfloordiv__")
    __rmod__ = _reflected(operator.mod, "__rmod__")
    __rpow__ = _reflected(operator.pow, "__rpow__")
    __eq__ = _compare(operator.eq, "__eq__")
    __ne__ = _compare(operator.ne, "__ne__")
    __lt__ = _compare(operator.lt, "__lt__")
    __le__ = _compare(operator.le, "__le__")
    __gt__ = _compare(operator.gt, "__gt__")
    __ge__ = _compare(operator.ge, "__ge__")
    __and__ = _logical(operator.and_, "__and__")
    __or__ = _logical(operator.or_, "__or__")
    __xor__ = _logical(operator.xor, "__xor__")
    __rand__ = __and__
    __ror__ = __or__
    __hash__ = None

    def __neg__(self):
        return Series([None if _missing(v) else -v for v in self._values], name=self.name)

    def __abs__(self):
        return self.abs()

    def __invert__(self):
        return Series([not v for v in self._values], name=self.name)

    def abs(self):
        return Series([None if _missing(v) else abs(v) for v in self._values], name=self.name)

    def round(self, decimals=0):
        return Series(
            [None if _missing(v) else round(v, decimals) for v in self._values], name=self.name
        )

    def isna(self):
        return Series([_missing(v) for v in self._values], name=self.name)

    isnull = isna

    def notna(self):
        return Series([not _missing(v) for v in self._values], name=self.name)

    notnull = notna

    def fillna(self, value):
        if isinstance(value, Series):
            return Series(
                [b if _missing(a) else a for a, b in zip(self._values, value._values)],
                name=self.name,
            )
        return Series([value if _missing(v) else v for v in self._values], name=self.name)

    def where(self, cond, other=None):
        cond_values = cond._values if isinstance(cond, Series) else [cond] * len(self)
        other_values = other._values if isinstance(other, Series) else [other] * len(self)
        return Series(
            [a if c else o for a, c, o in zip(self._values, cond_values, other_values)],
            name=self.name,
        )

    def mask(self, cond, other=None):
        return self.where(~cond if isinstance(cond, Series) else not cond, other)

    def apply(self, func, *args, **kwargs):
        return Series(
            [None if _missing(v) else func(v, *args, **kwargs) for v in self._values],
            name=self.name,
        )

    map = apply

    def astype(self, dtype):
        convert = _converter(dtype)
        return Series([None if _missing(v) else convert(v) for v in self._values], name=self.name)

    def tolist(self):
        return list(self._values)

    to_list = tolist

    @property
    def values(self):
        return list(self._values)

    @property
    def str(self):
        raise Unsupported("Series.str")


def _converter(dtype):
    text = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", str(dtype))
    text = text.lower()
    if text.startswith("float"):
        return float
    if text.startswith("int"):
        return lambda v: int(float(v)) if isinstance(v, str) else int(v)
    if text in ("str", "string", "object"):
        return str
    if text in ("bool", "boolean"):
        return bool
    raise Unsupported(f"astype({text})")


class DataFrame:
    """Named columns of equal length."""

    def __init__(self, data=None, columns=None, index=None):
        if index is not None:
            raise Unsupported("DataFrame(index=...)")
        self._columns = {}
        self._rows = None
        if isinstance(data, DataFrame):
            data = {k: v.tolist() for k, v in data._columns.items()}
        if isinstance(data, dict):
            for k, v in data.items():
                self[k] = v
        elif data is not None:
            raise Unsupported(f"DataFrame({type(data).__name__})")
        if columns is not None:
            for c in columns:
                if c not in self._columns:
                    self[c] = [None] * (self._rows or 0)

    def __len__(self):
        return self._rows or 0

    @property
    def columns(self):
        return list(self._columns)

    @property
    def shape(self):
        return (len(self), len(self._columns))

    def __contains__(self, name):
        return name in self._columns

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self._columns:
                raise KeyError(key)
            return self._columns[key]
        if isinstance(key, list):
            return DataFrame({k: self[k] for k in key})
        raise Unsupported(f"DataFrame[{type(key).__name__}]")

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise Unsupported(f"DataFrame[{type(key).__name__}] = ...")
        if isinstance(value, Series):
            values = list(value._values)
        elif isinstance(value, (list, tuple)):
            values = list(value)
        else:
            values = None
        if values is None:
            values = [value] * (self._rows or 0)
        elif self._rows is not None and len(values) != self._rows and self._columns:
            raise ValueError(
                f"Length of values ({len(values)}) does not match length of index ({self._rows})"
            )
        if self._rows is None or not self._columns:
            self._rows = len(values)
        self._columns[key] = Series(values, name=key)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        columns = self.__dict__.get("_columns", {})
        if name in columns:
            return columns[name]
        raise Unsupported(f"DataFrame.{name}")

    def copy(self, deep=True):
        return DataFrame({k: v.tolist() for k, v in self._columns.items()})

    def fillna(self, value):
        return DataFrame({k: v.fillna(value) for k, v in self._columns.items()})

    def astype(self, dtype):
        if isinstance(dtype, dict):
            return DataFrame(
                {k: (v.astype(dtype[k]) if k in dtype else v) for k, v in self._columns.items()}
            )
        return DataFrame({k: v.astype(dtype) for k, v in self._columns.items()})

    def round(self, decimals=0):
        return DataFrame({k: v.round(decimals) for k, v in self._columns.items()})

    def abs(self):
        return DataFrame({k: v.abs() for k, v in self._columns.items()})

    def apply(self, func, axis=0):
        if axis not in (1, "columns"):
            raise Unsupported("DataFrame.apply(axis=0)")
        rows = [
            _Row({k: v._values[i] for k, v in self._columns.items()}) for i in range(len(self))
        ]
        return Series([func(r) for r in rows])

    def to_dict(self, orient="list"):
        if orient != "list":
            raise Unsupported(f"DataFrame.to_dict(orient={orient!r})")
        return {k: v.tolist() for k, v in self._columns.items()}


class _Row(dict):
    """One row for `DataFrame.apply(axis=1)`: by key, or by attribute."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def __getattr__(name):
    raise Unsupported(f"pd.{name}")
