"""Auth models (API reference section 3.1)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from pufferd.accounts import SessionView, TokenPair
from pufferd.clock import iso
from pufferd.db.users_q import User
from pufferd.password_policy import password_problem
from pufferd.passwords import BCRYPT_MAX_BYTES
from pufferd.web.schemas.users import DisplayName, EmailAddress, LookupEmail, PrivacyMode, Username


def _new_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _given_password(value: str) -> str:
    if len(value.encode()) > BCRYPT_MAX_BYTES:
        raise ValueError(f"Password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
    return value


NewPassword = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_new_password)]
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_given_password)]
OtpCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
# a TOTP code, or one of the recovery codes handed out when 2FA was turned on (xxxxx-xxxxx)
OtpOrRecoveryCode = Annotated[str, StringConstraints(
    strip_whitespace=True, pattern=r"^(?:[0-9]{6}|[A-Za-z0-9]{5}-?[A-Za-z0-9]{5})$")]
OpaqueToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
Jwt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
InviteCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Strict):
    email: EmailAddress
    name: DisplayName
    username: Username
    password: NewPassword
    # a server invite code: required when registration_mode is invite_only (README "Administration")
    invite_code: InviteCode | None = None


class LoginRequest(_Strict):
    email: LookupEmail
    password: GivenPassword
    otp_code: OtpOrRecoveryCode | None = None  # only when 2FA is enabled: TOTP or recovery code


class RefreshRequest(_Strict):
    refresh_token: Jwt


class VerifyEmailRequest(_Strict):
    token: OpaqueToken


class EmailRequest(_Strict):
    email: LookupEmail


class ResetPasswordRequest(_Strict):
    token: OpaqueToken
    new_password: NewPassword


class TwoFactorCodeRequest(_Strict):
    """Turn 2FA on. `password` is needed only when the last login is older than
    twofa_recent_login_seconds (10 minutes)."""

    code: OtpCode
    password: GivenPassword | None = None


class TwoFactorDisableRequest(_Strict):
    """Turn 2FA off with a TOTP code or a recovery code; `password` as for enabling."""

    code: OtpOrRecoveryCode
    password: GivenPassword | None = None


class TwoFactorEnableResponse(BaseModel):
    message: str
    # one-time codes for signing in (otp_code) when the authenticator is lost; shown only now
    recovery_codes: list[str]


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(access_token=pair.access_token, refresh_token=pair.refresh_token, token_type=pair.token_type)


class SessionRead(BaseModel):
    jti: str
    created_at: str
    ip_address: str | None
    user_agent: str | None
    current: bool
    token_type: Literal["refresh", "access"]

    @classmethod
    def of(cls, s: SessionView) -> SessionRead:
        return cls(jti=s.jti, created_at=iso(s.created_at) or "", ip_address=s.ip_address,
                   user_agent=s.user_agent, current=s.current, token_type=s.token_type)  # type: ignore[arg-type]


class AuthUserResponse(BaseModel):
    id: int
    email: str
    name: str
    username: str
    bio: str | None
    avatar_url: str | None
    email_verified: bool
    twofa_enabled: bool
    allow_private_messages: bool
    privacy_private_messages: PrivacyMode
    privacy_last_seen: PrivacyMode
    privacy_avatar: PrivacyMode
    privacy_group_invites: PrivacyMode
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, user: User) -> AuthUserResponse:
        return cls(id=user.id, email=user.email, name=user.name, username=user.username, bio=user.bio,
                   avatar_url=user.avatar_url, email_verified=user.email_verified,
                   twofa_enabled=user.twofa_enabled, allow_private_messages=user.allow_private_messages,
                   privacy_private_messages=user.privacy_private_messages,  # type: ignore[arg-type]
                   privacy_last_seen=user.privacy_last_seen,  # type: ignore[arg-type]
                   privacy_avatar=user.privacy_avatar,  # type: ignore[arg-type]
                   privacy_group_invites=user.privacy_group_invites,  # type: ignore[arg-type]
                   created_at=iso(user.created_at) or "", updated_at=iso(user.updated_at) or "")


class TwoFactorSetupResponse(BaseModel):
    secret: str
    otpauth_url: str
