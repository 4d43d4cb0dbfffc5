"""Admin for agreements and exception windows.

Staff read everything here, with the version history. Writes go through the services
like everywhere else: a draft's fields and parts are saved by `agreement_update_draft`,
lifecycle steps and window decisions are admin actions. A version that is no longer a
draft is read-only, and nothing is ever deleted (a version is retired).

`versions` registers the agreement and series admins, `windows` the exception windows'.
"""

from .versions import AgreementAdmin, AgreementSeriesAdmin
from .windows import ExceptionWindowAdmin

__all__ = ["AgreementAdmin", "AgreementSeriesAdmin", "ExceptionWindowAdmin"]
