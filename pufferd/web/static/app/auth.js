// Sign in (with the 2FA step), sign up, forgotten password, and the pages the mailed links open.
import { html, useState, useEffect, navigate, link, useRoute, useStore } from "./lib.js";
import * as api from "./api.js";
import { startSession, store } from "./state.js";
import { Field, Icon } from "./ui.js";

function Frame({ title, children }) {
  const s = useStore(store);
  return html`<main class="auth" id="main"><div class="auth-card">
    <div class="brand"><img src=${new URL("../icons/icon.svg", import.meta.url).href} alt="" width="40" height="40"/><span>${s.server ? s.server.name : "pufferd"}</span></div>
    ${s.server && s.server.description && html`<p class="muted">${s.server.description}</p>`}
    <h1>${title}</h1>${children}</div></main>`;
}
function Err({ error }) {
  return error ? html`<p class="form-error" role="alert"><${Icon} name="warn"/> ${error}</p>` : null;
}
const next = () => new URLSearchParams(location.search).get("next") || "/";
const safeNext = () => { const n = next(); return n.startsWith("/") && !n.startsWith("//") ? n : "/"; };

export function Login() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [needCode, setNeedCode] = useState(false);
  const submit = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    setBusy(true); setError(null);
    try {
      await api.login(f.get("email").trim(), f.get("password"), (f.get("otp") || "").trim(), f.get("remember") === "on");
      await startSession();
      navigate(safeNext(), { replace: true });
    } catch (err) {
      if (err.status === 401 && /2FA code required/i.test(err.message)) { setNeedCode(true); setError(needCode ? err.message : null); }
      else setError(err.message);
    } finally { setBusy(false); }
  };
  const q = location.search;
  return html`<${Frame} title="Sign in"><form onSubmit=${submit}>
    <${Field} label="E-mail" name="email" type="email" autocomplete="username" required autofocus=${!needCode}/>
    <${Field} label="Password" name="password" type="password" autocomplete="current-password" required/>
    ${needCode && html`<${Field} label="Authentication code" name="otp" autocomplete="one-time-code"
      pattern="[0-9]{6}|[A-Za-z0-9]{5}-?[A-Za-z0-9]{5}" maxlength="11" required autofocus
      hint="The 6-digit code from your authenticator app, or a recovery code."/>`}
    <label class="check"><input type="checkbox" name="remember"/> Keep me signed in on this device</label>
    <${Err} error=${error}/>
    <button class="primary" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button></form>
    <p class="alt"><a href=${`/signup${q}`} onClick=${link}>Create an account</a> · <a href="/forgot-password" onClick=${link}>Forgot password?</a></p>
  </${Frame}>`;
}

export function Signup() {
  const s = useStore(store);
  const mode = s.server && s.server.registration_mode;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { email: f.get("email").trim(), name: f.get("name").trim(), username: f.get("username").trim(), password: f.get("password") };
    if (f.get("invite_code")) body.invite_code = f.get("invite_code").trim();
    setBusy(true); setError(null);
    try {
      await api.post("/api/v1/auth/register", body, { auth: false });
      await api.login(body.email, body.password, null, false);
      await startSession();
      navigate(safeNext(), { replace: true });
    } catch (err) { setError(err.message); } finally { setBusy(false); }
  };
  return html`<${Frame} title="Create an account"><form onSubmit=${submit}>
    <${Field} label="Name" name="name" autocomplete="name" required maxlength="64"/>
    <${Field} label="Username" name="username" autocomplete="username" required pattern="[A-Za-z][A-Za-z0-9_]{2,31}"
      hint="3–32 letters, digits or _, starting with a letter."/>
    <${Field} label="E-mail" name="email" type="email" autocomplete="email" required/>
    <${Field} label="Password" name="password" type="password" autocomplete="new-password" required minlength="8"
      hint="At least 8 characters."/>
    ${mode === "invite_only" && html`<${Field} label="Invite code" name="invite_code" required autocomplete="off"
      hint="This server accepts new accounts by invitation."/>`}
    ${mode === "closed" && html`<p role="status">This server does not accept new accounts at the moment.</p>`}
    <${Err} error=${error}/>
    <button class="primary" disabled=${busy}>${busy ? "Creating…" : "Create account"}</button></form>
    <p class="alt">Already have an account? <a href=${`/login${location.search}`} onClick=${link}>Sign in</a></p>
  </${Frame}>`;
}

export function ForgotPassword() {
  const [sent, setSent] = useState(false);
  const [error, setError] = useState(null);
  const submit = async e => {
    e.preventDefault();
    try {
      await api.post("/api/v1/auth/request-password-reset", { email: new FormData(e.target).get("email").trim() }, { auth: false });
      setSent(true);
    } catch (err) { setError(err.message); }
  };
  return html`<${Frame} title="Reset your password">${sent
    ? html`<p role="status">If an account uses that address, a link to choose a new password is on its way.</p>`
    : html`<form onSubmit=${submit}><${Field} label="E-mail" name="email" type="email" autocomplete="email" required/>
      <${Err} error=${error}/><button class="primary">Send the link</button></form>`}
    <p class="alt"><a href="/login" onClick=${link}>Back to sign in</a></p></${Frame}>`;
}

export function ResetPassword() {
  const { query } = useRoute();
  const [done, setDone] = useState(false);
  const [error, setError] = useState(null);
  const submit = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    if (f.get("password") !== f.get("again")) { setError("The two passwords differ."); return; }
    try {
      await api.post("/api/v1/auth/reset-password", { token: query.get("token") || "", new_password: f.get("password") }, { auth: false });
      setDone(true);
    } catch (err) { setError(err.message); }
  };
  return html`<${Frame} title="Choose a new password">${done
    ? html`<p role="status">Your password was changed and every session signed out.</p><p><a class="button primary" href="/login" onClick=${link}>Sign in</a></p>`
    : html`<form onSubmit=${submit}>
      <${Field} label="New password" name="password" type="password" autocomplete="new-password" required minlength="8"/>
      <${Field} label="Repeat the new password" name="again" type="password" autocomplete="new-password" required minlength="8"/>
      <${Err} error=${error}/><button class="primary">Change password</button></form>`}</${Frame}>`;
}

export function VerifyEmail() {
  const { query } = useRoute();
  const [state, setState] = useState({ status: "working" });
  useEffect(() => {
    api.post("/api/v1/auth/verify-email", { token: query.get("token") || "" }, { auth: false })
      .then(() => setState({ status: "done" }), e => setState({ status: "error", error: e.message }));
  }, []);
  return html`<${Frame} title="E-mail verification">
    ${state.status === "working" && html`<p role="status">Checking the link…</p>`}
    ${state.status === "done" && html`<p role="status" class="ok">Your e-mail address is verified.</p>`}
    ${state.status === "error" && html`<p role="alert" class="form-error">${state.error}</p>`}
    <p><a class="button primary" href="/" onClick=${link}>Open pufferd</a></p></${Frame}>`;
}
