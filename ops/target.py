"""The project under test: its root, source packages, modules and files (excludes applied)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pathspec

if TYPE_CHECKING:
    from ops.config import LoadedConfig

DEFAULT_EXCLUDES = (
    ".git/",
    ".hg/",
    ".svn/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    "build/",
    "dist/",
    "__pycache__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    "*.egg-info/",
    "node_modules/",
    ".proofyard/",
    ".benchmarks/",
)
NON_SOURCE_DIRS = frozenset({"tests", "test", "docs", "examples", "benchmarks", "scripts"})


class TargetError(Exception):
    """The target's own files are unusable (for example an unparsable pyproject.toml)."""


@dataclass(frozen=True)
class Target:
    """A target project rooted at ``root``."""

    root: Path
    configured_packages: tuple[str, ...] = ()
    extra_excludes: tuple[str, ...] = ()
    use_gitignore: bool = True

    @classmethod
    def for_config(cls, loaded: LoadedConfig) -> Target:
        """The target a loaded configuration names."""
        section = loaded.config.target
        return cls(
            loaded.target_root,
            tuple(section.packages),
            tuple(section.exclude),
            section.use_gitignore,
        )

    @cached_property
    def pyproject(self) -> dict[str, Any]:
        path = self.root / "pyproject.toml"
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TargetError(f"{path}: cannot read: {exc}") from None

    @cached_property
    def ignore(self) -> pathspec.PathSpec:
        lines = list(DEFAULT_EXCLUDES) + list(self.extra_excludes)
        gitignore = self.root / ".gitignore"
        if self.use_gitignore and gitignore.is_file():
            lines += gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
        return pathspec.GitIgnoreSpec.from_lines(lines)

    def is_excluded(self, path: Path) -> bool:
        relative = path.relative_to(self.root).as_posix()
        return self.ignore.match_file(relative + ("/" if path.is_dir() else ""))

    def files(self, patterns: Iterable[str] = ("**/*",)) -> list[Path]:
        """Files under the root matching any glob in ``patterns``, excludes applied, sorted."""
        matcher = pathspec.GitIgnoreSpec.from_lines(list(patterns))
        return sorted(
            path
            for path in self._walk(self.root)
            if matcher.match_file(path.relative_to(self.root).as_posix())
        )

    def _walk(self, folder: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(folder):
            base = Path(dirpath)
            dirnames[:] = sorted(name for name in dirnames if not self.is_excluded(base / name))
            for name in filenames:
                path = base / name
                if not self.is_excluded(path):
                    yield path

    @cached_property
    def package_dirs(self) -> dict[str, Path]:
        """Import name of each top-level source package mapped to its folder."""
        names = self.configured_packages or self._declared_packages() or self._discovered()
        dirs = {}
        for name in names:
            for base in (self.root / "src", self.root):
                candidate = base / name.replace(".", "/")
                if candidate.is_dir() or candidate.with_suffix(".py").is_file():
                    dirs[name] = candidate
                    break
        return dirs

    def _declared_packages(self) -> list[str]:
        setuptools = self.pyproject.get("tool", {}).get("setuptools", {})
        packages = setuptools.get("packages")
        if isinstance(packages, list):
            return sorted({name.split(".")[0] for name in packages if isinstance(name, str)})
        return []

    def _discovered(self) -> list[str]:
        base = self.root / "src" if (self.root / "src").is_dir() else self.root
        return sorted(
            child.name
            for child in base.iterdir()
            if child.is_dir()
            and (child / "__init__.py").is_file()
            and child.name not in NON_SOURCE_DIRS
            and not self.is_excluded(child)
        )

    def modules(self) -> list[tuple[str, Path]]:
        """Every importable module of the source packages as (dotted name, file), sorted."""
        found = []
        for name, folder in self.package_dirs.items():
            if folder.is_file() or folder.with_suffix(".py").is_file():
                found.append((name, folder.with_suffix(".py")))
                continue
            prefix = name.rsplit(".", 1)[0] + "." if "." in name else ""
            base = folder.parent
            for path in self._walk(folder):
                if path.suffix != ".py" or not _importable(path.relative_to(base)):
                    continue
                parts = list(path.relative_to(base).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                found.append((prefix + ".".join(parts), path))
        return sorted(found)

    def cli_files(self) -> list[str]:
        """Files (root-relative) of the modules ``[project.scripts]`` and ``gui-scripts``
        name, and every ``__main__.py`` of the packages: command-line code, which prints."""
        project = self.pyproject.get("project", {})
        names = {
            value.split(":")[0].strip()
            for key in ("scripts", "gui-scripts")
            for value in (project.get(key) or {}).values()
            if isinstance(value, str)
        }
        found = []
        for name, path in self.modules():
            if name in names or path.name == "__main__.py":
                found.append(path.relative_to(self.root).as_posix())
        return found

    def import_root(self, package: str) -> Path:
        """The folder to put on sys.path so ``package`` imports."""
        folder = self.package_dirs[package]
        return folder.parents[package.count(".")]

    def import_roots(self) -> list[Path]:
        """Every folder that must be on sys.path for the source packages to import."""
        return sorted({self.import_root(name) for name in self.package_dirs})


def _importable(relative: Path) -> bool:
    return all(part.isidentifier() for part in relative.with_suffix("").parts)
