"""REST API of agreements and exception windows: `serializers` (what it answers with),
`inputs` (what each write reads), `views` (the viewsets, registered in `olaportal/api.py`).
"""

from .views import AgreementViewSet, ExceptionWindowViewSet

__all__ = ["AgreementViewSet", "ExceptionWindowViewSet"]
