"""API authentication: exchange a username and password for a token."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

from . import selectors, services


class TokenThrottle(AnonRateThrottle):
    rate = "20/min"


class SignInLockedOut(exceptions.APIException):
    """429 with the sign-in form's message under `non_field_errors`, and Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self, lockout: selectors.Lockout):
        super().__init__({"non_field_errors": [lockout.message]}, code=self.default_code)
        self.wait = lockout.retry_after_seconds


class ThrottledAuthTokenSerializer(AuthTokenSerializer):
    """The sign-in page's lockout, shared: the same failures count here and there."""

    def validate(self, attrs):
        username, password = attrs.get("username"), attrs.get("password")
        if not username or not password:
            return super().validate(attrs)
        now = timezone.now()
        ip_address = selectors.client_ip(self.context.get("request"))
        lockout = selectors.sign_in_lockout(username=username, ip_address=ip_address, now=now)
        if lockout is not None:
            raise SignInLockedOut(lockout)
        try:
            attrs = super().validate(attrs)
        except serializers.ValidationError:
            services.sign_in_failure_record(username=username, ip_address=ip_address, now=now)
            raise
        services.sign_in_failures_clear(username=username, now=now)
        return attrs


class QuietHoursSerializer(serializers.Serializer):
    """A person's working hours (Monday to Friday, their `time_zone`) and whether
    non-urgent email waits for them; read and written with the notification preferences."""

    enabled = serializers.BooleanField(source="quiet_hours")
    work_starts = serializers.TimeField()
    work_ends = serializers.TimeField()
    time_zone = serializers.CharField(read_only=True)

    def validate(self, attrs):
        starts, ends = attrs.get("work_starts"), attrs.get("work_ends")
        if starts is not None and ends is not None and ends <= starts:
            raise serializers.ValidationError(
                {
                    "work_ends": [
                        "Working hours end after they start (overnight hours are not kept)."
                    ]
                }
            )
        return attrs


ERRORS = inline_serializer(
    "TokenErrors", {"non_field_errors": serializers.ListField(child=serializers.CharField())}
)


class ObtainTokenView(ObtainAuthToken):
    """`POST /api/auth/token/` with `username` and `password` → `{"token": …}`.

    Wrong credentials are a 400; after too many failures for the username or the address
    (the same count as the sign-in page) a 429 with Retry-After, without checking the
    password.
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [TokenThrottle]
    # DRF's token view names the plain JSON parser: take the project's safe one.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    serializer_class = ThrottledAuthTokenSerializer

    @extend_schema(
        request=inline_serializer(
            "TokenRequest",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            400: ERRORS,
            429: ERRORS,
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
