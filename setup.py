"""The one compiled module: an accelerator that lsm runs without when it cannot be built (no C compiler
or no Python headers), so its build failing never stops an install."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "llm_session_manager.agents._claude_fold",
            ["llm_session_manager/agents/_claude_fold.c"],
            optional=True,
        )
    ]
)
