// One conversation: a windowed message list paged backwards on scroll, live updates, the composer.
import { html, useState, useEffect, useRef, useLayoutEffect, useStore, navigate, link, clock, fullTime,
         lastSeen, fileSize, cls, highlight, Fragment } from "./lib.js";
import * as api from "./api.js";
import { store, chatMessages, loadNewest, loadOlder, loadUntil, sendMessage, retryPending, discardPending, editMessage,
         deleteMessage, toggleReaction, loadReactions, forward, markRead, attachmentsFor, typingIn, isOnline, userName, user,
         loadMembers, openChatById, realtime, fail, toast, sortedChats, upsertChat } from "./state.js";
import { Avatar, Icon, Menu, Modal, Spinner } from "./ui.js";
import { ChatInfo } from "./chatinfo.js";
import { VoiceButton } from "./voice.js";

const WINDOW = 120;   // messages in the DOM at most
const FIRST = 30;     // messages rendered when a chat opens (a tall screen); more as you scroll
const STEP = 40;      // moved per scroll step
const EDGE = 600;     // px from an edge that loads or slides the window
const QUICK = ["👍", "❤️", "😂", "😮", "😢", "🎉", "🙏", "👎"];
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });

const drafts = new Map();
const draftKey = id => `pufferd.draft.${store.state.me && store.state.me.id}.${id}`;
const getDraft = id => drafts.get(id) ?? sessionStorage.getItem(draftKey(id)) ?? "";
function setDraft(id, text) {
  drafts.set(id, text);
  if (text) sessionStorage.setItem(draftKey(id), text); else sessionStorage.removeItem(draftKey(id));
}

function statusOf(msg, m) {
  if (msg.delivery_status === "read" || m.peerRead >= msg.id) return "read";
  if (msg.delivery_status === "delivered" || m.peerDelivered >= msg.id) return "delivered";
  return "sent";
}

// Message text: mentions and links stand out; everything else is plain text (no innerHTML).
const TOKEN = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])|(@[A-Za-z][A-Za-z0-9_]{2,31})/g;
function RichText({ text, query }) {
  if (!text) return null;
  const out = [];
  let last = 0, m;
  TOKEN.lastIndex = 0;
  while ((m = TOKEN.exec(text))) {
    if (m.index > last) out.push(highlight(text.slice(last, m.index), query));
    if (m[1]) out.push(html`<a href=${m[1]} target="_blank" rel="noopener noreferrer">${m[1]}</a>`);
    else out.push(html`<span class=${cls("mention", store.state.me && m[2].slice(1).toLowerCase() === store.state.me.username.toLowerCase() && "me")}>${m[2]}</span>`);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(highlight(text.slice(last), query));
  return out;
}

function Waveform({ points }) {
  if (!points || !points.length) return null;
  const w = 2 * points.length;
  return html`<svg class="waveform" viewBox=${`0 0 ${w} 32`} width=${Math.min(w * 2, 240)} height="32" aria-hidden="true">
    ${points.map((p, i) => html`<rect x=${i * 2} y=${32 - Math.max(2, p / 8)} width="1.4" height=${Math.max(2, p / 8)} fill="currentColor"/>`)}</svg>`;
}

function Attachment({ att, msg }) {
  const [src, setSrc] = useState(att.local || null);
  useEffect(() => {
    let live = true;
    if (!att.local) api.downloadUrl(att.file_url).then(u => live && setSrc(u), () => {});
    return () => { live = false; };
  }, [att.file_url]);
  const kind = att.file_type.split("/")[0];
  const name = att.file_url.split("/").pop();
  if (!src) return html`<div class="att loading"><${Spinner} label="Loading attachment"/></div>`;
  if (kind === "image") {
    return html`<a class="att image" href=${src} target="_blank" rel="noopener"><img src=${src} alt=${msg.text || "Image"} loading="lazy"/></a>`;
  }
  if (kind === "video") return html`<video class="att video" src=${src} controls preload="metadata" aria-label="Video"></video>`;
  if (kind === "audio") {
    return html`<div class="att audio"><${Waveform} points=${msg.attachment_waveform}/>
      <audio src=${src} controls preload="none" aria-label=${msg.type === "voice" ? "Voice message" : "Audio"}></audio></div>`;
  }
  return html`<a class="att file" href=${src} download=${name}><${Icon} name="download"/> <span>${name}</span> <small>${fileSize(att.file_size)}</small></a>`;
}

function Reactions({ msg }) {
  if (!msg.reactions || !msg.reactions.length) return null;
  return html`<div class="reactions">${msg.reactions.map(r => html`<button type="button" class=${cls("reaction", r.reacted && "mine")}
    aria-pressed=${r.reacted} aria-label=${`${r.emoji} ${r.count}${r.reacted ? ", you reacted" : ""}`}
    onClick=${() => toggleReaction(msg, r.emoji)}>${r.emoji} <span>${r.count}</span></button>`)}</div>`;
}

// reactions are not part of MessageRead: read them for the messages on screen, four at a time
const reactionQueue = [];
let reactionActive = 0;
function wantReactions(msg) {
  if (msg.reactions !== undefined || msg._reactionsQueued) return;
  msg._reactionsQueued = true;
  reactionQueue.push(msg);
  pumpReactions();
}
function pumpReactions() {
  while (reactionActive < 4 && reactionQueue.length) {
    const msg = reactionQueue.pop();
    reactionActive++;
    loadReactions(msg).finally(() => { reactionActive--; pumpReactions(); });
  }
}

function Message({ msg, m, chat, showSender, onReply, onEdit, onForward, onThread, onJump, flash, query }) {
  const me = store.state.me;
  const mine = msg.sender_id === me.id;
  const atts = msg.type !== "text" ? attachmentsFor(msg) : null;
  useEffect(() => wantReactions(msg), [msg.id]);
  const canDeleteAll = mine || (chat.type !== "private" && ["owner", "admin"].includes(chat.my_role));
  const reply = msg.reply_to_message_id ? m.byId.get(msg.reply_to_message_id) : null;
  const status = mine ? statusOf(msg, m) : null;
  const author = userName(msg.sender_id);
  const edited = msg.updated_at && msg.updated_at !== msg.created_at;
  return html`<article id=${`msg-${msg.id}`} data-id=${msg.id} class=${cls("msg", mine && "mine", flash && "flash")} tabindex="-1"
      aria-label=${`${mine ? "You" : author}, ${clock(msg.created_at)}`}>
    <div class="bubble">
      ${showSender && !mine && html`<div class="sender">${author}</div>`}
      ${msg.forwarded_from_message_id && html`<div class="forwarded">Forwarded${msg.forwarded_from_sender_id ? ` from ${userName(msg.forwarded_from_sender_id)}` : ""}</div>`}
      ${msg.reply_to_message_id && html`<button type="button" class="quote" onClick=${() => onJump(msg.reply_to_message_id)}>
        <strong>${reply ? userName(reply.sender_id) : "Reply"}</strong> <span>${reply ? (reply.text || reply.type) : "to an earlier message"}</span></button>`}
      ${atts && atts.map(a => html`<${Attachment} key=${a.id} att=${a} msg=${msg}/>`)}
      ${msg.type !== "text" && atts === null && html`<div class="att loading"><${Spinner} label="Loading attachment"/></div>`}
      ${msg.text && html`<div class="text" dir="auto"><${RichText} text=${msg.text} query=${query}/></div>`}
      <div class="meta">${edited && html`<span class="edited">edited</span>`}
        <time datetime=${msg.created_at} title=${fullTime(msg.created_at)}>${clock(msg.created_at)}</time>
        ${mine && html`<span class=${cls("ticks", status)} role="img" aria-label=${status}><${Icon} name=${status === "sent" ? "check" : "checks"} size="16"/></span>`}
      </div>
    </div>
    <${Reactions} msg=${msg}/>
    <${Menu} label="Message actions" className="msg-menu" items=${() => [
      { label: "Reply", action: () => onReply(msg) },
      ...QUICK.slice(0, 4).map(e => ({ label: `React ${e}`, action: () => toggleReaction(msg, e) })),
      { label: "More reactions…", action: () => onThread(msg, "react") },
      { label: "View thread", action: () => onThread(msg) },
      { label: "Forward", action: () => onForward(msg) },
      mine && msg.type === "text" && !msg.forwarded_from_message_id && { label: "Edit", action: () => onEdit(msg) },
      (chat.type === "private" || ["owner", "admin"].includes(chat.my_role)) && { label: "Pin", action: () => api.post(`/api/v1/chats/${chat.id}/pin`, { message_id: msg.id }).then(c => { upsertChat(c); store.bump(); }, fail) },
      !mine && { label: "Report…", action: () => onThread(msg, "report") },
      { label: "Delete for me", danger: true, action: () => deleteMessage(msg, false) },
      canDeleteAll && { label: "Delete for everyone", danger: true, action: () => confirm("Delete this message for everyone?") && deleteMessage(msg, true) },
    ]}/>
  </article>`;
}

function Pending({ p }) {
  return html`<article class="msg mine pending" aria-label=${p.failed ? "Not sent" : "Sending"}>
    <div class="bubble">
      ${p.preview && p.file.type.startsWith("image/") && html`<img class="att image" src=${p.preview} alt=${p.text || "Image"}/>`}
      ${p.file && !p.preview && html`<div class="att file"><${Icon} name="attach"/> ${p.file.name} <small>${fileSize(p.file.size)}</small></div>`}
      ${p.progress !== null && !p.attached && !p.failed && html`<progress max="1" value=${p.progress} aria-label="Upload progress">${Math.round(p.progress * 100)}%</progress>`}
      ${p.text && html`<div class="text" dir="auto">${p.text}</div>`}
      <div class="meta">${p.failed ? html`<span class="failed">Not sent</span>
          <button type="button" class="linkish" onClick=${() => retryPending(p)}>Retry</button>
          <button type="button" class="linkish" onClick=${() => discardPending(p)}>Discard</button>`
        : html`<span class="ticks" role="img" aria-label="sending"><${Icon} name="clock" size="14"/></span>`}</div>
    </div></article>`;
}

async function waitLoaded(m) {
  while (m.loading) await new Promise(r => setTimeout(r, 10));
}

function indexOf(ids, id) {
  let lo = 0, hi = ids.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (ids[mid] < id) lo = mid + 1; else hi = mid; }
  return lo;
}

function MessageList({ chat, m, jump, setJumpDone, onReply, onEdit, onForward, onThread, query }) {
  const scroller = useRef();
  // the window: [topId .. bottomId], or following the newest message when follow is set
  const [win, setWin] = useState({ follow: true, topId: null, bottomId: null });
  const [flashId, setFlash] = useState(null);
  const anchor = useRef(null);
  const atBottom = useRef(true);
  const busy = useRef(false);
  const ids = m.ids;
  let end = win.follow ? ids.length : Math.min(ids.length, indexOf(ids, win.bottomId) + 1);
  let start = win.topId === null ? Math.max(0, end - FIRST) : indexOf(ids, win.topId);
  if (end - start > WINDOW) { if (win.follow) start = end - WINDOW; else end = start + WINDOW; }
  const shown = ids.slice(start, end);

  const remember = () => {
    const box = scroller.current;
    if (!box) return;
    const top = box.getBoundingClientRect().top;
    for (const el of box.querySelectorAll("article[data-id]")) {
      const r = el.getBoundingClientRect();
      if (r.bottom > top) { anchor.current = { id: el.dataset.id, offset: r.top - top }; return; }
    }
  };
  useLayoutEffect(() => {
    const box = scroller.current;
    if (!box) return;
    if (win.follow && atBottom.current) { box.scrollTop = box.scrollHeight; anchor.current = null; return; }
    const a = anchor.current;
    anchor.current = null;
    if (!a) return;
    const el = box.querySelector(`article[data-id="${a.id}"]`);
    if (el) box.scrollTop += (el.getBoundingClientRect().top - box.getBoundingClientRect().top) - a.offset;
  });

  const slideUp = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      if (start === 0 && m.hasOlder) {
        remember();
        const first = ids[0];
        await loadOlder(chat.id);
        // widen the window over the page that arrived; the bottom stays where it was
        const all = chatMessages(chat.id).ids;
        const ns = Math.max(0, indexOf(all, first) - STEP);
        const ne = Math.min(all.length, indexOf(all, first) + (end - start));
        const keepEnd = Math.min(ne, ns + WINDOW);
        setWin(win.follow && keepEnd >= all.length ? { follow: true, topId: all[ns], bottomId: null }
          : { follow: false, topId: all[ns], bottomId: all[keepEnd - 1] });
        return;
      }
      if (start === 0) return;
      remember();
      const ns = Math.max(0, start - STEP);
      const ne = Math.min(end, ns + WINDOW);
      setWin({ follow: ne >= ids.length && win.follow, topId: ids[ns], bottomId: ids[ne - 1] });
    } finally { busy.current = false; }
  };
  const slideDown = () => {
    if (win.follow || end >= ids.length) return;
    remember();
    const ne = Math.min(ids.length, end + STEP);
    const ns = Math.max(start, ne - WINDOW);
    setWin(ne >= ids.length ? { follow: true, topId: ids[ns], bottomId: null } : { follow: false, topId: ids[ns], bottomId: ids[ne - 1] });
  };
  const onScroll = () => {
    const box = scroller.current;
    const below = box.scrollHeight - box.scrollTop - box.clientHeight;
    atBottom.current = below < 80;
    if (box.scrollTop < EDGE && (start > 0 || m.hasOlder)) { slideUp(); return; }
    if (below < EDGE && end < ids.length) { slideDown(); return; }
    // reading above the newest: new messages wait below (the button counts them) instead of
    // pushing what is on screen; back at the bottom, the window follows again
    if (!atBottom.current && win.follow && below > 200) setWin({ follow: false, topId: ids[start], bottomId: ids[end - 1] });
    else if (atBottom.current && !win.follow && end >= ids.length) setWin({ follow: true, topId: ids[start], bottomId: null });
    if (atBottom.current && win.follow) markRead(chat.id);
  };
  // keep filling upwards until the window overflows the viewport (a tall screen, short messages)
  useEffect(() => {
    const box = scroller.current;
    if (box && m.loaded && box.scrollHeight <= box.clientHeight + EDGE && (start > 0 || m.hasOlder)) slideUp();
  });

  const jumpTo = async id => {
    if (!(await loadUntil(chat.id, id))) { fail(new Error("That message is no longer available.")); return; }
    const all = chatMessages(chat.id).ids;
    const i = indexOf(all, id);
    const ns = Math.max(0, i - 30), ne = Math.min(all.length, ns + WINDOW);
    atBottom.current = false;
    setWin(ne >= all.length ? { follow: true, topId: all[ns], bottomId: null } : { follow: false, topId: all[ns], bottomId: all[ne - 1] });
    setFlash(id);
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const el = document.getElementById(`msg-${id}`);
      if (el) { el.scrollIntoView({ block: "center" }); el.focus({ preventScroll: true }); }
    }));
    setTimeout(() => setFlash(f => (f === id ? null : f)), 2500);
  };
  useEffect(() => {
    if (!jump || !m.loaded) return;
    jumpTo(jump);
    setJumpDone();
    if (location.search) navigate(location.pathname, { replace: true }); // a reload opens the newest page
  }, [jump, m.loaded]);
  // sending scrolls to the newest message, wherever the reader was
  useEffect(() => {
    if (!m.stick) return;
    m.stick = false;
    atBottom.current = true;
    if (!win.follow) setWin({ follow: true, topId: null, bottomId: null });
    else scroller.current.scrollTop = scroller.current.scrollHeight;
  });
  const toBottom = () => { atBottom.current = true; setWin({ follow: true, topId: null, bottomId: null }); markRead(chat.id); };

  const group = chat.type !== "private";
  let prevDay = null, prevSender = null;
  const unseenBelow = !win.follow || !atBottom.current ? (chat.unread_count || 0) : 0;
  return html`<div class="messages" ref=${scroller} onScroll=${onScroll} role="log" aria-live="polite" aria-relevant="additions"
      aria-label=${`Messages in ${chat.display_title}`} tabindex="0">
    ${start === 0 && !m.hasOlder && m.loaded && html`<p class="history-start">${ids.length ? "The beginning of this chat." : "No messages yet. Say hello!"}</p>`}
    ${(start > 0 || m.hasOlder) && html`<div class="history-more">${m.loading ? html`<${Spinner} label="Loading older messages"/>` : ""}</div>`}
    ${shown.map(id => {
      const msg = m.byId.get(id);
      const day = msg.created_at.slice(0, 10);
      const sep = day !== prevDay ? html`<div class="day" role="separator"><span>${dayFmt.format(new Date(msg.created_at))}</span></div>` : null;
      const showSender = group && (msg.sender_id !== prevSender || sep);
      prevDay = day; prevSender = msg.sender_id;
      return html`<${Fragment} key=${id}>${sep}<${Message} msg=${msg} m=${m} chat=${chat} showSender=${showSender} flash=${flashId === id}
        onReply=${onReply} onEdit=${onEdit} onForward=${onForward} onThread=${onThread} onJump=${jumpTo} query=${query}/></${Fragment}>`;
    })}
    ${win.follow && m.pending.filter(p => p.chat_id === chat.id).map(p => html`<${Pending} key=${p.client_message_id} p=${p}/>`)}
    ${(!win.follow || unseenBelow > 0) && html`<button type="button" class="to-bottom" onClick=${toBottom}>↓ ${unseenBelow ? `${unseenBelow} new` : "Latest"}</button>`}
  </div>`;
}

// Mention autocomplete: "@pre" before the caret offers the chat's members by username.
function useMentions(chat, text, caret) {
  const before = text.slice(0, caret);
  const match = /(^|\s)@([A-Za-z0-9_]{0,32})$/.exec(before);
  if (!match) return null;
  const members = store.state.members.get(chat.id);
  if (!members) { loadMembers(chat.id).catch(() => {}); return null; }
  const q = match[2].toLowerCase();
  const list = [];
  for (const mem of members) {
    if (mem.user_id === store.state.me.id) continue;
    const u = user(mem.user_id);
    if (u && u.username && (u.username.toLowerCase().startsWith(q) || u.name.toLowerCase().startsWith(q))) list.push(u);
    if (list.length >= 6) break;
  }
  return list.length ? { list, from: caret - match[2].length - 1 } : null;
}

function Composer({ chat, replyTo, setReplyTo, editing, setEditing }) {
  const [text, setText] = useState(() => getDraft(chat.id));
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const area = useRef();
  const fileInput = useRef();
  useEffect(() => {
    // (the draft is the first state of this composer, made per chat: setting it again here,
    // after the first paint, would throw away what was typed meanwhile)
    // a chat opened with a mouse or the keyboard is ready to type in (not on touch screens,
    // where focusing would open the on-screen keyboard over the messages)
    // (when the page is idle: focusing lays the page out, which would delay the first messages)
    if (!matchMedia("(pointer: fine)").matches) return;
    const focus = () => {
      if (area.current && !document.activeElement?.closest?.(".chat-search, dialog, .composer")) area.current.focus({ preventScroll: true });
    };
    const idle = window.requestIdleCallback ? requestIdleCallback(focus, { timeout: 1000 }) : setTimeout(focus, 200);
    return () => (window.cancelIdleCallback ? cancelIdleCallback(idle) : clearTimeout(idle));
  }, [chat.id]);
  // before the browser takes input again: text typed right after choosing Edit is not overwritten
  useLayoutEffect(() => { if (editing && area.current) { setText(editing.text || ""); area.current.focus(); } }, [editing]);
  useEffect(() => { if (replyTo && area.current) area.current.focus(); }, [replyTo]);
  // grow with the text; an empty box keeps its CSS height (no forced layout when a chat opens)
  useLayoutEffect(() => {
    const a = area.current;
    if (!a) return; // a channel's subscribers have no composer
    a.style.height = "";
    if (text.includes("\n") || text.length > 40) a.style.height = `${Math.min(a.scrollHeight, 200)}px`;
  }, [text]);
  const mentions = useMentions(chat, text, caret);
  const update = v => { setText(v); if (!editing) setDraft(chat.id, v); };
  const send = () => {
    const value = text.trim();
    if (!value) return;
    if (editing) { editMessage(editing.id, value); setEditing(null); update(getDraft(chat.id)); setText(getDraft(chat.id)); return; }
    sendMessage(chat.id, { text: value, replyTo: replyTo && replyTo.id });
    update(""); setReplyTo(null);
  };
  const choose = u => {
    const v = `${text.slice(0, mentions.from)}@${u.username} ${text.slice(caret)}`;
    update(v);
    const pos = mentions.from + u.username.length + 2;
    requestAnimationFrame(() => { area.current.setSelectionRange(pos, pos); setCaret(pos); });
  };
  const onKey = e => {
    if (mentions) {
      if (e.key === "ArrowDown") { e.preventDefault(); setActive((active + 1) % mentions.list.length); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); setActive((active - 1 + mentions.list.length) % mentions.list.length); return; }
      if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choose(mentions.list[Math.min(active, mentions.list.length - 1)]); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    else if (e.key === "Escape") { if (editing) { setEditing(null); setText(getDraft(chat.id)); } else setReplyTo(null); }
    else if (e.key === "ArrowUp" && !text) {
      const m = chatMessages(chat.id);
      for (let i = m.ids.length - 1; i >= 0; i--) {
        const msg = m.byId.get(m.ids[i]);
        if (msg.sender_id === store.state.me.id && msg.type === "text") { e.preventDefault(); setEditing(msg); break; }
      }
    }
  };
  const attach = files => {
    for (const file of files) {
      const kind = file.type.split("/")[0];
      const type = { image: "image", video: "video", audio: "audio" }[kind] || "file";
      sendMessage(chat.id, { text: text.trim() || null, replyTo: replyTo && replyTo.id, file, type });
      update(""); setReplyTo(null);
    }
  };
  if (chat.type === "channel" && chat.my_role === "member") {
    return html`<footer class="composer readonly"><p>Only the owner and admins post in this channel.</p></footer>`;
  }
  const listId = `mentions-${chat.id}`;
  return html`<footer class="composer" onDragOver=${e => e.preventDefault()} onDrop=${e => { e.preventDefault(); attach(e.dataTransfer.files); }}>
    ${(replyTo || editing) && html`<div class="composer-context">
      <${Icon} name=${editing ? "settings" : "reply"}/>
      <span><strong>${editing ? "Edit message" : `Reply to ${userName(replyTo.sender_id)}`}</strong> ${(editing || replyTo).text || ""}</span>
      <button type="button" class="icon-btn" onClick=${() => { if (editing) { setEditing(null); setText(getDraft(chat.id)); } else setReplyTo(null); }}>
        <${Icon} name="close" label="Cancel"/></button></div>`}
    ${mentions && html`<ul class="mentions" role="listbox" id=${listId} aria-label="Mention someone">${mentions.list.map((u, i) =>
      html`<li role="option" id=${`${listId}-${i}`} aria-selected=${i === active} onMouseDown=${e => { e.preventDefault(); choose(u); }}>
        <strong>@${u.username}</strong> ${u.name}</li>`)}</ul>`}
    <div class="composer-row">
      <button type="button" class="icon-btn" onClick=${() => fileInput.current.click()} disabled=${Boolean(editing)}><${Icon} name="attach" label="Attach a file"/></button>
      <input type="file" ref=${fileInput} class="visually-hidden" tabindex="-1" aria-hidden="true" multiple
        accept="image/jpeg,image/png,image/webp,video/mp4,video/webm,audio/mpeg,audio/ogg,audio/webm,audio/wav,application/pdf,application/zip,text/plain"
        onChange=${e => { attach([...e.target.files]); e.target.value = ""; }}/>
      <label class="visually-hidden" for="composer-text">Message</label>
      <textarea id="composer-text" ref=${area} rows="1" placeholder="Message" value=${text} maxlength="4096"
        role="combobox" aria-autocomplete="list" aria-expanded=${Boolean(mentions)} aria-controls=${mentions ? listId : undefined}
        aria-activedescendant=${mentions ? `${listId}-${active}` : undefined}
        onInput=${e => { update(e.target.value); setCaret(e.target.selectionStart); setActive(0); realtime.typing(chat.id); }}
        onKeyUp=${e => setCaret(e.target.selectionStart)} onClick=${e => setCaret(e.target.selectionStart)}
        onKeyDown=${onKey} onPaste=${e => { if (e.clipboardData.files.length) { e.preventDefault(); attach([...e.clipboardData.files]); } }}></textarea>
      <button type="button" class="icon-btn send" onClick=${send} disabled=${!text.trim()}><${Icon} name=${editing ? "check" : "send"} label=${editing ? "Save" : "Send"}/></button>
    </div></footer>`;
}

function ForwardDialog({ msg, onClose }) {
  const [chosen, setChosen] = useState(new Set());
  const [author, setAuthor] = useState(true);
  const chats = sortedChats(false).filter(c => !(c.type === "channel" && c.my_role === "member"));
  const toggle = id => { const n = new Set(chosen); if (n.has(id)) n.delete(id); else n.add(id); setChosen(n); };
  return html`<${Modal} title="Forward to…" onClose=${onClose}>
    <fieldset class="forward-list"><legend class="visually-hidden">Chats</legend>${chats.map(c => html`<label class="check">
      <input type="checkbox" checked=${chosen.has(c.id)} onChange=${() => toggle(c.id)}/> ${c.is_saved ? "Saved messages" : c.display_title}</label>`)}</fieldset>
    <label class="check"><input type="checkbox" checked=${author} onChange=${e => setAuthor(e.target.checked)}/> Show the original author</label>
    <button class="primary" type="button" disabled=${!chosen.size} onClick=${() => { forward(msg, [...chosen], author); onClose(); }}>Forward</button></${Modal}>`;
}

const CATEGORIES = [["spam", "Spam"], ["harassment", "Harassment"], ["hate", "Hate"], ["violence", "Violence"],
  ["sexual", "Sexual content"], ["illegal", "Illegal content"], ["impersonation", "Impersonation"], ["other", "Something else"]];
function ReportDialog({ msg, onClose }) {
  const submit = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await api.post("/api/v1/reports", { message_id: msg.id, category: f.get("category"), description: f.get("description").trim() || null });
      toast("Reported to the server's moderators"); onClose();
    } catch (err) { fail(err); }
  };
  return html`<${Modal} title="Report this message" onClose=${onClose}><form onSubmit=${submit}>
    <blockquote dir="auto">${msg.text || msg.type}</blockquote>
    <div class="field"><label for="rep-cat">Why?</label><select id="rep-cat" name="category" required>
      ${CATEGORIES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>
    <div class="field"><label for="rep-desc">Details (optional)</label><textarea id="rep-desc" name="description" maxlength="2000" rows="3"></textarea></div>
    <button class="primary" type="submit">Report</button></form></${Modal}>`;
}

function ThreadDialog({ msg, mode, onClose, onReply }) {
  const [items, setItems] = useState(null);
  useEffect(() => { if (mode !== "react") api.get(`/api/v1/messages/${msg.id}/thread?limit=200`).then(setItems, fail); }, [msg.id]);
  if (mode === "report") return html`<${ReportDialog} msg=${msg} onClose=${onClose}/>`;
  if (mode === "react") {
    const EMOJI = ["👍", "👎", "❤️", "🔥", "😂", "😮", "😢", "😡", "🎉", "🙏", "👏", "🤔", "👀", "✅", "💯", "🚀"];
    return html`<${Modal} title="React" onClose=${onClose}><div class="emoji-grid">${EMOJI.map(e =>
      html`<button type="button" aria-label=${`React ${e}`} onClick=${() => { toggleReaction(msg, e); onClose(); }}>${e}</button>`)}</div></${Modal}>`;
  }
  return html`<${Modal} title="Thread" onClose=${onClose} wide>${items === null ? html`<${Spinner}/>` : html`<ol class="thread">${items.map(t => html`<li>
    <strong>${userName(t.sender_id)}</strong> <time>${fullTime(t.created_at)}</time><div dir="auto"><${RichText} text=${t.text || `(${t.type})`}/></div>
    <button type="button" class="linkish" onClick=${() => { onReply(t); onClose(); }}>Reply</button></li>`)}</ol>`}</${Modal}>`;
}

function ChatSearch({ chat, onClose, onPick, setQuery }) {
  const [q, setQ] = useState("");
  const [res, setRes] = useState(null);
  useEffect(() => {
    setQuery(q.trim());
    if (!q.trim()) { setRes(null); return; }
    const t = setTimeout(() => api.get(`/api/v1/messages/search${api.qs({ query: q.trim(), chat_id: chat.id, limit: 50 })}`).then(setRes, fail), 200);
    return () => clearTimeout(t);
  }, [q]);
  return html`<div class="chat-search" role="search">
    <label class="visually-hidden" for="chat-search-input">Search in this chat</label>
    <input id="chat-search-input" type="search" placeholder="Search in this chat" value=${q} autofocus
      onInput=${e => setQ(e.target.value)} onKeyDown=${e => e.key === "Escape" && onClose()}/>
    <button type="button" class="icon-btn" onClick=${onClose}><${Icon} name="close" label="Close search"/></button>
    ${res && html`<ul class="chat-search-results" aria-label="Results">${res.map(r => html`<li><button type="button" class="search-hit" onClick=${() => onPick(r.id)}>
      <span class="hit-chat">${userName(r.sender_id)} · ${fullTime(r.created_at)}</span><span class="hit-text">${highlight(r.text, q)}</span></button></li>`)}
      ${!res.length && html`<li class="empty">No messages found.</li>`}</ul>`}</div>`;
}

export function Conversation({ chatId, jump }) {
  const s = useStore(store);
  const chat = s.chats.get(chatId);
  const m = chatMessages(chatId);
  if (!m.loaded && !m.loading) loadNewest(chatId).catch(fail); // at once, not after the first paint
  const [replyTo, setReplyTo] = useState(null);
  const [editing, setEditing] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [searching, setSearching] = useState(false);
  const [query, setQuery] = useState("");
  const [jumpId, setJumpId] = useState(jump);
  useEffect(() => { setJumpId(jump); }, [jump]);
  useEffect(() => {
    s.openChatId = chatId;
    setReplyTo(null); setEditing(null); setSearching(false); setQuery("");
    if (!chat) openChatById(chatId);
    if (!m.loaded) (m.loading ? waitLoaded(m) : loadNewest(chatId)).then(() => markRead(chatId), fail); else markRead(chatId);
    const vis = () => { if (!document.hidden) markRead(chatId); };
    document.addEventListener("visibilitychange", vis);
    return () => { document.removeEventListener("visibilitychange", vis); if (s.openChatId === chatId) s.openChatId = null; };
  }, [chatId]);
  useEffect(() => { if (chat && chat.type !== "private") loadMembers(chatId).catch(() => {}); }, [chatId, Boolean(chat)]);
  if (!chat) return html`<section class="conversation"><${Spinner} label="Loading chat"/></section>`;

  const typing = typingIn(chatId);
  let subtitle;
  if (typing.length) subtitle = html`<span class="typing">${typing.map(userName).join(", ")} ${typing.length > 1 ? "are" : "is"} typing…</span>`;
  else if (chat.is_saved) subtitle = "Your notes and forwarded messages";
  else if (chat.type === "private") {
    const p = s.presence.get(chat.counterpart_user_id);
    subtitle = p && p.is_online ? "online" : p ? lastSeen(p.last_seen_at) : "";
  } else subtitle = `${chat.type === "channel" ? (chat.subscribers_count ?? chat.members_count) : chat.members_count} ${chat.type === "channel" ? "subscribers" : "members"}${chat.online_count ? `, ${chat.online_count} online` : ""}`;
  const pinned = chat.pinned_message_id ? m.byId.get(chat.pinned_message_id) : null;

  return html`<section class="conversation" aria-labelledby="conv-title">
    <header class="conv-head">
      <a class="icon-btn back" href="/" onClick=${link}><${Icon} name="back" label="Back to chats"/></a>
      <${Avatar} name=${chat.display_title} id=${chat.id} url=${chat.avatar_url || chat.counterpart_avatar_url}
        online=${chat.type === "private" && isOnline(chat.counterpart_user_id)}/>
      <div class="conv-title"><h2 id="conv-title">${chat.is_saved ? "Saved messages" : chat.display_title}</h2>
        <p class="subtitle" aria-live="polite">${subtitle}</p></div>
      <${VoiceButton} chat=${chat}/>
      <button type="button" class="icon-btn" onClick=${() => setSearching(!searching)}><${Icon} name="search" label="Search in chat"/></button>
      <button type="button" class="icon-btn" onClick=${() => setDialog({ kind: "info" })}><${Icon} name="info" label="Chat info"/></button>
    </header>
    ${searching && html`<${ChatSearch} chat=${chat} setQuery=${setQuery} onClose=${() => { setSearching(false); setQuery(""); }} onPick=${id => setJumpId(id)}/>`}
    ${chat.pinned_message_id && html`<div class="pinned-bar"><button type="button" class="linkish" onClick=${() => setJumpId(chat.pinned_message_id)}>
      <${Icon} name="pin" size="16"/> <span>${pinned ? (pinned.text || pinned.type) : "Pinned message"}</span></button>
      ${(chat.type === "private" || ["owner", "admin"].includes(chat.my_role)) && html`<button type="button" class="icon-btn"
        onClick=${() => api.post(`/api/v1/chats/${chat.id}/pin`, { message_id: null }).then(c => { upsertChat(c); store.bump(); }, fail)}>
        <${Icon} name="close" size="16" label="Unpin"/></button>`}</div>`}
    ${m.loaded ? html`<${MessageList} key=${chatId} chat=${chat} m=${m} jump=${jumpId} setJumpDone=${() => setJumpId(null)} query=${query}
        onReply=${setReplyTo} onEdit=${setEditing} onForward=${msg => setDialog({ kind: "forward", msg })}
        onThread=${(msg, mode) => setDialog({ kind: "thread", msg, mode })}/>`
      : html`<div class="messages"><${Spinner} label="Loading messages"/></div>`}
    <${Composer} key=${chatId} chat=${chat} replyTo=${replyTo} setReplyTo=${setReplyTo} editing=${editing} setEditing=${setEditing}/>
    ${dialog && dialog.kind === "forward" && html`<${ForwardDialog} msg=${dialog.msg} onClose=${() => setDialog(null)}/>`}
    ${dialog && dialog.kind === "thread" && html`<${ThreadDialog} msg=${dialog.msg} mode=${dialog.mode} onReply=${setReplyTo} onClose=${() => setDialog(null)}/>`}
    ${dialog && dialog.kind === "info" && html`<${ChatInfo} chat=${chat} onClose=${() => setDialog(null)}/>`}
  </section>`;
}
