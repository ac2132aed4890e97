// The chat list, global search, new chats, discovery and the invite page.
import { html, useState, useEffect, useStore, navigate, link, shortTime, cls, highlight, useRoute } from "./lib.js";
import * as api from "./api.js";
import { store, sortedChats, chatAction, setMuted, loadMuted, hideChat, upsertChat, loadChats, isOnline, fail,
         rememberUsers, userName, typingIn, loadNotifications, chatMessages, loadNewest } from "./state.js";
import { Avatar, Icon, Menu, Modal, Field, Spinner } from "./ui.js";

const PREVIEW = { image: "🖼 Photo", video: "🎞 Video", audio: "🎵 Audio", voice: "🎤 Voice message", file: "📄 File", circle_video: "⭕ Video message" };
export const previewText = c => (c.last_message_type && c.last_message_type !== "text" && !c.last_message_text
  ? PREVIEW[c.last_message_type] : c.last_message_text) || "";

// the newest page starts loading when the pointer goes down, before the click completes
function prefetch(chatId) {
  const m = chatMessages(chatId);
  if (!m.loaded && !m.loading) loadNewest(chatId).catch(() => {});
}

function ChatItem({ chat, active }) {
  const s = store.state;
  const online = chat.type === "private" && chat.counterpart_user_id && isOnline(chat.counterpart_user_id);
  const typing = typingIn(chat.id);
  const muted = s.muted.get(chat.id);
  const unread = chat.unread_count || 0;
  // read after the title by screen readers; the badges themselves are hidden from them
  const extra = [unread ? `${unread} unread` : "", chat.unread_mentions_count ? "mentioned" : "",
    online ? "online" : "", chat.pinned ? "pinned" : "", muted ? "muted" : ""].filter(Boolean).map(x => `, ${x}`).join("");
  return html`<li class=${cls("chat-item", active && "active")}>
    <a href=${`/chat/${chat.id}`} onClick=${link} aria-current=${active ? "page" : undefined} onPointerDown=${() => prefetch(chat.id)}>
      <${Avatar} name=${chat.display_title} id=${chat.id} url=${chat.avatar_url || chat.counterpart_avatar_url} online=${online}/>
      <span class="chat-main">
        <span class="chat-top"><span class="chat-title">${chat.is_saved ? "Saved messages" : chat.display_title}<span class="visually-hidden">${extra}</span></span>
          ${chat.pinned ? html`<${Icon} name="pin" size="14"/>` : null}
          <time class="chat-time">${shortTime(chat.last_message_created_at)}</time></span>
        <span class="chat-bottom"><span class="chat-last">${typing.length ? html`<em>typing…</em>` : previewText(chat)}</span>
          ${chat.unread_mentions_count ? html`<span class="badge mention" aria-hidden="true">@</span>` : null}
          ${unread ? html`<span class=${cls("badge", muted && "muted")} aria-hidden="true">${unread > 999 ? "999+" : unread}</span>` : null}
        </span></span></a>
    <${Menu} label=${`Actions for ${chat.display_title}`} className="chat-menu" items=${[
      { label: chat.pinned ? "Unpin" : "Pin to top", action: () => chatAction(chat.id, chat.pinned ? "unpin-chat" : "pin-chat") },
      { label: chat.archived ? "Unarchive" : "Archive", action: () => chatAction(chat.id, chat.archived ? "unarchive" : "archive") },
      muted === undefined ? { label: "Mute…", action: async () => { await loadMuted(chat.id); setMuted(chat.id, !store.state.muted.get(chat.id)); } }
        : { label: muted ? "Unmute" : "Mute", action: () => setMuted(chat.id, !muted) },
      { label: "Hide (delete for me)", danger: true, action: () => confirm(`Hide “${chat.display_title}” and clear its history for you?`) && hideChat(chat.id) },
    ]}/></li>`;
}

export function Sidebar({ activeId }) {
  const s = useStore(store);
  const [archived, setArchived] = useState(false);
  const [query, setQuery] = useState("");
  const [modal, setModal] = useState(null);
  useEffect(() => { if (archived && !s.archivedLoaded) loadChats(true).catch(fail); }, [archived]);
  const chats = sortedChats(archived);
  const openSaved = async () => {
    try { const c = await api.get("/api/v1/chats/saved"); upsertChat(c); store.bump(); navigate(`/chat/${c.id}`); } catch (e) { fail(e); }
  };
  return html`<nav class="sidebar" aria-label="Chats">
    <header class="side-head">
      <${Menu} label="Main menu" icon="settings" items=${[
        { label: "Settings", action: () => navigate("/settings") },
        { label: "Saved messages", action: openSaved },
        { label: "Notifications", action: () => setModal("notifications") },
        s.privileges.length > 0 && { label: "Administration", action: () => navigate("/admin") },
        { label: "Sign out", action: () => api.logout() },
      ]}/>
      <h1 class="side-title">${s.server ? s.server.name : "pufferd"}</h1>
      <span class=${cls("conn", s.connection)} role="status" aria-live="polite">${s.connection === "online" ? "" : s.connection === "connecting" ? "Connecting…" : "Offline"}</span>
      <button class="icon-btn bell" type="button" onClick=${() => setModal("notifications")}>
        <${Icon} name="bell" label=${`Notifications${s.unseenNotifications ? `, ${s.unseenNotifications} new` : ""}`}/>
        ${s.unseenNotifications ? html`<span class="badge small" aria-hidden="true">${s.unseenNotifications}</span>` : null}</button>
      <${Menu} label="New chat" icon="plus" items=${[
        { label: "New private chat", action: () => setModal("private") },
        { label: "New group", action: () => setModal("group") },
        { label: "New channel", action: () => setModal("channel") },
        { label: "Discover public chats", action: () => setModal("discover") },
      ]}/>
    </header>
    <div class="side-search" role="search">
      <label class="visually-hidden" for="global-search">Search messages, chats and people</label>
      <input id="global-search" type="search" placeholder="Search" value=${query} onInput=${e => setQuery(e.target.value)}/>
    </div>
    ${query.trim().length >= 2 ? html`<${GlobalSearch} query=${query.trim()} onDone=${() => setQuery("")}/>` : html`
      <div class="tabs" role="tablist" aria-label="Chat folders">
        <button role="tab" type="button" aria-selected=${!archived} onClick=${() => setArchived(false)}>Chats</button>
        <button role="tab" type="button" aria-selected=${archived} onClick=${() => setArchived(true)}>Archived</button>
      </div>
      ${(archived ? s.archivedLoaded : s.chatsLoaded) ? html`<ul class="chat-list" aria-label=${archived ? "Archived chats" : "Chats"}>
        ${chats.map(c => html`<${ChatItem} key=${c.id} chat=${c} active=${c.id === activeId}/>`)}
        ${!chats.length && html`<li class="empty">${archived ? "No archived chats." : "No chats yet: start one with +."}</li>`}
      </ul>` : html`<${Spinner} label="Loading chats"/>`}`}
    ${modal === "notifications" && html`<${NotificationsPanel} onClose=${() => setModal(null)}/>`}
    ${["private", "group", "channel"].includes(modal) && html`<${NewChat} type=${modal} onClose=${() => setModal(null)}/>`}
    ${modal === "discover" && html`<${Discover} onClose=${() => setModal(null)}/>`}
  </nav>`;
}

function GlobalSearch({ query, onDone }) {
  const [res, setRes] = useState(null);
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => api.get(`/api/v1/search${api.qs({ query, users_limit: 5, chats_limit: 5, messages_limit: 20 })}`)
      .then(r => { if (live) { rememberUsers(r.users); setRes(r); } }, e => live && fail(e)), 200);
    return () => { live = false; clearTimeout(t); };
  }, [query]);
  if (!res) return html`<${Spinner} label="Searching"/>`;
  const startPrivate = async u => {
    try { const c = await api.post("/api/v1/chats", { type: "private", member_ids: [u.id] }); upsertChat(c); store.bump(); onDone(); navigate(`/chat/${c.id}`); }
    catch (e) { fail(e); }
  };
  const chats = store.state.chats;
  return html`<div class="search-results" aria-live="polite">
    ${!res.users.length && !res.chats.length && !res.messages.length && html`<p class="empty">Nothing found.</p>`}
    ${res.chats.length > 0 && html`<h2>Chats</h2><ul>${res.chats.map(c => html`<li><a href=${`/chat/${c.id}`} onClick=${e => { link(e); onDone(); }}>
      <${Avatar} name=${c.display_title} id=${c.id} url=${c.avatar_url} size="32"/> ${highlight(c.display_title, query)}</a></li>`)}</ul>`}
    ${res.users.length > 0 && html`<h2>People</h2><ul>${res.users.map(u => html`<li><button type="button" class="linkish" onClick=${() => startPrivate(u)}>
      <${Avatar} name=${u.name} id=${u.id} url=${u.avatar_url} size="32"/> ${highlight(u.name, query)} <span class="muted">@${u.username}</span></button></li>`)}</ul>`}
    ${res.messages.length > 0 && html`<h2>Messages</h2><ul class="found">${res.messages.map(m => html`<li>
      <a class="search-hit" href=${`/chat/${m.chat_id}?m=${m.id}`} onClick=${link}>
        <span class="hit-chat">${chats.get(m.chat_id) ? chats.get(m.chat_id).display_title : ""} · ${userName(m.sender_id)} · ${shortTime(m.created_at)}</span>
        <span class="hit-text">${highlight(m.text, query)}</span></a></li>`)}</ul>`}
  </div>`;
}

// People picker: search as you type, chosen users as removable chips.
export function UserPicker({ chosen, setChosen, single, label = "Find people" }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState([]);
  useEffect(() => {
    if (q.replace(/^@/, "").trim().length < 2) { setFound([]); return; }
    const t = setTimeout(() => api.get(`/api/v1/users/search${api.qs({ query: q.trim(), limit: 8 })}`).then(r => { rememberUsers(r); setFound(r); }, fail), 200);
    return () => clearTimeout(t);
  }, [q]);
  const pick = u => { setChosen(single ? [u] : [...chosen.filter(c => c.id !== u.id), u]); setQ(""); };
  return html`<div class="picker">
    <${Field} label=${label} value=${q} onInput=${e => setQ(e.target.value)} placeholder="Name or @username" autocomplete="off"/>
    ${chosen.length > 0 && html`<ul class="chips" aria-label="Chosen">${chosen.map(u => html`<li>${u.name}
      <button type="button" class="icon-btn" onClick=${() => setChosen(chosen.filter(c => c.id !== u.id))}><${Icon} name="close" size="14" label=${`Remove ${u.name}`}/></button></li>`)}</ul>`}
    <ul class="found-users">${found.map(u => html`<li><button type="button" class="linkish" onClick=${() => pick(u)}>
      <${Avatar} name=${u.name} id=${u.id} url=${u.avatar_url} size="32"/> ${u.name} <span class="muted">@${u.username}</span></button></li>`)}</ul></div>`;
}

function NewChat({ type, onClose }) {
  const [chosen, setChosen] = useState([]);
  const [isPublic, setPublic] = useState(false);
  const [error, setError] = useState(null);
  const submit = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { type, member_ids: chosen.map(u => u.id) };
    if (type !== "private") {
      body.title = f.get("title").trim();
      body.description = f.get("description").trim() || null;
      body.is_public = isPublic;
      if (isPublic) body.handle = f.get("handle").trim();
    } else if (chosen.length !== 1) { setError("Choose one person."); return; }
    try { const c = await api.post("/api/v1/chats", body); upsertChat(c); store.bump(); onClose(); navigate(`/chat/${c.id}`); }
    catch (err) { setError(err.message); }
  };
  const title = { private: "New private chat", group: "New group", channel: "New channel" }[type];
  return html`<${Modal} title=${title} onClose=${onClose}><form onSubmit=${submit}>
    ${type !== "private" && html`<${Field} label="Title" name="title" required maxlength="128"/>
      <${Field} label="Description" name="description" maxlength="500"/>
      <label class="check"><input type="checkbox" checked=${isPublic} onChange=${e => setPublic(e.target.checked)}/> Public (anyone can find and join it)</label>
      ${isPublic && html`<${Field} label="Handle" name="handle" required pattern="[A-Za-z][A-Za-z0-9_]{4,31}" hint="5–32 letters, digits or _."/>`}`}
    <${UserPicker} chosen=${chosen} setChosen=${setChosen} single=${type === "private"} label=${type === "private" ? "Person" : "Add members"}/>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    <button class="primary">Create</button></form></${Modal}>`;
}

function Discover({ onClose }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState(null);
  useEffect(() => {
    const t = setTimeout(() => api.get(`/api/v1/chats/discover${api.qs({ query: q.trim(), limit: 30 })}`).then(setFound, fail), 200);
    return () => clearTimeout(t);
  }, [q]);
  const join = async c => {
    try { const chat = await api.post(`/api/v1/chats/${c.id}/join`); upsertChat(chat); store.bump(); onClose(); navigate(`/chat/${chat.id}`); }
    catch (e) { fail(e); }
  };
  return html`<${Modal} title="Discover public chats" onClose=${onClose}>
    <${Field} label="Search public groups and channels" type="search" value=${q} onInput=${e => setQ(e.target.value)}/>
    ${found === null ? html`<${Spinner}/>` : html`<ul class="discover">${found.map(c => html`<li>
      <${Avatar} name=${c.title} id=${c.id} url=${c.avatar_url} size="32"/>
      <span><strong>${c.title}</strong> <span class="muted">@${c.handle} · ${c.type} · ${c.members_count} members</span>
        ${c.description && html`<br/><small>${c.description}</small>`}</span>
      ${store.state.chats.has(c.id) ? html`<a href=${`/chat/${c.id}`} onClick=${e => { link(e); onClose(); }}>Open</a>`
        : html`<button type="button" onClick=${() => join(c)}>Join</button>`}</li>`)}
      ${!found.length && html`<li class="empty">No public chats found.</li>`}</ul>`}</${Modal}>`;
}

const NOTE_TEXT = { mention: "mentioned you", message_created: "sent a message", added_to_chat: "added you to a chat" };
function NotificationsPanel({ onClose }) {
  const s = useStore(store);
  useEffect(() => { loadNotifications(); s.unseenNotifications = 0; store.bump(); }, []);
  const ask = () => Notification.requestPermission().then(() => store.bump());
  return html`<${Modal} title="Notifications" onClose=${onClose}>
    ${typeof Notification !== "undefined" && Notification.permission === "default" &&
      html`<p><button type="button" onClick=${ask}>Show desktop notifications for mentions</button></p>`}
    <ul class="notes">${s.notifications.map(n => {
      let p = {};
      try { p = JSON.parse(n.payload); } catch { /* generic */ }
      const chat = s.chats.get(p.chat_id);
      const href = p.message_id ? `/chat/${p.chat_id}?m=${p.message_id}` : `/chat/${p.chat_id}`;
      return html`<li key=${n.id}><a href=${href} onClick=${e => { link(e); onClose(); }}>
        <strong>${p.sender_id ? userName(p.sender_id) : "Someone"}</strong> ${NOTE_TEXT[n.event_type] || n.event_type}
        ${chat ? html` in <em>${chat.display_title}</em>` : ""} <time>${shortTime(n.created_at)}</time></a></li>`;
    })}${!s.notifications.length && html`<li class="empty">No notifications.</li>`}</ul></${Modal}>`;
}

export function JoinPage() {
  const { query } = useRoute();
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const join = async () => {
    setBusy(true);
    try {
      const chat = await api.post("/api/v1/chats/join-by-invite", { token: query.get("token") || "" });
      upsertChat(chat); store.bump(); navigate(`/chat/${chat.id}`, { replace: true });
    } catch (e) { setError(e.message); setBusy(false); }
  };
  return html`<main class="auth" id="main"><div class="auth-card"><h1>Join a chat</h1>
    <p>You were invited to a chat on this server.</p>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    <button class="primary" type="button" onClick=${join} disabled=${busy}>Join the chat</button>
    <p class="alt"><a href="/" onClick=${link}>Not now</a></p></div></main>`;
}
