"""What a MindCV user imports from the top level works, importing it stays cheap, and the package's
modules import each other without cycles, `mindcv.utils` only downward but for MindCV's paths."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import mindcv

PACKAGE = Path(mindcv.__file__).parent


def test_top_level_reexports():
    from mindcv import create_dataset, create_loader, create_loss, create_model, create_optimizer, list_models

    assert "densenet121" in list_models("densenet*")
    assert all(
        callable(f) for f in (create_dataset, create_loader, create_loss, create_model, create_optimizer)
    )
    assert set(mindcv.__all__) <= set(dir(mindcv))


def test_config_parsing_does_not_import_mindspore():
    code = (
        "import sys, config; config.parse_args(['--model', 'densenet121']); print('mindspore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_mindcv_quiets_mindspore_unless_glog_v_is_set():
    """Scripts import mindcv (or config.py, which does) before MindSpore: that sets GLOG_v."""
    code = "import os, mindcv; print(os.environ['GLOG_v'])"
    env = {k: v for k, v in os.environ.items() if k != "GLOG_v"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "3"
    env["GLOG_v"] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "1"


def _modules():
    """{dotted name: parsed module} for every module of the package."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["mindcv", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = (ast.parse(path.read_text()), path.name == "__init__.py")
    return modules


def _imports(modules):
    """{module: the package's modules it imports}, in functions too, and `lazy_exports` targets."""
    graph = {}
    for name, (tree, is_package) in modules.items():
        here = name.split(".") if is_package else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] if node.level else [])
                base = ".".join(filter(None, [base, node.module]))
                children = [f"{base}.{alias.name}" for alias in node.names]
                found = [c for c in children if c in modules] or [base]
            elif isinstance(node, ast.Constant) and str(node.value).startswith("mindcv."):
                found = [node.value] if "lazy_exports" in ast.unparse(tree) else []
            else:
                continue
            for target in found:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def test_the_import_graph_has_no_cycle():
    graph, done, path = _imports(_modules()), set(), []

    def visit(module):
        assert module not in path, "import cycle: " + " -> ".join(path[path.index(module) :] + [module])
        if module not in done:
            path.append(module)
            for target in sorted(graph[module]):
                visit(target)
            path.pop()
            done.add(module)

    for module in sorted(graph):
        visit(module)
    assert {"mindcv.data", "mindcv.engine.checkpoint_manager"} <= graph["mindcv.engine.trainer"]


# MindCV's public paths under mindcv.utils: the only modules there that import from above.
MINDCV_UTILS_PATHS = [
    "mindcv.utils",
    "mindcv.utils.callbacks",
    "mindcv.utils.checkpoint_manager",
    "mindcv.utils.train_step",
    "mindcv.utils.trainer_factory",
]


def test_utils_imports_upward_only_in_mindcvs_re_exports():
    """mindcv.utils holds leaf helpers; only MindCV's own paths re-export from above, defining nothing."""
    modules = _modules()
    graph = _imports(modules)
    upward = {
        name: sorted(t for t in graph[name] if not t.startswith("mindcv.utils") and t != "mindcv._lazy")
        for name in graph
        if name.startswith("mindcv.utils")
    }
    upward = {name: targets for name, targets in upward.items() if targets}
    defining = [
        name
        for name in upward
        if any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in modules[name][0].body)
    ]
    assert defining == []
    assert sorted(upward) == MINDCV_UTILS_PATHS
