/**
 * The Keyframe dashboard: a small single-page app over the public /v1 API and nothing else. The API key lives in
 * sessionStorage (this tab only, never a URL or a cookie); the key's scopes (GET /v1/keys/self) decide which pages
 * and buttons are offered. The DOM is built with createElement only (no innerHTML): titles, URLs and metadata are
 * user data. hls.js and tus-js-client are served by the worker and loaded on first use.
 */
// The scopes an API key may have, from the worker (src/lib/scopes.ts), so the two lists cannot drift.
import { ALL_SCOPES } from "./scopes.js";

const KEY_STORAGE = "keyframe.dashboard.key";
const PENDING_UPLOADS = "keyframe.dashboard.pending-uploads";
const STATIC = "/dashboard/static";
const ACTIVE_ASSET = new Set(["waiting", "queued", "processing"]);

const session = { key: sessionStorage.getItem(KEY_STORAGE), self: null, liveAvailable: false };
let viewAbort = new AbortController();

// ── API client ──────────────────────────────────────────────────────────────────────────────────────────────

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code ?? "http_error";
    this.requestId = problem?.request_id ?? null;
  }
}

async function api(method, path, body, key = session.key) {
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  // Every create is safe to retry: the API replays the first answer for the same Idempotency-Key.
  if (method === "POST") headers["idempotency-key"] = crypto.randomUUID();
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { detail: `The API could not be reached (${err.message}).`, code: "network_error" });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: `HTTP ${res.status}: the answer was not JSON.` };
  }
  if (!res.ok) {
    if (res.status === 401 && key === session.key && session.self) signOut("Your API key is no longer accepted.");
    throw new ApiError(res.status, data);
  }
  return data;
}

function can(scope) {
  const scopes = session.self?.scopes ?? [];
  return scopes.includes("*") || scopes.includes(scope);
}

// ── DOM helpers ─────────────────────────────────────────────────────────────────────────────────────────────

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function notice(kind, text) {
  // Loading and empty states are polite status messages; errors are alerts that quote the request ID.
  const role = kind === "error" ? "alert" : "status";
  return h("p", { class: `notice notice-${kind}`, role }, text);
}

function errorNotice(err, what) {
  const rid = err.requestId ? ` (request ${err.requestId})` : "";
  return notice("error", `${what}: ${err.message}${rid}`);
}

function progressBar(label, value) {
  const bar = h(
    "div",
    { class: "bar", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100 },
    h("span", { class: "bar-fill" }),
  );
  setProgress(bar, value);
  return bar;
}

function setProgress(bar, value) {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  bar.setAttribute("aria-valuenow", String(v));
  bar.setAttribute("aria-valuetext", `${v}%`);
  // CSSOM, not a style attribute: the page's CSP forbids inline styles.
  bar.firstChild.style.width = `${v}%`;
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "—";
  const m = Math.floor(s / 60);
  const sec = (s % 60).toFixed(1).padStart(4, "0");
  return `${m}:${sec}`;
}

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function fmtBytes(n) {
  if (!Number.isFinite(n)) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function statusBadge(status) {
  return h("span", { class: `badge badge-${status}` }, status);
}

function table(caption, headers, rows, emptyText) {
  if (!rows.length) return notice("empty", emptyText);
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/** Shows a secret exactly once, with a copy button; it is never stored. */
function secretBox(label, secret) {
  const input = h("input", { readonly: true, value: secret, "aria-label": label, class: "secret" });
  return h(
    "div",
    { class: "secret-box", role: "status" },
    h("strong", {}, `${label} — shown once, store it now:`),
    input,
    h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(secret) }, "Copy"),
  );
}

function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { "aria-label": "Confirm" },
      h("p", {}, message),
      h(
        "form",
        { method: "dialog" },
        h("button", { value: "cancel" }, "Cancel"),
        h("button", { value: "ok", class: "danger" }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Runs `fn` every `ms` until the view changes; errors are shown by `fn` itself and do not stop the loop. */
function every(ms, fn, signal = viewAbort.signal) {
  const tick = async () => {
    if (signal.aborted) return;
    try {
      await fn();
    } catch {
      /* the view renders its own error state */
    }
    if (!signal.aborted) setTimeout(tick, ms);
  };
  setTimeout(tick, ms);
}

const loaded = new Map();
function loadScript(name) {
  if (!loaded.has(name)) {
    loaded.set(
      name,
      new Promise((resolve, reject) => {
        const s = h("script", { src: `${STATIC}/${name}` });
        s.onload = resolve;
        s.onerror = () => reject(new Error(`could not load ${name}`));
        document.head.append(s);
      }),
    );
  }
  return loaded.get(name);
}

// ── Sign in ─────────────────────────────────────────────────────────────────────────────────────────────────

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  session.key = null;
  session.self = null;
  render(message);
}

function signInView(main, message) {
  const input = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "kf_…",
  });
  const out = h("div", {});
  if (message) out.append(notice("error", message));
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Keyframe dashboard"),
    h("p", {}, "Sign in with an API key. It is kept in this tab only and sent only to this API."),
    h("label", { for: "api-key" }, "API key"),
    input,
    button,
    out,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    out.replaceChildren(notice("loading", "Checking the key…"));
    button.disabled = true;
    try {
      const self = await api("GET", "/v1/keys/self", undefined, key);
      sessionStorage.setItem(KEY_STORAGE, key);
      session.key = key;
      session.self = self;
      if (!location.hash || location.hash === "#/") location.hash = "#/assets";
      else render();
    } catch (err) {
      const reason =
        err.status === 401 ? `That API key was not accepted: ${err.message}` : `Could not sign in: ${err.message}`;
      out.replaceChildren(notice("error", reason));
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

// ── Layout and routing ──────────────────────────────────────────────────────────────────────────────────────

const NAV = [
  ["#/assets", "Assets", "assets:read"],
  ["#/upload", "Upload", "uploads:write"],
  ["#/webhooks", "Webhooks", "webhooks:read"],
  ["#/events", "Events", "events:read"],
  ["#/keys", "Keys", null],
  ["#/live", "Live", "live:read"],
];

const ROUTES = [
  [/^#\/assets\/(as_[0-9a-z]+)$/, assetDetailView],
  [/^#\/assets$/, assetsView],
  [/^#\/upload$/, uploadView],
  [/^#\/webhooks\/(we_[0-9a-z]+)$/, deliveriesView],
  [/^#\/webhooks$/, webhooksView],
  [/^#\/events$/, eventsView],
  [/^#\/keys$/, keysView],
  [/^#\/live$/, liveView],
];

function shell() {
  const self = session.self;
  const current = location.hash.split("/").slice(0, 2).join("/");
  const links = NAV.filter(([href, , scope]) => (href !== "#/live" || session.liveAvailable) && (!scope || can(scope)));
  return h(
    "header",
    { class: "top" },
    h("a", { href: "#/assets", class: "brand" }, "Keyframe"),
    h(
      "nav",
      { "aria-label": "Main" },
      h(
        "ul",
        {},
        links.map(([href, label]) =>
          h("li", {}, h("a", { href, "aria-current": current === href ? "page" : undefined }, label)),
        ),
      ),
    ),
    h(
      "div",
      { class: "who" },
      h("span", { title: self.scopes.join(" ") }, `${self.name} · ${self.environment_id} · ${self.scopes.join(", ")}`),
      h("button", { type: "button", onclick: () => signOut() }, "Sign out"),
    ),
  );
}

async function render(message) {
  viewAbort.abort();
  viewAbort = new AbortController();
  const root = document.getElementById("app");
  const main = h("main", { id: "main", tabindex: "-1" });
  if (!session.key) {
    root.replaceChildren(main);
    return signInView(main, message);
  }
  if (!session.self) {
    root.replaceChildren(main);
    main.append(notice("loading", "Signing in…"));
    try {
      session.self = await api("GET", "/v1/keys/self");
    } catch (err) {
      sessionStorage.removeItem(KEY_STORAGE);
      session.key = null;
      return render(`That API key was not accepted: ${err.message}`);
    }
  }
  root.replaceChildren(shell(), main);
  const hash = location.hash || "#/assets";
  for (const [re, view] of ROUTES) {
    const m = re.exec(hash);
    if (m) return view(main, ...m.slice(1));
  }
  main.append(notice("error", `No page at ${hash}.`), h("a", { href: "#/assets" }, "Go to assets"));
}

function needScope(main, scope, what) {
  if (can(scope)) return false;
  main.append(h("h1", {}, what), notice("empty", `This API key lacks the '${scope}' scope, so ${what} is hidden.`));
  return true;
}

// ── Assets ──────────────────────────────────────────────────────────────────────────────────────────────────

function assetsView(main) {
  if (needScope(main, "assets:read", "Assets")) return;
  const signal = viewAbort.signal;
  const state = { status: "", search: "", cursors: [], cursor: null, rows: [] };
  const statusSelect = h(
    "select",
    { id: "asset-status" },
    ["", "waiting", "queued", "processing", "ready", "errored"].map((s) => h("option", { value: s }, s || "any")),
  );
  const search = h("input", { id: "asset-search", type: "search", placeholder: "as_… or part of a title" });
  const body = h("div", {}, notice("loading", "Loading assets…"));
  const pager = h("div", { class: "pager" });
  const bars = new Map();

  const row = (a) => {
    const bar = ACTIVE_ASSET.has(a.status) ? progressBar(`Processing ${a.id}`, a.progress?.percent ?? 0) : null;
    if (bar) bars.set(a.id, bar);
    return h(
      "tr",
      { "data-asset-id": a.id },
      h("td", {}, h("a", { href: `#/assets/${a.id}` }, a.id)),
      h("td", {}, a.title ?? h("span", { class: "muted" }, "untitled")),
      h("td", {}, statusBadge(a.status), bar),
      h("td", {}, fmtDuration(a.duration)),
      h("td", {}, fmtTime(a.created_at)),
    );
  };

  const draw = () => {
    const q = state.search.toLowerCase();
    const rows = state.rows.filter((a) => !q || a.id.includes(q) || (a.title ?? "").toLowerCase().includes(q));
    bars.clear();
    const empty = state.rows.length
      ? "No asset on this page matches the search."
      : "No assets yet. Upload a video to get started.";
    body.replaceChildren(
      table("Assets", ["ID", "Title", "Status", "Duration", "Created"], rows.map(row), empty),
      can("uploads:write") && !state.rows.length ? h("a", { href: "#/upload", class: "button" }, "Upload a video") : "",
    );
  };

  const load = async () => {
    body.replaceChildren(notice("loading", "Loading assets…"));
    const params = new URLSearchParams({ limit: "25" });
    if (state.status) params.set("status", state.status);
    if (state.cursor) params.set("cursor", state.cursor);
    try {
      const page = await api("GET", `/v1/assets?${params}`);
      state.rows = page.data;
      draw();
      pager.replaceChildren(
        h(
          "button",
          {
            type: "button",
            disabled: !state.cursors.length,
            onclick: () => {
              state.cursor = state.cursors.pop() ?? null;
              load();
            },
          },
          "Previous page",
        ),
        h(
          "button",
          {
            type: "button",
            disabled: !page.next_cursor,
            onclick: () => {
              state.cursors.push(state.cursor);
              state.cursor = page.next_cursor;
              load();
            },
          },
          "Next page",
        ),
      );
    } catch (err) {
      body.replaceChildren(errorNotice(err, "Could not load assets"));
    }
  };

  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    state.cursor = null;
    state.cursors = [];
    load();
  });
  search.addEventListener("input", () => {
    state.search = search.value.trim();
    draw();
  });
  search.addEventListener("keydown", (e) => {
    // An exact asset ID jumps straight to it, even when it is not on this page.
    if (e.key === "Enter" && /^as_[0-9a-z]{26}$/.test(search.value.trim()))
      location.hash = `#/assets/${search.value.trim()}`;
  });

  // Live progress: re-read each asset that is still processing and update its row in place.
  every(1500, async () => {
    const active = state.rows.filter((a) => ACTIVE_ASSET.has(a.status));
    for (const a of active) {
      const fresh = await api("GET", `/v1/assets/${a.id}`);
      if (signal.aborted) return;
      Object.assign(a, fresh);
      const bar = bars.get(a.id);
      if (bar && ACTIVE_ASSET.has(fresh.status)) setProgress(bar, fresh.progress?.percent ?? 0);
    }
    if (active.some((a) => !ACTIVE_ASSET.has(a.status))) draw();
  });

  main.append(
    h("h1", {}, "Assets"),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "asset-status" }, "Status"),
      statusSelect,
      h("label", { for: "asset-search" }, "Search"),
      search,
    ),
    body,
    pager,
  );
  load();
}

async function assetDetailView(main, id) {
  if (needScope(main, "assets:read", "Assets")) return;
  const signal = viewAbort.signal;
  main.append(h("p", {}, h("a", { href: "#/assets" }, "← Assets")), h("h1", {}, `Asset ${id}`));
  const status = h("div", { class: "status-line", role: "status", "aria-live": "polite" });
  const sections = h("div", {}, notice("loading", "Loading the asset…"));
  main.append(status, sections);
  let asset;
  try {
    asset = await api("GET", `/v1/assets/${id}`);
  } catch (err) {
    sections.replaceChildren(errorNotice(err, "Could not load the asset"));
    return;
  }
  if (signal.aborted) return;

  const bar = progressBar("Processing", asset.progress?.percent ?? 0);
  const drawStatus = () => {
    const parts = [h("span", {}, "Status: "), statusBadge(asset.status)];
    if (ACTIVE_ASSET.has(asset.status)) parts.push(" ", asset.progress?.stage ?? "", bar);
    if (asset.error) parts.push(h("span", { class: "error-text" }, ` ${asset.error.code}: ${asset.error.message}`));
    status.replaceChildren(...parts);
  };
  drawStatus();

  const draw = () => {
    sections.replaceChildren(
      playerSection(asset, signal),
      detailsSection(asset),
      playbackIdsSection(asset, draw),
      metadataSection(asset, (fresh) => {
        asset = fresh;
        draw();
      }),
      timelineSection(asset),
      dangerSection(asset),
    );
  };
  draw();

  if (ACTIVE_ASSET.has(asset.status)) {
    every(1000, async () => {
      if (!ACTIVE_ASSET.has(asset.status)) return;
      asset = await api("GET", `/v1/assets/${id}`);
      if (signal.aborted) return;
      setProgress(bar, asset.progress?.percent ?? 0);
      drawStatus();
      if (!ACTIVE_ASSET.has(asset.status)) draw();
    });
  }
}

function playerSection(asset, signal) {
  const section = h("section", { "aria-labelledby": "player-h" }, h("h2", { id: "player-h" }, "Player"));
  const pb = asset.playback_ids.find((p) => p.policy === "public") ?? asset.playback_ids[0];
  if (asset.status !== "ready") {
    section.append(notice("empty", "The player appears when the asset is ready."));
    return section;
  }
  if (!pb) {
    section.append(notice("empty", "This asset has no playback ID: create one below to watch it."));
    return section;
  }
  if (pb.policy === "signed" && !can("playback:write")) {
    section.append(notice("empty", "This playback ID is signed; minting a token needs the 'playback:write' scope."));
    return section;
  }
  const video = h("video", { controls: true, muted: true, playsinline: true, "aria-label": "Asset player" });
  video.muted = true;
  const info = h("div", { class: "muted" });
  const out = h("div", {});
  section.append(video, info, out);
  (async () => {
    let src = pb.urls.hls;
    let poster = pb.urls.thumbnail;
    let storyboard = pb.urls.storyboard;
    if (pb.policy === "signed") {
      // A fresh short-lived token for this view, minted by the API (never a signing key in the browser).
      const t = await api("POST", `/v1/playback-ids/${pb.id}/tokens`, { expires_in: 3600 });
      src = t.urls.master;
      poster = t.urls.thumbnail;
      storyboard = t.urls.storyboard;
      info.append(`Signed playback: token valid until ${fmtTime(t.expires_at)}. `);
    }
    video.poster = poster;
    info.append(h("a", { href: storyboard, target: "_blank", rel: "noopener" }, "Storyboard (WebVTT)"), " · ");
    info.append(h("a", { href: src, target: "_blank", rel: "noopener" }, "HLS URL"));
    await loadScript("hls.min.js");
    if (signal.aborted) return;
    if (window.Hls?.isSupported()) {
      const hls = new window.Hls({ enableWorker: false });
      hls.on(window.Hls.Events.ERROR, (_e, d) => {
        if (d.fatal) out.replaceChildren(notice("error", `Playback error: ${d.details}`));
      });
      hls.loadSource(src);
      hls.attachMedia(video);
      signal.addEventListener("abort", () => hls.destroy());
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    } else {
      out.append(notice("error", "This browser cannot play HLS."));
      return;
    }
    video.play().catch(() => undefined);
  })().catch((err) => out.append(errorNotice(err, "Could not start the player")));
  return section;
}

function detailsSection(a) {
  const dl = h(
    "dl",
    { class: "facts" },
    [
      ["Title", a.title ?? "—"],
      ["Duration", fmtDuration(a.duration)],
      ["Resolution", a.resolution ?? "—"],
      ["Aspect ratio", a.aspect_ratio ?? "—"],
      ["Frame rate", a.max_frame_rate ?? "—"],
      ["Created", fmtTime(a.created_at)],
      ["Ready", fmtTime(a.ready_at)],
      ["Upload", a.upload_id ?? "—"],
      ["Renditions", a.renditions_status ?? "—"],
      ...(a.source_asset_id && a.clip
        ? [["Clip of", `${a.source_asset_id} (${a.clip.start_time}–${a.clip.end_time} s)`]]
        : []),
    ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
  );
  const renditions = table(
    "Renditions",
    ["Name", "Resolution", "Bitrate", "Codecs"],
    a.renditions.map((r) =>
      h(
        "tr",
        {},
        h("td", {}, String(r.name ?? r.id ?? "—")),
        h("td", {}, r.width ? `${r.width}×${r.height}` : "—"),
        h("td", {}, r.bandwidth || r.bitrate ? `${Math.round((r.bandwidth ?? r.bitrate) / 1000)} kb/s` : "—"),
        h("td", {}, String(r.codecs ?? "—")),
      ),
    ),
    "No renditions yet.",
  );
  const tracks = table(
    "Tracks",
    ["Type", "Language", "Name", "Status", "Default", "Closed captions", "Origin"],
    (a.tracks ?? []).map((t) => trackRow(a, t)),
    "No tracks yet: they are read from the source as it is processed (add subtitles, captions or dubbed audio with POST /v1/assets/{id}/tracks).",
  );
  const chapters = table(
    "Chapters",
    ["Start", "Title"],
    (a.chapters ?? []).map((c) => h("tr", {}, h("td", {}, fmtDuration(c.start_time)), h("td", {}, c.title))),
    "No chapters (set them with PATCH /v1/assets/{id} { chapters }).",
  );
  const sr = a.static_renditions;
  const statics = h(
    "div",
    {},
    h("h3", {}, "Static renditions"),
    !sr || sr.status === "disabled"
      ? notice("empty", "Downloads are off for this asset (create it with mp4_support: standard).")
      : table(
          `Static renditions (${sr.status})`,
          ["File", "Size", "Bitrate"],
          sr.files.map((f) =>
            h(
              "tr",
              {},
              h("td", {}, `${f.name}`),
              h("td", {}, fmtBytes(f.filesize)),
              h("td", {}, `${Math.round(f.bitrate / 1000)} kb/s`),
            ),
          ),
          `Static renditions are ${sr.status}.`,
        ),
  );
  return h(
    "section",
    { "aria-labelledby": "details-h" },
    h("h2", { id: "details-h" }, "Details"),
    dl,
    renditions,
    tracks,
    chapters,
    statics,
  );
}

/**
 * One row of the asset's tracks: those read from the source at probe (video, audio; no `id`) and those added
 * with POST /v1/assets/{id}/tracks (text: subtitles or captions, dubbed audio) or asked for with the asset's
 * `generated_subtitles` (speech-to-text), each with its own status.
 */
function trackRow(asset, t) {
  const added = typeof t.id === "string";
  const yesNo = (v) => (v === undefined || v === null ? "—" : v ? "yes" : "no");
  const type = t.type === "text" ? `text (${t.text_type ?? "subtitles"})` : String(t.type);
  // A source's tracks are ready with the asset; an added track has its own life (preparing → ready | errored).
  const status = added ? t.status : asset.status === "ready" ? "ready" : "preparing";
  const statusCell = h("td", {}, statusBadge(status));
  if (t.error) statusCell.append(h("span", { class: "error-text" }, ` ${t.error.code}: ${t.error.message}`));
  return h(
    "tr",
    added ? { "data-track-id": t.id } : {},
    h("td", {}, type),
    h("td", {}, t.language_code ?? "—"),
    h("td", {}, t.name ?? "—"),
    statusCell,
    // A source's only audio stream carries no label (no `primary`): it is the one players play.
    h("td", {}, yesNo(added ? t.default : t.type === "audio" ? (t.primary ?? true) : undefined)),
    h("td", {}, t.type === "audio" ? "—" : yesNo(t.closed_captions ?? false)),
    h("td", {}, added ? `${t.source === "generated" ? "generated" : "added"} (${t.id})` : `source (${t.codec ?? "?"})`),
  );
}

function playbackIdsSection(asset, redraw) {
  const section = h("section", { "aria-labelledby": "pb-h" }, h("h2", { id: "pb-h" }, "Playback IDs"));
  const out = h("div", {});
  const list = h("div", {}, notice("loading", "Loading playback IDs…"));
  section.append(list);
  const load = async () => {
    try {
      const page = await api("GET", `/v1/assets/${asset.id}/playback-ids`);
      list.replaceChildren(
        table(
          "Playback IDs",
          ["ID", "Policy", "Allowed origins", "HLS", ""],
          page.data.map((p) =>
            h(
              "tr",
              {},
              h("td", {}, p.id),
              h("td", {}, p.policy),
              h("td", {}, p.allowed_origins.length ? p.allowed_origins.join(", ") : "any"),
              h("td", {}, h("a", { href: p.urls.hls, target: "_blank", rel: "noopener" }, "m3u8")),
              h(
                "td",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    disabled: !can("playback:write"),
                    "aria-label": `Delete playback ID ${p.id}`,
                    onclick: async () => {
                      if (
                        !(await confirmDialog(`Delete playback ID ${p.id}? Players using it stop working.`, "Delete"))
                      )
                        return;
                      try {
                        await api("DELETE", `/v1/assets/${asset.id}/playback-ids/${p.id}`);
                        asset.playback_ids = asset.playback_ids.filter((x) => x.id !== p.id);
                        redraw();
                      } catch (err) {
                        out.replaceChildren(errorNotice(err, "Could not delete"));
                      }
                    },
                  },
                  "Delete",
                ),
              ),
            ),
          ),
          "No playback IDs.",
        ),
      );
    } catch (err) {
      list.replaceChildren(errorNotice(err, "Could not load playback IDs"));
    }
  };
  load();
  if (can("playback:write")) {
    const policy = h(
      "select",
      { id: "pb-policy" },
      h("option", { value: "public" }, "public"),
      h("option", { value: "signed" }, "signed"),
    );
    const origins = h("input", { id: "pb-origins", placeholder: "example.com, *.example.org" });
    const form = h(
      "form",
      { class: "inline" },
      h("label", { for: "pb-policy" }, "Policy"),
      policy,
      h("label", { for: "pb-origins" }, "Allowed origins"),
      origins,
      h("button", { type: "submit" }, "Create playback ID"),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const allowed = origins.value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      try {
        const p = await api("POST", `/v1/assets/${asset.id}/playback-ids`, {
          policy: policy.value,
          ...(allowed.length ? { allowed_origins: allowed } : {}),
        });
        asset.playback_ids.push({ id: p.id, policy: p.policy, urls: p.urls });
        redraw();
      } catch (err) {
        out.replaceChildren(errorNotice(err, "Could not create the playback ID"));
      }
    });
    section.append(form);
  }
  section.append(out);
  return section;
}

function metadataSection(asset, onSaved) {
  const section = h("section", { "aria-labelledby": "meta-h" }, h("h2", { id: "meta-h" }, "Metadata"));
  const field = (id, label, value, tag = "input") => [
    h("label", { for: id }, label),
    h(tag, { id, value: value ?? "", disabled: !can("assets:write") }),
  ];
  const form = h(
    "form",
    { class: "stack" },
    field("meta-title", "Title", asset.title),
    field("meta-description", "Description", asset.description, "textarea"),
    field("meta-tags", "Tags (comma-separated)", asset.tags.join(", ")),
    field("meta-external-id", "External ID", asset.external_id),
    field("meta-passthrough", "Passthrough", asset.passthrough),
    h("button", { type: "submit", disabled: !can("assets:write") }, "Save metadata"),
  );
  const out = h("div", {});
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (id) => form.querySelector(`#${id}`).value;
    const orNull = (s) => (s.trim() ? s.trim() : null);
    try {
      const fresh = await api("PATCH", `/v1/assets/${asset.id}`, {
        title: orNull(v("meta-title")),
        description: orNull(v("meta-description")),
        tags: v("meta-tags")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
        external_id: orNull(v("meta-external-id")),
        passthrough: orNull(v("meta-passthrough")),
      });
      onSaved(fresh);
    } catch (err) {
      out.replaceChildren(errorNotice(err, "Could not save"));
    }
  });
  section.append(form, out);
  return section;
}

function timelineSection(asset) {
  const section = h("section", { "aria-labelledby": "tl-h" }, h("h2", { id: "tl-h" }, "Timeline"));
  if (!can("events:read")) {
    section.append(notice("empty", "The timeline needs the 'events:read' scope."));
    return section;
  }
  const body = h("div", {}, notice("loading", "Loading the timeline…"));
  section.append(body);
  const describe = (e) => {
    if (e.kind === "event") return [e.event.type, e.event.id];
    if (e.kind === "job")
      return [
        `job ${e.action}`,
        `${e.job_id} attempt ${e.attempt}${e.stage ? ` (${e.stage})` : ""}${e.error ? ` — ${e.error.code}: ${e.error.message}` : ""}`,
      ];
    if (e.kind === "webhook_attempt")
      return [
        `webhook attempt ${e.attempt}`,
        `${e.event_type} → ${e.endpoint_id}: ${e.status_code ?? e.error ?? "no answer"} (${e.latency_ms ?? "?"} ms, ${e.delivery_status})`,
      ];
    return [
      `webhook ${e.delivery_status}`,
      `${e.event_type} → ${e.endpoint_id}, next at ${fmtTime(e.next_attempt_at)}`,
    ];
  };
  api("GET", `/v1/assets/${asset.id}/events`)
    .then((t) =>
      body.replaceChildren(
        table(
          "Asset timeline",
          ["When", "What", "Details"],
          t.data.map((e) => {
            const [what, details] = describe(e);
            return h(
              "tr",
              { class: `tl-${e.kind}` },
              h("td", {}, fmtTime(e.at)),
              h("td", {}, what),
              h("td", {}, details),
            );
          }),
          "Nothing has happened to this asset yet.",
        ),
        ...(t.truncated ? [notice("empty", "Older entries are not shown.")] : []),
      ),
    )
    .catch((err) => body.replaceChildren(errorNotice(err, "Could not load the timeline")));
  return section;
}

function dangerSection(asset) {
  const out = h("div", {});
  return h(
    "section",
    { "aria-labelledby": "danger-h", class: "danger-zone" },
    h("h2", { id: "danger-h" }, "Delete"),
    h(
      "button",
      {
        type: "button",
        class: "danger",
        disabled: !can("assets:write"),
        onclick: async () => {
          if (
            !(await confirmDialog(`Delete asset ${asset.id} and all its media? This cannot be undone.`, "Delete asset"))
          )
            return;
          try {
            await api("DELETE", `/v1/assets/${asset.id}`);
            location.hash = "#/assets";
          } catch (err) {
            out.replaceChildren(errorNotice(err, "Could not delete"));
          }
        },
      },
      "Delete asset",
    ),
    out,
  );
}

// ── Upload ──────────────────────────────────────────────────────────────────────────────────────────────────

function pendingUploads() {
  try {
    return JSON.parse(localStorage.getItem(PENDING_UPLOADS) ?? "{}");
  } catch {
    return {};
  }
}

function savePending(all) {
  localStorage.setItem(PENDING_UPLOADS, JSON.stringify(all));
}

const fingerprintOf = (file) => `${file.name}|${file.size}|${file.lastModified}`;

function uploadView(main) {
  if (needScope(main, "uploads:write", "Upload")) return;
  const signal = viewAbort.signal;
  const fileInput = h("input", { id: "upload-file", type: "file", accept: "video/*,audio/*" });
  const policy = h(
    "select",
    { id: "upload-policy" },
    h("option", { value: "public" }, "public"),
    h("option", { value: "signed" }, "signed"),
  );
  const title = h("input", { id: "upload-title", placeholder: "optional" });
  const drop = h(
    "div",
    { class: "drop", "aria-describedby": "drop-hint" },
    h("p", { id: "drop-hint" }, "Drop a video file here, or choose one:"),
    h("label", { for: "upload-file" }, "Upload video"),
    fileInput,
  );
  const progress = h("div", { class: "upload-progress" });
  const follow = h("div", { role: "status", "aria-live": "polite", class: "follow" });
  const resumeList = h("div", {});

  const drawPending = () => {
    const all = Object.entries(pendingUploads());
    resumeList.replaceChildren(
      all.length
        ? h(
            "div",
            { class: "card" },
            h("h2", {}, "Unfinished uploads"),
            h("p", {}, "Choose the same file again to resume where it stopped."),
            h(
              "ul",
              {},
              all.map(([, p]) =>
                h("li", {}, `${p.name} (${fmtBytes(p.size)}) — ${p.upload_id}, ${p.percent ?? 0}% sent`),
              ),
            ),
          )
        : "",
    );
  };
  drawPending();

  const start = async (file) => {
    progress.replaceChildren(notice("loading", `Preparing ${file.name}…`));
    follow.replaceChildren();
    const fp = fingerprintOf(file);
    const all = pendingUploads();
    let pending = all[fp];
    try {
      if (pending) {
        // A reload or a crash interrupted this file: continue the same upload if it still takes bytes.
        const up = await api("GET", `/v1/uploads/${pending.upload_id}`).catch(() => null);
        if (!up || !["waiting", "uploading"].includes(up.status)) pending = undefined;
      }
      if (!pending) {
        const created = await api("POST", "/v1/uploads", {
          new_asset_settings: {
            playback_policy: policy.value,
            ...(title.value.trim() ? { title: title.value.trim() } : {}),
          },
        });
        pending = { upload_id: created.id, tus_url: created.tus_url, name: file.name, size: file.size, percent: 0 };
        all[fp] = pending;
        savePending(all);
      }
      await loadScript("tus.min.js");
    } catch (err) {
      progress.replaceChildren(errorNotice(err, "Could not start the upload"));
      return;
    }
    const bar = progressBar("Upload progress", pending.percent ?? 0);
    const speed = h("span", { class: "speed" }, "");
    const pauseBtn = h("button", { type: "button" }, "Pause");
    const state = h("span", { class: "upload-state" }, "Uploading");
    progress.replaceChildren(
      h("p", {}, `${file.name} (${fmtBytes(file.size)}) → ${pending.upload_id}`),
      bar,
      h("p", {}, state, " · ", speed, " ", pauseBtn),
    );
    let last = { t: performance.now(), bytes: 0 };
    let rate = 0;
    const upload = new window.tus.Upload(file, {
      endpoint: pending.tus_url,
      retryDelays: [0, 1000, 3000, 5000],
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        const pct = (sent / total) * 100;
        setProgress(bar, pct);
        const now = performance.now();
        if (now - last.t > 250) {
          const inst = ((sent - last.bytes) / (now - last.t)) * 1000;
          rate = rate ? rate * 0.6 + inst * 0.4 : inst;
          last = { t: now, bytes: sent };
          speed.textContent = `${fmtBytes(rate)}/s`;
          const saved = pendingUploads();
          if (saved[fp]) {
            saved[fp].percent = Math.floor(pct);
            savePending(saved);
          }
        }
      },
      onError: (err) => {
        state.textContent = "Failed";
        progress.append(notice("error", `Upload failed: ${err.message ?? err}. Choose the file again to resume.`));
      },
      onSuccess: () => {
        setProgress(bar, 100);
        state.textContent = "Uploaded";
        pauseBtn.disabled = true;
        const saved = pendingUploads();
        delete saved[fp];
        savePending(saved);
        drawPending();
        followUpload(pending.upload_id, follow, signal);
      },
    });
    let paused = false;
    pauseBtn.addEventListener("click", () => {
      paused = !paused;
      if (paused) {
        upload.abort();
        state.textContent = "Paused";
        pauseBtn.textContent = "Resume";
      } else {
        upload.start();
        state.textContent = "Uploading";
        pauseBtn.textContent = "Pause";
      }
    });
    const previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      state.textContent = "Resuming";
    }
    upload.start();
  };

  fileInput.addEventListener("change", () => fileInput.files[0] && start(fileInput.files[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files?.[0];
    if (file) start(file);
  });

  main.append(
    h("h1", {}, "Upload"),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "upload-policy" }, "Playback policy"),
      policy,
      h("label", { for: "upload-title" }, "Title"),
      title,
    ),
    drop,
    progress,
    follow,
    resumeList,
  );
}

/** After the bytes are in: find the asset the upload created and follow it to ready on this page. */
async function followUpload(uploadId, out, signal) {
  out.replaceChildren(notice("loading", "Upload complete; waiting for the asset…"));
  let assetId = null;
  while (!signal.aborted && !assetId) {
    const up = await api("GET", `/v1/uploads/${uploadId}`).catch(() => null);
    assetId = up?.asset_id ?? null;
    if (up && ["errored", "cancelled", "expired"].includes(up.status)) {
      out.replaceChildren(notice("error", `The upload ended ${up.status}.`));
      return;
    }
    if (!assetId) await new Promise((r) => setTimeout(r, 500));
  }
  const bar = progressBar("Processing", 0);
  const line = h("span", { class: "asset-state" }, "");
  out.replaceChildren(h("p", {}, "Asset ", h("a", { href: `#/assets/${assetId}` }, assetId), ": ", line), bar);
  while (!signal.aborted) {
    const a = await api("GET", `/v1/assets/${assetId}`).catch(() => null);
    if (a) {
      line.textContent = a.status === "ready" ? "ready" : `${a.status}${a.progress ? ` (${a.progress.stage})` : ""}`;
      setProgress(bar, a.status === "ready" ? 100 : (a.progress?.percent ?? 0));
      if (a.status === "ready" || a.status === "errored") {
        if (a.error) out.append(notice("error", `${a.error.code}: ${a.error.message}`));
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ── Webhooks ────────────────────────────────────────────────────────────────────────────────────────────────

function webhooksView(main) {
  if (needScope(main, "webhooks:read", "Webhooks")) return;
  const list = h("div", {}, notice("loading", "Loading endpoints…"));
  const out = h("div", {});
  const write = can("webhooks:write");
  const load = async () => {
    try {
      const page = await api("GET", "/v1/webhook-endpoints?limit=100");
      list.replaceChildren(
        table(
          "Webhook endpoints",
          ["Endpoint", "URL", "Events", "State", "Actions"],
          page.data.map((ep) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: `#/webhooks/${ep.id}` }, ep.id)),
              h("td", {}, ep.url),
              h("td", {}, ep.event_types.length ? ep.event_types.join(", ") : "all"),
              h("td", {}, ep.enabled ? "enabled" : `disabled${ep.disabled_reason ? ` (${ep.disabled_reason})` : ""}`),
              h(
                "td",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    disabled: !write,
                    onclick: () =>
                      act(() => api("PATCH", `/v1/webhook-endpoints/${ep.id}`, { enabled: !ep.enabled }), "update"),
                  },
                  ep.enabled ? "Disable" : "Enable",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    disabled: !write,
                    onclick: async () => {
                      try {
                        const r = await api("POST", `/v1/webhook-endpoints/${ep.id}/rotate-secret`, {});
                        out.replaceChildren(secretBox(`New signing secret for ${ep.id}`, r.secret));
                      } catch (err) {
                        out.replaceChildren(errorNotice(err, "Could not rotate"));
                      }
                    },
                  },
                  "Rotate secret",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    disabled: !write,
                    onclick: async () => {
                      if (await confirmDialog(`Delete endpoint ${ep.url}?`, "Delete"))
                        act(() => api("DELETE", `/v1/webhook-endpoints/${ep.id}`), "delete");
                    },
                  },
                  "Delete",
                ),
              ),
            ),
          ),
          "No webhook endpoints yet.",
        ),
      );
    } catch (err) {
      list.replaceChildren(errorNotice(err, "Could not load endpoints"));
    }
  };
  const act = async (fn, what) => {
    try {
      await fn();
      out.replaceChildren();
      await load();
    } catch (err) {
      out.replaceChildren(errorNotice(err, `Could not ${what}`));
    }
  };
  main.append(h("h1", {}, "Webhooks"), list, out);
  if (write) {
    const url = h("input", {
      id: "we-url",
      type: "url",
      required: true,
      placeholder: "the https URL of your receiver",
    });
    const types = h("input", { id: "we-types", placeholder: "asset.ready, asset.* (empty: all)" });
    const form = h(
      "form",
      { class: "inline card" },
      h("h2", {}, "New endpoint"),
      h("label", { for: "we-url" }, "Endpoint URL"),
      url,
      h("label", { for: "we-types" }, "Event types"),
      types,
      h("button", { type: "submit" }, "Create endpoint"),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const event_types = types.value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      try {
        const ep = await api("POST", "/v1/webhook-endpoints", { url: url.value.trim(), event_types });
        form.reset();
        await load();
        out.replaceChildren(secretBox(`Signing secret for ${ep.id}`, ep.secret));
      } catch (err) {
        out.replaceChildren(errorNotice(err, "Could not create the endpoint"));
      }
    });
    main.append(form);
  }
  load();
}

function deliveriesView(main, endpointId) {
  if (needScope(main, "webhooks:read", "Webhooks")) return;
  const write = can("webhooks:write");
  let status = "";
  const body = h("div", {}, notice("loading", "Loading deliveries…"));
  const out = h("div", { role: "status", "aria-live": "polite" });
  const filter = h(
    "select",
    { id: "dl-status" },
    [
      ["", "all"],
      ["failed", "dead letter (failed)"],
      ["retrying", "retrying"],
      ["pending", "pending"],
      ["succeeded", "succeeded"],
    ].map(([v, t]) => h("option", { value: v }, t)),
  );
  filter.addEventListener("change", () => {
    status = filter.value;
    load();
  });
  const load = async () => {
    const params = new URLSearchParams({ limit: "50" });
    if (status) params.set("status", status);
    try {
      const page = await api("GET", `/v1/webhook-endpoints/${endpointId}/deliveries?${params}`);
      body.replaceChildren(
        table(
          status === "failed" ? "Dead-letter deliveries" : "Deliveries",
          ["Delivery", "Event", "Status", "Attempts", "Last answer", "Attempt log", ""],
          page.data.map((d) =>
            h(
              "tr",
              { "data-delivery-id": d.id },
              h("td", {}, d.id),
              h("td", {}, `${d.event_type} ${d.event_id}`),
              h("td", {}, statusBadge(d.status)),
              h("td", {}, String(d.attempts)),
              h("td", {}, d.last_status_code ?? d.last_error ?? "—"),
              h(
                "td",
                {},
                h(
                  "details",
                  {},
                  h("summary", {}, `${d.attempt_log.length} attempts`),
                  h(
                    "ol",
                    {},
                    d.attempt_log.map((a) =>
                      h(
                        "li",
                        {},
                        `${fmtTime(a.created_at)}: ${a.status_code ?? a.error ?? "no answer"} in ${a.latency_ms ?? "?"} ms`,
                        a.response_excerpt ? h("pre", {}, a.response_excerpt) : null,
                      ),
                    ),
                  ),
                ),
              ),
              h(
                "td",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    disabled: !write,
                    "aria-label": `Retry ${d.id}`,
                    onclick: async () => {
                      try {
                        await api("POST", `/v1/webhook-deliveries/${d.id}/retry`, { force: d.status === "succeeded" });
                        out.replaceChildren(notice("ok", `Delivery ${d.id} queued again.`));
                        await load();
                      } catch (err) {
                        out.replaceChildren(errorNotice(err, "Could not retry"));
                      }
                    },
                  },
                  "Retry",
                ),
              ),
            ),
          ),
          status === "failed" ? "The dead letter is empty." : "No deliveries yet.",
        ),
      );
    } catch (err) {
      body.replaceChildren(errorNotice(err, "Could not load deliveries"));
    }
  };
  main.append(
    h("p", {}, h("a", { href: "#/webhooks" }, "← Webhooks")),
    h("h1", {}, `Deliveries to ${endpointId}`),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "dl-status" }, "Delivery status"),
      filter,
      h("button", { type: "button", onclick: () => load() }, "Refresh"),
    ),
  );
  if (write) {
    const since = h("input", { id: "replay-since", type: "datetime-local", required: true, step: "1" });
    since.value = new Date(Date.now() - 3600_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    const form = h(
      "form",
      { class: "inline" },
      h("label", { for: "replay-since" }, "Replay failed deliveries since"),
      since,
      h("button", { type: "submit" }, "Replay failed"),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const r = await api("POST", `/v1/webhook-endpoints/${endpointId}/replay`, {
          since: new Date(since.value).toISOString(),
          status: "failed",
        });
        out.replaceChildren(
          notice("ok", `Replayed ${r.replayed} deliveries${r.has_more ? "; more remain, replay again" : ""}.`),
        );
        await load();
      } catch (err) {
        out.replaceChildren(errorNotice(err, "Could not replay"));
      }
    });
    main.append(form);
  }
  main.append(out, body);
  load();
  every(3000, load);
}

// ── Events ──────────────────────────────────────────────────────────────────────────────────────────────────

function eventsView(main) {
  if (needScope(main, "events:read", "Events")) return;
  const signal = viewAbort.signal;
  const type = h("input", { id: "ev-type", placeholder: "asset.* or asset.ready" });
  const pause = h("button", { type: "button" }, "Pause");
  const body = h("div", {}, notice("loading", "Catching up with the event feed…"));
  const state = { events: [], after: null, paused: false, generation: 0 };
  const MAX = 200;

  const draw = () =>
    body.replaceChildren(
      table(
        "Events (newest first)",
        ["When", "Type", "Object", "Event"],
        state.events.map((e) =>
          h(
            "tr",
            {},
            h("td", {}, fmtTime(e.created_at)),
            h("td", {}, e.type),
            h("td", {}, String(e.data?.id ?? e.data?.asset_id ?? e.data?.upload_id ?? e.data?.playback_id ?? "—")),
            h("td", {}, h("details", {}, h("summary", {}, e.id), h("pre", {}, JSON.stringify(e, null, 2)))),
          ),
        ),
        "No events match yet. New events appear here as they happen.",
      ),
    );

  const fetchPage = async (generation) => {
    const params = new URLSearchParams({ limit: "100" });
    if (state.after) params.set("after", state.after);
    if (type.value.trim()) params.set("type", type.value.trim());
    const page = await api("GET", `/v1/events?${params}`);
    if (generation !== state.generation) return null;
    state.after = page.next_after ?? state.after;
    state.events = [...page.data.reverse(), ...state.events].slice(0, MAX);
    return page;
  };

  const restart = async () => {
    const generation = ++state.generation;
    state.events = [];
    state.after = null;
    body.replaceChildren(notice("loading", "Catching up with the event feed…"));
    try {
      // The feed is in commit order from the beginning: walk to its end, keeping the newest MAX.
      for (let i = 0; i < 50; i++) {
        const page = await fetchPage(generation);
        if (!page?.next_cursor || signal.aborted) break;
      }
      draw();
    } catch (err) {
      body.replaceChildren(errorNotice(err, "Could not read the event feed"));
    }
  };
  let debounce;
  type.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(restart, 400);
  });
  pause.addEventListener("click", () => {
    state.paused = !state.paused;
    pause.textContent = state.paused ? "Resume" : "Pause";
  });
  every(2000, async () => {
    if (state.paused) return;
    const page = await fetchPage(state.generation);
    if (page?.data.length) draw();
  });
  main.append(
    h("h1", {}, "Events"),
    h("div", { class: "filters" }, h("label", { for: "ev-type" }, "Event type"), type, pause),
    body,
  );
  restart();
}

// ── Keys, signing keys, audit log ───────────────────────────────────────────────────────────────────────────

function keysView(main) {
  main.append(h("h1", {}, "Keys"));
  const self = session.self;
  main.append(
    h(
      "section",
      { class: "card" },
      h("h2", {}, "This key"),
      h("p", {}, `${self.name} (${self.id}, ${self.secret_prefix}…) in ${self.environment_id}`),
      h("p", {}, `Scopes: ${self.scopes.join(", ")}`),
    ),
  );
  if (can("keys:write")) main.append(apiKeysSection(), auditSection());
  else main.append(notice("empty", "Managing API keys and the audit log needs the 'keys:write' scope."));
  if (can("playback:write")) main.append(signingKeysSection());
  else main.append(notice("empty", "Signing keys need the 'playback:write' scope."));
}

/** A "Revoke" button for a key row: confirms, DELETEs `path`, reloads the list; errors land in `out`. */
function revokeButton(id, question, path, reload, out) {
  return h(
    "button",
    {
      type: "button",
      class: "danger",
      "aria-label": `Revoke ${id}`,
      onclick: async () => {
        if (!(await confirmDialog(question, "Revoke"))) return;
        try {
          await api("DELETE", path);
          await reload();
        } catch (err) {
          out.replaceChildren(errorNotice(err, "Could not revoke"));
        }
      },
    },
    "Revoke",
  );
}

function apiKeysSection() {
  const section = h("section", { "aria-labelledby": "keys-h" }, h("h2", { id: "keys-h" }, "API keys"));
  const list = h("div", {}, notice("loading", "Loading keys…"));
  const out = h("div", {});
  const load = async () => {
    try {
      const page = await api("GET", "/v1/keys?limit=100");
      list.replaceChildren(
        table(
          "API keys",
          ["Key", "Name", "Scopes", "Last used", "State", ""],
          page.data.map((k) =>
            h(
              "tr",
              {},
              h("td", {}, `${k.id} (${k.secret_prefix}…)`),
              h("td", {}, k.name),
              h("td", {}, k.scopes.join(", ")),
              h("td", {}, fmtTime(k.last_used_at)),
              h("td", {}, k.revoked_at ? `revoked ${fmtTime(k.revoked_at)}` : "active"),
              h(
                "td",
                {},
                k.revoked_at
                  ? null
                  : revokeButton(
                      k.id,
                      `Revoke ${k.name} (${k.id})?${k.id === session.self.id ? " This is the key you are signed in with." : ""}`,
                      `/v1/keys/${k.id}`,
                      load,
                      out,
                    ),
              ),
            ),
          ),
          "No keys.",
        ),
      );
    } catch (err) {
      list.replaceChildren(errorNotice(err, "Could not load keys"));
    }
  };
  const name = h("input", { id: "key-name", required: true });
  const boxes = ALL_SCOPES.filter((s) => can(s)).map((s) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: s, name: "scope" }), s),
  );
  const form = h(
    "form",
    { class: "card" },
    h("h3", {}, "New API key"),
    h("label", { for: "key-name" }, "Key name"),
    name,
    h("fieldset", {}, h("legend", {}, "Scopes"), boxes),
    h("button", { type: "submit" }, "Create key"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const scopes = [...form.querySelectorAll("input[name=scope]:checked")].map((i) => i.value);
    if (!scopes.length) {
      out.replaceChildren(notice("error", "Choose at least one scope."));
      return;
    }
    try {
      const k = await api("POST", "/v1/keys", { name: name.value.trim(), scopes });
      form.reset();
      out.replaceChildren(secretBox(`API key ${k.id}`, k.secret));
      await load();
    } catch (err) {
      out.replaceChildren(errorNotice(err, "Could not create the key"));
    }
  });
  load();
  section.append(list, form, out);
  return section;
}

function signingKeysSection() {
  const section = h("section", { "aria-labelledby": "sk-h" }, h("h2", { id: "sk-h" }, "Signing keys"));
  const list = h("div", {}, notice("loading", "Loading signing keys…"));
  const out = h("div", {});
  const load = async () => {
    try {
      const page = await api("GET", "/v1/signing-keys?limit=100");
      list.replaceChildren(
        table(
          "Signing keys",
          ["Key", "Created", "State", ""],
          page.data.map((k) =>
            h(
              "tr",
              {},
              h("td", {}, k.id),
              h("td", {}, fmtTime(k.created_at)),
              h("td", {}, k.revoked_at ? `revoked ${fmtTime(k.revoked_at)}` : "active"),
              h(
                "td",
                {},
                k.revoked_at
                  ? null
                  : revokeButton(
                      k.id,
                      `Revoke ${k.id}? Tokens it signed stop working.`,
                      `/v1/signing-keys/${k.id}`,
                      load,
                      out,
                    ),
              ),
            ),
          ),
          "No signing keys. The API mints playback tokens with one it creates on demand.",
        ),
      );
    } catch (err) {
      list.replaceChildren(errorNotice(err, "Could not load signing keys"));
    }
  };
  const create = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          const k = await api("POST", "/v1/signing-keys", {});
          out.replaceChildren(secretBox(`Private key of ${k.id} (PKCS#8 PEM)`, k.private_key_pem));
          await load();
        } catch (err) {
          out.replaceChildren(errorNotice(err, "Could not create the signing key"));
        }
      },
    },
    "Create signing key",
  );
  load();
  section.append(list, create, out);
  return section;
}

function auditSection() {
  const section = h("section", { "aria-labelledby": "audit-h" }, h("h2", { id: "audit-h" }, "Audit log"));
  const action = h("input", { id: "audit-action", placeholder: "asset.create" });
  const body = h("div", {}, notice("loading", "Loading the audit log…"));
  let cursor = null;
  const more = h("button", { type: "button", hidden: true }, "Older entries");
  const load = async (append) => {
    const params = new URLSearchParams({ limit: "50" });
    if (action.value.trim()) params.set("action", action.value.trim());
    if (append && cursor) params.set("cursor", cursor);
    try {
      const page = await api("GET", `/v1/audit-log?${params}`);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const rows = page.data.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, fmtTime(e.created_at)),
          h("td", {}, e.action),
          h("td", {}, `${e.resource_type ?? ""} ${e.resource_id ?? ""}`),
          h("td", {}, e.key_id ?? "system"),
        ),
      );
      const tbody = body.querySelector("tbody");
      if (append && tbody) tbody.append(...rows);
      else body.replaceChildren(table("Audit log", ["When", "Action", "Resource", "By"], rows, "No audit entries."));
    } catch (err) {
      body.replaceChildren(errorNotice(err, "Could not load the audit log"));
    }
  };
  action.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));
  load(false);
  section.append(h("div", { class: "filters" }, h("label", { for: "audit-action" }, "Action"), action), body, more);
  return section;
}

// ── Live streams (shown only when the API documents them) ───────────────────────────────────────────────────

function liveView(main) {
  main.append(h("h1", {}, "Live streams"));
  if (!session.liveAvailable) {
    main.append(notice("empty", "This API has no live-stream operations yet."));
    return;
  }
  if (needScope(main, "live:read", "Live streams")) return;
  const list = h("div", {}, notice("loading", "Loading live streams…"));
  const out = h("div", {});
  const write = can("live:write");
  const load = async () => {
    try {
      const page = await api("GET", "/v1/live-streams?limit=100");
      list.replaceChildren(
        table(
          "Live streams",
          ["Stream", "Status", "Health", "ffmpeg", "Actions"],
          page.data.map((s) => liveRow(s, write, out, load)),
          "No live streams yet.",
        ),
      );
    } catch (err) {
      list.replaceChildren(errorNotice(err, "Could not load live streams"));
    }
  };
  main.append(list, out);
  if (write) {
    main.append(
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              const s = await api("POST", "/v1/live-streams", { playback_policy: "public" });
              out.replaceChildren(secretBox(`Stream key of ${s.id}`, s.stream_key));
              await load();
            } catch (err) {
              out.replaceChildren(errorNotice(err, "Could not create the stream"));
            }
          },
        },
        "Create live stream",
      ),
    );
  }
  load();
  every(5000, load);
}

function liveRow(s, write, out, reload) {
  const health = h("td", {}, "—");
  api("GET", `/v1/live-streams/${s.id}/health`)
    .then((hh) => health.replaceChildren(sparkline(hh), healthFacts(hh)))
    .catch(() => health.replaceChildren("no data"));
  const command = `ffmpeg -re -i input.mp4 -c copy -f hls -hls_time 2 -method PUT -http_persistent 1 ${s.ingest?.hls_url ?? ""}`;
  const action = (label, method, path) =>
    h(
      "button",
      {
        type: "button",
        disabled: !write,
        onclick: async () => {
          try {
            const r = await api(method, `/v1/live-streams/${s.id}${path}`, method === "POST" ? {} : undefined);
            if (r?.stream_key) out.replaceChildren(secretBox(`New stream key of ${s.id}`, r.stream_key));
            await reload();
          } catch (err) {
            out.replaceChildren(errorNotice(err, `Could not ${label.toLowerCase()}`));
          }
        },
      },
      label,
    );
  return h(
    "tr",
    {},
    h(
      "td",
      {},
      s.id,
      s.recent_asset_ids?.length
        ? h(
            "div",
            { class: "muted" },
            "recordings: ",
            s.recent_asset_ids.map((id) => [h("a", { href: `#/assets/${id}` }, id), " "]),
          )
        : null,
    ),
    h("td", {}, statusBadge(s.status), s.connection ? ` ${s.connection}` : ""),
    health,
    h(
      "td",
      {},
      h("code", {}, command),
      h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(command) }, "Copy"),
      // ffmpeg 4.x sends each playlist before its segment on a persistent connection (README, Live streaming).
      h("small", { class: "muted" }, " ffmpeg 5 or later; with 4.x drop -http_persistent 1."),
    ),
    h(
      "td",
      {},
      action("Reset key", "POST", "/reset-stream-key"),
      action("Complete", "POST", "/complete"),
      s.status === "disabled" ? action("Enable", "PUT", "/enable") : action("Disable", "PUT", "/disable"),
    ),
  );
}

/**
 * The health document's scalar facts (connected since, last segment, bitrate, cadence…) as a compact list. The
 * live API is being built in parallel (issue 13 fixes the facts, not their names), so this shows what it gets.
 */
function healthFacts(health) {
  const facts = Object.entries(health).filter(([, v]) => v !== null && typeof v !== "object");
  return h(
    "dl",
    { class: "facts" },
    facts.map(([k, v]) => [h("dt", {}, k.replaceAll("_", " ")), h("dd", {}, String(v))]),
  );
}

/** Segment cadence as a tiny SVG sparkline (no library, no inline style): the first series of numbers found. */
function sparkline(health) {
  const series = Object.values(health).find(
    (v) => Array.isArray(v) && v.length && v.every((x) => typeof x === "number" || typeof x?.duration === "number"),
  );
  const values = (series ?? []).map((x) => (typeof x === "number" ? x : x.duration)).slice(-30);
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 60 16");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `segment cadence, ${values.length} segments`);
  if (values.length > 1) {
    const max = Math.max(...values, 0.001);
    const pts = values.map((v, i) => `${(i / (values.length - 1)) * 60},${16 - (v / max) * 15}`).join(" ");
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", pts);
    svg.append(line);
  }
  return svg;
}

// ── Boot ────────────────────────────────────────────────────────────────────────────────────────────────────

async function boot() {
  // Feature check: the live page exists only when the API documents live-stream operations.
  try {
    const doc = await (await fetch("/v1/openapi.json")).json();
    session.liveAvailable = Object.keys(doc.paths ?? {}).some((p) => p.startsWith("/v1/live-streams"));
  } catch {
    session.liveAvailable = false;
  }
  window.addEventListener("hashchange", () => render());
  await render();
}

boot();
