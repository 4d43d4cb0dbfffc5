"""Review pages: `reviews` (the list, the quarterly review and its POST views, action
items) and `breaches` (breached clocks to review, the breach review form). What the pages
display is arranged in `apps.reviews.presenters`."""

from .breaches import breach_action_add, breach_list, breach_review
from .reviews import (
    action_add,
    action_done,
    review_detail,
    review_edit,
    review_index,
    review_sign_off,
    review_start,
    review_targets,
    review_what_if,
)

__all__ = [
    "action_add",
    "action_done",
    "breach_action_add",
    "breach_list",
    "breach_review",
    "review_detail",
    "review_edit",
    "review_index",
    "review_sign_off",
    "review_start",
    "review_targets",
    "review_what_if",
]
