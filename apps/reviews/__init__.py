"""Reviews: the quarterly business review of an agreement (QuarterlyReview, its dual
sign-off into the next agreement version), breach reviews of breached clocks and the action
items that follow from either.

Every public service is reached as `apps.reviews.services.<name>`; the modules behind it:

- services.py — the review's lifecycle (review_start, review_update, review_rebased,
  review_sign_off) and the re-exports of the rest;
- permissions.py — who may see, edit and sign a review, review a breach, manage items;
- scheduling.py — reviews_schedule, reviews_remind (reminders and overdue flags);
- breaches.py — breach_review_save; action_items.py — action_item_create,
  action_item_set_done, action_items_remind; notices.py — the notifications they send;
- pack.py (the frozen compliance pack), recommend.py (pure: recommended targets),
  whatif.py (replaying proposed targets);
- selectors.py, filters.py — reads; presenters.py — what the pages display;
  views/ (reviews, breaches), api/ (views, serializers, inputs, schema), tasks.py."""
