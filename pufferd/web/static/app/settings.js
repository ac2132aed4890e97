// Account settings: profile, privacy, sessions, two-factor authentication, contacts and blocks.
import { html, useState, useEffect, useStore, link, fullTime, useRoute } from "./lib.js";
import * as api from "./api.js";
import { store, fail, toast, rememberUsers } from "./state.js";
import { Avatar, Field, Icon, Spinner } from "./ui.js";
import { UserPicker } from "./chats.js";
import { encode } from "../vendor/uqr.mjs";

const SECTIONS = [["profile", "Profile"], ["privacy", "Privacy"], ["sessions", "Sessions"], ["security", "Two-factor authentication"],
                  ["contacts", "Contacts and blocks"]];

export function Settings() {
  const { path } = useRoute();
  const section = path.split("/")[2] || "profile";
  const Body = { profile: Profile, privacy: Privacy, sessions: Sessions, security: TwoFactor, contacts: Contacts }[section] || Profile;
  return html`<section class="settings" aria-labelledby="settings-title">
    <header class="conv-head"><a class="icon-btn back" href="/" onClick=${link}><${Icon} name="back" label="Back to chats"/></a>
      <h2 id="settings-title">Settings</h2></header>
    <div class="settings-body">
      <nav class="settings-nav" aria-label="Settings sections"><ul>${SECTIONS.map(([id, label]) => html`<li>
        <a href=${`/settings/${id}`} onClick=${link} aria-current=${id === section ? "page" : undefined}>${label}</a></li>`)}</ul></nav>
      <div class="settings-page"><${Body}/></div></div></section>`;
}

function Profile() {
  const s = useStore(store);
  const me = s.me;
  const [busy, setBusy] = useState(false);
  const save = async body => {
    setBusy(true);
    try { s.me = await api.put("/api/v1/users/profile", body); s.users.set(me.id, s.me); store.bump(); toast("Saved"); }
    catch (e) { fail(e); } finally { setBusy(false); }
  };
  const submit = e => {
    e.preventDefault();
    const f = new FormData(e.target);
    save({ name: f.get("name").trim(), username: f.get("username").trim(), bio: f.get("bio").trim() || null });
  };
  const avatar = async e => {
    const file = e.target.files[0];
    if (!file) return;
    try { const grant = await api.uploadFile(file); await save({ avatar_url: grant.file_url }); } catch (err) { fail(err); }
  };
  return html`<h3>Profile</h3>
    <div class="row"><${Avatar} name=${me.name} id=${me.id} url=${me.avatar_url} size="64"/>
      <label class="button">Change picture<input type="file" accept="image/jpeg,image/png,image/webp" class="visually-hidden" onChange=${avatar}/></label>
      ${me.avatar_url && html`<button type="button" onClick=${() => save({ avatar_url: null })}>Remove picture</button>`}</div>
    <form onSubmit=${submit}>
      <${Field} label="Name" name="name" defaultValue=${me.name} required maxlength="64"/>
      <${Field} label="Username" name="username" defaultValue=${me.username} required pattern="[A-Za-z][A-Za-z0-9_]{2,31}"/>
      <div class="field"><label for="f-bio">Bio</label><textarea id="f-bio" name="bio" maxlength="500" rows="3">${me.bio || ""}</textarea></div>
      <p class="muted">E-mail: ${me.email} ${me.email_verified ? "(verified)" : html`(not verified) <button type="button" class="linkish"
        onClick=${() => api.post("/api/v1/auth/resend-verification", { email: me.email }, { auth: false }).then(() => toast("Verification mail sent"), fail)}>Send the link again</button>`}</p>
      <button class="primary" disabled=${busy}>Save</button></form>
    <h3>Desktop notifications</h3>
    ${typeof Notification === "undefined" ? html`<p>This browser has no notifications.</p>`
      : Notification.permission === "granted" ? html`<p>Mentions are shown as desktop notifications while pufferd is in the background.</p>`
      : html`<button type="button" onClick=${() => Notification.requestPermission().then(() => store.bump())}>Allow notifications for mentions</button>`}`;
}

const MODES = [["everyone", "Everyone"], ["contacts", "My contacts"], ["nobody", "Nobody"]];
function Privacy() {
  const s = useStore(store);
  const me = s.me;
  const set = async (key, value) => {
    try { s.me = await api.put("/api/v1/users/profile", { [key]: value }); store.bump(); toast("Saved"); } catch (e) { fail(e); }
  };
  const select = (key, label) => html`<div class="field"><label for=${`p-${key}`}>${label}</label>
    <select id=${`p-${key}`} value=${me[key]} onChange=${e => set(key, e.target.value)}>${MODES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>`;
  return html`<h3>Privacy</h3>
    <label class="check"><input type="checkbox" checked=${me.allow_private_messages} onChange=${e => set("allow_private_messages", e.target.checked)}/> Accept private messages</label>
    ${select("privacy_private_messages", "Who can message me")}
    ${select("privacy_last_seen", "Who sees my last seen and online status")}
    ${select("privacy_avatar", "Who sees my picture")}
    ${select("privacy_group_invites", "Who can add me to groups")}`;
}

function Sessions() {
  const [list, setList] = useState(null);
  const load = () => api.get("/api/v1/auth/sessions").then(setList, fail);
  useEffect(() => { load(); }, []);
  const end = async jti => { try { await api.del(`/api/v1/auth/sessions/${encodeURIComponent(jti)}`); load(); } catch (e) { fail(e); } };
  const endAll = async () => {
    if (!confirm("Sign out everywhere, this device included?")) return;
    try { await api.del("/api/v1/auth/sessions"); } catch (e) { fail(e); }
    api.signOutLocally();
  };
  if (!list) return html`<${Spinner}/>`;
  const sessions = list.filter(x => x.token_type === "refresh");
  return html`<h3>Sessions</h3><ul class="sessions">${sessions.map(x => html`<li>
      <span class="grow"><strong>${x.user_agent ? x.user_agent.slice(0, 80) : "Unknown device"}</strong>${x.current ? " · this device" : ""}<br/>
        <small class="muted">${x.ip_address || ""} · signed in ${fullTime(x.created_at)}</small></span>
      ${x.current ? html`<button type="button" onClick=${() => api.logout()}>Sign out</button>`
        : html`<button type="button" onClick=${() => end(x.jti)}>End session</button>`}</li>`)}</ul>
    <button type="button" class="danger" onClick=${endAll}>Sign out of all sessions</button>`;
}

// QR code as SVG rectangles from the encoder's module matrix (no data: URL, no innerHTML).
function QrCode({ text }) {
  const { data, size } = encode(text, { border: 2, ecc: "M" });
  const rects = [];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (data[y][x]) rects.push(html`<rect x=${x} y=${y} width="1.02" height="1.02"/>`);
  return html`<svg class="qr" viewBox=${`0 0 ${size} ${size}`} width="200" height="200" role="img" aria-label="QR code of the authenticator set-up link">
    <rect width=${size} height=${size} fill="#fff"/><g fill="#000">${rects}</g></svg>`;
}

function TwoFactor() {
  const s = useStore(store);
  const [setup, setSetup] = useState(null);
  const [codes, setCodes] = useState(null);
  const [error, setError] = useState(null);
  const [askPassword, setAskPassword] = useState(false);
  const refreshMe = async () => { s.me = await api.get("/api/v1/users/me"); store.bump(); };
  const start = async () => {
    setError(null);
    try { setSetup(await api.post("/api/v1/auth/2fa/setup")); } catch (e) { setError(e.message); }
  };
  // enabling and disabling need a recent sign-in, or the password (a 403 says so)
  const submit = path => async e => {
    e.preventDefault();
    setError(null);
    const f = new FormData(e.target);
    const body = { code: f.get("code").trim() };
    if (f.get("password")) body.password = f.get("password");
    try {
      const r = await api.post(path, body);
      if (r && Array.isArray(r.recovery_codes)) setCodes(r.recovery_codes);
      setSetup(null); setAskPassword(false); await refreshMe();
      toast(path.endsWith("enable") ? "Two-factor authentication is on" : "Two-factor authentication is off");
    } catch (err) {
      if (err.status === 403 && /password|recent|sign/i.test(err.message)) setAskPassword(true);
      setError(err.message);
    }
  };
  const password = askPassword && html`<${Field} label="Your password" name="password" type="password" autocomplete="current-password" required
    hint="You signed in a while ago: confirm it is you."/>`;
  const err = error && html`<p class="form-error" role="alert">${error}</p>`;
  return html`<h3>Two-factor authentication</h3>
    ${codes && html`<div class="notice" role="status"><p><strong>Recovery codes.</strong> Keep them somewhere safe: each one signs you in once without your authenticator (type it instead of the code).</p>
      <ul class="codes">${codes.map(c => html`<li><code>${c}</code></li>`)}</ul></div>`}
    ${s.me.twofa_enabled ? html`<p class="ok">On: signing in asks for a code from your authenticator app.</p>
      <form onSubmit=${submit("/api/v1/auth/2fa/disable")}><${Field} label="Code to turn it off" name="code" autocomplete="one-time-code" required
        hint="From your authenticator app, or a recovery code."/>${password}${err}
        <button type="submit" class="danger">Turn off</button></form>`
    : setup ? html`<p>Scan the code with an authenticator app, or type the key, then enter the 6-digit code it shows.</p>
      <${QrCode} text=${setup.otpauth_url}/>
      <p>Key: <code class="secret">${setup.secret}</code></p>
      <form onSubmit=${submit("/api/v1/auth/2fa/enable")}><${Field} label="Code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required/>
        ${password}${err}<button class="primary" type="submit">Turn on</button></form>`
    : html`<p>Off. With it on, signing in also needs a code from an app on your phone.</p>${err}<button class="primary" type="button" onClick=${start}>Set up</button>`}`;
}

function Contacts() {
  const [contacts, setContacts] = useState(null);
  const [blocked, setBlocked] = useState(null);
  const [adding, setAdding] = useState([]);
  const [blocking, setBlocking] = useState([]);
  const load = () => {
    api.get("/api/v1/users/contacts").then(r => { rememberUsers(r); setContacts(r); }, fail);
    api.get("/api/v1/users/blocked").then(r => { rememberUsers(r); setBlocked(r); }, fail);
  };
  useEffect(load, []);
  const run = async (fn, ok) => { try { await fn(); toast(ok); load(); } catch (e) { fail(e); } };
  const byEmail = e => {
    e.preventDefault();
    const email = new FormData(e.target).get("email").trim();
    run(() => api.post("/api/v1/users/contacts/by-email", { email }), "Contact added");
    e.target.reset();
  };
  const person = (u, action) => html`<li><${Avatar} name=${u.name} id=${u.id} url=${u.avatar_url} size="32"/>
    <span class="grow">${u.name} <span class="muted">@${u.username}</span></span>${action}</li>`;
  return html`<h3>Contacts</h3>
    ${contacts === null ? html`<${Spinner}/>` : html`<ul class="people">${contacts.map(u => person(u,
      html`<button type="button" onClick=${() => run(() => api.del(`/api/v1/users/${u.id}/contacts`), "Removed")}>Remove</button>`))}
      ${!contacts.length && html`<li class="empty">No contacts yet.</li>`}</ul>`}
    <${UserPicker} chosen=${adding} setChosen=${setAdding} label="Add a contact"/>
    <button type="button" disabled=${!adding.length} onClick=${() => run(async () => { for (const u of adding) await api.post(`/api/v1/users/${u.id}/contacts`); setAdding([]); }, "Added")}>Add</button>
    <form onSubmit=${byEmail} class="inline"><${Field} label="Add by e-mail address" name="email" type="email" required/><button type="submit">Add</button></form>
    <h3>Blocked</h3>
    ${blocked === null ? html`<${Spinner}/>` : html`<ul class="people">${blocked.map(u => person(u,
      html`<button type="button" onClick=${() => run(() => api.del(`/api/v1/users/${u.id}/block`), "Unblocked")}>Unblock</button>`))}
      ${!blocked.length && html`<li class="empty">Nobody is blocked.</li>`}</ul>`}
    <${UserPicker} chosen=${blocking} setChosen=${setBlocking} single label="Block someone"/>
    <button type="button" class="danger" disabled=${!blocking.length} onClick=${() => run(async () => { await api.post(`/api/v1/users/${blocking[0].id}/block`); setBlocking([]); }, "Blocked")}>Block</button>`;
}
