"""The house's shape, checked on every run: arrows point down and no import runs in a circle.

Every import in every module of the package counts, also the ones inside functions, and so
does any string naming a museforge module (what importlib would load), so the spine cannot
reach a limb by a side door.
"""

import ast
import re
from pathlib import Path

import museforge

ROOT = Path(museforge.__file__).parent
MODALITIES = ("image", "text", "style", "music", "crossmodal", "design", "sculpture", "sound")
SCREENS = ("cli", "studio", "bench")
# The arrows between modalities: music reads syllables and prosody from text; design
# (sprites, sheets, type) is made with image's models and data sets.
ALLOWED_BETWEEN = {("music", "text.prosody"), ("design", "image")}
_MODULE_STRING = re.compile(r"^museforge(\.[a-z_][a-z0-9_]*)+$")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every museforge module ``path`` names: imports anywhere, and module-name strings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = (
        _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    )
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from museforge.x import y` may import the submodule y.
            found |= {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found |= {node.value} if _MODULE_STRING.match(node.value) else set()
    modules = _all_modules()
    return {m for m in found if m in modules and m.startswith("museforge")}


def _all_modules() -> set[str]:
    return {_module_name(p) for p in ROOT.rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read() -> None:
    graph = _graph()
    # A sanity check on the reader itself: the CLI imports the registry somewhere.
    assert any(m.startswith("museforge.core") for deps in graph.values() for m in deps)
    assert "museforge.core.registry" in graph


def test_core_and_nn_know_no_limb() -> None:
    banned = (*MODALITIES, "gallery", *SCREENS, "demo")
    broken = [
        f"{module} -> {dep}"
        for module, deps in _graph().items()
        if _area(module) in ("core", "nn")
        for dep in deps
        if _area(dep) in banned
    ]
    assert not broken, broken


def test_no_modality_imports_another() -> None:
    broken = []
    for module, deps in _graph().items():
        area = _area(module)
        if area not in MODALITIES:
            continue
        for dep in deps:
            other = _area(dep)
            if other in MODALITIES and other != area:
                allowed = any(
                    area == a and dep.removeprefix("museforge.").startswith(b)
                    for a, b in ALLOWED_BETWEEN
                )
                if not allowed:
                    broken.append(f"{module} -> {dep}")
            if other in (*SCREENS, "studio"):
                broken.append(f"{module} -> {dep}")
    assert not broken, broken


def test_modalities_reach_the_gallery_only_through_provenance() -> None:
    broken = [
        f"{module} -> {dep}"
        for module, deps in _graph().items()
        if _area(module) in MODALITIES
        for dep in deps
        if _area(dep) == "gallery" and dep != "museforge.gallery.provenance"
    ]
    assert not broken, broken


def test_no_import_cycle() -> None:
    graph = _graph()
    # A package imports its __init__ first; the edge child -> parent package is implied
    # by Python, so only real imports are followed here.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep == node:
                continue
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_the_gallery_knows_no_modality_and_no_screen() -> None:
    broken = [
        f"{module} -> {dep}"
        for module, deps in _graph().items()
        if _area(module) == "gallery"
        for dep in deps
        if _area(dep) in (*MODALITIES, *SCREENS)
    ]
    assert not broken, broken
