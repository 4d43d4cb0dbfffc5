# The handoff fixtures (an active Support → Engineering agreement, `file_handoff`).
from tests.handoffs.conftest import agreement, file_handoff  # noqa: F401
