"""The house's walls, checked on the import graph: storage owns its tables, handlers know no
platform, and storage knows neither the handlers nor the process.

Every ``.py`` file under bot/, handlers/ and storage/ is parsed, never imported, and every import in
it is resolved to absolute module names: at any depth (function bodies, ``TYPE_CHECKING`` blocks),
relative ones too, ``from pkg import module`` as that module, and ``importlib.import_module`` with
a literal name. The checker itself is shown to catch each kind of violation.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")



def within(name: str, package: str) -> bool:
    """Whether ``name`` is ``package`` or one of its submodules."""
    return name == package or name.startswith(f"{package}.")


@dataclass(frozen=True)
class Rule:
    why: str
    breaks: Callable[[str, str], bool]  # (importing module, imported module)


def _imports_models(importer: str, target: str) -> bool:
    return within(target, "storage.models") and not within(importer, "storage")


def _handler_imports_platform(importer: str, target: str) -> bool:
    return within(importer, "handlers") and any(within(target, p) for p in ("bot", "telegram", "wechatpy"))


def _storage_imports_upward(importer: str, target: str) -> bool:
    return within(importer, "storage") and any(within(target, p) for p in ("handlers", "bot"))


RULES = {
    "models": Rule("storage owns its tables: only storage/ may import storage.models", _imports_models),
    "handlers": Rule("handlers are channel-free: no bot, telegram or wechatpy", _handler_imports_platform),
    "storage": Rule("storage never imports handlers or bot", _storage_imports_upward),
}


@dataclass(frozen=True)
class Import:
    line: int
    statement: str
    targets: tuple[str, ...]


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module a (possibly relative) ``from … import`` names."""
    if level == 0:
        return name or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def imports_of(module: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every import in ``source`` with the absolute names it may load."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield Import(node.lineno, ast.unparse(node), tuple(alias.name for alias in node.names))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            names = tuple(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
            yield Import(node.lineno, ast.unparse(node), (base, *names))
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(node.lineno, ast.unparse(node), (node.args[0].value,))


def violations(rule: Rule, module: str, source: str, *, is_package: bool = False) -> list[str]:
    """One line per import that breaks ``rule``, naming the module, the line and the import."""
    return [
        f"{module} line {found.line}: `{found.statement}` ({rule.why})"
        for found in imports_of(module, source, is_package=is_package)
        if any(rule.breaks(module, target) for target in found.targets)
    ]


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool


def project_modules() -> list[Module]:
    modules = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            is_package = relative.name == "__init__"
            parts = relative.parts[:-1] if is_package else relative.parts
            modules.append(Module(".".join(parts), path.read_text(encoding="utf-8"), is_package))
    return modules


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    return project_modules()


def test_every_package_is_read(modules: list[Module]) -> None:
    """Guards the walls against passing vacuously: the files are found and their imports resolved."""
    names = {module.name for module in modules}
    assert {"bot", "bot.core", "handlers.hr", "storage", "storage.models", "storage.journal"} <= names
    journal = next(module for module in modules if module.name == "storage.journal")
    targets = {target for found in imports_of(journal.name, journal.source) for target in found.targets}
    assert "storage.models" in targets  # its relative import resolved


@pytest.mark.parametrize("rule", list(RULES.values()), ids=list(RULES))
def test_the_walls_stand(rule: Rule, modules: list[Module]) -> None:
    broken = [
        line
        for module in modules
        for line in violations(rule, module.name, module.source, is_package=module.is_package)
    ]
    assert not broken, "imports that break the house's layout:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    ("rule", "module", "source", "is_package"),
    [
        ("models", "bot.jobs.cleaner", "from storage.models import Conversation", False),
        ("models", "handlers.hr", "from storage import models", False),
        ("models", "bot.core", "import storage.models as tables", False),
        ("models", "bot.web.app", "def late():\n    from storage.models import Case\n", False),
        ("models", "bot.cli", "import importlib\nimportlib.import_module('storage.models')", True),
        ("models", "bot.jobs.sender", "from storage.models import OutboxItem", False),
        ("handlers", "handlers.report", "from telegram import Bot", False),
        ("handlers", "handlers.faq.service", "import wechatpy.crypto", False),
        ("handlers", "handlers.status", "from bot.core import Core", False),
        ("handlers", "handlers.faq", "from bot import config", True),
        ("storage", "storage.cases", "from handlers.events import Reply", False),
        ("storage", "storage.outbox", "import bot.jobs.sender", False),
        ("storage", "storage.journal", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot\n", False),
    ],
)
def test_the_checker_catches(rule: str, module: str, source: str, is_package: bool) -> None:
    found = violations(RULES[rule], module, source, is_package=is_package)
    assert len(found) == 1 and found[0].startswith(f"{module} line ")
    assert "import" in found[0]


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        ("storage.journal", "from .models import InboundUpdate", False),
        ("storage", "from . import models", True),
        ("handlers.faq.service", "from ..events import Reply\nfrom storage.cases import CaseView", False),
        ("handlers.report", "from storage.outbox import Outbox\nimport botocore", False),
    ],
)
def test_the_checker_allows(module: str, source: str, is_package: bool) -> None:
    for rule in RULES.values():
        assert violations(rule, module, source, is_package=is_package) == []


def test_relative_imports_resolve() -> None:
    assert _resolve("handlers.faq.service", False, 2, "events") == "handlers.events"
    assert _resolve("handlers.faq", True, 1, "service") == "handlers.faq.service"
    assert _resolve("storage.journal", False, 1, None) == "storage"
