"""The public surface is exactly ``__all__`` (as httpx checks its own)."""

from __future__ import annotations

import trustledger
import trustledger.identifiers


def test_all_names_exist_and_nothing_else_public_is_exported() -> None:
    public = {name for name in dir(trustledger) if not name.startswith("_")}
    # Subpackages become attributes when imported; they are modules, not API names.
    modules = {
        "audit",
        "batch",
        "domain",
        "ingest",
        "errors",
        "policy",
        "resolve",
        "identifiers",
        "store",
        "service",
        "synth",
        "cli",
        "web",
    }
    assert set(trustledger.__all__) - {"__version__"} == public - modules
    for name in trustledger.__all__:
        assert hasattr(trustledger, name), name


def test_identifiers_module_is_callable_by_other_tools() -> None:
    assert trustledger.identifiers.validate("cn_ric", "11010519491231002x") == "11010519491231002X"
    assert "validate" in trustledger.identifiers.__all__
