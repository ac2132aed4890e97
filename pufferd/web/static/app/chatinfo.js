// Chat details: profile, members and roles, bans, invite links, mute, leave and delete.
import { html, useState, useEffect, useStore, navigate, fullTime } from "./lib.js";
import * as api from "./api.js";
import { store, loadMembers, user, upsertChat, fail, toast, setMuted, loadMuted, isOnline } from "./state.js";
import { Avatar, Modal, Menu, Field } from "./ui.js";
import { UserPicker } from "./chats.js";

export function ChatInfo({ chat, onClose }) {
  const s = useStore(store);
  const members = s.members.get(chat.id);
  const [invite, setInvite] = useState(null);
  const [adding, setAdding] = useState([]);
  const [banning, setBanning] = useState([]);
  const manager = chat.type !== "private" && ["owner", "admin"].includes(chat.my_role);
  const owner = chat.my_role === "owner";
  useEffect(() => { loadMembers(chat.id, true).catch(fail); loadMuted(chat.id); }, [chat.id]);
  const act = async (fn, ok) => { try { await fn(); if (ok) toast(ok); await loadMembers(chat.id, true); } catch (e) { fail(e); } };
  const saveProfile = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      upsertChat(await api.patch(`/api/v1/chats/${chat.id}/profile`, { title: f.get("title").trim(), description: f.get("description").trim() || null }));
      store.bump(); toast("Saved");
    } catch (err) { fail(err); }
  };
  const setAvatar = async e => {
    const file = e.target.files[0];
    if (!file) return;
    try {
      const grant = await api.uploadFile(file);
      upsertChat(await api.patch(`/api/v1/chats/${chat.id}/profile`, { avatar_url: grant.file_url })); store.bump(); toast("Saved");
    } catch (err) { fail(err); }
  };
  const makeInvite = async () => { try { setInvite(await api.post(`/api/v1/chats/${chat.id}/invite-link`)); } catch (e) { fail(e); } };
  const leave = async () => {
    if (!confirm(`Leave “${chat.display_title}”?`)) return;
    try { await api.post(`/api/v1/chats/${chat.id}/leave`); s.chats.delete(chat.id); store.bump(); onClose(); navigate("/"); } catch (e) { fail(e); }
  };
  const remove = async forAll => {
    if (!confirm(forAll ? "Delete this chat for everyone?" : "Delete this chat for you? Its history is cleared for you.")) return;
    try { await api.del(`/api/v1/chats/${chat.id}?for_all=${forAll}`); s.chats.delete(chat.id); store.bump(); onClose(); navigate("/"); } catch (e) { fail(e); }
  };
  const clear = async () => {
    if (!confirm("Clear the history of this chat for you?")) return;
    try { await api.post(`/api/v1/chats/${chat.id}/clear`); s.messages.delete(chat.id); store.bump(); onClose(); } catch (e) { fail(e); }
  };
  const muted = s.muted.get(chat.id);
  return html`<${Modal} title=${chat.is_saved ? "Saved messages" : chat.display_title} onClose=${onClose} wide>
    <section class="info-section">
      ${chat.handle && html`<p>@${chat.handle} · ${chat.is_public ? "public" : "private"} ${chat.type}</p>`}
      ${chat.description && html`<p>${chat.description}</p>`}
      <p class="muted">Created ${fullTime(chat.created_at)}</p>
      <div class="row">
        ${muted !== undefined && html`<button type="button" onClick=${() => setMuted(chat.id, !muted)}>${muted ? "Unmute" : "Mute"}</button>`}
        <button type="button" onClick=${clear}>Clear history</button>
        ${chat.type !== "private" && html`<button type="button" onClick=${leave}>Leave</button>`}
        ${(owner || chat.type === "private") && html`<button type="button" class="danger" onClick=${() => remove(true)}>Delete for everyone</button>`}
        <button type="button" class="danger" onClick=${() => remove(false)}>Delete for me</button>
      </div></section>
    ${manager && html`<section class="info-section"><h3>Profile</h3>
      <div class="row"><${Avatar} name=${chat.display_title} id=${chat.id} url=${chat.avatar_url} size="64"/>
        <label class="button">Change picture<input type="file" accept="image/jpeg,image/png,image/webp" class="visually-hidden" onChange=${setAvatar}/></label></div>
      <form onSubmit=${saveProfile}>
      <${Field} label="Title" name="title" defaultValue=${chat.title || ""} required maxlength="128"/>
      <${Field} label="Description" name="description" defaultValue=${chat.description || ""} maxlength="500"/>
      <button type="submit">Save</button></form></section>
    <section class="info-section"><h3>Invite link</h3>
      <p class="muted">Anyone with the link can join. A new link revokes the previous one.</p>
      <button type="button" onClick=${makeInvite}>${invite ? "New link" : "Create a link"}</button>
      ${invite && html`<p><input class="invite-url" readonly value=${invite.invite_url} aria-label="Invite link" onFocus=${e => e.target.select()}/>
        <button type="button" onClick=${() => navigator.clipboard.writeText(invite.invite_url).then(() => toast("Copied"), fail)}>Copy</button></p>`}</section>
    <section class="info-section"><h3>Add members</h3>
      <${UserPicker} chosen=${adding} setChosen=${setAdding} label="Find people to add"/>
      <button type="button" disabled=${!adding.length} onClick=${() => act(async () => {
        for (const u of adding) await api.post(`/api/v1/chats/${chat.id}/members`, { user_id: u.id });
        setAdding([]);
      }, "Added")}>Add</button></section>
    <section class="info-section"><h3>Unban</h3>
      <${UserPicker} chosen=${banning} setChosen=${setBanning} single label="Find a banned user"/>
      <button type="button" disabled=${!banning.length} onClick=${() => act(async () => { await api.del(`/api/v1/chats/${chat.id}/bans/${banning[0].id}`); setBanning([]); }, "Unbanned")}>Unban</button>
    </section>`}
    <section class="info-section"><h3>${members ? `${members.length} members` : "Members"}</h3>
      <ul class="members">${(members || []).map(mem => {
        const u = user(mem.user_id);
        const name = mem.user_id === s.me.id ? `${s.me.name} (you)` : u ? u.name : "…";
        const canTouch = manager && mem.user_id !== s.me.id && mem.role !== "owner" && (owner || mem.role === "member");
        return html`<li key=${mem.user_id}><${Avatar} name=${name} id=${mem.user_id} url=${u && u.avatar_url} size="32" online=${isOnline(mem.user_id)}/>
          <span class="grow">${name} ${u && u.username ? html`<span class="muted">@${u.username}</span>` : ""}</span>
          ${mem.role !== "member" && html`<span class="role">${mem.role}</span>`}
          ${canTouch && html`<${Menu} label=${`Manage ${name}`} items=${[
            owner && mem.role === "member" && { label: "Make admin", action: () => act(() => api.patch(`/api/v1/chats/${chat.id}/members/${mem.user_id}/role`, { role: "admin" })) },
            owner && mem.role === "admin" && { label: "Make member", action: () => act(() => api.patch(`/api/v1/chats/${chat.id}/members/${mem.user_id}/role`, { role: "member" })) },
            owner && { label: "Transfer ownership", danger: true, action: () => confirm(`Make ${name} the owner?`) && act(() => api.patch(`/api/v1/chats/${chat.id}/members/${mem.user_id}/role`, { role: "owner" })) },
            { label: "Remove from chat", danger: true, action: () => act(() => api.del(`/api/v1/chats/${chat.id}/members/${mem.user_id}`), "Removed") },
            { label: "Ban", danger: true, action: () => confirm(`Ban ${name}?`) && act(() => api.post(`/api/v1/chats/${chat.id}/bans/${mem.user_id}`), "Banned") },
          ]}/>`}</li>`;
      })}</ul></section></${Modal}>`;
}
