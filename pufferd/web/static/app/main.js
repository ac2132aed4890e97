// Entry point: boot the session from the refresh token, route, lay out the screens.
import { html, render, useStore, useRoute, useEffect, useState, navigate, cls } from "./lib.js";
import * as api from "./api.js";
import { store, startSession, loadServerInfo } from "./state.js";
import { Login, Signup, ForgotPassword, ResetPassword, VerifyEmail } from "./auth.js";
import { Sidebar, JoinPage } from "./chats.js";
import { Conversation } from "./conversation.js";
import { Settings } from "./settings.js";
import { Toasts, Spinner, Icon } from "./ui.js";

const PUBLIC = { "/login": Login, "/signup": Signup, "/forgot-password": ForgotPassword,
                 "/reset-password": ResetPassword, "/verify-email": VerifyEmail };

function Admin() {
  const [mod, setMod] = useState(null);
  useEffect(() => { import("./admin.js").then(setMod, e => setMod({ error: e })); }, []);
  if (!mod) return html`<${Spinner} label="Loading administration"/>`;
  // after an upgrade an open tab's old asset version is gone: a reload fetches the new one
  if (mod.error) return html`<p class="form-error" role="alert">The administration console failed to load.
    <button type="button" onClick=${() => location.reload()}>Reload</button></p>`;
  return html`<${mod.AdminConsole}/>`;
}

function Empty() {
  return html`<section class="empty-pane"><div><${Icon} name="send" size="48"/><h2>Pick a chat</h2>
    <p>Choose a conversation on the left, or start a new one with +.</p></div></section>`;
}

function App() {
  const s = useStore(store);
  const { path, query } = useRoute();
  const Public = PUBLIC[path];
  useEffect(() => {
    const name = s.server ? s.server.name : "pufferd";
    document.title = s.me ? name : `${name} — sign in`;
  }, [s.me, s.server]);
  if (Public) {
    // the mailed links work signed in or not; sign-in and sign-up move on when already signed in
    if (s.me && (path === "/login" || path === "/signup")) { navigate(query.get("next") || "/", { replace: true }); return null; }
    return html`<${Public}/><${Toasts}/>`;
  }
  if (s.booting) return html`<main class="boot" id="main"><${Spinner} label="Starting pufferd"/></main>`;
  if (!s.me && s.unreachable) {
    return html`<main class="boot" id="main"><div class="auth-card" role="alert"><h1>Cannot reach the server</h1>
      <p>pufferd will try again when the network is back.</p>
      <button type="button" class="primary" onClick=${() => startSession()}>Try now</button></div></main>`;
  }
  if (!s.me) {
    const next = path === "/" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
    navigate(`/login${next}`, { replace: true });
    return null;
  }
  if (path === "/join") return html`<${JoinPage}/><${Toasts}/>`;
  const chatMatch = /^\/chat\/(\d+)/.exec(path);
  const chatId = chatMatch ? Number(chatMatch[1]) : null;
  const jump = query.get("m") ? Number(query.get("m")) : null;
  let pane;
  if (path.startsWith("/settings")) pane = html`<${Settings}/>`;
  else if (path.startsWith("/admin")) pane = html`<${Admin}/>`;
  else if (chatId) pane = html`<${Conversation} key=${chatId} chatId=${chatId} jump=${jump}/>`;
  else pane = html`<${Empty}/>`;
  const detail = Boolean(chatId) || path.startsWith("/settings") || path.startsWith("/admin");
  return html`<div class=${cls("layout", detail ? "show-detail" : "show-list")}>
    <a class="skip" href="#main">Skip to the conversation</a>
    <${Sidebar} activeId=${chatId}/>
    <main class="pane" id="main">${pane}</main>
    <${Toasts}/></div>`;
}

async function boot() {
  loadServerInfo();
  const publicPage = Boolean(PUBLIC[location.pathname]);
  if (api.hasSession()) await startSession();
  else { store.state.booting = false; store.bump(); }
  if (publicPage && !store.state.me) { store.state.booting = false; }
}

render(html`<${App}/>`, document.getElementById("app"));
boot();
if ("serviceWorker" in navigator && location.protocol !== "file:") {
  addEventListener("load", () => navigator.serviceWorker.register("/sw.js").catch(() => {}));
}
