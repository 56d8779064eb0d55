"""Load and validate a study configuration against ``workflow/schemas/config.schema.yaml``.

Validation fills every default declared in the schema and turns the first violation into a
single line that names the key, the offending value and what is allowed, e.g.::

    config error: training.lr = -1 is not allowed: must be > 0 (see workflow/schemas/config.schema.yaml)
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


def _load_yaml(path):
    with open(path) as fh:
        return yaml.safe_load(fh)


def _fill_defaults(instance, schema):
    """Recursively insert schema defaults for missing keys (objects only)."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)
    items = schema.get("additionalProperties")
    if isinstance(items, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, items)


def _fill_array_item_defaults(instance, schema):
    if isinstance(instance, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                _fill_array_item_defaults(instance[key], sub)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(item, schema["items"])
            _fill_array_item_defaults(item, schema["items"])


_SCALAR_TYPES = {"integer": int, "number": (int, float), "boolean": bool}


def _parse_scalar(text: str):
    """int, float or bool spelled by ``text`` (YAML-style true/false/yes/no), else None."""
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}.get(t.lower())


def _coerce_strings(instance, schema):
    """Turn strings into the numbers/booleans the schema asks for, in place; return the new value.

    ``snakemake --config 'figures={dpi: 90}'`` reads nested values with YAML's base loader, which keeps
    every scalar a string ("90"). A string is replaced only when it spells a value of a type the
    schema allows at that key (so "90" -> 90 for an integer, "1e-3" -> 0.001 for a number, "true" -> True
    for a boolean); anything else is left for the validator to reject with its usual message.

    Examples
    --------
    >>> validate_config({"figures": {"dpi": "90"}})["figures"]["dpi"]
    90
    """
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                instance[key] = _coerce_strings(value, sub)
        return instance
    if isinstance(instance, list):
        if isinstance(schema.get("items"), dict):
            instance[:] = [_coerce_strings(v, schema["items"]) for v in instance]
        return instance
    if isinstance(instance, str):
        types = schema.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if "string" in types or not any(t in _SCALAR_TYPES for t in types):
            return instance
        value = _parse_scalar(instance)
        if isinstance(value, float) and "number" not in types and value.is_integer():
            value = int(value)
        for t in types:
            want = _SCALAR_TYPES.get(t)
            # bool is an int subclass in Python: never let "true" pass as a number or "1" as a boolean
            if want is not None and isinstance(value, want) and (isinstance(value, bool) == (t == "boolean")):
                return value
    return instance


def _describe(error) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    v = error.validator
    s = error.schema
    if v == "additionalProperties":
        allowed = sorted(s.get("properties", {}))
        extra = [k for k in error.instance if k not in s.get("properties", {})]
        where = f"{key}." if error.absolute_path else ""
        return (f"unknown key {where}{extra[0]!r} is not allowed; allowed keys here: "
                f"{', '.join(allowed)}")
    if v == "enum":
        return f"{key} = {error.instance!r} is not allowed: must be one of {s['enum']}"
    if v == "type":
        return f"{key} = {error.instance!r} is not allowed: must be of type {s['type']}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return f"{key} = {error.instance!r} is not allowed: must be {op} {s[v]}"
    if v == "contains" and "const" in s.get("contains", {}):
        return f"{key} = {error.instance!r} is not allowed: must contain {s['contains']['const']!r}"
    if v == "required":
        return f"{key}: {error.message}"
    return f"{key} = {error.instance!r} is not allowed: {error.message}"


#: Fewest resamples behind a printed 95% interval: its 2.5% and 97.5% quantiles then rest on at least
#: 5 resample values each beyond them.
MIN_RESAMPLES_95 = 200


def validate_config(config: dict, schema_path=SCHEMA_PATH) -> dict:
    """Return a validated copy of ``config`` with schema defaults filled in.

    Raises
    ------
    ConfigError
        One line naming the key, the value and what is allowed.

    Examples
    --------
    >>> cfg = validate_config({"training": {"lr": 0.01}})
    >>> cfg["training"]["batch_size"], cfg["corpus"]["tokenizer"]
    (16, 'byte')
    """
    schema = _load_yaml(schema_path)
    cfg = copy.deepcopy(config) if config is not None else {}
    _coerce_strings(cfg, schema)
    _fill_defaults(cfg, schema)
    _fill_array_item_defaults(cfg, schema)
    validator = jsonschema.Draft202012Validator(schema)
    # a "contains" error (kinds without gaussian) is reported after an item's own error (an unknown kind)
    errors = sorted(validator.iter_errors(cfg),
                    key=lambda e: (e.validator == "contains", len(e.absolute_path), str(e.absolute_path)))
    if errors:
        raise ConfigError(f"config error: {_describe(errors[0])} (see {schema_path.name})")
    _check_consistency(cfg)
    return cfg


def _check_consistency(cfg: dict) -> None:
    """Cross-key rules that JSON schema cannot express, and a corpus source that must exist on disk.

    ``corpus.source`` is a builtin (``builtin:...``, checked when the corpus is read) or a file or folder,
    which must exist (relative paths from the working directory) so that a typo stops before any job.
    ``pretrained.n_resamples`` is 0 (no intervals) or at least :data:`MIN_RESAMPLES_95`.

    Examples
    --------
    >>> validate_config({"corpus": {"source": "no/such/corpus.txt"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    toposcale.config.ConfigError: config error: corpus.source = 'no/such/corpus.txt' does not exist: .../no/such/corpus.txt
    """
    source = cfg["corpus"]["source"]
    if not source.startswith("builtin:") and not Path(source).exists():
        raise ConfigError(f"config error: corpus.source = {source!r} does not exist: {Path(source).resolve()}")
    targets = cfg["model"]["target_params"]
    for h in cfg["model"]["holdout_params"]:
        if h not in targets:
            raise ConfigError(
                f"config error: model.holdout_params contains {h}, which is not in model.target_params {targets}")
    if len(targets) - len(set(cfg["model"]["holdout_params"])) < 1:
        raise ConfigError("config error: model.holdout_params holds out every size; keep at least one to fit on")
    n_sub = cfg["pretrained"]["n_resamples"]
    if 0 < n_sub < MIN_RESAMPLES_95:
        raise ConfigError(f"config error: pretrained.n_resamples = {n_sub} is not allowed: its 95% intervals (2.5% "
                          f"and 97.5% quantiles) need at least {MIN_RESAMPLES_95} subsamples; use 0 for no intervals")
    acc = cfg["grokking"]["accuracy"]
    if not acc["pre_grok"] < acc["grok"] < acc["post_grok"]:
        raise ConfigError(f"config error: grokking.accuracy = {acc} is not allowed: must have "
                          f"pre_grok < grok < post_grok")


def load_config(path) -> dict:
    """Read a YAML config file and validate it (see :func:`validate_config`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config error: config file {path} does not exist")
    return validate_config(_load_yaml(path) or {})
