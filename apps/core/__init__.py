"""What every app shares and no domain owns: the base model (timestamps), input limits
(limits.py) and bounded fields (fields.py), the API plumbing (api.py: error shapes, the safe
JSON parser), the POST-view helper (views.py), request-size and bad-byte middleware, safe
webhook destinations (destinations.py), bounded regex matching (patterns.py), the schema
docs, and the seed_demo command. No domain models; imports no other app."""
