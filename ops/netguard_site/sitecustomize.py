"""Run by every Python child proofyard starts (this folder is first on its PYTHONPATH):
install the network guard of ``ops/netguard.py`` (loaded by path, under a private name, so
nothing of the harness joins the child's imports), then run the environment's own
``sitecustomize``, if it has one, as Python would have."""

import importlib.util
import os
import sys


def _install_guard() -> None:
    if "PROOFYARD_NETWORK_ALLOW" not in os.environ:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(os.path.dirname(here), "netguard.py")
    spec = importlib.util.spec_from_file_location("_proofyard_netguard", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    module.install()


def _chain() -> None:
    """Import the next ``sitecustomize`` on the path (the environment's own)."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    ours = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        if ours is not None:
            sys.modules["sitecustomize"] = ours
    finally:
        sys.path[:] = saved


_install_guard()
_chain()
