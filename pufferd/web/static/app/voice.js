// Voice rooms and private calls (README "Voice"): peer-to-peer WebRTC, signalled over the app's
// WebSocket. One peer connection per other participant (a full mesh). Negotiation follows the
// "perfect negotiation" pattern of the WebRTC specification's examples: the newcomer offers,
// later renegotiations (camera, ICE restart) may come from either side, and on a collision the
// peer with the larger user id (polite) yields. The call screen is its own Preact root, so a call
// goes on while the user moves between chats; the chat header only holds the join / call button.
import { html, render, useStore, useEffect, useRef, useState, createStore, cls } from "./lib.js";
import * as api from "./api.js";
import { store, realtime, userName, toast } from "./state.js";

const SPEAKING_LEVEL = 0.02;   // RMS of the analysed signal above which someone speaks
const SPEAKING_HOLD_MS = 400;  // a speaking state is kept this long after the level drops
const MIC_REFUSED = "The browser refused the microphone. Allow it for this site (the icon in the address bar) and join again.";
const NO_MIC = "No microphone was found. Connect one and join again.";

export const voice = createStore({
  chatId: null,        // the room this device is in (or joining)
  joining: false,
  roster: new Map(),   // chat_id -> VoiceRoomRead participants (from voice_state events)
  call: null,          // {chat_id, caller_id, callee_id, state} of a private call that rings or runs
  muted: false, deafened: false, video: false,
  error: null,         // a message the call screen shows (microphone refused, room full, ...)
  levels: new Map(),   // user_id -> 0..1, measured here from the audio itself
  devices: [], deviceId: "",
});
const V = voice.state;
const peers = new Map(); // user_id -> {pc, polite, makingOffer, ignoreOffer, stream, audio, video}
let local = null;        // the MediaStream of this device's microphone (and camera)
let audioCtx = null;
const analysers = new Map(); // user_id (or "me") -> {analyser, buf, since}
let meterTimer = null;
let iceConfig = null;
let expectError = false;

function me() { return store.state.me ? store.state.me.id : null; }
const send = (type, data) => realtime.send({ type, data });

// ---- incoming frames --------------------------------------------------------------------------
// Realtime hands events to state.js; voice frames are taken here first (the same seq rule: an
// event already applied is not applied again). Error frames answer a voice frame just sent.
const receive = realtime.receive.bind(realtime);
realtime.receive = raw => {
  let frame = null;
  try { frame = JSON.parse(raw); } catch { /* receive() ignores it too */ }
  if (frame && typeof frame.type === "string") {
    const fresh = typeof frame.seq !== "number" || realtime.seq === null || frame.seq > realtime.seq;
    if (fresh && (frame.type.startsWith("voice_") || frame.type.startsWith("call_"))) {
      try { onFrame(frame.type, frame.data); } catch (e) { console.error(e); }
    } else if (frame.type === "error" && expectError) {
      expectError = false;
      V.error = frame.data.detail && frame.data.detail.toString();
      if (V.joining) leaveLocally();
      voice.bump();
    }
  }
  receive(raw);
};
addEventListener("online", () => { for (const p of peers.values()) restartIce(p); });

function onFrame(type, d) {
  if (type === "voice_state") return onRoster(d);
  if (type === "voice_signal") return onSignal(d.from_user_id, d.signal);
  if (type === "voice_left") { // taken out by the server: another device took over, or rights lost
    if (V.chatId === d.chat_id) {
      toast(d.reason === "other_device" ? "You joined this voice room from another device."
                                        : "You can no longer be in this voice room.");
      leaveLocally();
    }
    return;
  }
  if (type === "call_ring") {
    V.call = d;
    if (d.callee_id === me()) ring(true);
  } else if (type === "call_accepted") {
    V.call = d; ring(false);
    if (V.chatId !== d.chat_id) { /* accepted on another device of mine: stop ringing here */ }
  } else if (type === "call_declined" || type === "call_ended" || type === "call_busy") {
    ring(false);
    if (V.call && V.call.chat_id === d.chat_id) V.call = null;
    if (type === "call_busy") toast(`${userName(d.callee_id)} is busy in another call.`);
    if (type === "call_declined" && d.caller_id === me()) toast(`${userName(d.callee_id)} declined the call.`);
    if (V.chatId === d.chat_id) leaveLocally();
  }
  voice.bump();
}

function onRoster(d) {
  V.roster.set(d.chat_id, d.participants);
  if (V.chatId !== d.chat_id) { voice.bump(); return; }
  const ids = new Set(d.participants.map(p => p.user_id));
  if (V.joining && ids.has(me())) {
    V.joining = false;
    // the newcomer offers to everyone already in the room; they answer
    for (const p of d.participants) if (p.user_id !== me()) connectTo(p.user_id);
  } else if (!V.joining && !ids.has(me())) {
    leaveLocally(); // removed (the call ended, or the socket was replaced)
  }
  for (const uid of [...peers.keys()]) if (!ids.has(uid)) closePeer(uid);
  voice.bump();
}

// ---- joining and leaving ------------------------------------------------------------------------
async function prepare() {
  V.error = null;
  if (!iceConfig || Date.parse(iceConfig.expires_at) - Date.now() < 60_000) {
    const body = await api.get("/api/v1/voice/ice-servers");
    iceConfig = { expires_at: body.expires_at, iceServers: body.ice_servers.map(s => Object.fromEntries(
      Object.entries(s).filter(([, v]) => v !== null))) };
  }
  if (!local) {
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: V.deviceId ? { deviceId: { exact: V.deviceId } } : true });
    } catch (e) {
      V.error = e && e.name === "NotFoundError" ? NO_MIC : MIC_REFUSED;
      voice.bump();
      return false;
    }
    applyMute();
    meter("me", local);
    listDevices();
  }
  return true;
}

export async function join(chatId) {
  if (V.chatId === chatId) return;
  if (V.chatId !== null) leave();
  V.chatId = chatId; V.joining = true; voice.bump();
  try {
    if (!(await prepare())) { leaveLocally(); return; }
  } catch (e) { V.error = e.message; leaveLocally(); return; }
  expectError = true;
  send("voice_join", { chat_id: chatId });
}

export function leave() {
  if (V.chatId === null) return;
  const call = V.call && V.call.chat_id === V.chatId;
  send(call ? "call_hangup" : "voice_leave", { chat_id: V.chatId });
  leaveLocally();
}

function leaveLocally() {
  for (const uid of [...peers.keys()]) closePeer(uid);
  if (local) for (const t of local.getTracks()) t.stop();
  local = null;
  analysers.delete("me");
  V.chatId = null; V.joining = false; V.video = false;
  voice.bump();
}

export async function startCall(chatId) {
  if (V.chatId !== null) leave();
  V.chatId = chatId; V.joining = true; voice.bump();
  if (!(await prepare())) { leaveLocally(); return; }
  expectError = true;
  send("call_ring", { chat_id: chatId });
}

export async function acceptCall() {
  const call = V.call;
  if (!call) return;
  ring(false);
  if (V.chatId !== null) leave();
  V.chatId = call.chat_id; V.joining = true; voice.bump();
  if (!(await prepare())) { send("call_decline", { chat_id: call.chat_id }); leaveLocally(); return; }
  expectError = true;
  send("call_accept", { chat_id: call.chat_id });
}

export function declineCall() {
  if (V.call) send("call_decline", { chat_id: V.call.chat_id });
  ring(false); V.call = null; voice.bump();
}

// ---- peer connections -----------------------------------------------------------------------------
function peer(uid) {
  let p = peers.get(uid);
  if (p) return p;
  const pc = new RTCPeerConnection({ iceServers: iceConfig ? iceConfig.iceServers : [] });
  p = { pc, polite: me() > uid, makingOffer: false, ignoreOffer: false, stream: new MediaStream(), audio: new Audio() };
  peers.set(uid, p);
  p.audio.autoplay = true;
  p.audio.muted = V.deafened;
  p.audio.srcObject = p.stream;
  pc.ontrack = ({ track }) => {
    p.stream.addTrack(track);
    if (track.kind === "audio") meter(uid, new MediaStream([track]));
    track.onended = () => { p.stream.removeTrack(track); voice.bump(); };
    voice.bump();
  };
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) send("voice_signal", { chat_id: V.chatId, to_user_id: uid, signal: { kind: "candidate", candidate: candidate.toJSON() } });
  };
  pc.onnegotiationneeded = async () => {
    try {
      p.makingOffer = true;
      await pc.setLocalDescription();
      send("voice_signal", { chat_id: V.chatId, to_user_id: uid, signal: { kind: pc.localDescription.type, sdp: pc.localDescription.sdp } });
    } catch (e) { console.error(e); } finally { p.makingOffer = false; }
  };
  pc.oniceconnectionstatechange = () => { if (pc.iceConnectionState === "failed") restartIce(p); };
  pc.onconnectionstatechange = () => voice.bump();
  return p;
}

function addLocalTracks(p) {
  if (!local) return;
  const sending = new Set(p.pc.getSenders().map(s => s.track));
  for (const t of local.getTracks()) if (!sending.has(t)) p.pc.addTrack(t, local);
}

function connectTo(uid) { addLocalTracks(peer(uid)); } // negotiationneeded sends the offer

async function onSignal(from, sig) {
  if (V.chatId === null) return;
  const p = peer(from);
  const pc = p.pc;
  try {
    if (sig.kind === "candidate") {
      try { await pc.addIceCandidate(sig.candidate); } catch (e) { if (!p.ignoreOffer) throw e; }
      return;
    }
    const collision = sig.kind === "offer" && (p.makingOffer || pc.signalingState !== "stable");
    p.ignoreOffer = !p.polite && collision;
    if (p.ignoreOffer) return;
    await pc.setRemoteDescription({ type: sig.kind, sdp: sig.sdp });
    if (sig.kind === "offer") {
      addLocalTracks(p); // reuses the transceivers the offer created: one answer, no second offer
      await pc.setLocalDescription();
      send("voice_signal", { chat_id: V.chatId, to_user_id: from, signal: { kind: "answer", sdp: pc.localDescription.sdp } });
    }
  } catch (e) { console.error("voice signalling", e); }
}

// a new network path (Wi-Fi to mobile, a VPN): gather candidates again; the polite side waits
function restartIce(p) {
  if (p.pc.connectionState !== "closed") p.pc.restartIce();
}

function closePeer(uid) {
  const p = peers.get(uid);
  if (!p) return;
  peers.delete(uid);
  p.pc.close();
  p.audio.srcObject = null;
  analysers.delete(uid);
  V.levels.delete(uid);
}

// ---- mute, deafen, devices, camera ------------------------------------------------------------------
function applyMute() {
  if (local) for (const t of local.getAudioTracks()) t.enabled = !V.muted && !V.deafened;
}

function sendState(changes) {
  if (V.chatId !== null && !V.joining) send("voice_state", { chat_id: V.chatId, ...changes });
}

export function toggleMute() {
  V.muted = !V.muted; applyMute(); sendState({ muted: V.muted }); voice.bump();
}

export function toggleDeafen() {
  V.deafened = !V.deafened;
  if (V.deafened) V.muted = true;
  for (const p of peers.values()) p.audio.muted = V.deafened;
  applyMute(); sendState({ deafened: V.deafened, muted: V.muted }); voice.bump();
}

async function listDevices() {
  try {
    V.devices = (await navigator.mediaDevices.enumerateDevices()).filter(d => d.kind === "audioinput");
    voice.bump();
  } catch { V.devices = []; }
}

export async function chooseDevice(deviceId) {
  V.deviceId = deviceId;
  if (!local) { voice.bump(); return; }
  try {
    const fresh = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId } } });
    const track = fresh.getAudioTracks()[0];
    for (const old of local.getAudioTracks()) { local.removeTrack(old); old.stop(); }
    local.addTrack(track);
    for (const p of peers.values()) for (const s of p.pc.getSenders()) if (s.track && s.track.kind === "audio") s.replaceTrack(track);
    applyMute(); meter("me", local);
  } catch (e) { V.error = e.name === "NotAllowedError" ? MIC_REFUSED : e.message; }
  voice.bump();
}

export async function toggleCamera() {
  if (!local) return;
  if (V.video) {
    for (const t of local.getVideoTracks()) {
      local.removeTrack(t); t.stop();
      for (const p of peers.values()) for (const s of p.pc.getSenders()) if (s.track === t) p.pc.removeTrack(s);
    }
    V.video = false;
  } else {
    try {
      const cam = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      const track = cam.getVideoTracks()[0];
      local.addTrack(track);
      for (const p of peers.values()) p.pc.addTrack(track, local); // negotiationneeded renegotiates
      V.video = true;
    } catch { V.error = "The browser refused the camera."; }
  }
  sendState({ video: V.video });
  voice.bump();
}

// ---- speaking indicators from audio levels (WebAudio AnalyserNode) ------------------------------
function meter(key, stream) {
  try {
    audioCtx = audioCtx || new AudioContext();
    if (audioCtx.state === "suspended") audioCtx.resume();
    const analyser = audioCtx.createAnalyser();
    analyser.fftSize = 512;
    audioCtx.createMediaStreamSource(stream).connect(analyser);
    analysers.set(key, { analyser, buf: new Float32Array(analyser.fftSize), since: 0, speaking: false });
  } catch { return; }
  if (!meterTimer) meterTimer = setInterval(measure, 100);
}

function measure() {
  if (!analysers.size) { clearInterval(meterTimer); meterTimer = null; return; }
  const now = Date.now();
  let changed = false;
  for (const [key, a] of analysers) {
    a.analyser.getFloatTimeDomainData(a.buf);
    let sum = 0;
    for (const x of a.buf) sum += x * x;
    const rms = Math.sqrt(sum / a.buf.length);
    const loud = rms > SPEAKING_LEVEL && !(key === "me" && (V.muted || V.deafened));
    if (loud) a.since = now;
    const speaking = loud || now - a.since < SPEAKING_HOLD_MS;
    V.levels.set(key === "me" ? me() : key, rms);
    if (speaking !== a.speaking) {
      a.speaking = speaking; changed = true;
      if (key === "me") sendState({ speaking });
    }
  }
  if (changed) voice.bump();
}

function speaking(uid, fromServer) {
  const a = analysers.get(uid === me() ? "me" : uid);
  return Boolean((a && a.speaking) || fromServer);
}

// ---- ringing ---------------------------------------------------------------------------------------
let ringTimer = null;
function ring(on) {
  clearInterval(ringTimer); ringTimer = null;
  if (!on) return;
  const beep = () => {
    try {
      audioCtx = audioCtx || new AudioContext();
      const o = audioCtx.createOscillator(); const g = audioCtx.createGain();
      g.gain.value = 0.05; o.frequency.value = 440; o.connect(g).connect(audioCtx.destination);
      o.start(); o.stop(audioCtx.currentTime + 0.4);
    } catch { /* no audio output */ }
  };
  beep(); ringTimer = setInterval(beep, 2000);
}

// ---- the screens -------------------------------------------------------------------------------------
const PHONE = "M6.6 10.8a15 15 0 006.6 6.6l2.2-2.2a1 1 0 011-.25 11.4 11.4 0 003.6.57 1 1 0 011 1V20a1 1 0 01-1 1A17 17 0 013 4a1 1 0 011-1h3.5a1 1 0 011 1c0 1.25.2 2.45.57 3.57a1 1 0 01-.25 1z";
const PhoneIcon = ({ label }) => html`<svg class="icon" width="20" height="20" viewBox="0 0 24 24" role="img" aria-label=${label}
  focusable="false"><path d=${PHONE} fill="currentColor"/></svg>`;

// The chat header's button: join a group's or channel's room, or call in a private chat.
export function VoiceButton({ chat }) {
  const v = useStore(voice);
  useEffect(() => { // the roster when the chat opens; voice_state events keep it current
    if (chat.is_saved || (chat.type === "channel" && !["owner", "admin"].includes(chat.my_role))) return;
    api.get(`/api/v1/voice/${chat.id}`).then(r => { V.roster.set(chat.id, r.participants); if (r.call && !V.call) V.call = r.call; voice.bump(); }, () => {});
  }, [chat.id]);
  if (chat.is_saved || (chat.type === "channel" && !["owner", "admin"].includes(chat.my_role))) return null;
  const here = v.chatId === chat.id;
  const inRoom = (v.roster.get(chat.id) || []).length;
  if (chat.type === "private") {
    return html`<button type="button" class="icon-btn voice-btn" disabled=${here}
      onClick=${() => startCall(chat.id)}><${PhoneIcon} label="Call"/></button>`;
  }
  return html`<button type="button" class=${cls("icon-btn voice-btn", inRoom && "live")} aria-pressed=${here}
    onClick=${() => (here ? leave() : join(chat.id))}><${PhoneIcon} label=${here ? "Leave voice" : "Join voice"}/>
    ${inRoom > 0 && html`<span class="voice-count">${inRoom}</span>`}</button>`;
}

function Tile({ uid, state, p }) {
  const videoRef = useRef(null);
  const hasVideo = p ? p.stream.getVideoTracks().length > 0 : (uid === me() && V.video);
  useEffect(() => {
    const el = videoRef.current;
    if (el) el.srcObject = uid === me() ? local : p && p.stream;
  });
  const talking = speaking(uid, state && state.speaking);
  return html`<li class=${cls("voice-tile", talking && "speaking")} data-user-id=${uid}
      aria-label=${`${userName(uid)}${state && state.muted ? ", muted" : ""}${state && state.deafened ? ", deafened" : ""}${talking ? ", speaking" : ""}`}>
    ${hasVideo ? html`<video ref=${videoRef} autoplay playsinline muted></video>` : html`<span class="voice-initial">${(userName(uid) || "?").slice(0, 1)}</span>`}
    <span class="voice-name">${uid === me() ? "You" : userName(uid)}</span>
    ${state && state.muted && html`<span class="voice-flag muted-flag">muted</span>`}
    ${state && state.deafened && html`<span class="voice-flag deaf-flag">deafened</span>`}
    ${p && p.pc.connectionState !== "connected" && html`<span class="voice-flag">${p.pc.connectionState}</span>`}
  </li>`;
}

function CallScreen() {
  const v = useStore(voice);
  const s = useStore(store);
  const [open, setOpen] = useState(true);
  if (!s.me) return null;
  const ringing = v.call && v.call.state === "ringing" && v.call.callee_id === s.me.id && v.chatId !== v.call.chat_id;
  if (ringing) {
    return html`<div class="voice-ring" role="alertdialog" aria-labelledby="voice-ring-title">
      <h2 id="voice-ring-title">${userName(v.call.caller_id)} is calling</h2>
      <button type="button" class="primary" onClick=${acceptCall}>Accept</button>
      <button type="button" class="danger" onClick=${declineCall}>Decline</button></div>`;
  }
  if (v.chatId === null) {
    return v.error ? html`<div class="voice-panel" role="alert"><p class="form-error voice-error">${v.error}</p>
      <button type="button" onClick=${() => { V.error = null; voice.bump(); }}>Dismiss</button></div>` : null;
  }
  const chat = s.chats.get(v.chatId);
  const roster = v.roster.get(v.chatId) || [];
  const byId = new Map(roster.map(p => [p.user_id, p]));
  const calling = v.call && v.call.chat_id === v.chatId && v.call.state === "ringing";
  return html`<section class=${cls("voice-panel", !open && "folded")} aria-label="Voice">
    <header><h2>${calling ? `Calling ${userName(v.call.callee_id)}…` : v.joining ? "Joining…" : `Voice: ${chat ? chat.display_title : ""}`}</h2>
      <button type="button" class="linkish" onClick=${() => setOpen(!open)}>${open ? "Hide" : "Show"}</button></header>
    ${v.error && html`<p class="form-error voice-error" role="alert">${v.error}</p>`}
    ${open && html`<ul class="voice-grid">${roster.map(p => html`<${Tile} key=${p.user_id} uid=${p.user_id} state=${byId.get(p.user_id)} p=${peers.get(p.user_id)}/>`)}</ul>`}
    <div class="voice-controls">
      <button type="button" aria-pressed=${v.muted} onClick=${toggleMute}>${v.muted ? "Unmute" : "Mute"}</button>
      <button type="button" aria-pressed=${v.deafened} onClick=${toggleDeafen}>${v.deafened ? "Undeafen" : "Deafen"}</button>
      <button type="button" aria-pressed=${v.video} onClick=${toggleCamera}>${v.video ? "Camera off" : "Camera"}</button>
      ${v.devices.length > 1 && html`<label class="voice-device">Microphone
        <select value=${v.deviceId} onChange=${e => chooseDevice(e.target.value)}>
          ${v.devices.map(d => html`<option value=${d.deviceId}>${d.label || "Microphone"}</option>`)}</select></label>`}
      <button type="button" class="danger" onClick=${leave}>${v.call && v.call.chat_id === v.chatId ? "Hang up" : "Leave"}</button>
    </div></section>`;
}

// The call screen's own root and stylesheet (the page's CSP allows same-origin sheets only).
const sheet = document.createElement("link");
sheet.rel = "stylesheet";
sheet.href = new URL("./voice.css", import.meta.url).href;
document.head.appendChild(sheet);
const root = document.createElement("div");
root.id = "voice-root";
document.body.appendChild(root);
render(html`<${CallScreen}/>`, root);

// diagnostics (and the browser tests): the peer connections of this device by user id
window.pufferdVoice = { peers, state: V };
