"""The local forge: git in a folder (``git``), JSON records (``store``), one part per role."""

from ci.forge.local.forge import LocalForge

__all__ = ["LocalForge"]
