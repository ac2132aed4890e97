// Application state and the actions on it: the signed-in user, chats, messages, users, presence,
// typing, notifications. Socket events and HTTP answers both go through the same upserts, keyed
// by id, so an event that arrives twice or overtakes its HTTP answer changes nothing twice.
import * as api from "./api.js";
import { createStore, uid, navigate } from "./lib.js";
import { Realtime } from "./realtime.js";

export const PAGE = 50;
export const store = createStore({
  me: null,            // UserRead
  server: null,        // ServerInfoRead (public), when the server has it
  privileges: [],      // the caller's server privileges (GET /api/v1/system/privileges)
  unreachable: false,  // the session could not start: no network or no server
  booting: true,
  connection: "offline",
  chats: new Map(),    // id -> ChatRead
  chatsLoaded: false,
  archivedLoaded: false,
  messages: new Map(), // chat_id -> ChatMessages
  users: new Map(),    // id -> UserRead | UserSearchRead
  presence: new Map(), // user_id -> {is_online, last_seen_at}
  typing: new Map(),   // chat_id -> Map(user_id -> expires ms)
  notifications: [],
  unseenNotifications: 0,
  members: new Map(),  // chat_id -> ChatMemberRead[]
  muted: new Map(),    // chat_id -> bool
  attachments: new Map(), // message_id -> ChatAttachmentRead[]
  toasts: [],
  openChatId: null,
});
const S = store.state;
let queue = null; // socket events held while a reload over HTTP is in flight

function chatMessages(chatId) {
  let m = S.messages.get(chatId);
  if (!m) {
    m = { ids: [], byId: new Map(), hasOlder: true, loading: false, loaded: false, pending: [],
          peerRead: 0, peerDelivered: 0, attachmentsBefore: undefined, attachmentsDone: false };
    S.messages.set(chatId, m);
  }
  return m;
}
export { chatMessages };

export function toast(text, kind = "info") {
  const id = uid();
  S.toasts = [...S.toasts, { id, text, kind }];
  store.bump();
  setTimeout(() => { S.toasts = S.toasts.filter(t => t.id !== id); store.bump(); }, kind === "error" ? 6000 : 3500);
}
export const fail = e => toast(e && e.message ? e.message : String(e), "error");

// ---- users -------------------------------------------------------------------------------
const userRequests = new Map();
export function user(id) {
  if (id === null || id === undefined) return null;
  const known = S.users.get(id);
  if (known) return known;
  if (!userRequests.has(id)) {
    userRequests.set(id, api.get(`/api/v1/users/${id}`).then(u => { S.users.set(id, u); store.bump(); return u; },
      () => { S.users.set(id, { id, name: "Deleted account", username: null }); store.bump(); }));
  }
  return null;
}
export const userName = id => {
  if (S.me && id === S.me.id) return S.me.name;
  const u = user(id);
  return u ? u.name : "…";
};
export function rememberUsers(list) { for (const u of list || []) if (!S.users.has(u.id)) S.users.set(u.id, u); }

// ---- chats -------------------------------------------------------------------------------
export function upsertChat(chat) {
  const prev = S.chats.get(chat.id);
  S.chats.set(chat.id, { ...prev, ...chat });
  if (chat.counterpart_user_id && chat.counterpart_is_online !== undefined && !S.presence.has(chat.counterpart_user_id)) {
    S.presence.set(chat.counterpart_user_id, { is_online: chat.counterpart_is_online, last_seen_at: chat.counterpart_last_seen_at });
  }
}
export function sortedChats(archived) {
  return [...S.chats.values()].filter(c => Boolean(c.archived) === archived && !c.hidden).sort((a, b) =>
    (b.pinned - a.pinned) || ((b.last_message_created_at || b.created_at) > (a.last_message_created_at || a.created_at) ? 1 :
      (b.last_message_created_at || b.created_at) < (a.last_message_created_at || a.created_at) ? -1 : b.id - a.id));
}
export async function loadChats(archived = false) {
  let before;
  for (let page = 0; page < 20; page++) { // up to 1,000 chats; later ones come with their events
    const list = await api.get(`/api/v1/chats${api.qs({ limit: 50, archived: archived || undefined, before_id: before })}`);
    for (const c of list) upsertChat(c);
    if (list.length < 50) break;
    before = list[list.length - 1].id;
  }
  if (archived) S.archivedLoaded = true; else S.chatsLoaded = true;
  store.bump();
}
export async function chatAction(chatId, action) {
  try { upsertChat(await api.post(`/api/v1/chats/${chatId}/${action}`)); store.bump(); } catch (e) { fail(e); }
}
export async function setMuted(chatId, muted) {
  try {
    const r = await api.put(`/api/v1/chats/${chatId}/notifications`, { muted });
    S.muted.set(chatId, r.muted); store.bump();
  } catch (e) { fail(e); }
}
export async function loadMuted(chatId) {
  if (S.muted.has(chatId)) return;
  try { S.muted.set(chatId, (await api.get(`/api/v1/chats/${chatId}/notifications`)).muted); store.bump(); } catch { /* shown unknown */ }
}
export async function hideChat(chatId) {
  try {
    await api.del(`/api/v1/chats/${chatId}?for_all=false`);
    S.chats.delete(chatId); S.messages.delete(chatId); store.bump();
    if (S.openChatId === chatId) navigate("/");
  } catch (e) { fail(e); }
}
export async function openChatById(chatId) {
  if (!S.chats.has(chatId)) {
    try { upsertChat(await api.get(`/api/v1/chats/${chatId}`)); store.bump(); } catch (e) { fail(e); return null; }
  }
  return S.chats.get(chatId);
}
// Read a chat again (a few events change what ChatRead shows without carrying it), at most once
// per chat in flight.
const chatRefreshes = new Map();
export function refreshChat(chatId) {
  if (chatRefreshes.has(chatId) || !S.chats.has(chatId)) return;
  chatRefreshes.set(chatId, api.get(`/api/v1/chats/${chatId}`).then(c => {
    const { members, ...chat } = c;
    S.members.set(chatId, members);
    upsertChat(chat); store.bump();
  }, () => {}).finally(() => chatRefreshes.delete(chatId)));
}
const memberLoads = new Map();
export function loadMembers(chatId, force = false) {
  if (S.members.has(chatId) && !force) return Promise.resolve(S.members.get(chatId));
  if (!memberLoads.has(chatId)) {
    memberLoads.set(chatId, api.get(`/api/v1/chats/${chatId}`).then(detail => {
      const { members, ...chat } = detail;
      upsertChat(chat);
      S.members.set(chatId, members);
      store.bump();
      return members;
    }).finally(() => memberLoads.delete(chatId)));
  }
  return memberLoads.get(chatId);
}

// ---- messages ----------------------------------------------------------------------------
function insertId(ids, id) {
  let lo = 0, hi = ids.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (ids[mid] < id) lo = mid + 1; else hi = mid; }
  if (ids[lo] !== id) ids.splice(lo, 0, id);
}
export function upsertMessage(msg) {
  const m = chatMessages(msg.chat_id);
  const prev = m.byId.get(msg.id);
  m.byId.set(msg.id, prev ? { ...prev, ...msg } : msg);
  if (!prev) insertId(m.ids, msg.id);
  if (msg.client_message_id) m.pending = m.pending.filter(p => p.client_message_id !== msg.client_message_id);
}
function removeMessage(chatId, id) {
  const m = S.messages.get(chatId);
  if (!m || !m.byId.has(id)) return;
  m.byId.delete(id);
  const i = m.ids.indexOf(id);
  if (i >= 0) m.ids.splice(i, 1);
}

export async function loadNewest(chatId) {
  const m = chatMessages(chatId);
  if (m.loading) return;
  m.loading = true;
  // messages announced while the page is on its way may be newer than it: kept and applied after
  if (!m.loaded) m.arrived = [];
  try {
    const page = await api.get(`/api/v1/messages/${chatId}?limit=${PAGE}`);
    if (!m.loaded) { m.ids = []; m.byId = new Map(); }
    for (const msg of page) upsertMessage(msg);
    for (const msg of m.arrived || []) upsertMessage(msg);
    m.arrived = null;
    if (!m.loaded) m.hasOlder = page.length === PAGE;
    m.loaded = true;
  } finally { m.loading = false; store.bump(true); }
}
export async function loadOlder(chatId, limit = PAGE) {
  const m = chatMessages(chatId);
  if (m.loading || !m.hasOlder || !m.ids.length) return false;
  m.loading = true;
  try {
    const page = await api.get(`/api/v1/messages/${chatId}?limit=${limit}&before_id=${m.ids[0]}`);
    for (const msg of page) upsertMessage(msg);
    m.hasOlder = page.length === limit;
    return page.length > 0;
  } finally { m.loading = false; store.bump(); }
}
// Load older pages until MESSAGE_ID is held (a search result, a reply's original).
export async function loadUntil(chatId, messageId) {
  const m = chatMessages(chatId);
  if (!m.loaded) await loadNewest(chatId);
  for (let i = 0; i < 200 && !m.byId.has(messageId) && m.hasOlder && m.ids[0] > messageId; i++) {
    while (m.loading) await new Promise(r => setTimeout(r, 20));
    await loadOlder(chatId, 100);
  }
  return m.byId.has(messageId);
}

// Send: shown at once as pending; the POST carries a client_message_id, so a retry after a lost
// answer (offline, a reload of the socket) never stores the message twice.
export async function sendMessage(chatId, { text, replyTo, file, type }) {
  const m = chatMessages(chatId);
  const pending = { client_message_id: uid(), chat_id: chatId, text, reply_to_message_id: replyTo || null,
                    type: type || "text", file, progress: file ? 0 : null, failed: false,
                    preview: file && /^(image|video)\//.test(file.type) ? URL.createObjectURL(file) : null,
                    created_at: new Date().toISOString() };
  m.pending = [...m.pending, pending];
  m.stick = true;
  store.bump();
  return deliver(pending);
}
async function deliver(p) {
  const m = chatMessages(p.chat_id);
  p.failed = false; store.bump();
  try {
    if (p.file && !p.grant) {
      p.grant = await api.uploadFile(p.file, f => { p.progress = f; store.bump(); });
    }
    if (!p.sent) {
      p.sent = await api.post("/api/v1/messages", {
        chat_id: p.chat_id, type: p.type, text: p.text || null, client_message_id: p.client_message_id,
        reply_to_message_id: p.reply_to_message_id,
      });
    }
    if (p.grant && !p.attached) {
      const att = await api.post("/api/v1/media/attachments", {
        message_id: p.sent.id, file_url: p.grant.file_url, file_type: p.file.type, file_size: p.file.size,
      });
      p.attached = true;
      S.attachments.set(p.sent.id, [{ ...att, message_type: p.type, sender_id: S.me.id, local: p.preview }]);
    }
    upsertMessage(p.sent);
    m.pending = m.pending.filter(x => x !== p);
  } catch (e) {
    if (e.status && e.status !== 0 && e.status !== 429 && e.status < 500) {
      m.pending = m.pending.filter(x => x !== p);
      fail(e);
    } else {
      p.failed = true;
      if (e.status === 429) toast(e.message, "error");
    }
  }
  store.bump();
}
export const retryPending = p => deliver(p);
export function discardPending(p) {
  const m = chatMessages(p.chat_id);
  m.pending = m.pending.filter(x => x !== p); store.bump();
}
function retryFailed() {
  for (const m of S.messages.values()) for (const p of m.pending) if (p.failed) deliver(p);
}

export async function editMessage(id, text) {
  try { upsertMessage(await api.put(`/api/v1/messages/${id}`, { text })); store.bump(); } catch (e) { fail(e); }
}
export async function deleteMessage(msg, forAll) {
  try {
    await api.del(`/api/v1/messages/${msg.id}?for_all=${forAll}`);
    removeMessage(msg.chat_id, msg.id); store.bump();
  } catch (e) { fail(e); }
}
export async function toggleReaction(msg, emoji) {
  try {
    const reactions = await api.post(`/api/v1/messages/${msg.id}/reactions/toggle`, { emoji });
    upsertMessage({ ...msg, reactions }); store.bump();
  } catch (e) { fail(e); }
}
export async function loadReactions(msg) {
  try { upsertMessage({ ...S.messages.get(msg.chat_id).byId.get(msg.id), reactions: await api.get(`/api/v1/messages/${msg.id}/reactions`) }); store.bump(); } catch { /* none shown */ }
}
export async function forward(msg, chatIds, includeAuthor = true) {
  try {
    const copies = await api.post(`/api/v1/messages/${msg.id}/forward-bulk`, { target_chat_ids: chatIds, include_author: includeAuthor });
    for (const c of copies) upsertMessage(c);
    toast(`Forwarded to ${chatIds.length} chat${chatIds.length > 1 ? "s" : ""}`);
    store.bump();
  } catch (e) { fail(e); }
}

// read cursor: the newest message of others that the user has seen in an open, visible chat
const readSent = new Map();
export async function markRead(chatId) {
  const m = S.messages.get(chatId);
  if (!m || !m.ids.length || document.hidden) return;
  let newest = 0;
  for (let i = m.ids.length - 1; i >= 0; i--) {
    const msg = m.byId.get(m.ids[i]);
    if (msg.sender_id !== S.me.id) { newest = msg.id; break; }
  }
  const chat = S.chats.get(chatId);
  if (!newest || (readSent.get(chatId) || 0) >= newest) {
    if (chat && chat.unread_count) { chat.unread_count = 0; chat.unread_mentions_count = 0; store.bump(); }
    return;
  }
  readSent.set(chatId, newest);
  if (chat) { chat.unread_count = 0; chat.unread_mentions_count = 0; store.bump(); }
  try { await api.post("/api/v1/messages/status", { chat_id: chatId, message_id: newest, status: "message_read" }); }
  catch { readSent.delete(chatId); }
}

// Attachments: MessageRead does not carry them; the chat's attachment list (newest first) is
// read page by page until it reaches the oldest loaded message that has files.
const attachmentLoads = new Map();
export function attachmentsFor(msg) {
  const known = S.attachments.get(msg.id);
  if (known) return known;
  if (!attachmentLoads.has(msg.chat_id)) {
    attachmentLoads.set(msg.chat_id, loadAttachments(msg.chat_id, msg.id).finally(() => attachmentLoads.delete(msg.chat_id)));
  }
  return null;
}
async function loadAttachments(chatId, messageId, tries = 0) {
  const m = chatMessages(chatId);
  try {
    // the newest page again (a file attached after its message was announced), then older ones
    let before;
    for (let i = 0; i < 50; i++) {
      const page = await api.get(`/api/v1/media/chats/${chatId}/attachments${api.qs({ limit: 100, before_id: before })}`);
      for (const a of page) {
        const list = S.attachments.get(a.message_id) || [];
        if (!list.some(x => x.id === a.id)) S.attachments.set(a.message_id, [...list, a].sort((x, y) => x.id - y.id));
      }
      if (page.length < 100 || page[page.length - 1].message_id < messageId) break;
      before = page[page.length - 1].id;
    }
  } catch { /* retried below */ }
  store.bump();
  if (!S.attachments.has(messageId) && m.byId.has(messageId) && tries < 4) {
    await new Promise(r => setTimeout(r, 500 * 2 ** tries));
    return loadAttachments(chatId, messageId, tries + 1);
  }
  if (!S.attachments.has(messageId)) S.attachments.set(messageId, []);
}

// ---- typing and presence -----------------------------------------------------------------
export function typingIn(chatId) {
  const t = S.typing.get(chatId);
  if (!t) return [];
  const now = Date.now();
  return [...t.entries()].filter(([, until]) => until > now).map(([id]) => id);
}
export function isOnline(userId) {
  const p = S.presence.get(userId);
  return Boolean(p && p.is_online);
}

// ---- notifications -----------------------------------------------------------------------
export async function loadNotifications() {
  try { S.notifications = await api.get("/api/v1/notifications?limit=50"); store.bump(); } catch (e) { fail(e); }
}
function desktopNotify(n) {
  if (!document.hidden || typeof Notification === "undefined" || Notification.permission !== "granted") return;
  if (n.event_type !== "mention") return;
  let payload = {};
  try { payload = JSON.parse(n.payload); } catch { /* shown generic */ }
  const chat = S.chats.get(payload.chat_id);
  const note = new Notification(chat ? chat.display_title : "pufferd", {
    body: `${userName(payload.sender_id)} mentioned you`, tag: `mention-${payload.message_id}` });
  note.onclick = () => { focus(); navigate(`/chat/${payload.chat_id}?m=${payload.message_id}`); note.close(); };
}

// ---- socket events -----------------------------------------------------------------------
function apply(type, d) {
  switch (type) {
    case "message_created": {
      const m = S.messages.get(d.chat_id);
      if (m && m.loaded) upsertMessage(d);
      else if (m && m.arrived) m.arrived.push(d);
      if (d.sender_id !== S.me.id) {
        realtime.ack(d.chat_id, d.id);
        const t = S.typing.get(d.chat_id);
        if (t) t.delete(d.sender_id);
      }
      const chat = S.chats.get(d.chat_id);
      if (chat) {
        Object.assign(chat, { last_message_text: d.text, last_message_type: d.type, last_message_created_at: d.created_at, hidden: false });
        if (d.sender_id !== S.me.id && !(S.openChatId === d.chat_id && !document.hidden)) chat.unread_count = (chat.unread_count || 0) + 1;
      } else {
        openChatById(d.chat_id);
      }
      if (S.openChatId === d.chat_id && d.sender_id !== S.me.id) queueMicrotask(() => markRead(d.chat_id));
      break;
    }
    case "message_updated": {
      const m = S.messages.get(d.chat_id);
      if (m && m.byId.has(d.id)) upsertMessage(d);
      else if (m && m.arrived) m.arrived.push(d);
      break;
    }
    case "message_deleted":
      removeMessage(d.chat_id, d.message_id); S.attachments.delete(d.message_id);
      refreshChat(d.chat_id); // its last message may have been this one
      break;
    case "message_status": {
      if (d.user_id === S.me.id) {
        // read on another device: the count comes from the server
        const chat = S.chats.get(d.chat_id);
        if (chat && chat.unread_count) refreshChat(d.chat_id);
        break;
      }
      const m = chatMessages(d.chat_id);
      m.peerRead = Math.max(m.peerRead, d.last_read_message_id || 0);
      m.peerDelivered = Math.max(m.peerDelivered, d.last_delivered_message_id || 0, m.peerRead);
      break;
    }
    case "reactions_updated": {
      const m = S.messages.get(d.chat_id);
      const msg = m && m.byId.get(d.message_id);
      if (!msg) break;
      const mine = new Set((msg.reactions || []).filter(r => r.reacted).map(r => r.emoji));
      if (d.user_id === S.me.id) { if (d.reacted) mine.add(d.emoji); else mine.delete(d.emoji); }
      upsertMessage({ ...msg, reactions: d.reactions.map(r => ({ ...r, reacted: mine.has(r.emoji) })) });
      break;
    }
    case "typing": {
      if (d.user_id === S.me.id) break;
      if (!S.typing.has(d.chat_id)) S.typing.set(d.chat_id, new Map());
      const until = Math.min(new Date(d.expires_at).getTime(), Date.now() + 8000);
      S.typing.get(d.chat_id).set(d.user_id, until);
      setTimeout(() => store.bump(), until - Date.now() + 50);
      break;
    }
    case "presence": S.presence.set(d.user_id, { is_online: d.is_online, last_seen_at: d.last_seen_at }); break;
    case "chat_updated": upsertChat({ ...d, hidden: false }); S.members.delete(d.id); break;
    case "chat_removed":
      S.chats.delete(d.chat_id); S.messages.delete(d.chat_id);
      if (S.openChatId === d.chat_id) navigate("/");
      break;
    case "notification":
      S.notifications = [d, ...S.notifications].slice(0, 200);
      S.unseenNotifications++;
      desktopNotify(d);
      break;
    default: return;
  }
  store.bump();
}

function onEvent(type, data) {
  if (queue) queue.push([type, data]);
  else apply(type, data);
}

// Reload what the socket can no longer replay: the chat lists and the open chat's newest page.
// Events that arrive meanwhile are applied after it, so none is lost and none applies twice.
async function reload(isResync) {
  queue = [];
  try {
    if (isResync) {
      for (const [id, m] of S.messages) if (id !== S.openChatId) S.messages.delete(id); else m.loaded = false;
      S.chatsLoaded = false;
    }
    await loadChats(false);
    if (S.archivedLoaded) await loadChats(true);
    if (S.openChatId && isResync) await loadNewest(S.openChatId);
  } catch (e) { fail(e); } finally {
    const held = queue; queue = null;
    for (const [t, d] of held) apply(t, d);
    store.bump();
    retryFailed();
  }
}

export const realtime = new Realtime({
  onEvent,
  onResync: reload,
  onState: s => { S.connection = s; store.bump(); if (s === "online") retryFailed(); },
  onRevoked: () => { api.signOutLocally(); toast("You were signed out on all devices.", "error"); },
});

// ---- session -----------------------------------------------------------------------------
export async function loadServerInfo() {
  try { S.server = await api.get("/api/v1/system/server-info", { auth: false }); store.bump(); } catch { /* an older server */ }
  if (S.server) document.title = S.me ? S.server.name : `${S.server.name} — sign in`;
}
async function loadPrivileges() {
  try { S.privileges = (await api.get("/api/v1/system/privileges")).privileges; store.bump(); } catch { S.privileges = []; }
}
export async function startSession() {
  S.booting = true; store.bump();
  try {
    S.me = await api.get("/api/v1/users/me");
    S.users.set(S.me.id, S.me);
    realtime.start();
    loadPrivileges();
    S.unreachable = false;
  } catch (e) {
    S.me = null;
    if (!(e instanceof api.ApiError) || e.status >= 500) {
      // offline, or the server is restarting: the session is kept; try again when it may work
      S.unreachable = true;
      addEventListener("online", startSession, { once: true });
      setTimeout(() => { if (S.unreachable) startSession(); }, 10_000);
    } else if (e.status !== 401) fail(e);
  } finally { S.booting = false; store.bump(); }
}
export function resetSession() {
  realtime.stop();
  realtime.seq = null;
  for (const k of ["chats", "messages", "users", "presence", "typing", "members", "muted", "attachments"]) S[k] = new Map();
  Object.assign(S, { me: null, privileges: [], chatsLoaded: false, archivedLoaded: false, notifications: [], unseenNotifications: 0, openChatId: null });
  store.bump();
}
api.onSignedOut(() => { resetSession(); navigate(`/login`, { replace: true }); });
