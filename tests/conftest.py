"""Shared test set-up: tests marked `@pytest.mark.gap` skip (with the install hint) when GAP is absent."""

import pytest


def pytest_collection_modifyitems(config, items):
    from groklab.groups.gap import GAP_INSTALL_HINT, gap_available

    if gap_available():
        return
    skip = pytest.mark.skip(reason=GAP_INSTALL_HINT)
    for item in items:
        if "gap" in item.keywords:
            item.add_marker(skip)
