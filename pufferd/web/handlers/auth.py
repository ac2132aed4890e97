"""Auth endpoints (API reference section 5). Rules live in pufferd/accounts.py and pufferd/twofa.py."""
from __future__ import annotations

from aiohttp import web

from pufferd import accounts, twofa
from pufferd.web.client import client_info
from pufferd.web.keys import CLAIMS, CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.auth import (
    AuthUserResponse,
    EmailRequest,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    SessionRead,
    TokenResponse,
    TwoFactorCodeRequest,
    TwoFactorDisableRequest,
    TwoFactorEnableResponse,
    TwoFactorSetupResponse,
    VerifyEmailRequest,
)
from pufferd.web.schemas.common import MessageResponse

routes = Router("auth")

@routes.post("/api/v1/auth/register", body=RegisterRequest, response=MessageResponse, status=201, auth=False)
async def register(request: web.Request, body: RegisterRequest) -> MessageResponse:
    """Create an account and send a verification e-mail.

    Passwords: 8 or more characters, at most 72 bytes in UTF-8, at least 4 different characters.
    403 when registration is closed, the server has reached `max_users`, or (registration mode
    `invite_only`) `invite_code` is missing or not valid; a valid code is used up by one account.
    """
    await accounts.register(request.app[CTX], email=body.email, username=body.username, name=body.name,
                            password=body.password, client=client_info(request), invite_code=body.invite_code)
    return MessageResponse(message="Registration successful: check your e-mail to verify your address")


@routes.post("/api/v1/auth/login", body=LoginRequest, response=TokenResponse, auth=False)
async def login(request: web.Request, body: LoginRequest) -> TokenResponse:
    """Exchange e-mail and password (and `otp_code` when 2FA is on) for an access and a refresh token."""
    pair = await accounts.login(request.app[CTX], email=body.email, password=body.password,
                                otp_code=body.otp_code, client=client_info(request))
    return TokenResponse.of(pair)


@routes.post("/api/v1/auth/refresh", body=RefreshRequest, response=TokenResponse, auth=False)
async def refresh(request: web.Request, body: RefreshRequest) -> TokenResponse:
    """Exchange a refresh token for a new pair; the old refresh token stops working.

    Presenting a refresh token that was already exchanged revokes its whole session.
    """
    return TokenResponse.of(await accounts.refresh(request.app[CTX], body.refresh_token, client_info(request)))


@routes.post("/api/v1/auth/verify-email", body=VerifyEmailRequest, response=MessageResponse, auth=False)
async def verify_email(request: web.Request, body: VerifyEmailRequest) -> MessageResponse:
    """Confirm an e-mail address with the token from the verification e-mail."""
    await accounts.verify_email(request.app[CTX], body.token, client_info(request))
    return MessageResponse(message="Email verified")


@routes.post("/api/v1/auth/resend-verification", body=EmailRequest, response=MessageResponse, auth=False)
async def resend_verification(request: web.Request, body: EmailRequest) -> MessageResponse:
    """Send a new verification e-mail (the same answer whether or not the address is known)."""
    await accounts.resend_verification(request.app[CTX], body.email, client_info(request))
    return MessageResponse(message=accounts.VERIFY_SENT)


@routes.post("/api/v1/auth/request-password-reset", body=EmailRequest, response=MessageResponse, auth=False)
async def request_password_reset(request: web.Request, body: EmailRequest) -> MessageResponse:
    """Send a password reset e-mail (the same answer whether or not the address is known)."""
    await accounts.request_password_reset(request.app[CTX], body.email, client_info(request))
    return MessageResponse(message=accounts.RESET_SENT)


@routes.post("/api/v1/auth/reset-password", body=ResetPasswordRequest, response=MessageResponse, auth=False)
async def reset_password(request: web.Request, body: ResetPasswordRequest) -> MessageResponse:
    """Set a new password with the token from the reset e-mail; signs out every session."""
    await accounts.reset_password(request.app[CTX], body.token, body.new_password, client_info(request))
    return MessageResponse(message="Password has been reset")


@routes.get("/api/v1/auth/me", response=AuthUserResponse)
async def me(request: web.Request) -> AuthUserResponse:
    """The account behind the access token."""
    return AuthUserResponse.of(request[USER])


@routes.get("/api/v1/auth/sessions", response=list[SessionRead])
async def list_sessions(request: web.Request) -> list[SessionRead]:
    """The caller's sessions: first the access token in use (token_type=access), then every
    refresh session that can still be used, newest first."""
    views = await accounts.list_sessions(request.app[CTX], request[USER], request[CLAIMS], client_info(request))
    return [SessionRead.of(v) for v in views]


@routes.delete("/api/v1/auth/sessions/{jti}", status=204)
async def revoke_session(request: web.Request, jti: str) -> None:
    """End one session; access tokens issued with it stop working too."""
    await accounts.revoke_session(request.app[CTX], request[USER], request[CLAIMS], jti, client_info(request))


@routes.delete("/api/v1/auth/sessions", status=204)
async def revoke_all_sessions(request: web.Request) -> None:
    """Sign out everywhere: revoke every refresh session, refuse every access token issued before
    this request, and close the caller's WebSockets (close code 4001)."""
    await accounts.revoke_all_sessions(request.app[CTX], request[USER], client_info(request))


@routes.post("/api/v1/auth/2fa/setup", response=TwoFactorSetupResponse)
async def twofa_setup(request: web.Request) -> TwoFactorSetupResponse:
    """Start 2FA enrolment: a new TOTP secret and its otpauth:// URL (for a QR code).

    2FA stays off until /auth/2fa/enable confirms a code; 400 when 2FA is already enabled.
    """
    setup = await twofa.setup(request.app[CTX], request[USER])
    return TwoFactorSetupResponse(secret=setup.secret, otpauth_url=setup.otpauth_url)


@routes.post("/api/v1/auth/2fa/enable", body=TwoFactorCodeRequest, response=TwoFactorEnableResponse)
async def twofa_enable(request: web.Request, body: TwoFactorCodeRequest) -> TwoFactorEnableResponse:
    """Turn 2FA on with a current code from the authenticator app; answers ten one-time recovery codes.

    Needs a login within the last 10 minutes (twofa_recent_login_seconds) or the account
    `password` in the body (403 otherwise). The owner is told by e-mail.
    """
    codes = await twofa.enable(request.app[CTX], request[USER], request[CLAIMS], body.code, body.password,
                               client_info(request))
    return TwoFactorEnableResponse(message="2FA enabled", recovery_codes=codes)


@routes.post("/api/v1/auth/2fa/disable", body=TwoFactorDisableRequest, response=MessageResponse)
async def twofa_disable(request: web.Request, body: TwoFactorDisableRequest) -> MessageResponse:
    """Turn 2FA off with a current code or a recovery code.

    Needs a recent login or the `password`, as enabling does; the owner is told by e-mail.
    """
    await twofa.disable(request.app[CTX], request[USER], request[CLAIMS], body.code, body.password,
                        client_info(request))
    return MessageResponse(message="2FA disabled")
