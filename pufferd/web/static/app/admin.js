// The administration console (/admin): pages for the /api/v1/system and /api/v1/cdn APIs, each
// shown to the roles whose privileges allow it (GET /api/v1/system/privileges). Loaded on demand.
import { html, useState, useEffect, useRef, link, useRoute, fullTime, fileSize } from "./lib.js";
import * as api from "./api.js";
import { fail, toast, loadServerInfo } from "./state.js";
import { Icon, Spinner, Field } from "./ui.js";
import uPlot from "../vendor/uplot.mjs";

const css = document.createElement("link");
css.rel = "stylesheet";
css.href = new URL("../vendor/uplot.css", import.meta.url).href;
document.head.append(css);

const PAGES = [
  ["overview", "Overview", "view_analytics"], ["reports", "Reports", "resolve_reports"], ["server", "Server", "manage_settings"], ["users", "Users and roles", "manage_roles"],
  ["invites", "Invites", "manage_settings"], ["ip-blocks", "IP blocks", "block_ips"], ["audit", "Audit log", "view_audit"],
  ["files", "Files", "manage_files"], ["tasks", "Tasks", "view_analytics"],
];

export function AdminConsole() {
  const { path } = useRoute();
  const [priv, setPriv] = useState(null);
  useEffect(() => { api.get("/api/v1/system/privileges").then(setPriv, e => setPriv({ error: e })); }, []);
  const allowed = priv && !priv.error ? PAGES.filter(([, , p]) => priv.privileges.includes(p)) : [];
  const section = path.split("/")[2] || (allowed[0] && allowed[0][0]);
  const Page = { overview: Overview, reports: Reports, server: Server, users: Users, invites: Invites, "ip-blocks": IpBlocks, audit: Audit, files: Files, tasks: Tasks }[section];
  let body;
  if (!priv) body = html`<${Spinner} label="Checking your role"/>`;
  else if (priv.error) body = html`<p role="alert">${priv.error.status === 404 ? "This server has no administration API." : priv.error.message}</p>`;
  else if (!allowed.length) body = html`<p role="alert">Your role (${priv.role}) has no administration rights on this server.</p>`;
  else if (!allowed.some(([id]) => id === section)) body = html`<p role="alert">Your role (${priv.role}) cannot open this page.</p>`;
  else body = html`<${Page} priv=${priv}/>`;
  return html`<section class="admin" aria-labelledby="admin-title">
    <header class="conv-head"><a class="icon-btn back" href="/" onClick=${link}><${Icon} name="back" label="Back to chats"/></a>
      <h2 id="admin-title">Administration</h2>${priv && !priv.error && html`<span class="muted">${priv.role}</span>`}</header>
    <div class="settings-body">
      ${allowed.length > 0 && html`<nav class="settings-nav" aria-label="Administration sections"><ul>${allowed.map(([id, label]) => html`<li>
        <a href=${`/admin/${id}`} onClick=${link} aria-current=${id === section ? "page" : undefined}>${label}</a></li>`)}</ul></nav>`}
      <div class="settings-page wide">${body}</div></div></section>`;
}

// a page of a cursor-paged list: {items, next, more(), reload()}
function usePaged(url, key, deps = []) {
  const [state, setState] = useState({ items: null, next: null });
  const load = async (cursor, append) => {
    try {
      const sep = url.includes("?") ? "&" : "?";
      const page = await api.get(`${url}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""}`);
      setState(s => ({ items: append ? [...(s.items || []), ...page[key]] : page[key], next: page.next_cursor }));
    } catch (e) { fail(e); setState({ items: [], next: null }); }
  };
  useEffect(() => { load(null, false); }, [url, ...deps]);
  return { ...state, more: () => load(state.next, true), reload: () => load(null, false) };
}
const More = ({ paged }) => (paged.next !== null && paged.next !== undefined
  ? html`<p><button type="button" onClick=${paged.more}>Load more</button></p>` : null);

// ---- overview: figures and charts -----------------------------------------------------------
function Chart({ title, metric, period }) {
  const box = useRef();
  const [series, setSeries] = useState(null);
  useEffect(() => { api.get(`/api/v1/system/stats/series${api.qs({ metric, period })}`).then(setSeries, fail); }, [metric, period]);
  useEffect(() => {
    if (!series || !box.current) return;
    const xs = series.points.map(p => Date.parse(p.start) / 1000);
    const ys = series.points.map(p => p.value);
    const width = Math.max(280, box.current.clientWidth - 16);
    const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#1b6f86";
    const fg = getComputedStyle(document.documentElement).getPropertyValue("--fg2").trim() || "#555";
    const plot = new uPlot({
      width, height: 200, legend: { show: false },
      axes: [{ stroke: fg, grid: { stroke: "rgba(127,127,127,.15)" } }, { stroke: fg, grid: { stroke: "rgba(127,127,127,.15)" } }],
      series: [{}, { label: title, stroke: accent, fill: "rgba(27,111,134,.15)", width: 2, points: { show: xs.length < 40 } }],
    }, [xs, ys], box.current);
    return () => plot.destroy();
  }, [series]);
  const total = series ? series.points.reduce((a, p) => a + p.value, 0) : null;
  return html`<figure class="chart" aria-label=${`${title} per ${period}`}>
    <figcaption><strong>${title}</strong> per ${period}${total !== null ? ` · ${total} in this range` : ""}</figcaption>
    <div ref=${box} class="chart-box" role="img" aria-label=${series ? `${title}: ${series.points.map(p => p.value).join(", ")}` : "Loading"}></div>
    ${!series && html`<${Spinner}/>`}</figure>`;
}

function Overview() {
  const [stats, setStats] = useState(null);
  const [usage, setUsage] = useState(null);
  const [period, setPeriod] = useState("day");
  useEffect(() => {
    api.get("/api/v1/system/stats").then(setStats, fail);
    api.get("/api/v1/system/usage").then(setUsage, () => {});
  }, []);
  const card = (label, value) => html`<div class="card"><span class="muted">${label}</span><strong>${value}</strong></div>`;
  return html`<h3>Overview</h3>
    ${stats ? html`<div class="cards">
      ${card("Users", stats.users.total)}${card("Active today", stats.users.active_24h)}${card("Active this week", stats.users.active_7d)}
      ${card("Online now", stats.online_now)}${card("Messages today", stats.messages.last_day)}${card("Messages stored", stats.messages.total)}
      ${card("Chats", stats.chats.total)}${card("Files", `${stats.storage.files} · ${fileSize(stats.storage.bytes)}`)}</div>` : html`<${Spinner}/>`}
    <div class="row"><label for="period">Period</label><select id="period" class="narrow" value=${period} onChange=${e => setPeriod(e.target.value)}>
      ${["hour", "day", "week", "month"].map(p => html`<option value=${p}>${p}</option>`)}</select></div>
    <${Chart} title="Messages" metric="messages" period=${period}/>
    <${Chart} title="Active users" metric="active_users" period=${period}/>
    <${Chart} title="Registrations" metric="registrations" period=${period}/>
    ${usage && html`<h3>Process</h3><div class="cards">
      ${card("Uptime", `${Math.round(usage.uptime_seconds / 3600)} h`)}${card("Memory", fileSize(usage.rss_bytes))}
      ${card("CPU", `${usage.cpu_percent.toFixed(1)} %`)}${card("Database", fileSize(usage.db_bytes + usage.wal_bytes))}
      ${card("Blobs", fileSize(usage.blob_bytes))}${card("Free disk", fileSize(usage.disk_free_bytes))}
      ${card("Loop lag", `${(usage.loop_lag_seconds * 1000).toFixed(1)} ms`)}</div>`}`;
}

// ---- reports queue --------------------------------------------------------------------------
const ACTIONS = [["dismiss", "Dismiss"], ["delete", "Delete the message"], ["timeout", "Time the user out for a day"], ["ban", "Ban the user"]];
function Reports() {
  const [state, setState] = useState("open");
  const paged = usePaged(`/api/v1/system/reports${api.qs({ state, limit: 50 })}`, "reports");
  const resolve = async (r, action) => {
    const reason = prompt(`${ACTIONS.find(a => a[0] === action)[1]}: reason (kept in the audit log)`);
    if (!reason) return;
    const body = { action, reason };
    if (action === "timeout") body.until = new Date(Date.now() + 86_400_000).toISOString();
    try { await api.post(`/api/v1/system/reports/${r.id}/resolve`, body); toast("Resolved"); paged.reload(); } catch (e) { fail(e); }
  };
  const who = p => (p ? `@${p.username}` : "—");
  return html`<h3>Reports</h3>
    <div class="row"><label for="rep-state">Show</label><select id="rep-state" class="narrow" value=${state} onChange=${e => setState(e.target.value)}>
      ${["open", "resolved", "dismissed", "all"].map(x => html`<option value=${x}>${x}</option>`)}</select></div>
    ${paged.items === null ? html`<${Spinner}/>` : html`<ul class="reports">${paged.items.map(r => html`<li key=${r.id} class="card">
      <p><strong>${r.category}</strong> · ${r.target_type} reported by ${who(r.reporter)} · ${fullTime(r.created_at)} · <em>${r.state}</em></p>
      ${r.reported_user && html`<p>About ${who(r.reported_user)}${r.chat_id ? ` in chat #${r.chat_id}` : ""}</p>`}
      ${r.message_text && html`<blockquote dir="auto">${r.message_text}</blockquote>`}
      ${r.description && html`<p class="muted">“${r.description}”</p>`}
      ${r.state === "open" ? html`<div class="row">${ACTIONS.map(([a, label]) => html`<button type="button" class=${a === "ban" || a === "delete" ? "danger" : ""}
        onClick=${() => resolve(r, a)}>${label}</button>`)}</div>`
        : html`<p class="muted">${r.action || r.state}${r.resolution_reason ? `: ${r.resolution_reason}` : ""}</p>`}</li>`)}
      ${!paged.items.length && html`<li class="empty">No ${state === "all" ? "" : state} reports.</li>`}</ul><${More} paged=${paged}/>`}`;
}

// ---- server info and settings ---------------------------------------------------------------
function Server() {
  const [info, setInfo] = useState(null);
  const [settings, setSettings] = useState(null);
  const load = () => {
    api.get("/api/v1/system/server-info", { auth: false }).then(setInfo, fail);
    api.get("/api/v1/system/settings").then(r => setSettings(r.settings), fail);
  };
  useEffect(load, []);
  const saveInfo = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      setInfo(await api.put("/api/v1/system/server-info", { name: f.get("name").trim(), description: f.get("description").trim() }));
      loadServerInfo(); toast("Saved");
    } catch (err) { fail(err); }
  };
  const saveSetting = async (s, raw) => {
    let value = raw;
    if (typeof s.value === "number") value = Number(raw);
    else if (typeof s.value === "boolean") value = raw === "true";
    try {
      const r = await api.put("/api/v1/system/settings", { settings: { [s.name]: value } });
      setSettings(r.settings);
      toast(r.restart_required ? "Saved; takes effect after a restart" : "Saved");
    } catch (err) { fail(err); }
  };
  return html`<h3>Server</h3>${info ? html`<form onSubmit=${saveInfo}>
      <${Field} label="Server name" name="name" defaultValue=${info.name} required maxlength="64"/>
      <div class="field"><label for="srv-desc">Description</label><textarea id="srv-desc" name="description" rows="3">${info.description}</textarea></div>
      <p class="muted">Version ${info.version} · registration ${info.registration_mode.replace("_", " ")} · ${info.members_count} members, ${info.online_count} online</p>
      <button class="primary" type="submit">Save</button></form>` : html`<${Spinner}/>`}
    <h3>Settings</h3>${settings ? html`<table><thead><tr><th scope="col">Setting</th><th scope="col">Value</th><th scope="col">Applies</th></tr></thead>
      <tbody>${settings.map(s => html`<tr key=${s.name}><th scope="row"><code>${s.name}</code>${s.overridden ? html` <small class="muted">(changed here)</small>` : ""}</th>
        <td>${s.change === "file" ? html`<code>${JSON.stringify(s.value)}</code>` : html`<${SettingInput} s=${s} onSave=${v => saveSetting(s, v)}/>`}</td>
        <td>${s.change === "runtime" ? "at once" : s.change === "restart" ? "after restart" : "pufferd.toml"}${s.restart_required ? " (pending)" : ""}</td></tr>`)}</tbody></table>`
      : html`<${Spinner}/>`}`;
}
function SettingInput({ s, onSave }) {
  const [v, setV] = useState(String(s.value ?? ""));
  useEffect(() => setV(String(s.value ?? "")), [s.value]);
  const id = `set-${s.name}`;
  const input = typeof s.value === "boolean"
    ? html`<select id=${id} value=${v} onChange=${e => setV(e.target.value)}><option value="true">true</option><option value="false">false</option></select>`
    : html`<input id=${id} value=${v} onInput=${e => setV(e.target.value)} inputmode=${typeof s.value === "number" ? "decimal" : undefined}/>`;
  return html`<form class="inline" onSubmit=${e => { e.preventDefault(); onSave(v); }}><label class="visually-hidden" for=${id}>${s.name}</label>${input}
    <button type="submit" disabled=${v === String(s.value ?? "")}>Set</button></form>`;
}

// ---- users and roles ------------------------------------------------------------------------
function Users({ priv }) {
  const [filter, setFilter] = useState({ search: "", role: "", state: "" });
  const [applied, setApplied] = useState(filter);
  const paged = usePaged(`/api/v1/system/users${api.qs({ ...applied, limit: 50 })}`, "users");
  const setRole = async (u, role) => {
    const reason = prompt(`Why make ${u.username} ${role}? (optional)`) ?? null;
    try { await api.put(`/api/v1/system/users/${u.id}/role`, { role, reason: reason || null }); toast("Role changed"); paged.reload(); } catch (e) { fail(e); }
  };
  const roles = Object.keys(priv.roles || { owner: 1, admin: 1, moderator: 1, user: 1 });
  return html`<h3>Users and roles</h3>
    <form class="inline" onSubmit=${e => { e.preventDefault(); setApplied({ ...filter }); }}>
      <${Field} label="Search" value=${filter.search} onInput=${e => setFilter({ ...filter, search: e.target.value })}/>
      <div class="field"><label for="u-role">Role</label><select id="u-role" value=${filter.role} onChange=${e => setFilter({ ...filter, role: e.target.value })}>
        <option value="">any</option>${roles.map(r => html`<option value=${r}>${r}</option>`)}</select></div>
      <div class="field"><label for="u-state">State</label><select id="u-state" value=${filter.state} onChange=${e => setFilter({ ...filter, state: e.target.value })}>
        <option value="">any</option><option value="active">active</option><option value="disabled">disabled</option></select></div>
      <button type="submit">Filter</button></form>
    ${paged.items === null ? html`<${Spinner}/>` : html`<table><thead><tr><th scope="col">User</th><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Last seen</th></tr></thead>
      <tbody>${paged.items.map(u => html`<tr key=${u.id}><td>${u.name} <span class="muted">@${u.username}</span>${u.state === "disabled" ? html` <em>(disabled)</em>` : ""}</td>
        <td>${u.email}${u.email_verified ? "" : " (unverified)"}${u.twofa_enabled ? " · 2FA" : ""}</td>
        <td><label class="visually-hidden" for=${`role-${u.id}`}>Role of ${u.username}</label>
          <select id=${`role-${u.id}`} value=${u.role} onChange=${e => setRole(u, e.target.value)}>${roles.map(r => html`<option value=${r}>${r}</option>`)}</select></td>
        <td>${u.last_seen_at ? fullTime(u.last_seen_at) : "—"}</td></tr>`)}</tbody></table><${More} paged=${paged}/>`}`;
}

// ---- invites --------------------------------------------------------------------------------
function Invites() {
  const paged = usePaged("/api/v1/system/invites?limit=50", "invites");
  const [created, setCreated] = useState(null);
  const create = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    const uses = f.get("max_uses");
    try {
      setCreated(await api.post("/api/v1/system/invites", { max_uses: uses ? Number(uses) : null, note: f.get("note").trim() || null }));
      paged.reload(); e.target.reset();
    } catch (err) { fail(err); }
  };
  const revoke = async i => { try { await api.del(`/api/v1/system/invites/${i.id}`); paged.reload(); } catch (e) { fail(e); } };
  return html`<h3>Registration invites</h3>
    <form class="inline" onSubmit=${create}><${Field} label="Note" name="note"/><${Field} label="Uses (empty: unlimited)" name="max_uses" type="number" min="1"/>
      <button type="submit">Create</button></form>
    ${created && html`<p class="notice" role="status">New code (shown once): <code>${created.code}</code></p>`}
    ${paged.items === null ? html`<${Spinner}/>` : html`<table><thead><tr><th scope="col">Code</th><th scope="col">Note</th><th scope="col">Uses</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${paged.items.map(i => html`<tr key=${i.id}><td><code>…${i.code_hint}</code></td><td>${i.note || ""}</td>
        <td>${i.uses}${i.max_uses ? ` / ${i.max_uses}` : ""}</td><td>${fullTime(i.created_at)}</td>
        <td>${i.usable ? html`<button type="button" onClick=${() => revoke(i)}>Revoke</button>` : html`<span class="muted">${i.revoked_at ? "revoked" : "used up"}</span>`}</td></tr>`)}</tbody></table><${More} paged=${paged}/>`}`;
}

// ---- IP blocks ------------------------------------------------------------------------------
function IpBlocks() {
  const paged = usePaged("/api/v1/system/ip-blocks?limit=50", "blocks");
  const add = async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    try { await api.post("/api/v1/system/ip-blocks", { network: f.get("network").trim(), reason: f.get("reason").trim() || null }); e.target.reset(); paged.reload(); }
    catch (err) { fail(err); }
  };
  const remove = async b => { try { await api.del(`/api/v1/system/ip-blocks/${b.id}`); paged.reload(); } catch (e) { fail(e); } };
  return html`<h3>IP blocks</h3>
    <form class="inline" onSubmit=${add}><${Field} label="Address or CIDR range" name="network" required placeholder="203.0.113.0/24"/>
      <${Field} label="Reason" name="reason"/><button type="submit">Block</button></form>
    ${paged.items === null ? html`<${Spinner}/>` : html`<table><thead><tr><th scope="col">Network</th><th scope="col">Reason</th><th scope="col">Refused</th><th scope="col">Since</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${paged.items.map(b => html`<tr key=${b.id}><td><code>${b.network}</code>${b.active ? "" : " (expired)"}</td><td>${b.reason || ""}</td>
        <td>${b.attempts}</td><td>${fullTime(b.created_at)}</td><td>${b.active && html`<button type="button" onClick=${() => remove(b)}>Unblock</button>`}</td></tr>`)}
      ${!paged.items.length && html`<tr><td colspan="5" class="muted">No blocks.</td></tr>`}</tbody></table><${More} paged=${paged}/>`}`;
}

// ---- audit ----------------------------------------------------------------------------------
function Audit() {
  const [action, setAction] = useState("");
  const [applied, setApplied] = useState("");
  const paged = usePaged(`/api/v1/system/audit${api.qs({ action: applied, limit: 50 })}`, "entries");
  return html`<h3>Audit log</h3>
    <form class="inline" onSubmit=${e => { e.preventDefault(); setApplied(action.trim()); }}>
      <${Field} label="Action" value=${action} onInput=${e => setAction(e.target.value)} placeholder="login_failed"/><button type="submit">Filter</button></form>
    ${paged.items === null ? html`<${Spinner}/>` : html`<table><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Who</th><th scope="col">Target</th><th scope="col">From</th></tr></thead>
      <tbody>${paged.items.map(a => html`<tr key=${a.id}><td>${fullTime(a.created_at)}</td><td><code>${a.action}</code></td>
        <td>${a.actor_username || a.actor}</td><td>${a.username || a.target || ""}${a.detail && Object.keys(a.detail).length ? html`<br/><small class="muted">${JSON.stringify(a.detail)}</small>` : ""}</td>
        <td>${a.ip_address || ""}</td></tr>`)}</tbody></table><${More} paged=${paged}/>`}`;
}

// ---- files ----------------------------------------------------------------------------------
function Files() {
  const [summary, setSummary] = useState(null);
  const [unused, setUnused] = useState(false);
  const paged = usePaged(`/api/v1/cdn/admin/files${api.qs({ limit: 50, unused: unused || undefined })}`, "files");
  const loadSummary = () => api.get("/api/v1/cdn/admin/summary").then(setSummary, fail);
  useEffect(() => { loadSummary(); }, []);
  const remove = async f => {
    const reason = prompt(`Delete ${f.file_name}? It disappears from every message. Reason:`);
    if (!reason) return;
    try { await api.api("DELETE", `/api/v1/cdn/admin/files/${encodeURIComponent(f.name)}`, { reason }); paged.reload(); loadSummary(); } catch (e) { fail(e); }
  };
  const cleanup = async () => {
    try { const r = await api.post("/api/v1/cdn/admin/cleanup"); toast(`Cleaned: ${r.expired_uploads} expired uploads, ${r.unattached} unattached files, ${r.blobs} blobs`); paged.reload(); loadSummary(); }
    catch (e) { fail(e); }
  };
  return html`<h3>Files</h3>
    ${summary && html`<div class="cards"><div class="card"><span class="muted">Files</span><strong>${summary.files}</strong></div>
      <div class="card"><span class="muted">As uploaded</span><strong>${fileSize(summary.bytes)}</strong></div>
      <div class="card"><span class="muted">On disk</span><strong>${fileSize(summary.blob_bytes)}</strong></div>
      <div class="card"><span class="muted">Pending uploads</span><strong>${summary.pending_uploads}</strong></div></div>`}
    <div class="row"><label class="check"><input type="checkbox" checked=${unused} onChange=${e => setUnused(e.target.checked)}/> Only unused files</label>
      <button type="button" onClick=${cleanup}>Run the clean-up now</button></div>
    ${paged.items === null ? html`<${Spinner}/>` : html`<table><thead><tr><th scope="col">File</th><th scope="col">Type</th><th scope="col">Size</th><th scope="col">Uploaded</th><th scope="col">Used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${paged.items.map(f => html`<tr key=${f.name}><td>${f.file_name}</td><td>${f.file_type}</td><td>${fileSize(f.file_size)}</td>
        <td>${fullTime(f.created_at)}${f.uploader_id ? ` by #${f.uploader_id}` : ""}</td><td>${f.in_use ? `${f.message_count} messages${f.avatar_of_user_ids.length + f.avatar_of_chat_ids.length ? ", avatar" : ""}` : "unused"}</td>
        <td><button type="button" class="danger" onClick=${() => remove(f)}>Delete</button></td></tr>`)}
      ${!paged.items.length && html`<tr><td colspan="6" class="muted">No files.</td></tr>`}</tbody></table><${More} paged=${paged}/>`}`;
}

// ---- tasks and backups ----------------------------------------------------------------------
function Tasks() {
  const [tasks, setTasks] = useState(null);
  const [backups, setBackups] = useState(null);
  const load = () => api.get("/api/v1/system/tasks").then(setTasks, fail);
  useEffect(() => { load(); api.get("/api/v1/system/backups").then(setBackups, () => setBackups(null)); }, []);
  const run = async t => { try { await api.post(`/api/v1/system/tasks/${encodeURIComponent(t.name)}/run`); toast(`${t.title}: done`); load(); } catch (e) { fail(e); } };
  return html`<h3>Background tasks</h3>${tasks === null ? html`<${Spinner}/>` : html`<table><thead><tr><th scope="col">Task</th><th scope="col">Last run</th><th scope="col">Result</th><th scope="col">Next</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${tasks.map(t => html`<tr key=${t.name}><td>${t.title}<br/><small class="muted">${t.runs} runs, ${t.failures} failures</small></td>
      <td>${t.last_finished_at ? fullTime(t.last_finished_at) : "never"}${t.last_duration_seconds !== null ? ` (${t.last_duration_seconds.toFixed(2)} s)` : ""}</td>
      <td>${t.last_result || ""}</td><td>${t.next_run_at ? fullTime(t.next_run_at) : ""}</td>
      <td><button type="button" disabled=${t.running} onClick=${() => run(t)}>${t.running ? "Running…" : "Run now"}</button></td></tr>`)}</tbody></table>`}
    ${backups && html`<h3>Backups</h3><pre>${JSON.stringify(backups, null, 2)}</pre>`}`;
}
