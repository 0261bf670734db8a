"""`stub generate` on crafted sources: nothing the sources say can become code in the generated `_ext.py`."""

from __future__ import annotations

import ast
import io
import sys
import tarfile
from pathlib import Path

import pytest
from envkit import run_inside

from envdoctor.stub import SourceError, generate

PAYLOAD = "__import__('os').system('touch PWNED')"


def _sdist(tmp: Path, files: dict[str, str], version_py: str = "__version__ = '9.9.9'\n") -> Path:
    path = tmp / "mmcv-crafted.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in {"mmcv/version.py": version_py, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"mmcv-crafted/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (f"x = 1\n{PAYLOAD}\n#", "not a plain op name"),
        (f"nms; {PAYLOAD}", "not a plain op name"),
        ("import", "not a plain op name"),  # a keyword
        ("__getattr__", "not a plain op name"),  # a dunder would change how the module behaves
        ("torch", "a name the stub uses itself"),  # would replace the stub's own torch
        ("_unavailable", "a name the stub uses itself"),
    ],
)
def test_an_op_name_that_is_not_an_identifier_is_refused_naming_file_and_line(
    tmp_path: Path, name: str, why: str
) -> None:
    src = _sdist(tmp_path, {"mmcv/ops/a.py": f"# ops\n\next = load_ext('_ext', ['nms', {name!r}])\n"})
    with pytest.raises(SourceError, match=rf"mmcv/ops/a.py, line 3: .*{why}"):
        generate(src)


@pytest.mark.parametrize(
    "version",
    [f"1.0\n{PAYLOAD}\n#", "2.1.0 sources=sha256:forged real=999", "", "1.0'; " + PAYLOAD],
)
def test_a_version_that_is_not_a_version_is_refused(tmp_path: Path, version: str) -> None:
    src = _sdist(
        tmp_path, {"mmcv/ops/a.py": "ext = load_ext('_ext', ['nms'])\n"}, version_py=f"# v\n__version__ = {version!r}\n"
    )
    with pytest.raises(SourceError, match=r"mmcv/version.py, line 2: __version__ is .* not a version"):
        generate(src)


_AUDITED_IMPORT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
seen = []
WATCH = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen", "socket.",
         "os.remove", "os.rename", "shutil.", "ctypes.", "os.kill")

def hook(event, args):
    if event.startswith(WATCH) or (event == "open" and len(args) > 1 and any(c in str(args[1]) for c in "wax+")):
        seen.append(event)

sys.addaudithook(hook)
import _ext
print(json.dumps({"seen": seen, "info": _ext.STUB_INFO, "print": _ext.print.__name__}))
"""


def test_a_crafted_sdist_gives_a_module_that_runs_nothing_but_its_definitions(tmp_path: Path) -> None:
    # Every name is legal yet odd: builtins, module names, the header's own keys.
    odd = ["print", "exec", "eval", "open", "os", "sys", "subprocess", "mmcv", "real", "ops", "nms"]
    src = _sdist(
        tmp_path,
        {
            "mmcv/__init__.py": f"{PAYLOAD}\n",
            "mmcv/ops/a.py": f"{PAYLOAD}\next = load_ext('_ext', {odd!r})\n",
        },
        version_py="__version__ = '9.9.9+crafted.1'\n",
    )
    stub = generate(src)
    tree = ast.parse(stub.text)
    allowed_imports = {"functools", "warnings", "torch"}
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= allowed_imports
        elif isinstance(node, ast.Expr):
            # the docstring, and STUB_INFO.update({...literal...})
            if isinstance(node.value, ast.Call):
                assert ast.unparse(node.value.func) == "STUB_INFO.update"
                ast.literal_eval(node.value.args[0])
            else:
                assert isinstance(node.value, ast.Constant)
        elif isinstance(node, ast.Assign):
            value = node.value
            if isinstance(value, ast.Call):  # name = _unavailable('name')
                assert ast.unparse(value.func) == "_unavailable"
                assert [ast.literal_eval(a) for a in value.args] == [node.targets[0].id]  # type: ignore[attr-defined]
            else:
                ast.literal_eval(value)
        else:
            assert isinstance(node, (ast.FunctionDef, ast.ClassDef)), ast.dump(node)[:200]
    # And run it: importing the module does nothing an audit hook would see.
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "torch.py").write_text("")
    (tmp_path / "mod" / "_ext.py").write_text(stub.text)
    out = run_inside(
        sys.executable,
        ["-c", _AUDITED_IMPORT, str(tmp_path / "mod")],
        what="the audited import",
        timeout=60,
        cwd=tmp_path,
    )
    assert out["seen"] == []
    assert out["info"]["mmcv"] == "9.9.9+crafted.1" and out["print"] == "print"
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    assert stub.header["mmcv"] == "9.9.9+crafted.1"
