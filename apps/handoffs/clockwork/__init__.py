"""The clock: one home for it.

- `arithmetic` — pure: consumed business time, deadlines, the ladder, the verdict;
- `verdict` — the verdict's SQL twin, for querysets;
- `store` — loading, locking and saving clocks and writing their timeline events;
- `rollups` — the daily and monthly sums of finished clocks reports read, kept in step;
- `services` — every change to a clock (warn, breach, escalate, transitions, recompute);
- `notices` — who hears, and one notification per person for what a clock says at once;
- `sweep` — the periodic sweep, which calls the services.

Data flows one way: sweep → services → store/arithmetic.
"""
