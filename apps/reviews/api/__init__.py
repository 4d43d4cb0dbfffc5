"""REST API of reviews: `views` (the viewsets: quarterly reviews, breach reviews, action
items), `serializers` (what it answers), `inputs` (what it accepts, one serializer per
write), `schema` (the OpenAPI docs of the JSON columns and the error answers)."""

from .views import ActionItemViewSet, BreachReviewViewSet, QuarterlyReviewViewSet

__all__ = ["ActionItemViewSet", "BreachReviewViewSet", "QuarterlyReviewViewSet"]
