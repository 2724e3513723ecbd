"""The generic registry: decorator registration, twice is an error, unknown names list the known ones."""

from __future__ import annotations

import pytest

from perf_tests.errors import ConfigurationError
from perf_tests.registry import Registry


def test_registered_items_are_found_by_name_and_listed_sorted() -> None:
    registry: Registry[type[object]] = Registry("widget")

    @registry.register("b")
    class B:
        pass

    @registry.register("a")
    class A:
        pass

    assert registry.get("a") is A
    assert registry.get("b") is B
    assert registry.names() == ("a", "b")
    assert "a" in registry
    assert "c" not in registry


def test_a_second_implementation_under_one_name_is_an_error_naming_both() -> None:
    registry: Registry[type[object]] = Registry("widget")

    class First:
        pass

    class Second:
        pass

    registry.add("x", First)
    registry.add("x", First)  # the same one again is fine (a module imported twice)
    with pytest.raises(ConfigurationError, match=r"widget x is registered twice: .*First and .*Second"):
        registry.add("x", Second)


def test_an_unknown_name_lists_the_registered_ones() -> None:
    registry: Registry[int] = Registry("harness")
    registry.add("guidellm", 1)
    registry.add("vllm-bench", 2)
    with pytest.raises(ConfigurationError, match=r"unknown harness 'nope'; registered: guidellm, vllm-bench"):
        registry.get("nope")


def test_builtin_modules_are_imported_on_first_use() -> None:
    registry: Registry[int] = Registry("thing", builtin=("json",))
    assert registry.load() == {}
    registry.remove("missing")  # removing what is not there is a no-op


def test_a_family_that_knows_its_names_registers_with_include() -> None:
    registry: Registry[type[object]] = Registry("gadget", name_of=lambda item: item.__name__.lower())

    @registry.include
    class Spanner:
        pass

    assert registry.get("spanner") is Spanner
    assert registry.registered() == {"spanner": Spanner}
    plain: Registry[int] = Registry("number")
    with pytest.raises(TypeError, match="the number registry has no name_of"):
        plain.include(1)


def test_a_missing_builtin_module_is_skipped_but_a_broken_one_is_an_error(tmp_path, monkeypatch) -> None:
    (tmp_path / "registry_broken_builtin.py").write_text("import registry_no_such_dependency\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert Registry("thing", builtin=("registry_no_such_module",)).load() == {}
    broken: Registry[int] = Registry("thing", builtin=("registry_broken_builtin",))
    for _ in range(2):  # not half-loaded after the first failure: the second call fails the same way
        with pytest.raises(ModuleNotFoundError, match="registry_no_such_dependency"):
            broken.load()


def _plugin(tmp_path, monkeypatch, group: str, entry_point: str) -> None:
    """A distribution on sys.path declaring ``entry_point`` in ``group``, and a module it may name."""
    dist = tmp_path / "registry_plugin_test-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: registry-plugin-test\nVersion: 0.1\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{entry_point}\n", encoding="utf-8")
    (tmp_path / "registry_plugin_impl.py").write_text("class Lathe:\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_an_entry_point_may_name_the_implementation_itself(tmp_path, monkeypatch) -> None:
    _plugin(tmp_path, monkeypatch, "registry_test.tools", "lathe = registry_plugin_impl:Lathe")
    registry: Registry[type[object]] = Registry("tool", "registry_test.tools", name_of=lambda item: item.__name__)
    assert registry.names() == ("Lathe",)
    assert registry.get("Lathe").__module__ == "registry_plugin_impl"


def test_a_broken_plugin_warns_or_with_strict_plugins_is_an_error(tmp_path, monkeypatch, caplog) -> None:
    _plugin(tmp_path, monkeypatch, "registry_test.broken", "broken = registry_no_such_plugin")
    lenient: Registry[int] = Registry("tool", "registry_test.broken")
    assert lenient.load() == {}
    assert "tool plugin 'broken' (registry_no_such_plugin) failed to load: No module named" in caplog.text
    strict: Registry[int] = Registry("tool", "registry_test.broken", strict_plugins=True)
    with pytest.raises(ConfigurationError, match=r"^tool plugin 'broken' \(registry_no_such_plugin\) failed to load"):
        strict.load()
